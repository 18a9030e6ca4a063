"""``clusters[].sourceIdentity`` end to end against the emulator with the real ARM SDK clients (issue 20):
``fluxforge azure apply`` creates the identity and federates it with source-controller, writes its client ID
into ``sourceIdentity``; the plan then names the AcrPull assignment only the Bicep deploys; the render patches
source-controller with that client ID; and Entra ID exchanges a source-controller token (and only that) for it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azworld import World, mgmt_as

from tests.helpers.azure_fleet import RG, exchange, fleet_yaml, new_fleet

VAULT = "kv-ff-source"


def _config(w: World, issuer: str) -> str:
    return fleet_yaml(
        w,
        VAULT,
        f"""\
clusters:
  - name: staging
    oidcIssuer: {issuer}
    identity:
      name: id-flux-staging
    sourceIdentity:
      name: id-flux-source     # source-controller pulls OCI artifacts and charts from ACR as this identity
      registries:
        - name: acrfleet
    aks: {{name: staging}}
    kustomizations:
      - name: apps
        path: apps/staging
""",
    )


def _exchange(w: World, issuer: str, client_id: str, service_account: str, tmp: Path) -> Any:
    env = w.emu.workload_env(
        w.emu.entra.principals[client_id],
        tmp / f"{service_account}.jwt",
        service_account=service_account,
        issuer=issuer,
    )
    credential = exchange(w.emu.tenant_id, client_id, Path(env["AZURE_FEDERATED_TOKEN_FILE"]))
    return credential.get_token("https://vault.azure.net/.default")


def test_apply_federates_the_source_identity_and_render_patches_source_controller(
    in_process: World, tmp_path: Path, run_cli: Any
) -> None:
    w = in_process
    fleet = new_fleet(w, mgmt_as(w, "platform-admin"), tmp_path, lambda issuer: _config(w, issuer))
    cluster, admin, repo = fleet.cluster, fleet.admin, fleet.repo
    applied = fleet.azure(run_cli, "apply")
    assert applied.exit_code == 0, applied.output
    text = (repo / "fluxforge.yaml").read_text()
    source_id = re.search(
        r"sourceIdentity:\n      name: id-flux-source .*\n      clientId: ([0-9a-f-]{36})\n", text
    ).group(1)  # type: ignore[union-attr]
    fics = admin.msi().federated_identity_credentials.list(RG, "id-flux-source")  # type: ignore[attr-defined]
    assert [(f.issuer, f.subject, f.audiences) for f in fics] == [
        (cluster.issuer.url, "system:serviceaccount:flux-system:source-controller", ["api://AzureADTokenExchange"])
    ]
    plan = fleet.azure(run_cli, "plan")
    assert plan.exit_code == 0, plan.output  # nothing for apply to do: AcrPull is the Bicep's
    principal = w.emu.entra.principals[source_id].object_id
    assert any(
        line.startswith(f"note: AcrPull on registry {RG}/acrfleet for identity id-flux-source: deployed by the Bicep")
        and f"--assignee-object-id {principal} " in line
        for line in plan.stdout.splitlines()
    ), plan.stdout
    assert run_cli("render", str(repo)).exit_code == 0
    patches = (repo / "clusters/staging/flux-system/kustomization.yaml").read_text()
    assert (
        f"        name: source-controller\n        annotations:\n          azure.workload.identity/client-id: "
        f"{source_id}\n" in patches
    )
    # Entra ID exchanges source-controller's token for the source identity, and no other ServiceAccount's
    issuer = cluster.issuer.url
    assert _exchange(w, issuer, source_id, "source-controller", tmp_path).token
    with pytest.raises(ClientAuthenticationError, match="AADSTS70021"):
        _exchange(w, issuer, source_id, "kustomize-controller", tmp_path)

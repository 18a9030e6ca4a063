"""Issue 13, the proof: an application's chain set up by fluxforge alone, against the emulator with the real
clients. ``fluxforge azure plan/apply`` (real ARM SDKs) create the workload's identity and federated credential
and, once the secret exists, Key Vault Secrets User on exactly that secret; ``fluxforge render`` writes the
ServiceAccount and SecretProviderClass; the rendered ServiceAccount is applied with the real kubectl, a token
for it is requested from the emulated cluster (``kubectl create token``, signed by the cluster issuer), and the
Azure SDK's WorkloadIdentityCredential exchanges it — with the SecretProviderClass's own clientID and tenantID —
and reads the secret its ``objects`` name from the emulated Key Vault, as the CSI driver's Azure provider
does. Without the role (or for another ServiceAccount, or another secret of the vault) it is refused."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.keyvault.secrets import SecretClient
from azworld import Mgmt, World, kubectl, mgmt_as

from generator.yamlio import load_all_rt, load_plain
from tests.emulator import AUTHORITY, WI_AUDIENCE
from tests.helpers.azure_fleet import RG, Fleet, exchange, fleet_yaml, new_fleet

SOPS_VAULT = "kv-ff-wl-sops"
APP_VAULT = "kv-ff-wl-apps"
SECRET_NAME = "podinfo-api-key"
SECRET_VALUE = "app-hunter2-api-key"
COMPONENT = "apps/staging/workload-identity/podinfo"


def _config(w: World, issuer: str) -> str:
    return fleet_yaml(
        w,
        SOPS_VAULT,
        f"""\
clusters:
  - name: staging
    oidcIssuer: {issuer}
    identity:
      name: id-flux-wl
    kustomizations:
      - name: apps
        path: apps/staging
    workloads:
      - name: podinfo
        namespace: podinfo
        path: apps/staging
        identity:
          name: id-podinfo-wl      # created by fluxforge azure apply
        keyVault: {{name: {APP_VAULT}}}
        objects:
          - name: {SECRET_NAME}
            alias: api-key
""",
    )


@pytest.fixture
def fleet(in_process: World, tmp_path: Path) -> Fleet:
    w = in_process
    return new_fleet(w, mgmt_as(w, "platform-admin"), tmp_path, lambda issuer: _config(w, issuer))


def _app_vault(admin: Mgmt, w: World) -> None:
    """The application vault exists (fluxforge only references it), in RBAC mode."""
    admin.keyvault().vaults.begin_create_or_update(
        RG,
        APP_VAULT,
        {  # type: ignore[attr-defined]
            "location": "westeurope",
            "properties": {
                "tenantId": w.emu.tenant_id,
                "sku": {"family": "A", "name": "standard"},
                "enableRbacAuthorization": True,
            },
        },
    ).result()


def _spc(repo: Path) -> dict[str, Any]:
    (doc,) = [d for d in load_all_rt((repo / COMPONENT / "secret-provider-class.yaml").read_text()) if d]
    return dict(json.loads(json.dumps(doc["spec"]["parameters"])))


def _read_secret(params: dict[str, Any], token_file: Path, name: str) -> str:
    """What the Azure provider does with a SecretProviderClass in workload-identity mode: exchange the pod's
    ServiceAccount token for clientID in tenantID, then GET the secret from keyvaultName."""
    credential = exchange(params["tenantID"], params["clientID"], token_file, authority=AUTHORITY)
    client = SecretClient(f"https://{params['keyvaultName']}.vault.azure.net", credential)
    return str(client.get_secret(name).value)


def _token(w: World, kubeconfig: Path, namespace: str, account: str, out: Path) -> Path:
    token = kubectl(kubeconfig, "create", "token", account, "-n", namespace, "--audience", WI_AUDIENCE)
    assert token.returncode == 0, token.stderr
    out.write_text(token.stdout.strip())
    return out


def test_plan_apply_render_then_the_app_reads_its_secret_and_is_refused_without_the_role(
    fleet: Fleet, run_cli: Any, production_names: None
) -> None:
    w, repo, admin = fleet.w, fleet.repo, fleet.admin
    # the app vault is not there: a problem apply cannot fix, nothing sent
    missing = fleet.azure(run_cli, "plan")
    assert missing.exit_code == 1
    assert (
        f"! key vault {RG}/{APP_VAULT} (clusters[0].workloads[0].keyVault) does not exist: fluxforge creates only "
        "the SOPS vaults (sops.keyVault); create it with Azure RBAC (az keyvault create -g rg-fluxforge -n "
        f"{APP_VAULT} --enable-rbac-authorization true) and the objects the workloads mount"
    ) in missing.stdout
    _app_vault(admin, w)
    # the vault exists, the secret does not yet: apply does everything else, the role waits for the secret
    plan = fleet.azure(run_cli, "plan")
    assert plan.exit_code == 2, plan.output
    lines = plan.stdout.splitlines()
    assert f"+ identity {RG}/id-podinfo-wl" in lines
    assert "+ federated credential id-podinfo-wl/staging-podinfo-podinfo" in lines
    assert f"= key vault {RG}/{APP_VAULT}" in lines
    assert (
        f"? secret {APP_VAULT}/{SECRET_NAME} does not exist yet: create it (az keyvault secret set --vault-name "
        f"{APP_VAULT} -n {SECRET_NAME} --file FILE), then run fluxforge azure apply again (the role on it waits for "
        "it)"
    ) in lines
    assert lines[-1].endswith("; 1 waiting")
    first = fleet.azure(run_cli, "apply")
    assert first.exit_code == 0, first.output
    assert f"? secret {APP_VAULT}/{SECRET_NAME} does not exist yet" in first.stderr
    assert "Key Vault Secrets User" not in first.stdout
    # someone with the value creates the secret (fluxforge never writes one); then the role, on that secret only
    w.emu.vault(APP_VAULT).set_secret(SECRET_NAME, SECRET_VALUE)
    w.emu.vault(APP_VAULT).set_secret("other-app-secret", "not-for-podinfo")
    second = fleet.azure(run_cli, "plan")
    assert (
        f"+ role assignment Key Vault Secrets User on secret {APP_VAULT}/{SECRET_NAME} for identity id-podinfo-wl"
        in second.stdout.splitlines()
    )
    applied = fleet.azure(run_cli, "apply")
    assert applied.exit_code == 0, applied.output
    assert (
        f"created role assignment Key Vault Secrets User on secret {APP_VAULT}/{SECRET_NAME} for identity id-podinfo-wl"
    ) in applied.stdout.splitlines()
    assert fleet.azure(run_cli, "plan").exit_code == 0  # nothing left, nothing waiting
    scope = w.emu.vault(APP_VAULT).secret_scope(SECRET_NAME)
    listed = admin.authz().role_assignments.list_for_scope(scope, filter="atScope()")  # type: ignore[attr-defined]
    assert [str(a.scope).lower() for a in listed if "4633458b" in str(a.role_definition_id)] == [scope.lower()]
    # render: the ServiceAccount and the SecretProviderClass carry the client ID apply wrote back
    rendered = run_cli("render", str(repo))
    assert rendered.exit_code == 0, rendered.output
    client_id = re.search(
        r"name: id-podinfo-wl\s+# created by fluxforge azure apply\n\s+clientId: ([0-9a-f-]{36})",
        (repo / "fluxforge.yaml").read_text(),
    )
    assert client_id is not None, (repo / "fluxforge.yaml").read_text()
    params = _spc(repo)
    assert (params["clientID"], params["tenantID"], params["keyvaultName"]) == (
        client_id.group(1),
        w.emu.tenant_id,
        APP_VAULT,
    )
    (entry,) = load_plain(params["objects"])["array"]
    object_name = load_plain(entry)["objectName"]
    # the rendered ServiceAccount goes into the emulated cluster with the real kubectl; a token for it
    kubeconfig = w.emu.kubeconfig(fleet.cluster, w.tmp / "kubeconfig")
    namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: podinfo\n"
    for manifest in (namespace, (repo / COMPONENT / "service-account.yaml").read_text()):
        done = kubectl(kubeconfig, "apply", "-f", "-", stdin=manifest)
        assert done.returncode == 0, done.stderr
    token = _token(w, kubeconfig, "podinfo", "podinfo", w.tmp / "podinfo.token")
    assert _read_secret(params, token, object_name) == SECRET_VALUE
    # the role is scoped to that secret: another secret of the same vault is refused
    with pytest.raises(HttpResponseError) as other:
        _read_secret(params, token, "other-app-secret")
    assert other.value.status_code == 403 and "ForbiddenByRbac" in str(other.value)
    # another ServiceAccount of the namespace has no federated credential: Entra refuses the exchange
    _token(w, kubeconfig, "podinfo", "default", w.tmp / "default.token")
    with pytest.raises(ClientAuthenticationError) as wrong_subject:
        _read_secret(params, w.tmp / "default.token", object_name)
    assert "AADSTS700213" in str(wrong_subject.value) or "AADSTS70021" in str(wrong_subject.value)
    # and without the Secrets User role the same token reads nothing
    for assignment in admin.authz().role_assignments.list_for_scope(scope, filter="atScope()"):  # type: ignore[attr-defined]
        admin.authz().role_assignments.delete(scope, assignment.name)  # type: ignore[attr-defined]
    with pytest.raises(HttpResponseError) as refused:
        _read_secret(params, token, object_name)
    assert refused.value.status_code == 403 and "ForbiddenByRbac" in str(refused.value)
    assert SECRET_VALUE not in str(refused.value)
    # plan names the missing role again, apply restores it
    again = fleet.azure(run_cli, "plan")
    assert again.exit_code == 2 and (
        f"+ role assignment Key Vault Secrets User on secret {APP_VAULT}/{SECRET_NAME}" in again.stdout
    )


SAMPLE = Path(__file__).resolve().parents[2] / "sample-repo" / "fluxforge.yaml"


def test_the_sample_repo_workload_reads_its_secret_in_the_rehearsal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sample-repo's podinfo, with the Azure side fluxforge would build: its rendered SecretProviderClass's
    clientID and tenantID exchange the podinfo ServiceAccount's token and read the one secret it names; the
    kustomize-controller's token (another subject, another identity) reads nothing."""
    from tests.emulator.rehearsal import rehearse

    play = rehearse(SAMPLE, tmp_path / "emu")
    emu = play.emu.start()
    try:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emu.pki.ca_pem))
        params = _spc(SAMPLE.parent)
        (entry,) = load_plain(params["objects"])["array"]
        name = load_plain(entry)["objectName"]
        with emu.patch_resolver():
            play.workload_env("staging", "podinfo", tmp_path / "podinfo.token")
            assert _read_secret(params, tmp_path / "podinfo.token", name) == f"rehearsal-{name}"
            play.controller_env("staging", tmp_path / "controller.token")
            with pytest.raises(ClientAuthenticationError):  # the controller's subject is not federated on podinfo's
                _read_secret(params, tmp_path / "controller.token", name)
    finally:
        emu.stop()

"""``clusters[].sourceIdentity`` (issue 20): source-controller, and image-reflector-controller when it is a
component, pull from Azure Container Registry as their own managed identity. The render patches them by name
as it patches kustomize-controller (built with the real ``kubectl kustomize``), the identity is federated with
their ServiceAccounts, and the Bicep (parsed by the real Bicep parser) grants it AcrPull on each registry."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from generator.azure.bicep import render_bicep
from generator.azure.desired import arm_guid, desired_state
from generator.config.load import parse_config
from generator.errors import ConfigError, RenderError
from generator.flux.federation import federated_credentials
from generator.render.files import render_tree
from generator.yamlio import load_all_rt
from tests.helpers import FIXTURES, SAMPLE_REPO

pytestmark = pytest.mark.interop

SAMPLE = (SAMPLE_REPO / "fluxforge.yaml").read_text(encoding="utf-8")
SOURCE_ID = "4f8a2c61-7d3e-4b9a-a1c5-3e6f9d2b8c70"
KC_ID = "c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772"
TENANT_ID = "95513a0e-a568-46f4-8d76-53e5279cb558"
USE = "azure.workload.identity/use"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
SOURCE = """\
    sourceIdentity:
      name: id-flux-source-staging
      clientId: 4f8a2c61-7d3e-4b9a-a1c5-3e6f9d2b8c70
      resourceGroup: rg-fleet-staging
      registries:
        - name: acrcontosofleet
        - name: acrsharedcharts
          resourceGroup: rg-shared-acr
"""
# image-reflector-controller objects for the stand-in gotk-components.yaml (the fixture has the others)
REFLECTOR = """\
---
apiVersion: v1
kind: ServiceAccount
metadata:
  labels:
    app.kubernetes.io/component: image-reflector-controller
  name: image-reflector-controller
  namespace: flux-system
---
apiVersion: apps/v1
kind: Deployment
metadata:
  labels:
    app.kubernetes.io/component: image-reflector-controller
  name: image-reflector-controller
  namespace: flux-system
spec:
  selector:
    matchLabels:
      app: image-reflector-controller
  template:
    metadata:
      labels:
        app: image-reflector-controller
    spec:
      serviceAccountName: image-reflector-controller
      containers:
        - name: manager
          image: ghcr.io/fluxcd/image-reflector-controller:v1.2.1
          args:  # as Flux ships it (the sample's lockdown appends --no-cross-namespace-refs=true)
            - --watch-all-namespaces=true
"""


def _config(*, reflector: bool = False, source: str = SOURCE) -> str:
    text = SAMPLE.replace(
        "    aks: {name: aks-staging, resourceGroup: rg-fleet-staging}",
        source + "    aks: {name: aks-staging, resourceGroup: rg-fleet-staging}",
        1,
    )
    if reflector:
        text = text.replace(
            "  namespace: flux-system\n",
            "  namespace: flux-system\n  components: [source-controller, "
            "kustomize-controller, helm-controller, notification-controller, "
            "image-reflector-controller, image-automation-controller]\n",
            1,
        )
    return text


def _build(tmp_path: Path, text: str, cluster: str = "staging") -> dict[tuple[str, str], Any]:
    config = parse_config(text)
    for relpath, data in render_tree(config).items():
        (tmp_path / relpath).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relpath).write_bytes(data)
    folder = tmp_path / "clusters" / cluster / "flux-system"
    (folder / "gotk-components.yaml").write_text(FIXTURES.joinpath("gotk-components.yaml").read_text() + REFLECTOR)
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is required (scripts/test.sh checks for it)"
    proc = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return {(d["kind"], d["metadata"]["name"]): d for d in load_all_rt(proc.stdout) if d is not None}


def _identity_of(objects: dict[tuple[str, str], Any], controller: str) -> tuple[dict[str, str], str | None]:
    sa = objects[("ServiceAccount", controller)]
    labels = objects[("Deployment", controller)]["spec"]["template"]["metadata"]["labels"]
    return dict(sa["metadata"].get("annotations") or {}), labels.get(USE)


@pytest.mark.parametrize("reflector", [False, True])
def test_source_and_image_reflector_controllers_get_their_own_identity(tmp_path: Path, reflector: bool) -> None:
    objects = _build(tmp_path, _config(reflector=reflector))
    source = {"azure.workload.identity/client-id": SOURCE_ID, "azure.workload.identity/tenant-id": TENANT_ID}
    assert _identity_of(objects, "source-controller") == (source, "true")
    assert _identity_of(objects, "image-reflector-controller") == ((source, "true") if reflector else ({}, None))
    kustomize = {"azure.workload.identity/client-id": KC_ID, "azure.workload.identity/tenant-id": TENANT_ID}
    assert _identity_of(objects, "kustomize-controller") == (kustomize, "true")
    # the other cluster has no sourceIdentity: its source-controller is left alone
    other = _build(tmp_path / "p", _config(reflector=reflector), "production")
    assert _identity_of(other, "source-controller") == ({}, None)


def test_the_identity_is_federated_with_each_controller_and_gets_acrpull_on_each_registry(tmp_path: Path) -> None:
    config = parse_config(_config(reflector=True))
    staging = config.clusters[0]
    subjects = {(c.identity.name, c.subject) for c in federated_credentials(config, staging)}
    assert {
        ("id-flux-source-staging", "system:serviceaccount:flux-system:source-controller"),
        ("id-flux-source-staging", "system:serviceaccount:flux-system:image-reflector-controller"),
    } <= subjects
    state = desired_state(config)
    files = render_bicep(state)
    assert {"registry-rg-fleet-shared.bicep", "registry-rg-shared-acr.bicep"} <= set(files)
    parser = BicepParser(add_line_numbers=False)
    parsed = {}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        parsed[name] = parser.parse(file_path=tmp_path / name)
    fics = [
        r["config"]["properties"]["subject"]
        for doc in parsed.values()
        for r in doc.get("resources", {}).values()
        if r["type"].endswith("/federatedIdentityCredentials")
    ]
    assert "system:serviceaccount:flux-system:image-reflector-controller" in fics
    for name, registry in (
        ("registry-rg-fleet-shared.bicep", "acrcontosofleet"),
        ("registry-rg-shared-acr.bicep", "acrsharedcharts"),
    ):
        resources = parsed[name]["resources"]
        acr = [s for s, r in resources.items() if r["type"] == "Microsoft.ContainerRegistry/registries"]
        assert len(acr) == 1 and resources[acr[0]]["existing"] is True
        assert resources[acr[0]]["config"]["name"] == registry
        ra = [r["config"] for r in resources.values() if r["type"] == "Microsoft.Authorization/roleAssignments"]
        assert len(ra) == 1 and str(ra[0]["scope"]) == acr[0]
        assert ACR_PULL in str(ra[0]["properties"]["roleDefinitionId"])
        assert ra[0]["properties"]["principalType"] == "ServicePrincipal"
        assert "idFluxSourceStagingPrincipalId" in parsed[name]["parameters"]
    assignment = next(a for a in state.registry_assignments if a.registry == "acrsharedcharts")
    assert assignment.name(state.subscription_id or "") == arm_guid(
        state.subscription_id or "",
        "rg-shared-acr",
        "acrsharedcharts",
        "identity:rg-fleet-staging/id-flux-source-staging",
        ACR_PULL,
    )
    main = files["main.bicep"].decode()
    assert "idFluxSourceStagingPrincipalId: identitiesRgFleetStaging.outputs.idFluxSourceStagingPrincipalId" in main
    # the source identity decrypts nothing: no Key Vault role for it
    assert all(a.identity is None or a.identity.name != "id-flux-source-staging" for a in state.assignments)


def test_a_source_identity_without_client_id_is_named(tmp_path: Path) -> None:
    text = _config(source=SOURCE.replace("      clientId: 4f8a2c61-7d3e-4b9a-a1c5-3e6f9d2b8c70\n", ""))
    with pytest.raises(RenderError) as err:
        render_tree(parse_config(text))
    assert err.value.problems[0].startswith("fluxforge.yaml: clusters[0].sourceIdentity.clientId: missing")
    bad_text = _config(source=SOURCE.replace("acrcontosofleet", "acr-contoso"))
    with pytest.raises(ConfigError) as bad:
        parse_config(bad_text)
    line = bad_text[: bad_text.index("acr-contoso")].count("\n") + 1
    assert bad.value.problems == [
        (
            f"fluxforge.yaml:{line}: clusters[0].sourceIdentity.registries[0].name: 'acr-contoso' "
            "must be a container registry name: 5-50 letters or digits"
        )
    ]

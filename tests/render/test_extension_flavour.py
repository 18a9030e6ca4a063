"""``flux.install: extension`` (issue 20): Flux is the AKS Flux extension (``microsoft.flux``), so nothing in
flux-system can be patched. The render writes no flux-system folder, only the Kustomizations (with SOPS
decryption, valid against Flux's CRD schema, built by the real ``kubectl kustomize`` the way kustomize-controller
builds the cluster folder); the Bicep (parsed by the real Bicep parser) carries the extension's workload identity
settings and the fluxConfigurations resource (no decryption field: it has none); what the extension cannot do
is refused with the reason; examples/aks-extension is that flavour, committed as rendered."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pycep import BicepParser

from generator.azure.bicep import render_bicep
from generator.azure.desired import desired_state
from generator.config.load import load_config, parse_config
from generator.errors import ConfigError
from generator.merge.lock import read_lock
from generator.render.files import render_tree
from generator.yamlio import load_all_rt, load_rt
from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.interop

EXAMPLE = REPO_ROOT / "examples" / "aks-extension"
TEXT = (EXAMPLE / "fluxforge.yaml").read_text(encoding="utf-8")
CLIENT_ID = "8d2f6a1b-4c3e-4f7a-9b5d-0e1c2a3b4d5e"
EXT = "Microsoft.KubernetesConfiguration/extensions"
CONF = "Microsoft.KubernetesConfiguration/fluxConfigurations"


def _parse(files: dict[str, bytes], tmp: Path) -> dict[str, dict[str, Any]]:
    parser = BicepParser(add_line_numbers=False)
    out = {}
    for name, data in files.items():
        (tmp / name).write_bytes(data)
        out[name] = parser.parse(file_path=tmp / name)
    return out


def _resources(parsed: dict[str, dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for doc in parsed.values() for r in doc.get("resources", {}).values() if r["type"] == kind]


def test_the_example_is_committed_as_rendered() -> None:
    config = load_config(EXAMPLE)
    files = render_tree(config)
    assert sorted(files) == [".sops.yaml", "clusters/staging/apps.yaml", "clusters/staging/infrastructure.yaml"]
    for relpath, data in files.items():
        assert (EXAMPLE / relpath).read_bytes() == data, f"examples/aks-extension/{relpath} is stale"
    lock = read_lock(EXAMPLE / "fluxforge.lock")
    assert lock is not None and dict(lock.files) == {p: d.decode() for p, d in files.items()}
    bicep = render_bicep(desired_state(config), config_name="fluxforge.yaml")
    for name, data in bicep.items():
        assert (EXAMPLE / "infra" / "azure" / name).read_bytes() == data, f"examples/aks-extension/infra/azure/{name}"
    assert sorted(p.name for p in (EXAMPLE / "infra" / "azure").iterdir()) == sorted(bicep)
    assert not (EXAMPLE / "clusters" / "staging" / "flux-system").exists()


def test_kustomizations_decrypt_and_build_as_kustomize_controller_builds_the_cluster_folder(tmp_path: Path) -> None:
    files = render_tree(parse_config(TEXT))
    schema = json.loads((REPO_ROOT / "schemas" / "flux" / "kustomization-v1.json").read_text())
    for relpath, data in files.items():
        (tmp_path / relpath).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relpath).write_bytes(data)
    folder = tmp_path / "clusters" / "staging"
    # kustomize-controller builds a folder without kustomization.yaml from every manifest in it
    names = sorted(p.name for p in folder.glob("*.yaml"))
    (folder / "kustomization.yaml").write_text("resources:\n" + "".join(f"  - {n}\n" for n in names))
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is required (scripts/test.sh checks for it)"
    proc = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    docs = [d for d in load_all_rt(proc.stdout) if d is not None]
    assert sorted(d["metadata"]["name"] for d in docs) == ["apps", "infrastructure"]
    for doc in docs:
        jsonschema.validate(json.loads(json.dumps(doc)), schema, cls=jsonschema.Draft202012Validator)
        assert doc["metadata"]["namespace"] == "flux-system"
        assert dict(doc["spec"]["sourceRef"]) == {"kind": "GitRepository", "name": "flux-system"}  # the configuration's
        assert dict(doc["spec"]["decryption"]) == {"provider": "sops"}
    rules = load_rt(files[".sops.yaml"].decode())["creation_rules"]
    # the configuration's own Kustomization (clusters/staging) cannot decrypt: no rule lets a Secret go there
    assert [r["path_regex"] for r in rules] == ["^infrastructure/staging/", "^apps/staging/"]


def test_the_bicep_installs_the_extension_with_workload_identity_and_the_flux_configuration(tmp_path: Path) -> None:
    text = TEXT.replace(
        "  install: extension",
        "  install: extension\n  components: [source-controller, "
        "kustomize-controller, notification-controller, image-reflector-controller]",
    )
    parsed = _parse(render_bicep(desired_state(parse_config(text))), tmp_path)
    [ext] = _resources(parsed, EXT)
    props = ext["config"]["properties"]
    assert props["extensionType"] == "microsoft.flux"
    assert props["scope"] == {"cluster": {"releaseNamespace": "flux-system"}}
    settings = {key.strip("'"): value for key, value in props["configurationSettings"].items()}  # quoted keys
    assert settings == {
        "workloadIdentity.enable": "true",
        "workloadIdentity.azureClientId": "idFluxExtStagingClientId",
        "helm-controller.enabled": "false",
        "image-reflector-controller.enabled": "true",
    }
    module = parsed["flux-extension-rg-fleet-ext.bicep"]
    assert str(ext["config"]["scope"]) in module["resources"]
    assert module["resources"][str(ext["config"]["scope"])]["existing"] is True
    [conf] = _resources(parsed, CONF)
    props = conf["config"]["properties"]
    assert conf["config"]["name"] == "flux-system"  # the GitRepository the rendered Kustomizations name
    assert (
        props["scope"] == "cluster" and props["namespace"] == "flux-system" and props["sourceKind"] == "GitRepository"
    )
    assert props["gitRepository"]["url"] == "ssh://git@github.com/contoso/fleet-ext"
    assert props["gitRepository"]["repositoryRef"] == {"branch": "main"}
    assert props["gitRepository"]["localAuthRef"] == "flux-system"  # the SSH key never in the Bicep
    assert props["kustomizations"] == {
        "cluster": {"path": "./clusters/staging", "prune": True, "syncIntervalInSeconds": 600}
    }
    assert "decryption" not in json.dumps(props)
    main = (tmp_path / "main.bicep").read_text()
    assert "idFluxExtStagingClientId: identitiesRgFleetExt.outputs.idFluxExtStagingClientId" in main
    subjects = {
        r["config"]["properties"]["subject"]
        for r in _resources(parsed, "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials")
    }
    assert subjects == {
        f"system:serviceaccount:flux-system:{sa}"
        for sa in ("kustomize-controller", "source-controller", "image-reflector-controller")
    }


REFUSALS = {
    "tenant": (
        "        targetNamespace: apps",
        (
            "        targetNamespace: apps\n        tenant:\n"
            "          serviceAccount: apps-sops\n          identity: {name: id-apps, clientId: "
            "5a6b7c8d-1e2f-4a3b-8c9d-0e1f2a3b4c5d}"
        ),
        (
            "clusters[0].kustomizations[1].tenant: object-level workload identity is not possible with "
            "flux.install: extension: it needs the ObjectLevelWorkloadIdentity feature gate"
        ),
    ),
    "lockdown": (
        "  install: extension",
        "  install: extension\n  defaultDecryptionServiceAccount: sops",
        "flux.defaultDecryptionServiceAccount: not possible with flux.install: extension",
    ),
    "flux-lockdown": (
        "  install: extension",
        "  install: extension\n  lockdown: true",
        (
            "flux.lockdown: not possible with flux.install: extension: the lockdown is flags and patches "
            "on the Flux controllers"
        ),
    ),
    "namespace": (
        "        targetNamespace: apps",
        "        namespace: apps",
        (
            "clusters[0].kustomizations[1].namespace: 'apps': with flux.install: extension every Kustomization "
            "lives in 'flux-system'"
        ),
    ),
    "aks": ("    aks: {name: aks-ext-staging}\n", "", "clusters[0].aks: missing: with flux.install: extension"),
    "source": (
        (
            "    sourceIdentity:           # the same identity (the extension has one): source-controller pulls "
            "from ACR\n      name: id-flux-ext-staging"
        ),
        "    sourceIdentity:\n      name: id-flux-source",
        (
            "clusters[0].sourceIdentity: with flux.install: extension every Flux controller runs with the "
            "extension's one workloadIdentity.azureClientId"
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_what_the_extension_cannot_do_is_refused_with_the_reason(case: str, run_cli: Any, tmp_path: Path) -> None:
    old, new, says = REFUSALS[case]
    assert old in TEXT
    (tmp_path / "fluxforge.yaml").write_text(TEXT.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        parse_config(TEXT.replace(old, new, 1))
    assert len(err.value.problems) == 1
    line = err.value.problems[0]
    assert says in line and line.startswith("fluxforge.yaml:"), line
    done = run_cli("render", str(tmp_path))
    assert done.exit_code == 1 and says in done.stderr and "Traceback" not in done.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fluxforge.yaml"]


def test_doctor_checks_the_example_statically_and_skips_the_patches_with_the_reason() -> None:
    from generator.doctor import DoctorOptions, run_doctor

    report = run_doctor(DoctorOptions(config=EXAMPLE / "fluxforge.yaml", static=True))
    static = {f.gate: f for f in report.findings if f.gate.startswith("static.")}
    assert static["static.patches"].status == "skipped"
    assert static["static.patches"].reason.startswith("flux.install: extension: the AKS Flux extension sets")
    broken = [(f.gate, f.reason) for f in report.findings if f.status == "broken"]
    assert broken == []

"""Build every generated flux-system folder with the real ``kubectl kustomize``.

A stand-in ``gotk-components.yaml`` (tests/fixtures) holds the kustomize-controller Deployment and
ServiceAccount; the patched build must carry the workload-identity annotations, the pod label and,
when a tenant exists, the feature-gate argument, and must leave other controllers alone.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from generator.config.load import parse_config
from generator.render.files import render_tree
from generator.yamlio import load_all_rt
from tests.helpers import FIXTURES, SAMPLE_REPO, unlocked

pytestmark = pytest.mark.interop

FIXTURE = FIXTURES / "gotk-components.yaml"
# without flux.lockdown (tests/render/test_lockdown_build.py builds the locked-down tree)
SAMPLE = unlocked((SAMPLE_REPO / "fluxforge.yaml").read_text(encoding="utf-8"))
TENANT_ID = "95513a0e-a568-46f4-8d76-53e5279cb558"
GATE = "--feature-gates=ObjectLevelWorkloadIdentity=true"
USE = "azure.workload.identity/use"


def _kubectl() -> str:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is required for the kustomize build tests (scripts/test.sh checks for it)"
    return kubectl


def _build(tmp_path: Path, text: str) -> dict[str, dict[tuple[str, str], Any]]:
    """Render, drop the stand-in components next to each flux-system, build; objects per cluster."""
    config = parse_config(text)
    for relpath, data in render_tree(config).items():
        (tmp_path / relpath).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relpath).write_bytes(data)
    built: dict[str, dict[tuple[str, str], Any]] = {}
    for cluster in config.clusters:
        folder = tmp_path / cluster.path / "flux-system"
        shutil.copy(FIXTURE, folder / "gotk-components.yaml")
        proc = subprocess.run([_kubectl(), "kustomize", str(folder)], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        docs = [d for d in load_all_rt(proc.stdout) if d is not None]
        built[cluster.name] = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    return built


def _without_tenant(text: str) -> str:
    return (
        text.split("      - name: team-a")[0]
        + text.split("                version: 2fd93bbbe588db0b5b7a0eae95b2c602\n", 1)[1]
    )


def test_current_form(tmp_path: Path) -> None:
    built = _build(tmp_path, SAMPLE)
    for name, client_id in [
        ("staging", "c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772"),
        ("production", "076209d5-a8fa-459c-8632-6a041c3b87e1"),
    ]:
        objects = built[name]
        sa = objects[("ServiceAccount", "kustomize-controller")]
        assert dict(sa["metadata"]["annotations"]) == {
            "azure.workload.identity/client-id": client_id,
            "azure.workload.identity/tenant-id": TENANT_ID,
        }
        assert USE not in sa["metadata"]["labels"]
        deploy = objects[("Deployment", "kustomize-controller")]
        assert deploy["spec"]["template"]["metadata"]["labels"][USE] == "true"
        assert deploy["spec"]["template"]["metadata"]["labels"]["app"] == "kustomize-controller"
        assert USE not in deploy["metadata"]["labels"]
        args = list(deploy["spec"]["template"]["spec"]["containers"][0]["args"])
        assert args[:5] == [
            "--events-addr=http://notification-controller.flux-system.svc.cluster.local./",
            "--watch-all-namespaces=true",
            "--log-level=info",
            "--log-encoding=json",
            "--enable-leader-election",
        ]
        assert args[5:] == ([GATE] if name == "staging" else [])
        # neighbours untouched, sync objects present
        assert "annotations" not in objects[("ServiceAccount", "source-controller")]["metadata"]
        assert USE not in objects[("Deployment", "source-controller")]["spec"]["template"]["metadata"]["labels"]
        assert ("GitRepository", "flux-system") in objects and ("Kustomization", "flux-system") in objects


def test_legacy_form(tmp_path: Path) -> None:
    built = _build(tmp_path, _without_tenant(SAMPLE.replace('version: "2.9.4"', 'version: "2.4.0"')))
    objects = built["staging"]
    sa = objects[("ServiceAccount", "kustomize-controller")]
    assert dict(sa["metadata"]["annotations"]) == {
        "azure.workload.identity/client-id": "c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772"
    }
    assert sa["metadata"]["labels"][USE] == "true"
    deploy = objects[("Deployment", "kustomize-controller")]
    assert deploy["metadata"]["labels"][USE] == "true"
    assert deploy["spec"]["template"]["metadata"]["labels"][USE] == "true"
    assert GATE not in deploy["spec"]["template"]["spec"]["containers"][0]["args"]


def test_lockdown_appends_both_args(tmp_path: Path) -> None:
    text = SAMPLE.replace(
        "  namespace: flux-system\n", "  namespace: flux-system\n  defaultDecryptionServiceAccount: sops\n", 1
    )
    args = _build(tmp_path, text)["production"][("Deployment", "kustomize-controller")]["spec"]["template"]["spec"][
        "containers"
    ][0]["args"]
    assert list(args)[-2:] == [GATE, "--default-decryption-service-account=sops"]


@pytest.mark.parametrize(
    "path",
    sorted({ks.path for c in parse_config(SAMPLE).clusters for ks in c.kustomizations}),
)
def test_sample_user_folders_build(path: str) -> None:
    folder = SAMPLE_REPO / path
    proc = subprocess.run([_kubectl(), "kustomize", str(folder)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert any(d["kind"] in {"Deployment", "Namespace"} for d in load_all_rt(proc.stdout) if d)

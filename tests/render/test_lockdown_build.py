"""Proof of the locked-down tree (issue 14): the real ``kubectl kustomize`` builds each cluster's flux-system
folder (the stand-in gotk-components.yaml plus helm- and notification-controller Deployments) and the whole
cluster folder the sync Kustomization applies; every object built is valid against its schema
(tests/helpers/schemas.py: the Kubernetes OpenAPI schemas, the models of Flux's CRDs)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from generator.config.load import load_config, parse_config
from generator.render.files import render_tree
from generator.yamlio import load_all_rt
from tests.helpers import FIXTURES, SAMPLE_REPO
from tests.helpers.schemas import schema_problems
from tests.render.test_tenant_lockdown import COMPONENTS, LOCK, locked

pytestmark = pytest.mark.interop

STAND_IN = """---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: flux-system
spec:
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      serviceAccountName: {name}
      containers:
      - name: manager
        image: ghcr.io/fluxcd/{name}:v1.0.0
        args:
        - --watch-all-namespaces=true
"""
EXTRA = ("helm-controller", "notification-controller", "image-reflector-controller", "image-automation-controller")


def _kustomize(folder: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is required (scripts/test.sh checks for it)"
    proc = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return [d for d in load_all_rt(proc.stdout) if d is not None]


def _write(root: Path, text: str) -> None:
    config = parse_config(text)
    for relpath, data in render_tree(config).items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_bytes(data)
    for cluster in config.clusters:
        components = FIXTURES.joinpath("gotk-components.yaml").read_text() + "".join(
            STAND_IN.format(name=name) for name in EXTRA
        )
        (root / cluster.path / "flux-system" / "gotk-components.yaml").write_text(components)


def _cluster_folder(root: Path, cluster: str) -> list[dict[str, Any]]:
    """What the sync Kustomization applies: kustomize-controller generates a kustomization for a folder
    without one (every manifest, a sub-folder with its own kustomization as one resource)."""
    folder = root / "clusters" / cluster
    resources = sorted(p.name for p in folder.iterdir() if p.suffix == ".yaml") + ["flux-system"]
    (folder / "kustomization.yaml").write_text("resources:\n" + "".join(f"  - {r}\n" for r in resources))
    return _kustomize(folder)


def _args(objects: list[dict[str, Any]], name: str) -> list[str]:
    deploy = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == name)
    return list(deploy["spec"]["template"]["spec"]["containers"][0]["args"])


def test_the_locked_down_tree_builds_with_the_flags_and_every_object_is_valid(tmp_path: Path) -> None:
    text = locked().replace(
        "  lockdown: true\n",
        "  lockdown: true\n" + COMPONENTS.format(", image-reflector-controller, image-automation-controller"),
    )
    _write(tmp_path, text)
    for cluster in ("staging", "production"):
        built = _kustomize(tmp_path / "clusters" / cluster / "flux-system")
        kustomize = _args(built, "kustomize-controller")
        assert kustomize[-5:] == [
            "--feature-gates=ObjectLevelWorkloadIdentity=true",
            "--default-decryption-service-account=flux-decryption",
            *LOCK,
        ], cluster
        assert _args(built, "helm-controller") == [
            "--watch-all-namespaces=true",
            "--no-cross-namespace-refs=true",
            "--default-service-account=default",
        ]
        for name in EXTRA[1:]:
            assert _args(built, name) == ["--watch-all-namespaces=true", "--no-cross-namespace-refs=true"]
        source = next(o for o in built if o["kind"] == "Deployment" and o["metadata"]["name"] == "source-controller")
        assert not any("no-cross" in a for a in source["spec"]["template"]["spec"]["containers"][0].get("args", []))
        sync = next(o for o in built if o["kind"] == "Kustomization")
        assert sync["spec"]["serviceAccountName"] == "kustomize-controller"

        everything = _cluster_folder(tmp_path, cluster)
        kinds = sorted({o["kind"] for o in everything})
        assert {"Kustomization", "GitRepository", "Deployment", "ServiceAccount"} <= set(kinds)
        if cluster == "staging":
            assert {"RoleBinding", "Namespace"} <= set(kinds)
            tenant = [o for o in everything if o["metadata"].get("namespace") == "team-a"]
            assert sorted((o["kind"], o["metadata"]["name"]) for o in tenant) == [
                ("GitRepository", "team-a"),
                ("Kustomization", "team-a"),
                ("RoleBinding", "team-a-sops-reconciler"),
                ("ServiceAccount", "team-a-sops"),
            ]
        checked = [o for o in everything if o["kind"] != "CustomResourceDefinition"]
        invalid = {f"{o['kind']}/{o['metadata']['name']}": p for o in checked if (p := schema_problems(o))}
        assert invalid == {}, invalid
        assert len(checked) >= 10


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda o: o["spec"].update(serviceAccountname="x"), "spec.serviceAccountname: unknown field"),
        (lambda o: o["spec"].update(prune="maybe"), "spec.prune: Input should be a valid boolean"),
        (lambda o: o["spec"]["sourceRef"].pop("name"), "spec.sourceRef.name: Field required"),
    ],
)
def test_the_flux_schema_check_refuses_a_bad_kustomization(change: Any, problem: str, tmp_path: Path) -> None:
    _write(tmp_path, locked())
    ks = next(
        o
        for o in _cluster_folder(tmp_path, "staging")
        if o["kind"] == "Kustomization" and o["metadata"]["name"] == "team-a"
    )
    assert schema_problems(ks) == []
    change(ks)
    assert any(p.startswith(problem) for p in schema_problems(ks)), schema_problems(ks)


def test_the_kubernetes_schema_check_refuses_a_bad_role_binding() -> None:
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "x", "namespace": "team-a"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "team-a", "namespace": "team-a"}],
    }
    assert schema_problems(binding) == []
    binding["subjects"][0]["namespaces"] = "team-a"  # type: ignore[index]
    assert schema_problems(binding) != []


def test_the_committed_sample_is_locked_down_and_builds(tmp_path: Path) -> None:
    """sample-repo as committed (issue 14, item 4): a locked-down tenant with its own key. kubectl kustomize
    builds each cluster's flux-system folder with the lockdown flags and the whole folder the sync
    Kustomization applies (every object schema-valid), and each Kustomization's own folder."""
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLE_REPO, repo)
    config = load_config(repo / "fluxforge.yaml")
    assert config.flux.lockdown and config.flux.default_decryption_service_account == "flux-decryption"
    team_a = config.cluster("staging").kustomization("team-a")
    assert team_a.tenant is not None and team_a.tenant.sops is not None and team_a.tenant.source is not None
    assert [k.key for k in team_a.tenant.sops.key_vault] == ["sops-team-a"]  # its own key
    for cluster in config.clusters:
        (repo / cluster.path / "flux-system" / "gotk-components.yaml").write_text(
            FIXTURES.joinpath("gotk-components.yaml").read_text()
            + "".join(STAND_IN.format(name=name) for name in EXTRA[:2])
        )
        built = _kustomize(repo / cluster.path / "flux-system")
        assert _args(built, "kustomize-controller")[-4:] == [
            "--default-decryption-service-account=flux-decryption",
            *LOCK,
        ], cluster.name
        assert _args(built, "helm-controller")[1:] == [
            "--no-cross-namespace-refs=true",
            "--default-service-account=default",
        ]
        assert ("ServiceAccount", "flux-decryption") in {(o["kind"], o["metadata"]["name"]) for o in built}
        everything = _cluster_folder(repo, cluster.name)
        for ks in (o for o in everything if o["kind"] == "Kustomization"):
            ref = ks["spec"]["sourceRef"]
            assert ref.get("namespace", ks["metadata"]["namespace"]) == ks["metadata"]["namespace"], ks["metadata"]
            assert all(
                d.get("namespace", ks["metadata"]["namespace"]) == ks["metadata"]["namespace"]
                for d in ks["spec"].get("dependsOn", [])
            ), ks["metadata"]
            assert ks["spec"]["serviceAccountName"] in ("kustomize-controller", "team-a-sops")
        checked = [o for o in everything if o["kind"] != "CustomResourceDefinition"]
        invalid = {f"{o['kind']}/{o['metadata']['name']}": p for o in checked if (p := schema_problems(o))}
        assert invalid == {}, invalid
        for ks_spec in cluster.kustomizations:  # what each Kustomization applies builds too
            assert _kustomize(repo / ks_spec.path), ks_spec.path

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml as pyyaml
from hypothesis import given
from hypothesis import strategies as st

from generator.config import load_config, parse_config
from generator.render import GENERATED_MARKER, render_tree
from generator.render_context import go_duration, yaml_scalar
from generator.yamlio import load_all_rt, load_rt

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE = REPO_ROOT / "sample-repo"
SCHEMAS = REPO_ROOT / "schemas" / "flux"

BASE = (SAMPLE / "fluxforge.yaml").read_text(encoding="utf-8")


def _docs(data: bytes) -> list[Any]:
    return [doc for doc in load_all_rt(data.decode("utf-8")) if doc is not None]


def _flux_objects(files: dict[str, bytes]) -> list[tuple[str, Any]]:
    return [
        (path, doc)
        for path, data in files.items()
        if path.endswith(".yaml") and path != ".sops.yaml"
        for doc in _docs(data)
        if str(doc.get("apiVersion", "")).endswith(".fluxcd.io/v1")
    ]


def _patches(files: dict[str, bytes], cluster: str) -> list[Any]:
    doc = load_rt(files[f"clusters/{cluster}/flux-system/kustomization.yaml"].decode())
    return [(p["target"], load_rt(p["patch"])) for p in doc["patches"]]


def test_fresh_render_equals_committed_sample(tmp_path: Path) -> None:
    shutil.copy(SAMPLE / "fluxforge.yaml", tmp_path / "fluxforge.yaml")
    files = render_tree(load_config(tmp_path))
    assert len(files) == 10
    for relpath, data in files.items():
        assert (SAMPLE / relpath).read_bytes() == data, f"sample-repo/{relpath} is stale: run fluxforge render sample-repo"


def test_sample_check_passes(run_cli) -> None:
    result = run_cli("render", str(SAMPLE), "--check")
    assert result.exit_code == 0, result.output
    assert "10 generated files are up to date" in result.output


def test_render_is_byte_stable() -> None:
    assert render_tree(parse_config(BASE)) == render_tree(parse_config(BASE))


def test_every_file_starts_with_the_generated_marker() -> None:
    for relpath, data in render_tree(parse_config(BASE)).items():
        assert data.decode().startswith(GENERATED_MARKER), relpath
        assert data.endswith(b"\n") and not data.endswith(b"\n\n"), relpath


@pytest.mark.parametrize("version", ["2.0.0", "2.5.4", "2.6.0", "2.7.2", "2.9.4"])
def test_flux_objects_validate_against_v1_schemas(version: str) -> None:
    text = BASE.replace('version: "2.9.4"', f'version: "{version}"')
    if version < "2.6":
        text = text.split("      - name: team-a")[0] + text.split("            resourceGroup: rg-fleet-staging\n", 1)[1]
    schemas = {
        "GitRepository": json.loads((SCHEMAS / "gitrepository-v1.json").read_text()),
        "Kustomization": json.loads((SCHEMAS / "kustomization-v1.json").read_text()),
    }
    objects = _flux_objects(render_tree(parse_config(text)))
    kinds = [doc["kind"] for _, doc in objects]
    assert kinds.count("GitRepository") == 2
    assert kinds.count("Kustomization") >= 6
    for path, doc in objects:
        jsonschema.validate(json.loads(json.dumps(doc)), schemas[doc["kind"]], cls=jsonschema.Draft202012Validator)
        if doc["kind"] == "Kustomization" and doc["metadata"]["name"] != "flux-system":
            assert doc["spec"]["decryption"] == {"provider": "sops", **doc["spec"]["decryption"]}, path
            assert "secretRef" not in doc["spec"]["decryption"], path


def test_schemas_reject_what_flux_rejects() -> None:
    schema = json.loads((SCHEMAS / "kustomization-v1.json").read_text())
    bad = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps"},
        "spec": {"interval": "10m", "sourceRef": {"kind": "GitRepository", "name": "x"}, "decryption": {}},
    }
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(bad))
    assert {e.message for e in errors} == {"'prune' is a required property", "'provider' is a required property"}


def test_gotk_sync_has_the_bootstrap_shape() -> None:
    files = render_tree(parse_config(BASE))
    repo, sync = _docs(files["clusters/staging/flux-system/gotk-sync.yaml"])
    assert repo["spec"] == {
        "interval": "1m0s",
        "ref": {"branch": "main"},
        "secretRef": {"name": "flux-system"},
        "url": "ssh://git@github.com/contoso/fleet",
    }
    assert sync["spec"] == {
        "interval": "10m0s",
        "path": "./clusters/staging",
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
    }


def test_current_form_patches_are_name_targeted() -> None:
    files = render_tree(parse_config(BASE))
    staging = _patches(files, "staging")
    assert [dict(t) for t, _ in staging] == [
        {"kind": "ServiceAccount", "name": "kustomize-controller"},
        {"kind": "Deployment", "name": "kustomize-controller"},
        {"kind": "Deployment", "name": "kustomize-controller"},
    ]
    sa, deploy, gate = (p for _, p in staging)
    assert dict(sa["metadata"]["annotations"]) == {
        "azure.workload.identity/client-id": "c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772",
        "azure.workload.identity/tenant-id": "95513a0e-a568-46f4-8d76-53e5279cb558",
    }
    assert "labels" not in sa["metadata"] and "labels" not in deploy["metadata"]
    assert deploy["spec"]["template"]["metadata"]["labels"] == {"azure.workload.identity/use": "true"}
    assert gate == [
        {
            "op": "add",
            "path": "/spec/template/spec/containers/0/args/-",
            "value": "--feature-gates=ObjectLevelWorkloadIdentity=true",
        }
    ]
    # production has no tenant: no feature gate
    assert len(_patches(files, "production")) == 2


def test_legacy_form_for_flux_before_2_6() -> None:
    text = BASE.replace('version: "2.9.4"', 'version: "2.5.0"')
    text = text.split("      - name: team-a")[0] + text.split("            resourceGroup: rg-fleet-staging\n", 1)[1]
    sa, deploy = (p for _, p in _patches(render_tree(parse_config(text)), "staging"))
    assert dict(sa["metadata"]["annotations"]) == {
        "azure.workload.identity/client-id": "c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772"
    }
    assert sa["metadata"]["labels"] == {"azure.workload.identity/use": "true"}
    assert deploy["metadata"]["labels"] == {"azure.workload.identity/use": "true"}
    assert deploy["spec"]["template"]["metadata"]["labels"] == {"azure.workload.identity/use": "true"}


def test_lockdown_adds_gate_and_default_service_account() -> None:
    text = BASE.replace("  namespace: flux-system\n", "  namespace: flux-system\n  defaultDecryptionServiceAccount: sops\n", 1)
    _, _, (_, ops) = _patches(render_tree(parse_config(text)), "production")
    assert [op["value"] for op in ops] == [
        "--feature-gates=ObjectLevelWorkloadIdentity=true",
        "--default-decryption-service-account=sops",
    ]


def test_tenant_objects() -> None:
    docs = _docs(render_tree(parse_config(BASE))["clusters/staging/team-a.yaml"])
    namespace, account, ks = docs
    assert namespace["kind"] == "Namespace" and namespace["metadata"]["name"] == "team-a"
    assert account["metadata"]["namespace"] == "team-a"
    assert dict(account["metadata"]["annotations"]) == {
        "azure.workload.identity/client-id": "74c187ab-dd8a-4a75-ba9a-ede2fddb872b",
        "azure.workload.identity/tenant-id": "95513a0e-a568-46f4-8d76-53e5279cb558",
    }
    assert ks["spec"]["decryption"] == {"provider": "sops", "serviceAccountName": "team-a-sops"}
    assert ks["spec"]["sourceRef"]["namespace"] == "flux-system"
    assert ks["spec"]["dependsOn"] == [{"name": "infrastructure", "namespace": "flux-system"}]


def test_shared_namespace_and_service_account_are_emitted_once() -> None:
    extra = """      - name: team-a-jobs
        path: tenants/team-a/jobs
        namespace: team-a
        tenant:
          serviceAccount: team-a-sops
          identity:
            name: id-team-a-staging
            clientId: 74c187ab-dd8a-4a75-ba9a-ede2fddb872b
            resourceGroup: rg-fleet-staging
"""
    text = BASE.replace("\n  - name: production", extra + "\n  - name: production")
    files = render_tree(parse_config(text))
    kinds = [d["kind"] for d in _docs(files["clusters/staging/team-a-jobs.yaml"])]
    assert kinds == ["Kustomization"]


def test_decryption_off_and_optional_fields() -> None:
    text = BASE.replace(
        "        dependsOn: [infrastructure]\n        interval: 30m\n",
        "        dependsOn: [infrastructure]\n        interval: 30m\n        decryption: false\n"
        "        retryInterval: 2m\n        prune: false\n",
    )
    ks = _docs(render_tree(parse_config(text))["clusters/production/apps.yaml"])[0]
    assert "decryption" not in ks["spec"]
    assert (ks["spec"]["retryInterval"], ks["spec"]["prune"], ks["spec"]["interval"]) == ("2m", False, "30m")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1m", "1m0s"), ("10m", "10m0s"), ("90s", "1m30s"), ("1h", "1h0m0s"), ("1.5s", "1.5s"), ("500ms", "500ms"),
     ("1h30m", "1h30m0s"), ("0.5m", "30s")],
)
def test_go_duration(text: str, expected: str) -> None:
    assert go_duration(text) == expected


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30))
def test_yaml_scalar_round_trips_in_yaml_1_1_and_1_2(value: str) -> None:
    line = f"k: {yaml_scalar(value)}\n"
    assert load_rt(line)["k"] == value
    assert pyyaml.safe_load(line)["k"] == value


@pytest.mark.parametrize("value", ["yes", "on", "No", "1.0", "0o17", "1:20", "~", "null", "- x", "a: b", "#c", "-5"])
def test_yaml_scalar_quotes_ambiguous_values(value: str) -> None:
    assert yaml_scalar(value).startswith('"')

"""fluxforge doctor --static: each static gate of the trust chain, healthy on sample-repo and broken one at a
time on a copy (the gate named first, with its fix); the JSON output against schemas/doctor.schema.json."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from generator.doctor import DoctorOptions, Report, run_doctor
from generator.doctor.model import BROKEN, OK, SKIPPED, WARN
from generator.resources import load_schema
from tests.helpers import SAMPLE_REPO

SAMPLE = SAMPLE_REPO
STATIC = [
    "static.config",
    "static.tree",
    "static.patches",
    "static.sops-rules",
    "static.encrypted",
    "static.tenant-isolation",
    "static.federation",
]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    copy = tmp_path / "fleet"
    shutil.copytree(SAMPLE, copy)
    return copy


def doctor(repo: Path, **options: object) -> Report:
    return run_doctor(DoctorOptions(repo / "fluxforge.yaml", static=True, **options))  # type: ignore[arg-type]


def statuses(report: Report, gate: str) -> set[str]:
    return {f.status for f in report.findings if f.gate == gate}


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count))


def test_sample_repo_holds_every_static_gate_in_chain_order(repo: Path) -> None:
    report = doctor(repo)
    assert report.ok and report.exit_code == 0
    order = list(dict.fromkeys(f.gate for f in report.findings))
    assert order[: len(STATIC)] == STATIC
    for gate in STATIC:
        assert statuses(report, gate) <= {OK, WARN}, gate
    # team-a decrypts with a Key Vault key of its own (issue 14): isolated, nothing to warn about
    assert [f.gate for f in report.findings if f.status == WARN] == []
    isolation = [f for f in report.findings if f.gate == "static.tenant-isolation"]
    assert [(f.subject, f.status) for f in isolation] == [("staging/team-a", OK)]
    # live layers are listed, each skipped with why
    live = [f for f in report.findings if not f.gate.startswith("static.")]
    assert live and all(f.status == SKIPPED and "--static" in f.reason for f in live)
    assert doctor(repo, strict=True).exit_code == 0


def test_a_tenant_on_the_cluster_key_is_an_isolation_warning(repo: Path) -> None:
    """Without a key of its own, team-a's identity decrypts the fleet key, which encrypts every platform folder."""
    from generator.commands.render import run_render

    text = (repo / "fluxforge.yaml").read_text()
    start = text.index("          sops:                # team-a's own key")
    end = text.index("\n\n", start) + 1
    (repo / "fluxforge.yaml").write_text(text[:start] + text[end:])
    run_render(repo / "fluxforge.yaml")
    report = doctor(repo)
    isolation = [f for f in report.findings if f.gate == "static.tenant-isolation"]
    assert [(f.subject, f.status) for f in isolation] == [("staging/team-a", WARN)]
    assert (
        "identity id-team-a-staging (tenant team-a of cluster staging) can decrypt Key Vault key "
        "kv-contoso-fleet/sops-flux, which .sops.yaml also uses for clusters/staging/" in isolation[0].reason
    )
    assert "identity id-flux-staging (cluster staging) can decrypt" in isolation[0].reason  # and the reverse
    assert (
        isolation[0].fix
        == "give tenant team-a a Key Vault key of its own (clusters[0].kustomizations[2].tenant.sops.keyVault)"
    )
    assert doctor(repo, strict=True).exit_code == 1


def _first(report: Report) -> tuple[str, str]:
    first = report.first_broken
    assert first is not None, "no gate is broken"
    return first.gate, first.fix


# (what is broken, how to break it, the gate, a piece of the fix)
def _bad_yaml(repo: Path) -> None:
    edit(repo / "fluxforge.yaml", "  branch: main", "  branch: [main")


def _stale_tree(repo: Path) -> None:
    edit(repo / "fluxforge.yaml", "        interval: 30m", "        interval: 15m")


def _label_patch_removed(repo: Path) -> None:
    path = repo / "clusters/staging/flux-system/kustomization.yaml"
    text = path.read_text()
    start = text.index(
        "  - target:\n      kind: Deployment\n      name: kustomize-controller\n    patch: |\n      apiVersion"
    )
    end = text.index("  - target:", start + 10)
    path.write_text(text[:start] + text[end:])


def _label_as_annotation(repo: Path) -> None:
    edit(
        repo / "clusters/staging/flux-system/kustomization.yaml",
        "          metadata:\n            labels:\n              azure.workload.identity/use",
        "          metadata:\n            annotations:\n              azure.workload.identity/use",
    )


def _rule_recipient_removed(repo: Path) -> None:
    edit(
        repo / ".sops.yaml",
        "  - path_regex: ^apps/staging/\n    encrypted_regex: ^(data|stringData)$\n"
        "    azure_keyvault: https://kv-contoso-fleet.vault.azure.net/keys/sops-flux/bad6639b7a09782fb620e036242cb891\n",
        "  - path_regex: ^apps/staging/\n    encrypted_regex: ^(data|stringData)$\n",
    )


def _unknown_key_version(repo: Path) -> None:
    edit(
        repo / "apps/staging/podinfo-secret.yaml",
        "version: bad6639b7a09782fb620e036242cb891",
        "version: 0000000000000000000000000000000a",
    )


def _age_only_file(repo: Path) -> None:
    path = repo / "apps/staging/podinfo-secret.yaml"
    text = path.read_text()
    start = text.index("    azure_kv:\n")
    end = text.index("    age:\n")
    path.write_text(text[:start] + text[end:])


def _undeclared_service_account(repo: Path) -> None:
    edit(
        repo / "clusters/staging/apps.yaml",
        "  decryption:\n    provider: sops\n",
        "  decryption:\n    provider: sops\n    serviceAccountName: apps-sops\n",
    )


BREAKS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "invalid config": (_bad_yaml, "static.config", "edit"),
    "stale tree": (_stale_tree, "static.tree", "fluxforge render"),
    "label patch removed": (_label_patch_removed, "static.patches", "fluxforge render --out-dir"),
    "label written as an annotation": (_label_as_annotation, "static.patches", "diff"),
    ".sops.yaml recipient removed": (_rule_recipient_removed, "static.sops-rules", "fluxforge render"),
    "unknown key version": (
        _unknown_key_version,
        "static.encrypted",
        "fluxforge updatekeys apps/staging/podinfo-secret.yaml",
    ),
    "age-only file, no secretRef": (_age_only_file, "static.encrypted", "fluxforge updatekeys"),
    "undeclared decryption ServiceAccount": (_undeclared_service_account, "static.federation", "tenant"),
}


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_each_static_break_is_named_first(repo: Path, name: str) -> None:
    breaker, gate, fix = BREAKS[name]
    breaker(repo)
    report = doctor(repo)
    assert report.exit_code == 1
    first_gate, first_fix = _first(report)
    assert first_gate == gate, [(f.gate, f.status, f.reason) for f in report.findings if f.status == BROKEN]
    assert fix in first_fix
    broken = {f.gate for f in report.findings if f.status == BROKEN}
    assert broken == {gate}, broken  # one break, one broken gate


def test_the_reasons_say_what_differs(repo: Path) -> None:
    _label_as_annotation(repo)
    report = doctor(repo)
    first = report.first_broken
    assert first is not None and "annotation azure.workload.identity/use on the pod template" in first.reason
    _age_only_file(repo)
    found = [
        f
        for f in run_doctor(DoctorOptions(repo / "fluxforge.yaml", static=True)).findings
        if f.gate == "static.encrypted"
    ]
    assert "age only, and Kustomization staging/apps has no decryption.secretRef" in found[0].reason


def test_cli_text_and_json(repo: Path) -> None:
    _unknown_key_version(repo)
    done = subprocess.run(["fluxforge", "doctor", "--static"], cwd=repo, capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "fluxforge doctor: fluxforge.yaml"
    assert lines[1].startswith("✔ static.config")
    assert any(line.startswith("✘ static.encrypted") for line in lines)
    assert "first broken gate: static.encrypted" in done.stdout
    assert "  fix:   fluxforge updatekeys apps/staging/podinfo-secret.yaml" in done.stdout
    done = subprocess.run(
        ["fluxforge", "doctor", "--static", "--format", "json"], cwd=repo, capture_output=True, text=True, check=False
    )
    data = json.loads(done.stdout)
    jsonschema.validate(data, load_schema("doctor.schema.json"))
    assert data["ok"] is False and data["exitCode"] == done.returncode == 1
    assert data["firstBroken"]["gate"] == "static.encrypted"
    assert [g["id"] for g in data["gates"]][: len(STATIC)] == STATIC


def test_json_of_a_healthy_repo_validates(repo: Path) -> None:
    done = subprocess.run(
        ["fluxforge", "doctor", "--static", "--format", "json"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    jsonschema.validate(data, load_schema("doctor.schema.json"))
    assert data["firstBroken"] is None and data["summary"]["broken"] == 0


def test_usage_errors(repo: Path) -> None:
    done = subprocess.run(
        ["fluxforge", "doctor", "--static", "--probe"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and "exclusive" in done.stderr
    done = subprocess.run(
        ["fluxforge", "doctor", "--static", "--cluster", "nope"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and "--cluster nope: no such cluster" in done.stdout


def test_stale_bicep_is_named(repo: Path) -> None:
    """infra/azure (fluxforge azure bicep) declares the federated credentials: a tenant ServiceAccount renamed in
    the config and rendered, but the Bicep not regenerated, is a static.federation break."""
    from generator.azure.commands import run_bicep
    from generator.commands.render import run_render

    run_bicep(repo / "fluxforge.yaml")
    report = doctor(repo)
    bicep = [f for f in report.findings if f.subject == "infra/azure/ (Bicep)"]
    assert [f.status for f in bicep] == [OK] and report.ok
    edit(repo / "fluxforge.yaml", "serviceAccount: team-a-sops", "serviceAccount: team-a-decrypt")
    run_render(repo / "fluxforge.yaml")
    report = doctor(repo)
    first = report.first_broken
    assert first is not None and first.gate == "static.federation" and first.subject == "infra/azure/ (Bicep)"
    assert "stale (run `fluxforge azure bicep`)" in first.reason and first.fix.startswith("fluxforge azure bicep")
    assert {f.gate for f in report.findings if f.status == BROKEN} == {"static.federation"}


def _flux_2_5(repo: Path) -> None:
    """sample-repo on Flux 2.5 (no tenants: object-level workload identity needs 2.6), rendered."""
    from generator.azure.commands import run_bicep
    from generator.commands.render import run_render

    config = repo / "fluxforge.yaml"
    text = config.read_text().replace('version: "2.9.4"', 'version: "2.5.1"')
    start, end = text.index("      - name: team-a\n"), text.index("  - name: production\n")
    config.write_text(text[:start] + "\n" + text[end:])
    (repo / "clusters" / "staging" / "team-a.yaml").unlink()
    shutil.rmtree(repo / "tenants")  # its Secret is encrypted for the tenant's own key, gone with the tenant
    run_render(config)
    run_bicep(config)


def test_the_patch_form_of_the_configured_flux_version(repo: Path) -> None:
    """Flux 2.0-2.5 wants the `use` label on the ServiceAccount and the Deployment as well (and no tenant-id): a
    tree rendered for 2.5 holds; the ServiceAccount label taken out of the patch is named with the version."""
    _flux_2_5(repo)
    report = doctor(repo)
    patches = [f for f in report.findings if f.gate == "static.patches"]
    assert [f.status for f in patches] == [OK, OK], [(f.gate, f.reason) for f in report.findings if f.status == BROKEN]
    assert "(the Flux 2.5.1 form)" in patches[0].reason
    assert report.ok
    edit(
        repo / "clusters/staging/flux-system/kustomization.yaml",
        '        name: kustomize-controller\n        labels:\n          azure.workload.identity/use: "true"\n'
        "        annotations:\n",
        "        name: kustomize-controller\n        annotations:\n",
    )
    first = doctor(repo).first_broken
    assert first is not None and first.gate == "static.patches" and first.subject == "staging"
    assert first.reason == (
        "clusters/staging/flux-system/kustomization.yaml: ServiceAccount kustomize-controller: "
        'label azure.workload.identity/use: "true" is missing (Flux 2.5.1 needs it)'
    )


def test_a_client_id_label_on_the_service_account_is_named(repo: Path) -> None:
    """The SA label where an annotation belongs (a common copy-paste slip) is named as such."""
    edit(
        repo / "clusters/staging/flux-system/kustomization.yaml",
        "        annotations:\n          azure.workload.identity/client-id:",
        "        labels:\n          azure.workload.identity/client-id:",
    )
    first = doctor(repo).first_broken
    assert first is not None and first.gate == "static.patches", first
    assert "annotation azure.workload.identity/client-id is not set" in first.reason
    assert "label azure.workload.identity/client-id on the ServiceAccount (it must be an annotation)" in first.reason

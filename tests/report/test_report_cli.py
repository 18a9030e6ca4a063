"""--format on check, lint, render --check, upgrade --dry-run and doctor, through the real console script:
the exact annotation lines, the JSON object against its schema, SARIF against the SARIF 2.1.0 schema, the
CI defaults (GITHUB_ACTIONS, TF_BUILD), and no secret value in any format."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tests.helpers import SAMPLE_REPO
from tests.report.test_report_formats import REPORT_SCHEMA, SARIF_SCHEMA

SECRETS = ("hunter2-TOPSECRET", "also-SECRET-value", "c2VjcmV0LWluLWRhdGE=")
RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"


def fluxforge(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["fluxforge", *args], cwd=cwd, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )


@pytest.fixture
def leaky(tmp_path: Path) -> Path:
    """A rule-covered plaintext Secret and a Secret outside every rule, each with a secret value."""
    (tmp_path / "secrets").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {RECIPIENT}\n"
    )
    (tmp_path / "secrets/db.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {SECRETS[0]}\n"
    )
    (tmp_path / "other/loose.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: loose\nstringData:\n  token: {SECRETS[1]}\n"
        f"data:\n  raw: {SECRETS[2]}\n"
    )
    return tmp_path


LOOSE = "Secret 'loose': plaintext {key} outside any .sops.yaml rule; add a creation rule for this file and encrypt it"
LOOSE_FIX = "add a .sops.yaml creation rule for the file and run `fluxforge encrypt --in-place other/loose.yaml`"
DB = (
    "matched by .sops.yaml creation_rules[0] (path_regex 'secrets/.*\\.yaml$') but not SOPS-encrypted; run "
    "`fluxforge encrypt --in-place` on it (or stage it with the hook installed)"
)
DB_FIX = "run `fluxforge encrypt --in-place secrets/db.yaml` (or stage it with the hook installed)"
SUMMARY = "checked 2 file(s) against .sops.yaml: 0 encrypted, 3 problem(s)"


def test_check_github_annotations_byte_for_byte(leaky: Path) -> None:
    done = fluxforge(leaky, "check", "--format", "github")
    assert done.returncode == 1, done.stderr
    assert done.stdout == (
        f"::error file=other/loose.yaml,line=6,col=10,title=check.plaintext-secret::"
        f"{LOOSE.format(key='stringData.token')}%0Afix: {LOOSE_FIX}\n"
        f"::error file=other/loose.yaml,line=8,col=8,title=check.plaintext-secret::"
        f"{LOOSE.format(key='data.raw')}%0Afix: {LOOSE_FIX}\n"
        f"::error file=secrets/db.yaml,line=1,col=1,title=check.not-encrypted::{DB}%0Afix: {DB_FIX}\n"
        f"{SUMMARY}\n"
    )


def test_check_azure_logging_commands_byte_for_byte(leaky: Path) -> None:
    done = fluxforge(leaky, "check", "--format", "azure")
    assert done.returncode == 1, done.stderr
    assert done.stdout == (
        "##vso[task.logissue type=error;sourcepath=other/loose.yaml;linenumber=6;columnnumber=10;"
        f"code=check.plaintext-secret]{LOOSE.format(key='stringData.token')}%0Afix: {LOOSE_FIX}\n"
        "##vso[task.logissue type=error;sourcepath=other/loose.yaml;linenumber=8;columnnumber=8;"
        f"code=check.plaintext-secret]{LOOSE.format(key='data.raw')}%0Afix: {LOOSE_FIX}\n"
        "##vso[task.logissue type=error;sourcepath=secrets/db.yaml;linenumber=1;columnnumber=1;"
        f"code=check.not-encrypted]{DB}%0Afix: {DB_FIX}\n"
        f"{SUMMARY}\n"
    )


def test_check_json_and_sarif_validate(leaky: Path) -> None:
    data = json.loads(fluxforge(leaky, "check", "--format", "json").stdout)
    Draft202012Validator(REPORT_SCHEMA).validate(data)
    assert [(p["file"], p["line"], p["column"], p["rule"]) for p in data["problems"]] == [
        ("other/loose.yaml", 6, 10, "check.plaintext-secret"),
        ("other/loose.yaml", 8, 8, "check.plaintext-secret"),
        ("secrets/db.yaml", 1, 1, "check.not-encrypted"),
    ]
    assert data["exitCode"] == 1 and data["summary"]["text"] == SUMMARY
    log = json.loads(fluxforge(leaky, "check", "--format", "sarif").stdout)
    Draft202012Validator(SARIF_SCHEMA).validate(log)
    (leaky / ".sops.yaml").unlink()
    no_rules = json.loads(fluxforge(leaky, "check", "--format", "sarif").stdout)["runs"][0]["results"]
    assert no_rules[-1]["ruleId"] == "check.no-rules"
    assert no_rules[-1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == ".sops.yaml"
    (leaky / ".sops.yaml").write_text(f"creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    age: {RECIPIENT}\n")
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["check.plaintext-secret"] * 2 + ["check.not-encrypted"]


@pytest.mark.parametrize("fmt", ["text", "json", "github", "azure", "sarif"])
def test_no_format_prints_a_secret_value(leaky: Path, fmt: str) -> None:
    done = fluxforge(leaky, "check", "--format", fmt)
    assert done.returncode == 1
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr, (fmt, secret)


@pytest.mark.parametrize(
    ("env", "prefix"),
    [
        ({"GITHUB_ACTIONS": "true"}, "::error file=other/loose.yaml,"),
        ({"TF_BUILD": "True"}, "##vso[task.logissue type=error;"),
        ({}, ""),
    ],
)
def test_ci_environment_picks_the_default_format(leaky: Path, env: dict[str, str], prefix: str) -> None:
    done = fluxforge(leaky, "check", env=env)
    assert done.returncode == 1
    if prefix:
        assert done.stdout.startswith(prefix), done.stdout
    else:
        assert done.stdout == "" and done.stderr.startswith("other/loose.yaml:6:10: Secret 'loose'")
    explicit = fluxforge(leaky, "check", "--format", "text", env=env)
    assert explicit.stdout == "" and explicit.stderr == done.stderr if not prefix else explicit.stdout == ""


def test_lint_formats(tmp_path: Path) -> None:
    (tmp_path / "old.yaml").write_text(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1beta2\nkind: Kustomization\nmetadata:\n  name: old\n"
    )
    (tmp_path / "repo").mkdir()
    shutil.move(tmp_path / "old.yaml", tmp_path / "repo" / "old.yaml")
    message = (
        "kustomize.toolkit.fluxcd.io/v1beta2 Kustomization is no longer served from Flux 2.8 (target 2.9.4): "
        "run `flux migrate` against the cluster before upgrading, then set apiVersion: "
        "kustomize.toolkit.fluxcd.io/v1"
    )
    fix = "run `flux migrate` against the cluster before upgrading, then set the served apiVersion"
    github = fluxforge(tmp_path, "lint", "repo", "--to", "2.9.4", "--format", "github")
    assert github.returncode == 1
    assert github.stdout == (
        f"::error file=repo/old.yaml,line=1,title=lint.removed-api::{message}%0Afix: {fix}\n"
        "lint for Flux 2.9.4: 1 error(s), 0 warning(s)\n"
    )
    data = json.loads(fluxforge(tmp_path, "lint", "repo", "--format", "json").stdout)
    Draft202012Validator(REPORT_SCHEMA).validate(data)
    assert data["problems"][0]["file"] == "repo/old.yaml" and data["problems"][0]["rule"] == "lint.removed-api"
    Draft202012Validator(SARIF_SCHEMA).validate(
        json.loads(fluxforge(tmp_path, "lint", "repo", "--format", "sarif").stdout)
    )


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    repo = tmp_path / "fleet"
    shutil.copytree(SAMPLE_REPO, repo)
    return repo


def test_render_check_formats_name_the_stale_file_and_its_line(sample: Path) -> None:
    config = sample / "fluxforge.yaml"
    config.write_text(config.read_text().replace("  branch: main", "  branch: trunk", 1))
    sync = sample / "clusters/staging/flux-system/gotk-sync.yaml"
    index = next(i for i, line in enumerate(sync.read_text().splitlines()) if "branch: main" in line)
    tenant = sample / "clusters/staging/team-a.yaml"  # the locked-down tenant's own GitRepository follows git.branch
    tenant_line = next(i for i, line in enumerate(tenant.read_text().splitlines()) if "branch: main" in line) + 1
    data = json.loads(fluxforge(sample, "render", "--check", "--format", "json").stdout)
    Draft202012Validator(REPORT_SCHEMA).validate(data)
    stale = [p for p in data["problems"] if p["rule"] == "render.stale"]
    assert [(p["file"], p["line"], p["severity"]) for p in stale] == [
        ("clusters/production/flux-system/gotk-sync.yaml", index + 1, "error"),
        ("clusters/staging/flux-system/gotk-sync.yaml", index + 1, "error"),
        ("clusters/staging/team-a.yaml", tenant_line, "error"),
    ]
    assert stale[0]["fix"] == "run `fluxforge render` and commit the result"
    lock = [p for p in data["problems"] if p["rule"] == "render.lock"]
    assert [(p["file"], p["message"]) for p in lock] == [
        ("fluxforge.lock", "fluxforge.lock is stale (it is the merge base; run `fluxforge render` to update it)")
    ]
    assert data["exitCode"] == 1 and [c["file"] for c in data["changes"]] == [p["file"] for p in stale]
    assert "-    branch: main\n+    branch: trunk\n" in data["changes"][1]["diff"]
    github = fluxforge(sample, "render", "--check", "--format", "github")
    assert github.returncode == 1
    assert github.stdout.startswith(
        f"::error file=clusters/production/flux-system/gotk-sync.yaml,line={index + 1},"
        "title=render.stale::clusters/production/flux-system/gotk-sync.yaml is not what the "
        "config renders (run `fluxforge render` to update it)%0Afix: run `fluxforge "
        "render` and commit the result\n"
    )
    assert "::group::diff of 3 file(s)\n::stop-commands::fluxforge-" in github.stdout
    Draft202012Validator(SARIF_SCHEMA).validate(
        json.loads(fluxforge(sample, "render", "--check", "--format", "sarif").stdout)
    )


def test_render_check_format_up_to_date_and_errors(sample: Path, tmp_path: Path) -> None:
    ok = fluxforge(sample, "render", "--check", "--format", "json")
    assert ok.returncode == 0, ok.stdout
    data = json.loads(ok.stdout)
    assert data["ok"] and data["summary"]["errors"] == 0 and data["summary"]["text"].endswith("are up to date")
    (sample / "fluxforge.yaml").write_text((sample / "fluxforge.yaml").read_text().replace("clusters:", "clusterz:"))
    bad = fluxforge(sample, "render", "--check", "--format", "json")
    assert bad.returncode == 1
    problems = json.loads(bad.stdout)["problems"]
    assert problems and all(p["rule"] == "config.invalid" for p in problems)
    assert any(p["file"] == "fluxforge.yaml" and p["line"] for p in problems), problems
    usage = fluxforge(sample, "render", "--format", "json")
    assert usage.returncode == 2 and "--format applies to --check" in usage.stderr
    env_default = fluxforge(tmp_path, "render", env={"GITHUB_ACTIONS": "true"})  # a plain render ignores the CI default
    assert env_default.returncode == 1 and env_default.stdout == ""


def test_upgrade_dry_run_json_lists_the_changes(tmp_path: Path) -> None:
    from tests.helpers.upgrade import make_repo

    repo = make_repo(tmp_path / "fleet", "2.5.1")
    done = fluxforge(repo, "upgrade", "--to", "2.6.4", "--dry-run", "--format", "json")
    assert done.returncode == 0, done.stderr + done.stdout
    data = json.loads(done.stdout)
    Draft202012Validator(REPORT_SCHEMA).validate(data)
    files = {c["file"]: c for c in data["changes"]}
    assert "fluxforge.yaml" in files and '+  version: "2.6.4"' in files["fluxforge.yaml"]["diff"]
    assert data["command"] == "upgrade" and data["summary"]["text"].startswith("upgrade to Flux 2.6.4: ")
    assert json.loads(fluxforge(repo, "upgrade", "--to", "2.6.4", "--dry-run", "--format", "sarif").stdout)["runs"]


def test_doctor_annotations_name_the_broken_gates(sample: Path) -> None:
    (sample / ".sops.yaml").unlink()
    github = fluxforge(sample, "doctor", "--static", "--format", "github")
    assert github.returncode == 1
    lines = github.stdout.splitlines()
    assert (
        "::error title=doctor.static.sops-rules::.sops.yaml covers every Kustomization folder: .sops.yaml: "
        ".sops.yaml is missing next to fluxforge.yaml%0Afix: fluxforge render" in lines
    )
    assert lines[-1].startswith("doctor: ") and "2 broken" in lines[-1]
    log = json.loads(fluxforge(sample, "doctor", "--static", "--format", "sarif").stdout)
    Draft202012Validator(SARIF_SCHEMA).validate(log)
    assert all(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "fluxforge.yaml"
        for r in log["runs"][0]["results"]
    )  # no gate names a file that exists here: the config
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert (
        rules["doctor.static.sops-rules"]["shortDescription"]["text"]
        == ".sops.yaml covers every Kustomization folder (static gate)."
    )
    azure = fluxforge(sample, "doctor", "--static", "--format", "azure")
    assert "##vso[task.logissue type=error;code=doctor.static.sops-rules]" in azure.stdout


def test_lint_tenant_isolation_has_its_rule(sample: Path, tmp_path: Path) -> None:
    done = fluxforge(tmp_path, "lint", str(sample.relative_to(tmp_path)), "--format", "github")
    assert done.returncode == 0, done.stdout + done.stderr
    isolation = [line for line in done.stdout.splitlines() if "title=lint.tenant-isolation" in line]
    assert len(isolation) == 2 and all(
        line.startswith("::warning file=fleet/fluxforge.yaml,line=") for line in isolation
    )
    sarif = json.loads(fluxforge(tmp_path, "lint", "fleet", "--format", "sarif").stdout)
    rules = {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["lint.tenant-isolation"]["name"] == "TenantIsolation"

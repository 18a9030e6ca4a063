"""docs/ci.md's jobs run: every step of the GitHub Actions and the Azure Pipelines job (but the install) in
a git copy of the sample repository with the CI's variable set; a plaintext Secret then fails `check` with
an annotation of the documented format. Shell completion and --version as documented."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from generator.yamlio import load_plain
from tests.helpers import REPO_ROOT, SAMPLE_REPO
from tests.helpers.hooks import git
from tests.report.test_report_formats import SARIF_SCHEMA

DOC = (REPO_ROOT / "docs/ci.md").read_text(encoding="utf-8")


def _block(first_line: str) -> dict[str, Any]:
    for body in re.findall(r"```yaml\n(.*?)```", DOC, re.DOTALL):
        if body.startswith(first_line + "\n"):
            data = load_plain(body)
            assert isinstance(data, dict)
            return data
    raise AssertionError(f"docs/ci.md has no yaml block starting with {first_line!r}")


def github_steps() -> list[str]:
    workflow = _block("# .github/workflows/fluxforge.yml")
    assert workflow["permissions"]["security-events"] == "write"
    steps = workflow["jobs"]["fluxforge"]["steps"]
    assert any(step.get("uses", "").startswith("github/codeql-action/upload-sarif@") for step in steps)
    return [step["run"] for step in steps if "run" in step]


def azure_steps() -> list[str]:
    pipeline = _block("# azure-pipelines.yml")
    return [step["script"] for step in pipeline["steps"] if "script" in step]


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    repo = tmp_path / "fleet"
    shutil.copytree(SAMPLE_REPO, repo)
    (repo / ".pre-commit-config.yaml").write_text(
        re.search(r"```yaml\n# \.pre-commit-config\.yaml\n(.*?)```", DOC, re.DOTALL).group(1)
    )  # type: ignore[union-attr]
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "fleet")
    return repo


def _run_steps(repo: Path, steps: list[str], env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    install = [step for step in steps if step.startswith("pip install")]
    assert install == ['pip install "$FLUXFORGE_PIP" pre-commit'], steps
    return [
        subprocess.run(
            ["bash", "-e", "-c", step],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **env},
            timeout=600,
        )
        for step in steps
        if step not in install
    ]


def test_the_github_job_runs_green_and_annotates_a_plaintext_secret(fleet: Path) -> None:
    steps = github_steps()
    assert [s.split(" --")[0].split(" >")[0] for s in steps[1:]] == [
        "pre-commit run",
        "fluxforge render",
        "fluxforge check",
        "fluxforge lint",
        "fluxforge doctor",
        "fluxforge check",
    ]
    results = _run_steps(fleet, steps, {"GITHUB_ACTIONS": "true"})
    for step, done in zip(steps[1:], results, strict=True):
        assert done.returncode == 0, (step, done.stdout, done.stderr)
        assert "::error" not in done.stdout, step
    log = json.loads((fleet / "fluxforge.sarif").read_text())
    Draft202012Validator(SARIF_SCHEMA).validate(log)
    assert log["runs"][0]["results"] == []
    leak = fleet / "apps/staging/leak.yaml"
    leak.write_text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: leak\nstringData:\n  token: s3cr3t-VALUE\n")
    git(fleet, "add", "-A")  # CI checks what the commit holds
    check = next(
        done
        for step, done in zip(steps[1:], _run_steps(fleet, steps, {"GITHUB_ACTIONS": "true"}), strict=True)
        if step == "fluxforge check"
    )
    assert check.returncode == 1
    assert check.stdout.startswith("::error file=apps/staging/leak.yaml,line=1,col=1,title=check.not-encrypted::")
    assert "s3cr3t-VALUE" not in check.stdout + check.stderr
    results = json.loads((fleet / "fluxforge.sarif").read_text())["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["check.not-encrypted"]


def test_the_azure_job_runs_green_and_logs_issues(fleet: Path) -> None:
    steps = azure_steps()
    assert [s.split(" --")[0] for s in steps[1:]] == [
        "pre-commit run",
        "fluxforge render",
        "fluxforge check",
        "fluxforge lint",
        "fluxforge doctor",
    ]
    for step, done in zip(steps[1:], _run_steps(fleet, steps, {"TF_BUILD": "True"}), strict=True):
        assert done.returncode == 0, (step, done.stdout, done.stderr)
        assert "type=error" not in done.stdout, step
    (fleet / "apps/staging/leak.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leak\nstringData:\n  token: s3cr3t-VALUE\n"
    )
    git(fleet, "add", "-A")
    check = subprocess.run(
        ["bash", "-e", "-c", "fluxforge check"],
        cwd=fleet,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TF_BUILD": "True"},
    )
    assert check.returncode == 1
    assert check.stdout.startswith(
        "##vso[task.logissue type=error;sourcepath=apps/staging/leak.yaml;linenumber=1;"
        "columnnumber=1;code=check.not-encrypted]"
    )


def test_shell_completion_as_documented(tmp_path: Path) -> None:
    assert "_FLUXFORGE_COMPLETE=bash_source fluxforge" in DOC
    script = subprocess.run(
        ["fluxforge"],
        env={**os.environ, "_FLUXFORGE_COMPLETE": "bash_source"},
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert script.returncode == 0 and "_fluxforge_completion" in script.stdout
    words = subprocess.run(
        ["fluxforge"],
        env={**os.environ, "_FLUXFORGE_COMPLETE": "bash_complete", "COMP_WORDS": "fluxforge re", "COMP_CWORD": "1"},
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert words.stdout.splitlines() == ["plain,render"]
    bash = shutil.which("bash")
    assert bash
    sourced = subprocess.run(
        [bash, "-c", 'eval "$(_FLUXFORGE_COMPLETE=bash_source fluxforge)" && complete -p fluxforge'],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert sourced.returncode == 0 and "_fluxforge_completion" in sourced.stdout


def test_version_names_fluxforge_sops_format_and_flux_versions(tmp_path: Path) -> None:
    from generator import __version__
    from generator.flux.versions import NEWEST, supported_range
    from generator.sops.metadata import SOPS_VERSION

    done = subprocess.run(["fluxforge", "--version"], capture_output=True, text=True, check=False, cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout == (
        f"fluxforge {__version__}\n"
        f"sops format {SOPS_VERSION} (written as sops {SOPS_VERSION} writes it; files of sops 3.x "
        "are read)\n"
        f"Flux {supported_range()} (newest documented: {NEWEST})\n"
    )
    assert "fluxforge --version" in DOC

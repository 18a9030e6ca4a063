"""README.md works as written: the "Five-minute walkthrough" block (age path) runs end to end, pasted
into bash as it is, and its pre-commit snippet works with the real pre-commit framework."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT
from tests.helpers.sops import require

pytestmark = pytest.mark.interop

README = REPO_ROOT / "README.md"


def readme_block(heading: str, lang: str) -> str:
    """The first ```lang block after ``heading`` in README.md, exactly as a reader copies it."""
    text = README.read_text(encoding="utf-8")
    after = text[text.index(heading) :]
    match = re.search(rf"^```{lang}\n(.*?)^```$", after, re.MULTILINE | re.DOTALL)
    assert match, f"no ```{lang} block after {heading!r} in README.md"
    return match.group(1)


def _env(tmp_path: Path) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {
        **os.environ,
        "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "TMPDIR": str(tmp_path),
        "EDITOR": "true",
        "SOPS_DISABLE_VERSION_CHECK": "1",
    }


def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    for tool in ("age-keygen", "git", "sops", "fluxforge"):
        require(tool)
    script = readme_block("## Five-minute walkthrough", "sh")
    assert "pip install" not in script  # it runs after the README's first command, in its virtualenv
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    transcript = done.stdout + done.stderr
    assert done.returncode == 0, transcript
    fleets = list(tmp_path.glob("tmp.*/fleet"))
    assert len(fleets) == 1, transcript
    fleet = fleets[0]
    secret = (fleet / "apps/staging/db-secret.yaml").read_text()
    assert "change-me" not in secret and "ENC[AES256_GCM" in secret
    assert "password: change-me" in done.stdout  # printed by the real `sops decrypt`
    assert "decryption.secretRef" in done.stderr and "create secret generic sops-age" in done.stderr
    assert re.search(
        r"^checked \d+ file\(s\) against \.sops\.yaml: 1 encrypted, 0 problem\(s\)$", done.stderr, re.MULTILINE
    ), transcript
    assert (fleet / ".git/hooks/pre-commit").is_file()
    assert "generated files are up to date" in done.stdout


def test_the_pre_commit_snippet_works_with_the_framework(tmp_path: Path) -> None:
    for tool in ("age-keygen", "git", "fluxforge"):
        require(tool)
    env = {**_env(tmp_path), "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PRE_COMMIT_COLOR": "never"}
    repo = tmp_path / "fleet"

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            list(args),
            cwd=repo if repo.exists() else tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert done.returncode == 0 or not check, done.stdout + done.stderr
        return done

    run("age-keygen", "-o", str(tmp_path / "age.key"))
    env["SOPS_AGE_KEY_FILE"] = str(tmp_path / "age.key")
    recipient = run("age-keygen", "-y", str(tmp_path / "age.key")).stdout.strip()
    run("fluxforge", "init", "fleet", "--cluster", "staging", "--age", recipient)
    run("fluxforge", "render")
    (repo / ".pre-commit-config.yaml").write_text(readme_block("### The pre-commit framework", "yaml"))
    run("git", "init", "-q", "-b", "main")
    run(sys.executable, "-m", "pre_commit", "install")
    run("git", "add", "-A")
    run("git", "commit", "-q", "-m", "fleet")
    (repo / "apps/staging").mkdir(parents=True)
    secret = repo / "apps/staging/db-secret.yaml"
    secret.write_text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hook-pw-789\n")
    run("git", "add", "-A")
    blocked = run("git", "commit", "-q", "-m", "secret", check=False)
    report = blocked.stdout + blocked.stderr
    assert blocked.returncode == 1, report
    assert "fluxforge encrypt (sops)" in report and "files were modified by this hook" in report
    assert "hook-pw-789" not in report
    assert "ENC[AES256_GCM" in secret.read_text()
    run("git", "add", "-A")
    done = run("git", "commit", "-q", "-m", "secret")
    assert "Passed" in done.stdout + done.stderr or done.returncode == 0
    committed = run("git", "show", "HEAD:apps/staging/db-secret.yaml").stdout
    assert "hook-pw-789" not in committed and "ENC[AES256_GCM" in committed
    shutil.rmtree(tmp_path / "pre-commit-home", ignore_errors=True)

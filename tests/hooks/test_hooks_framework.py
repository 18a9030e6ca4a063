"""The pre-commit framework (the real `pre-commit` package) running the hooks of .pre-commit-hooks.yaml.

`try-repo` installs fluxforge from this checkout into the framework's own virtualenv (language: python)
and runs every hook of the manifest. The faster tests run the same manifest entries as local hooks
with this interpreter, through `pre-commit install` and real `git commit`s.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest

from generator.yamlio import dump_rt, load_rt, make_yaml
from tests.helpers import REPO_ROOT
from tests.helpers.hooks import SECRET, git, reachable_objects, sops_yaml

pytestmark = pytest.mark.interop
MANIFEST = REPO_ROOT / ".pre-commit-hooks.yaml"


def _precommit(repo: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(repo.parent / "pre-commit-home"), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=repo,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _local_config(hook_ids: list[str]) -> str:
    """The manifest's hooks as `repo: local` hooks run by this interpreter (same entry arguments)."""
    hooks = []
    for hook in load_rt(MANIFEST.read_text()):
        if hook["id"] not in hook_ids:
            continue
        local = dict(hook)
        entry = shlex.split(str(hook["entry"]))
        assert entry[0] == "fluxforge"
        local["entry"] = shlex.join([sys.executable, "-m", "generator", *entry[1:]])
        local["language"] = "system"
        hooks.append(local)
    return dump_rt({"repos": [{"repo": "local", "hooks": hooks}]})


def _sample(root: Path, pub: str, hook_ids: list[str]) -> Path:
    git(root.parent, "init", "-q", "-b", "main", str(root))
    (root / ".sops.yaml").write_text(sops_yaml(pub))
    (root / ".pre-commit-config.yaml").write_text(_local_config(hook_ids))
    (root / "secrets").mkdir()
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "init")
    return root


def test_manifest_declares_the_three_hooks() -> None:
    hooks = {h["id"]: h for h in load_rt(MANIFEST.read_text())}
    assert set(hooks) == {"fluxforge-encrypt", "fluxforge-check", "fluxforge-render-check"}
    assert hooks["fluxforge-render-check"]["pass_filenames"] is False
    assert all(h["language"] == "python" for h in hooks.values())


def test_framework_blocks_commit_then_commits_ciphertext(tmp_path: Path, age_key: tuple[Path, str]) -> None:
    repo = _sample(tmp_path / "repo", age_key[1], ["fluxforge-encrypt", "fluxforge-check"])
    assert _precommit(repo, "install").returncode == 0
    plaintext = SECRET.format(password="framework-pw-123")
    (repo / "secrets/app.yaml").write_text(plaintext)
    git(repo, "add", "secrets/app.yaml")
    head = git(repo, "rev-parse", "HEAD").stdout
    blocked = git(repo, "commit", "-m", "secret", check=False)
    assert blocked.returncode == 1
    report = blocked.stdout + blocked.stderr  # git passes the framework's report through on stderr
    assert "fluxforge encrypt (sops)" in report and "files were modified by this hook" in report
    assert "secrets/app.yaml: encrypted in place as the .sops.yaml rules require" in report
    assert "framework-pw-123" not in report
    assert git(repo, "rev-parse", "HEAD").stdout == head  # nothing committed
    assert b"ENC[AES256_GCM" in (repo / "secrets/app.yaml").read_bytes()
    git(repo, "add", "secrets/app.yaml")
    done = git(repo, "commit", "-m", "secret", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    blob = pygit2.Repository(str(repo)).revparse_single("HEAD:secrets/app.yaml").data
    dec = subprocess.run(
        ["sops", "decrypt", "--input-type", "yaml", "--output-type", "yaml", "/dev/stdin"],
        input=blob,
        env={**os.environ, "SOPS_AGE_KEY_FILE": str(age_key[0])},
        check=True,
        capture_output=True,
    ).stdout
    safe = make_yaml(typ="safe")
    assert safe.load(dec) == safe.load(plaintext)
    assert all(b"framework-pw-123" not in raw for _, raw in reachable_objects(pygit2.Repository(str(repo))))


def test_framework_partially_staged_secret_never_committed(tmp_path: Path, age_key: tuple[Path, str]) -> None:
    """The framework sets the unstaged part aside; the hook still fails, so nothing is committed."""
    repo = _sample(tmp_path / "repo", age_key[1], ["fluxforge-encrypt", "fluxforge-check"])
    assert _precommit(repo, "install").returncode == 0
    (repo / "secrets/app.yaml").write_text(SECRET.format(password="staged-pw"))
    git(repo, "add", "secrets/app.yaml")
    (repo / "secrets/app.yaml").write_text(SECRET.format(password="unstaged-pw") + "extra: line\n")
    head = git(repo, "rev-parse", "HEAD").stdout
    blocked = git(repo, "commit", "-m", "secret", check=False)
    assert blocked.returncode == 1
    assert git(repo, "rev-parse", "HEAD").stdout == head
    assert "staged-pw" not in blocked.stdout + blocked.stderr


def test_framework_check_hook_reports_plaintext_secret(tmp_path: Path, age_key: tuple[Path, str]) -> None:
    repo = _sample(tmp_path / "repo", age_key[1], ["fluxforge-check"])
    (repo / "apps").mkdir()
    (repo / "apps/db.yaml").write_text(SECRET.format(password="x"))
    git(repo, "add", ".")
    out = _precommit(repo, "run")
    assert out.returncode == 1
    assert "apps/db.yaml:8:13: Secret 'app': plaintext stringData.password outside any .sops.yaml rule" in out.stdout


def test_framework_render_check_hook(tmp_path: Path, age_key: tuple[Path, str]) -> None:
    repo = _sample(tmp_path / "repo", age_key[1], ["fluxforge-render-check"])
    subprocess.run([sys.executable, "-m", "generator", "init", "."], cwd=repo, check=True, capture_output=True)
    # _sample's hand-written .sops.yaml is not fluxforge's: render replaces it only with --force
    subprocess.run([sys.executable, "-m", "generator", "render", "--force"], cwd=repo, check=True, capture_output=True)
    git(repo, "add", ".")
    fresh = _precommit(repo, "run")
    assert fresh.returncode == 0, fresh.stdout
    assert "fluxforge render --check" in fresh.stdout and "Passed" in fresh.stdout
    generated = next(p for p in (repo / "clusters").rglob("kustomization.yaml"))
    generated.write_text(generated.read_text() + "# hand edit\n")  # kept by render (3-way merge): not stale
    git(repo, "add", ".")
    edited = _precommit(repo, "run")
    assert edited.returncode == 0 and "Passed" in edited.stdout, edited.stdout
    config = repo / "fluxforge.yaml"
    config.write_text(config.read_text().replace("  # branch: main\n", "  branch: dev\n", 1))
    git(repo, "add", ".")
    stale = _precommit(repo, "run")  # the config changed, the tree was not rendered again
    assert stale.returncode == 1 and "Failed" in stale.stdout


def _rendered_sample(repo: Path, pub: str) -> None:
    """`fluxforge init` + `render` with age as the only SOPS recipient: the generated .sops.yaml rules apply."""
    import re

    git(repo.parent, "init", "-q", "-b", "main", str(repo))
    subprocess.run([sys.executable, "-m", "generator", "init", "."], cwd=repo, check=True, capture_output=True)
    config = (repo / "fluxforge.yaml").read_text()
    age_only = re.sub(r"(?m)^sops:\n(?:[ #].*\n)+", f"sops:\n  age:\n    - {pub}\n", config, count=1)
    assert age_only != config, "the starter config has no top-level sops block any more"
    (repo / "fluxforge.yaml").write_text(age_only)
    subprocess.run([sys.executable, "-m", "generator", "render"], cwd=repo, check=True, capture_output=True)
    assert pub in (repo / ".sops.yaml").read_text()
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "init")


@pytest.mark.slow
def test_try_repo_installs_fluxforge_and_runs_every_hook(tmp_path: Path, age_key: tuple[Path, str]) -> None:
    """`pre-commit try-repo <this checkout>`: the framework builds its own virtualenv from the manifest
    (language: python) and runs the three hooks (in id order) on the staged files."""
    repo = tmp_path / "sample"
    _rendered_sample(repo, age_key[1])
    (repo / "apps/dev").mkdir(parents=True, exist_ok=True)
    (repo / "apps/dev/app-secret.yaml").write_text(SECRET.format(password="try-repo-pw"))
    (repo / "other").mkdir()
    (repo / "other/db.yaml").write_text(SECRET.format(password="outside-pw"))
    git(repo, "add", ".")
    out = _precommit(repo, "try-repo", str(REPO_ROOT), "--verbose", timeout=900)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    status = {line.split("....")[0].strip(): line.rsplit(".", 1)[-1] for line in text.splitlines() if "...." in line}
    assert status == {
        "fluxforge check (keyless sops check)": "Failed",
        "fluxforge encrypt (sops)": "Failed",
        "fluxforge render --check": "Passed",
    }, text
    assert (
        "apps/dev/app-secret.yaml:1:1: matched by .sops.yaml creation_rules[" in text
        and "other/db.yaml:8:13: Secret 'app': plaintext stringData.password" in text
    ), text
    assert "apps/dev/app-secret.yaml: encrypted in place" in text and "files were modified by this hook" in text
    assert b"ENC[AES256_GCM" in (repo / "apps/dev/app-secret.yaml").read_bytes()
    assert (repo / "other/db.yaml").read_text() == SECRET.format(password="outside-pw")
    assert "try-repo-pw" not in text and "outside-pw" not in text

"""Decrypted diffs for reviewers, with the real git: the diff driver `fluxforge git setup` (and `hook install
--diff`) writes shows changed key names with masked values to whoever has the key, the ciphertext unchanged
to whoever does not, and never fails a diff; `fluxforge diff A B` / `--rev REV PATH` compare by plaintext."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from generator.commands.gitsetup import BEGIN, END, glob_of, textconv_command
from tests.helpers.hooks import git
from tests.helpers.sops import make_age_key

OLD = "old-PASSWORD-1"
NEW = "new-PASSWORD-2"
TOKEN = "tok-SECRET-3"
SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: default\nstringData:\n"
    "  password: {password}\n  user: admin\n{extra}"
)


def fluxforge(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["fluxforge", *args], cwd=cwd, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A git repository with one sops-encrypted Secret committed; the env that holds its age key."""
    root = tmp_path / "fleet"
    root.mkdir()
    key = make_age_key(tmp_path)
    env = {"SOPS_AGE_KEY_FILE": str(key.key_file)}
    git(root, "init", "-q", "-b", "main")
    (root / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: ^secrets/.*\\.yaml$\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: {key.recipient}\n"
    )
    (root / "secrets").mkdir()
    (root / "secrets/db.yaml").write_text(SECRET.format(password=OLD, extra=""))
    assert fluxforge(root, "encrypt", "-i", "secrets/db.yaml", env=env).returncode == 0
    (root / "README.md").write_text("fleet\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root, env


def _change(root: Path, env: dict[str, str]) -> None:
    (root / "secrets/db.yaml").write_text(SECRET.format(password=NEW, extra=f"  api_token: {TOKEN}\n"))
    assert fluxforge(root, "encrypt", "-i", "secrets/db.yaml", env=env).returncode == 0


def _no_plaintext(text: str) -> None:
    for value in (OLD, NEW, TOKEN):
        assert value not in text


def test_git_diff_through_the_driver_shows_keys_and_masked_values(repo: tuple[Path, dict[str, str]]) -> None:
    root, env = repo
    setup = fluxforge(root, "git", "setup")
    assert setup.returncode == 0, setup.stderr
    attributes = (root / ".gitattributes").read_text()
    assert attributes == f"{BEGIN}\nsecrets/** diff=fluxforge\n{END}\n"
    assert (
        git(root, "config", "diff.fluxforge.textconv")
        .stdout.strip()
        .endswith(
            'git textconv "$1" 2>/dev/null '
            '|| cat "$1"\' ' + git(root, "config", "diff.fluxforge.textconv").stdout.strip().split("' ")[-1]
        )
    )
    assert len(git(root, "config", "fluxforge.diffkey").stdout.strip()) == 64
    _change(root, env)
    diff = git(root, "diff", "secrets/db.yaml", env=env).stdout
    _no_plaintext(diff)
    assert "ENC[" not in diff and "sops:" not in diff
    removed = [line for line in diff.splitlines() if line.startswith("-  ")]
    added = [line for line in diff.splitlines() if line.startswith("+  ")]
    assert len(removed) == 1 and removed[0].startswith("-  password: <masked:")
    assert [line.split(":")[0] for line in added] == ["+  password", "+  api_token"]
    assert removed[0] != added[0].replace("+", "-", 1)  # the value changed, so the marker did
    assert "   user: <masked:" in diff  # an unchanged value keeps its marker: a context line, not a change
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "rotate db password")
    for command in (["show", "HEAD", "--", "secrets/db.yaml"], ["log", "-p", "-1", "--", "secrets/db.yaml"]):
        shown = git(root, *command, env=env).stdout
        _no_plaintext(shown)
        assert "+  api_token: <masked:" in shown, command
    again = fluxforge(root, "git", "setup")  # idempotent: same block, same key
    assert again.returncode == 0 and (root / ".gitattributes").read_text() == attributes


def test_without_the_key_the_diff_shows_the_ciphertext(repo: tuple[Path, dict[str, str]]) -> None:
    root, env = repo
    assert fluxforge(root, "git", "setup").returncode == 0
    _change(root, env)
    diff = git(root, "diff", "secrets/db.yaml")  # no SOPS_AGE_KEY_FILE: nobody can decrypt
    assert diff.returncode == 0
    assert "+    password: ENC[AES256_GCM," in diff.stdout and "<masked:" not in diff.stdout
    _no_plaintext(diff.stdout)
    git(root, "config", "diff.fluxforge.textconv", textconv_command("/nonexistent/fluxforge"))
    missing = git(root, "diff", "secrets/db.yaml", env=env)  # fluxforge not installed: ciphertext, no failure
    assert missing.returncode == 0 and "+    password: ENC[AES256_GCM," in missing.stdout


def test_textconv_never_fails(tmp_path: Path) -> None:
    broken = tmp_path / "x.yaml"
    broken.write_bytes(b"a: ENC[AES256_GCM,data:AAAA,iv:BBBB,tag:CCCC,type:str]\nsops:\n  mac: nonsense\n")
    done = subprocess.run(["fluxforge", "git", "textconv", str(broken)], capture_output=True, check=False, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == broken.read_bytes()
    plain = tmp_path / "plain.yaml"
    plain.write_bytes(b"kind: ConfigMap\n")
    done = subprocess.run(["fluxforge", "git", "textconv", str(plain)], capture_output=True, check=False, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == b"kind: ConfigMap\n"


def test_fluxforge_diff_two_files_and_a_revision(repo: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, env = repo
    before = tmp_path / "before.yaml"
    before.write_bytes((root / "secrets/db.yaml").read_bytes())
    _change(root, env)
    done = fluxforge(root, "diff", str(before), "secrets/db.yaml", env=env)
    assert done.returncode == 0, done.stderr
    _no_plaintext(done.stdout + done.stderr)
    assert "-  password: <masked:" in done.stdout and "+  api_token: <masked:" in done.stdout
    assert " user: <masked:" in done.stdout and "user" not in "".join(
        line for line in done.stdout.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )
    same = fluxforge(root, "diff", "secrets/db.yaml", "secrets/db.yaml", env=env)
    assert same.returncode == 0 and same.stdout == ""
    rev = fluxforge(root, "diff", "--rev", "HEAD", "secrets/db.yaml", env=env)
    assert rev.returncode == 0 and rev.stdout.startswith("--- a/HEAD:secrets/db.yaml\n+++ b/secrets/db.yaml\n")
    assert "+  api_token: <masked:" in rev.stdout
    _no_plaintext(rev.stdout)
    shown = fluxforge(root, "diff", "--rev", "HEAD", "secrets/db.yaml", "--show-values", env=env)
    assert f"-  password: {OLD}" in shown.stdout and f"+  password: {NEW}" in shown.stdout
    exit_code = fluxforge(root, "diff", "--rev", "HEAD", "secrets/db.yaml", "--exit-code", env=env)
    assert exit_code.returncode == 1
    keyless = fluxforge(root, "diff", "--rev", "HEAD", "secrets/db.yaml")
    assert keyless.returncode == 0
    assert "+  api_token: <encrypted>" in keyless.stdout and "password" not in "".join(
        line for line in keyless.stdout.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )
    assert "not decrypted" in keyless.stderr and "only keys added or removed are shown" in keyless.stderr
    usage = fluxforge(root, "diff", "secrets/db.yaml")
    assert usage.returncode == 2 and "give two files" in usage.stderr
    bad_rev = fluxforge(root, "diff", "--rev", "nope", "secrets/db.yaml")
    assert bad_rev.returncode == 1 and bad_rev.stderr.strip() == f"nope: no such revision in {root.resolve()}"


def test_hook_install_diff_sets_up_the_driver(repo: tuple[Path, dict[str, str]]) -> None:
    root, _ = repo
    done = fluxforge(root, "hook", "install", "--diff")
    assert done.returncode == 0, done.stderr
    assert (root / ".git/hooks/pre-commit").is_file()
    assert "secrets/** diff=fluxforge" in (root / ".gitattributes").read_text()
    assert git(root, "config", "diff.fluxforge.textconv").returncode == 0


def test_gitattributes_keeps_the_users_lines(repo: tuple[Path, dict[str, str]]) -> None:
    root, _ = repo
    (root / ".gitattributes").write_text("*.png binary\n")
    assert fluxforge(root, "git", "setup").returncode == 0
    assert (root / ".gitattributes").read_text() == f"*.png binary\n{BEGIN}\nsecrets/** diff=fluxforge\n{END}\n"


@pytest.mark.parametrize(
    ("regex", "pattern"),
    [
        (r"^secrets/.*\.yaml$", "secrets/**"),
        (r"clusters/staging/.*\.ya?ml$", "clusters/staging/**"),
        (r"^apps\/prod\/[^/]+\.yaml$", "apps/prod/**"),
        (r".*\.enc\.yaml$", "*"),
        (r"^secret\.yaml$", "*"),
        (r"^(apps|infra)/.*", "*"),
        (r"^clusters/stagings?/x", "clusters/**"),
    ],
)
def test_glob_of(regex: str, pattern: str) -> None:
    assert glob_of(regex) == pattern

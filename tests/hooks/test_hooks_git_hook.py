"""The plain git pre-commit hook (`fluxforge hook install`): real `git commit` runs it.

Staged plaintext that a rule covers is committed as ciphertext: the HEAD blob decrypts with the real
sops binary, and the plaintext is in no object reachable from HEAD (nor in the loose files of the
objects we created).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest

from generator.yamlio import make_yaml
from tests.helpers.hooks import SECRET, git, loose_object_bytes, reachable_objects

pytestmark = pytest.mark.interop


def _install(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "generator", "hook", "install"], cwd=repo, check=False, capture_output=True, text=True
    )


def _sops_decrypt(data: bytes, name: str, keyfile: Path, tmp: Path) -> str:
    target = tmp / "decrypt" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(keyfile)}
    out = subprocess.run(["sops", "decrypt", str(target)], env=env, check=True, capture_output=True, text=True)
    return out.stdout


def _assert_plaintext_unreachable(repo_dir: Path, plaintext: str) -> None:
    repo = pygit2.Repository(str(repo_dir))
    needle = plaintext.encode()
    count = 0
    for oid, raw in reachable_objects(repo):
        count += 1
        assert needle not in raw, f"plaintext found in reachable object {oid}"
        loose = loose_object_bytes(repo, oid)
        assert loose is None or needle not in loose, f"plaintext in loose object file {oid}"
    assert count >= 5


def _yaml(text: str) -> object:
    return make_yaml(typ="safe").load(text)


def test_install_then_commit_stores_ciphertext(work_repo: Path, age_key: tuple[Path, str], tmp_path: Path) -> None:
    assert _install(work_repo).returncode == 0
    password = "pw-" + secrets.token_hex(12)
    plaintext = SECRET.format(password=password)
    (work_repo / "secrets").mkdir()
    (work_repo / "secrets/app.yaml").write_text(plaintext)
    git(work_repo, "add", "secrets/app.yaml")
    commit = git(work_repo, "commit", "-m", "add secret", check=False)
    assert commit.returncode == 0, commit.stderr
    assert "fluxforge: encrypted secrets/app.yaml and staged the ciphertext" in commit.stderr
    assert password not in commit.stderr + commit.stdout

    blob = pygit2.Repository(str(work_repo)).revparse_single("HEAD:secrets/app.yaml").data
    assert b"ENC[AES256_GCM" in blob and password.encode() not in blob
    assert _yaml(_sops_decrypt(blob, "app.yaml", age_key[0], tmp_path)) == _yaml(plaintext)
    _assert_plaintext_unreachable(work_repo, password)
    # the working tree holds the same ciphertext: nothing left to commit
    assert (work_repo / "secrets/app.yaml").read_bytes() == blob
    assert git(work_repo, "status", "--porcelain").stdout == ""
    # documented: the blob `git add` wrote still holds the plaintext, unreachable, until git gc prunes it
    assert "git gc --prune=now" in commit.stderr
    odb = pygit2.Repository(str(work_repo)).odb
    assert any(password.encode() in odb.read(oid)[1] for oid in odb)
    git(work_repo, "gc", "-q", "--prune=now")
    odb = pygit2.Repository(str(work_repo)).odb
    assert not any(password.encode() in odb.read(oid)[1] for oid in odb)


def test_commit_all_uses_git_temporary_index(work_repo: Path, age_key: tuple[Path, str], tmp_path: Path) -> None:
    """`git commit -a` hands the hook a temporary index (GIT_INDEX_FILE); the ciphertext lands there."""
    (work_repo / "secrets").mkdir()
    (work_repo / "secrets/app.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n")
    git(work_repo, "add", ".")
    git(work_repo, "commit", "-q", "-m", "empty secret (nothing to encrypt)")
    assert _install(work_repo).returncode == 0
    password = "pw-" + secrets.token_hex(12)
    plaintext = SECRET.format(password=password)
    (work_repo / "secrets/app.yaml").write_text(plaintext)
    commit = git(work_repo, "commit", "-a", "-m", "fill secret", check=False)
    assert commit.returncode == 0, commit.stderr
    blob = pygit2.Repository(str(work_repo)).revparse_single("HEAD:secrets/app.yaml").data
    assert password.encode() not in blob
    assert _yaml(_sops_decrypt(blob, "app.yaml", age_key[0], tmp_path)) == _yaml(plaintext)
    assert git(work_repo, "show", ":secrets/app.yaml").stdout.encode() == blob
    _assert_plaintext_unreachable(work_repo, password)


def test_commit_with_paths_is_refused_when_something_must_be_encrypted(work_repo: Path) -> None:
    """`git commit PATH` commits a temporary index: refusing keeps the real index and HEAD consistent."""
    assert _install(work_repo).returncode == 0
    (work_repo / "secrets").mkdir()
    (work_repo / "secrets/app.yaml").write_text(SECRET.format(password="only-pw"))
    git(work_repo, "add", "secrets/app.yaml")
    head = git(work_repo, "rev-parse", "HEAD").stdout
    refused = git(work_repo, "commit", "-m", "only", "secrets/app.yaml", check=False)
    assert refused.returncode == 1
    assert (
        "secrets/app.yaml: must be encrypted, but `git commit PATH` commits from a temporary index; "
        "`git add secrets/app.yaml` and run `git commit` without paths"
    ) in refused.stderr
    assert git(work_repo, "rev-parse", "HEAD").stdout == head
    assert git(work_repo, "commit", "-m", "all staged", check=False).returncode == 0
    assert b"only-pw" not in pygit2.Repository(str(work_repo)).revparse_single("HEAD:secrets/app.yaml").data
    assert git(work_repo, "status", "--porcelain").stdout == ""


def test_binary_file_under_a_rule_is_encrypted(work_repo: Path, age_key: tuple[Path, str], tmp_path: Path) -> None:
    assert _install(work_repo).returncode == 0
    payload = b"\x00\x01key-" + secrets.token_hex(8).encode() + b"\xff\n"
    (work_repo / "files").mkdir()
    (work_repo / "files/tls.key").write_bytes(payload)
    git(work_repo, "add", "files/tls.key")
    commit = git(work_repo, "commit", "-m", "key", check=False)
    assert commit.returncode == 0, commit.stderr
    blob = pygit2.Repository(str(work_repo)).revparse_single("HEAD:files/tls.key").data
    assert payload not in blob
    target = tmp_path / "dec" / "tls.key"
    target.parent.mkdir()
    target.write_bytes(blob)
    out = subprocess.run(
        ["sops", "decrypt", str(target)],
        env={**os.environ, "SOPS_AGE_KEY_FILE": str(age_key[0])},
        check=True,
        capture_output=True,
    )
    assert out.stdout == payload


def test_partially_staged_file_is_refused(work_repo: Path) -> None:
    assert _install(work_repo).returncode == 0
    (work_repo / "secrets").mkdir()
    (work_repo / "secrets/app.yaml").write_text(SECRET.format(password="staged-pw"))
    git(work_repo, "add", "secrets/app.yaml")
    (work_repo / "secrets/app.yaml").write_text(SECRET.format(password="unstaged-pw"))
    head_before = git(work_repo, "rev-parse", "HEAD").stdout
    commit = git(work_repo, "commit", "-m", "x", check=False)
    assert commit.returncode == 1
    assert (
        "secrets/app.yaml: partially staged (the working tree differs from the index), so fluxforge will "
        "not guess what to encrypt"
    ) in commit.stderr
    assert "pw" not in commit.stderr
    assert git(work_repo, "rev-parse", "HEAD").stdout == head_before
    assert "staged-pw" in git(work_repo, "show", ":secrets/app.yaml").stdout  # index untouched


def test_plaintext_secret_outside_rules_blocks_commit(work_repo: Path) -> None:
    assert _install(work_repo).returncode == 0
    (work_repo / "apps/db.yaml").write_text(SECRET.format(password="outside-pw"))
    git(work_repo, "add", "apps/db.yaml")
    commit = git(work_repo, "commit", "-m", "x", check=False)
    assert commit.returncode == 1
    tail = "outside any .sops.yaml rule; add a creation rule for this file and encrypt it"
    assert commit.stderr.splitlines() == [
        f"apps/db.yaml:8:13: Secret 'app': plaintext stringData.password {tail}",
        f"apps/db.yaml:9:9: Secret 'app': plaintext stringData.user {tail}",
        "fluxforge: commit blocked; fix the files above and commit again",
    ]


def test_blocked_commit_still_leaves_ciphertext_staged(work_repo: Path) -> None:
    """One file encrypted, another blocked: nothing is committed, and the index holds no plaintext."""
    assert _install(work_repo).returncode == 0
    (work_repo / "secrets").mkdir()
    (work_repo / "secrets/app.yaml").write_text(SECRET.format(password="ruled-pw"))
    (work_repo / "apps/db.yaml").write_text(SECRET.format(password="loose-pw"))
    git(work_repo, "add", ".")
    head = git(work_repo, "rev-parse", "HEAD").stdout
    blocked = git(work_repo, "commit", "-m", "x", check=False)
    assert blocked.returncode == 1
    lines = blocked.stderr.splitlines()
    assert lines[0] == "fluxforge: encrypted secrets/app.yaml and staged the ciphertext"
    assert lines[2].startswith("apps/db.yaml:8:13: Secret 'app': plaintext stringData.password")
    assert lines[-1] == "fluxforge: commit blocked; fix the files above and commit again"
    assert git(work_repo, "rev-parse", "HEAD").stdout == head
    assert "ruled-pw" not in git(work_repo, "show", ":secrets/app.yaml").stdout


def test_no_sops_yaml_plain_files_pass_plaintext_secret_blocks(tmp_path: Path) -> None:
    repo = tmp_path / "plain"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    assert _install(repo).returncode == 0
    (repo / "app.yaml").write_text("apiVersion: v1\nkind: ConfigMap\ndata:\n  a: b\n")
    (repo / "logo.png").write_bytes(bytes(range(256)))
    git(repo, "add", ".")
    assert git(repo, "commit", "-m", "ok", check=False).returncode == 0
    (repo / "s.yaml").write_text(SECRET.format(password="p"))
    git(repo, "add", "s.yaml")
    blocked = git(repo, "commit", "-m", "secret", check=False)
    assert blocked.returncode == 1 and "s.yaml:8:13: Secret 'app'" in blocked.stderr


def test_deletion_and_rename_of_encrypted_file(work_repo: Path) -> None:
    assert _install(work_repo).returncode == 0
    (work_repo / "secrets").mkdir()
    (work_repo / "secrets/app.yaml").write_text(SECRET.format(password="rename-pw"))
    git(work_repo, "add", ".")
    assert git(work_repo, "commit", "-m", "add", check=False).returncode == 0
    git(work_repo, "mv", "secrets/app.yaml", "secrets/renamed.yaml")
    renamed = git(work_repo, "commit", "-m", "rename", check=False)
    assert renamed.returncode == 0, renamed.stderr
    assert "encrypted" not in renamed.stderr  # already ciphertext: left as it is
    git(work_repo, "rm", "-q", "secrets/renamed.yaml")
    deleted = git(work_repo, "commit", "-m", "delete", check=False)
    assert deleted.returncode == 0, deleted.stderr


def test_rename_plaintext_into_a_rule_encrypts_it(work_repo: Path) -> None:
    assert _install(work_repo).returncode == 0
    (work_repo / "draft.txt").write_text(SECRET.format(password="draft-pw"))
    git(work_repo, "add", "draft.txt")
    # a plaintext Secret is refused in any file type (issue 18), so the draft goes in past the hook
    assert git(work_repo, "commit", "-m", "draft", check=False).returncode == 1
    assert git(work_repo, "commit", "--no-verify", "-m", "draft", check=False).returncode == 0
    (work_repo / "secrets").mkdir()
    git(work_repo, "mv", "draft.txt", "secrets/app.yaml")
    commit = git(work_repo, "commit", "-m", "move into secrets/", check=False)
    assert commit.returncode == 0, commit.stderr
    assert "encrypted secrets/app.yaml" in commit.stderr
    blob = pygit2.Repository(str(work_repo)).revparse_single("HEAD:secrets/app.yaml").data
    assert b"draft-pw" not in blob


def test_install_refuses_foreign_hook_and_uninstall(work_repo: Path) -> None:
    hook = work_repo / ".git/hooks/pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\nexit 0\n")
    refused = _install(work_repo)
    assert refused.returncode == 1 and "a pre-commit hook fluxforge did not write is already there" in refused.stderr
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"
    hook.unlink()
    assert _install(work_repo).returncode == 0
    assert os.access(hook, os.X_OK) and "-m generator hook run" in hook.read_text()
    out = subprocess.run(
        [sys.executable, "-m", "generator", "hook", "uninstall"],
        cwd=work_repo,
        check=False,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and not hook.exists()
    again = subprocess.run(
        [sys.executable, "-m", "generator", "hook", "uninstall"],
        cwd=work_repo,
        check=False,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 1 and "no pre-commit hook is installed" in again.stderr

"""A write that really fails (a read-only file system, a full one, a file where a folder belongs) is
reported by every writing command as ``PATH: cannot write: OS REASON; FIX`` (one policy, in fsio),
exit 1, never ``None`` and never twice; commands that write several files add what was and was not
written. The failures are real: the command runs in a private mount namespace (``unshare -m``) where
the folder is bind-mounted read-only or is a tiny tmpfs. Root ignores permission bits, so a chmod
would prove nothing here."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT, snapshot
from tests.helpers.sops import make_age_key

SAMPLE_CONFIG = REPO_ROOT / "sample-repo" / "fluxforge.yaml"
READ_ONLY = "Read-only file system; the file system is mounted read-only; write somewhere else or remount it"
FULL = "No space left on device; free space on that file system and rerun"

_RO = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
_FULL = (
    'mount -t tmpfs -o size=$2 tmpfs "$1" && cp -a "$3/." "$1/" '
    '&& (dd if=/dev/zero of="$1/.filler" bs=4k 2>/dev/null || true) && shift 3 && exec "$@"'
)


def _namespaces() -> str | None:
    if shutil.which("unshare") is None:
        return "unshare not found (Debian: util-linux)"
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /mnt"],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if probe.returncode == 0 else f"unshare -m / mount refused: {probe.stderr.strip()}"


@pytest.fixture(scope="module", autouse=True)
def _need_namespaces() -> None:
    reason = _namespaces()
    if reason:
        pytest.skip(f"real write failures need a private mount namespace: {reason}")


def _fluxforge() -> str:
    path = shutil.which("fluxforge")
    assert path, "the fluxforge console script is not on PATH (run the tests from the venv)"
    return path


def run_read_only(
    folder: Path, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``fluxforge ARGS`` with ``folder`` mounted read-only (for this process only)."""
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", _RO, "sh", str(folder), _fluxforge(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


def run_full(folder: Path, content: Path, *args: str, size: str = "64k") -> subprocess.CompletedProcess[str]:
    """``fluxforge ARGS`` with ``folder`` a ``size`` tmpfs holding a copy of ``content`` and filled up."""
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", _FULL, "sh", str(folder), size, str(content), _fluxforge(), *args],
        cwd=folder.parent,
        capture_output=True,
        text=True,
        check=False,
    )


def _repo(tmp_path: Path, version: str | None = None) -> Path:
    repo = tmp_path / "fleet"
    repo.mkdir()
    text = SAMPLE_CONFIG.read_text()
    if version is not None:
        text = text.replace('version: "2.9.4"', f'version: "{version}"')
    (repo / "fluxforge.yaml").write_text(text)
    return repo


def test_render_into_a_read_only_folder_names_the_file_and_writes_nothing(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    before = snapshot(repo)
    done = run_read_only(repo, "render", "fleet", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].startswith("fleet/") and lines[0].endswith(f": cannot write: {READ_ONLY}")
    assert lines[1] == "written before the failure (each file whole): none"
    assert lines[2].startswith("not written: ") and ".sops.yaml" in lines[2]
    assert "None" not in done.stderr and "Traceback" not in done.stderr
    assert snapshot(repo) == before


def test_render_that_can_only_not_write_the_lock_says_so(tmp_path: Path) -> None:
    """Was `fluxforge.lock: cannot write: None`."""
    repo = _repo(tmp_path)
    assert subprocess.run([_fluxforge(), "render", "fleet"], cwd=tmp_path, check=False).returncode == 0
    (repo / "fluxforge.lock").unlink()  # the tree is up to date: only the lock is to be written
    done = run_read_only(repo, "render", "fleet", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"fleet/fluxforge.lock: cannot write: {READ_ONLY}",
        (
            "the tree is rendered (0 file(s) written); only fluxforge.lock, the base that keeps your edits in the next "
            "merge, is not updated: fix the cause and rerun `fluxforge render`"
        ),
    ]


def test_render_on_a_full_disk_names_the_file_and_the_reason(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    mount = tmp_path / "disk"
    mount.mkdir()
    done = run_full(mount, repo, "render", "disk")
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].startswith("disk/") and lines[0].endswith(f": cannot write: {FULL}"), lines
    assert lines[1].startswith("written before the failure (each file whole): ")
    assert lines[2].startswith("not written: ")
    assert "None" not in done.stderr


def test_upgrade_into_a_read_only_folder_names_the_file(tmp_path: Path) -> None:
    """Was `None: cannot write: None`."""
    repo = _repo(tmp_path, version="2.6.0")
    assert subprocess.run([_fluxforge(), "render", "fleet"], cwd=tmp_path, check=False).returncode == 0
    before = snapshot(repo)
    done = run_read_only(repo, "upgrade", "fleet", "--to", "2.9.4", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if "->" not in line]
    assert errors[0].startswith("fleet/clusters/") and errors[0].endswith(f": cannot write: {READ_ONLY}")
    assert errors[1] == "written before the failure (each file whole): none"
    assert errors[2].startswith("not written: clusters/") and errors[2].endswith("fluxforge.yaml, fluxforge.lock")
    assert errors[3] == "fix the cause and rerun the same `fluxforge upgrade`: it completes the upgrade"
    assert "None" not in done.stderr
    assert snapshot(repo) == before


def test_init_into_a_read_only_folder_is_one_line(tmp_path: Path) -> None:
    """Was the same message twice on one line."""
    target = tmp_path / "fleet"
    target.mkdir()
    done = run_read_only(target, "init", "fleet", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr == f"fleet/fluxforge.yaml: cannot write: {READ_ONLY}\n"
    assert list(target.iterdir()) == []


def test_init_below_a_file_names_the_file(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fleet").write_text("not a folder\n")
    result = run_cli("init", "fleet/sub")
    assert result.exit_code == 1
    assert result.stderr == (
        "fleet/sub/fluxforge.yaml: cannot write: Not a directory; a folder on this path is a file; move it away\n"
    )


def _secret_repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    repo = tmp_path / "repo"
    repo.mkdir()
    key = make_age_key(tmp_path)
    (repo / ".sops.yaml").write_text(f"creation_rules:\n  - path_regex: \\.yaml$\n    age: {key.recipient}\n")
    (repo / "a.yaml").write_text("password: hunter2-plain\n")
    (repo / "b.yaml").write_text("token: s3cr3t-plain\n")
    return repo, {"SOPS_AGE_KEY_FILE": str(key.key_file)}


def test_encrypt_in_place_on_a_read_only_folder(tmp_path: Path) -> None:
    repo, env = _secret_repo(tmp_path)
    before = snapshot(repo)
    done = run_read_only(repo, "encrypt", "-i", "a.yaml", "b.yaml", cwd=repo, env=env)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"a.yaml: cannot write: {READ_ONLY}", f"b.yaml: cannot write: {READ_ONLY}"]
    assert snapshot(repo) == before


def test_decrypt_in_place_and_to_a_file_on_a_read_only_folder(tmp_path: Path) -> None:
    repo, env = _secret_repo(tmp_path)
    assert (
        subprocess.run(
            [_fluxforge(), "encrypt", "-i", "a.yaml"], cwd=repo, env={**os.environ, **env}, check=False
        ).returncode
        == 0
    )
    before = snapshot(repo)
    done = run_read_only(repo, "decrypt", "-i", "a.yaml", cwd=repo, env=env)
    assert (done.returncode, done.stderr, done.stdout) == (1, f"a.yaml: cannot write: {READ_ONLY}\n", "")
    out = tmp_path / "out"
    out.mkdir()
    done = run_read_only(out, "decrypt", "--output", "../out/plain.yaml", "a.yaml", cwd=repo, env=env)
    assert (done.returncode, done.stderr, done.stdout) == (1, f"../out/plain.yaml: cannot write: {READ_ONLY}\n", "")
    assert "hunter2" not in done.stderr
    assert snapshot(repo) == before and list(out.iterdir()) == []

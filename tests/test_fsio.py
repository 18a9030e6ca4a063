from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from generator.fsio import write_atomic
from tests.helpers import SAMPLE_REPO


def test_write_atomic_creates_and_skips_identical(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.yaml"
    assert write_atomic(target, b"a: 1\n") is True
    mtime = target.stat().st_mtime_ns
    assert write_atomic(target, b"a: 1\n") is False
    assert target.stat().st_mtime_ns == mtime
    assert write_atomic(target, b"a: 2\n") is True
    assert target.read_bytes() == b"a: 2\n"
    assert [p.name for p in target.parent.iterdir()] == ["f.yaml"]


def test_regular_files_and_links_are_replaced_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A regular file (one lstat, the common case) and a symlink to one (the general way) end the same: the
    new bytes in a new inode with the old mode, the link still a link; a same-length change and a prefix
    of the old bytes are changes, not identical bytes."""
    monkeypatch.chdir(tmp_path)
    plain, real, link = Path("plain.yaml"), tmp_path / "real.yaml", tmp_path / "link.yaml"
    for target in (plain, real):
        target.write_bytes(b"a: 1\nb: 2\n")
        target.chmod(0o640)
    link.symlink_to("real.yaml")
    for target, written in ((plain, plain), (link, real)):
        inode = written.stat().st_ino
        assert write_atomic(target, b"a: 1\nb: 3\n") is True  # same length, other bytes
        assert written.stat().st_ino != inode  # replaced, not rewritten in place
        assert write_atomic(target, b"a: 1\n") is True  # a prefix of what is there
        assert written.read_bytes() == b"a: 1\n"
        assert written.stat().st_mode & 0o777 == 0o640
        assert write_atomic(target, b"a: 1\n", mode=0o600) is False
        assert written.stat().st_mode & 0o777 == 0o600
    assert link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.yaml", "plain.yaml", "real.yaml"]


def test_write_atomic_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "secret.yaml"
    target.write_bytes(b"x")
    target.chmod(0o600)
    write_atomic(target, b"y")
    assert target.stat().st_mode & 0o777 == 0o600


def test_write_atomic_leaves_no_temp_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")

    def fail(*_a: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def _count_fsync(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


def test_sync_false_skips_the_fsync_but_stays_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_fsync(monkeypatch)
    target = tmp_path / "f.yaml"
    target.write_bytes(b"old: 1\n")
    seen: list[tuple[bytes, bytes]] = []
    real_replace = os.replace

    def watching(source: str, dest: str) -> None:
        # the moment before the swap: the target still holds the old bytes, the temp file the whole new ones
        seen.append((Path(dest).read_bytes(), Path(source).read_bytes()))
        real_replace(source, dest)

    monkeypatch.setattr(os, "replace", watching)
    assert write_atomic(target, b"new: 2\n" * 1000, sync=False) is True
    assert calls == []
    assert seen == [(b"old: 1\n", b"new: 2\n" * 1000)]
    assert target.read_bytes() == b"new: 2\n" * 1000
    assert [p.name for p in tmp_path.iterdir()] == ["f.yaml"]
    assert write_atomic(target, b"third\n") is True
    assert len(calls) == 1  # the default stays durable


def test_sync_false_failure_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")

    def fail(*_a: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "write", fail)
    with pytest.raises(OSError):
        write_atomic(target, b"new", sync=False)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_render_outputs_skip_fsync_the_lock_does_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Render outputs can be regenerated: no fsync per file. The lock (the merge base) is durable."""
    from generator.commands.render import run_render

    shutil.copy(SAMPLE_REPO / "fluxforge.yaml", tmp_path / "fluxforge.yaml")
    calls = _count_fsync(monkeypatch)
    report = run_render(tmp_path)
    assert len(report.written) == 16 and report.lock_changed
    assert len(calls) == 1
    calls.clear()
    again = run_render(tmp_path)
    assert again.written == () and not again.lock_changed and calls == []


def test_write_failure_is_a_user_error_naming_the_path(tmp_path: Path) -> None:
    from generator.errors import WriteError

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(WriteError) as caught:
        write_atomic(blocker / "out.yaml", b"data")
    expected = f"{blocker / 'out.yaml'}: cannot write: Not a directory; a folder on this path is a file; move it away"
    assert caught.value.problems == [expected]
    assert isinstance(caught.value, OSError)


def test_identical_bytes_still_get_the_requested_mode(tmp_path: Path) -> None:
    target = tmp_path / "plain.yaml"
    target.write_bytes(b"password: x\n")
    target.chmod(0o644)
    assert write_atomic(target, b"password: x\n", mode=0o600) is False
    assert target.stat().st_mode & 0o777 == 0o600


def test_decrypt_output_that_cannot_be_written_exits_1_without_plaintext(
    tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers.sops import make_age_key

    key = make_age_key(tmp_path)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.key_file))
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {key.recipient}\n")
    (tmp_path / "s.yaml").write_text("password: hunter2-plain\n")
    assert run_cli("encrypt", "-i", "s.yaml").exit_code == 0
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("decrypt", "--output", "file/out.yaml", "s.yaml")
    assert result.exit_code == 1
    assert (
        result.output == "file/out.yaml: cannot write: Not a directory; a folder on this path is a file; move it away\n"
    )


def test_an_interrupt_as_the_temp_file_is_made_leaves_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C right after the temp file is created (before its descriptor is handed back): it is removed
    all the same, and the target keeps its old bytes."""
    target = tmp_path / "secret.yaml"
    target.write_text("old\n")
    real_open = os.open

    def interrupted(path: str, *args: Any, **kwargs: Any) -> int:
        fd = real_open(path, *args, **kwargs)
        if ".fluxforge-" in os.fspath(path):
            os.close(fd)
            raise KeyboardInterrupt
        return fd

    monkeypatch.setattr(os, "open", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, b"new\n", sync=False)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.yaml"] and target.read_text() == "old\n"

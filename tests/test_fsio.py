from __future__ import annotations

from pathlib import Path

import pytest

from generator.fsio import write_atomic


def test_write_atomic_creates_and_skips_identical(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.yaml"
    assert write_atomic(target, b"a: 1\n") is True
    mtime = target.stat().st_mtime_ns
    assert write_atomic(target, b"a: 1\n") is False
    assert target.stat().st_mtime_ns == mtime
    assert write_atomic(target, b"a: 2\n") is True
    assert target.read_bytes() == b"a: 2\n"
    assert [p.name for p in target.parent.iterdir()] == ["f.yaml"]


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

    monkeypatch.setattr(Path, "replace", fail)
    with pytest.raises(OSError):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]

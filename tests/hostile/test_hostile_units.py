"""The building blocks of issue 18 in isolation: bounded reads, write-through, temp names and their
cleanup, the depth bound, the one RE2 compile."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import fsio, yamlguard
from generator.errors import InputError, SopsError
from generator.sops.regex import compile_re2, search
from generator.yamlio import dump_rt, load_rt


def test_read_input_refuses_special_files_before_reading(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")  # no writer: a plain open() would block forever
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    try:
        for name, kind in (("fifo", "a FIFO"), ("sock", "a socket"), (".", "a folder")):
            with pytest.raises(InputError, match=f"is {kind}, not a regular file"):
                fsio.read_input(tmp_path / name)
    finally:
        sock.close()
    with pytest.raises(InputError, match="a character device"):
        fsio.read_input("/dev/zero")
    (tmp_path / "link").symlink_to(tmp_path / "fifo")
    with pytest.raises(InputError, match="a FIFO"):
        fsio.read_input(tmp_path / "link")


def test_read_input_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"x" * 2048)
    monkeypatch.setenv(fsio.MAX_INPUT_ENV, "2K")
    assert fsio.read_input(target) == b"x" * 2048
    monkeypatch.setenv(fsio.MAX_INPUT_ENV, "2047")
    with pytest.raises(InputError, match=r"2048 bytes, more than the input limit of 2047 bytes; set "):
        fsio.read_input(target)
    monkeypatch.setenv(fsio.MAX_INPUT_ENV, "0")
    assert len(fsio.read_input(target)) == 2048
    monkeypatch.setenv(fsio.MAX_INPUT_ENV, "lots")
    with pytest.raises(InputError, match="FLUXFORGE_MAX_INPUT_SIZE='lots'"):
        fsio.read_input(target)


def test_write_atomic_writes_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real" / "f.yaml"
    real.parent.mkdir()
    real.write_bytes(b"old\n")
    real.chmod(0o640)
    link = tmp_path / "link.yaml"
    link.symlink_to(Path("real/f.yaml"))
    assert fsio.write_atomic(link, b"new\n")
    assert link.is_symlink() and real.read_bytes() == b"new\n"
    assert real.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in real.parent.iterdir()) == ["f.yaml"]


def test_descriptor_links_are_recognised(tmp_path: Path) -> None:
    (tmp_path / "out").symlink_to("/proc/self/fd/1")
    assert fsio.descriptor_of("/dev/stdout") == 1
    assert fsio.descriptor_of("/dev/fd/7") == 7
    assert fsio.descriptor_of(f"/proc/{os.getpid()}/fd/2") == 2
    assert fsio.descriptor_of(tmp_path / "out") == 1
    assert fsio.descriptor_of("/proc/1/fd/1") is None  # another process's descriptor is a path like any other
    assert fsio.descriptor_of(tmp_path / "plain") is None


def test_write_atomic_to_an_open_descriptor(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    try:
        assert fsio.write_atomic(Path(f"/dev/fd/{write_end}"), b"through the pipe\n")
        assert os.read(read_end, 100) == b"through the pipe\n"
    finally:
        os.close(read_end)
        os.close(write_end)


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


def test_stale_temp_files_of_gone_processes_are_removed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fsio._SWEPT.discard(os.path.abspath(tmp_path))
    stale = tmp_path / f".s.yaml.fluxforge-{_dead_pid()}-abcd1234.tmp"
    ours = tmp_path / f".s.yaml.fluxforge-{os.getpid()}-abcd1234.tmp"
    other = tmp_path / ".s.yaml.abcd1234.tmp"  # not our pattern: never touched
    for path in (stale, ours, other):
        path.write_text("plaintext")
    assert fsio.is_temp_name(stale.name) and fsio.is_temp_name(ours.name) and not fsio.is_temp_name(other.name)
    with caplog.at_level("WARNING", logger="fluxforge"):
        assert fsio.sweep_stale_temps(tmp_path) == [stale]
    assert not stale.exists() and ours.exists() and other.exists()
    assert "removed a stale temp file left by an interrupted fluxforge run" in caplog.text
    assert fsio.sweep_stale_temps(tmp_path) == []  # once per folder and run


def test_temp_file_names_carry_the_pattern(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real_replace = os.replace

    def spy(source: str, target: str) -> None:
        seen.append(os.path.basename(source))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", spy)
    fsio.write_atomic(tmp_path / "secret.yaml", b"x\n")
    assert len(seen) == 1 and fsio.is_temp_name(seen[0]) and seen[0].startswith(".secret.yaml.fluxforge-")


def test_re2_is_linear_and_refuses_what_go_refuses() -> None:
    assert not search(r"^(a+)+$", "a" * 5000 + "b", "x")  # exponential for a backtracking engine
    assert search(r"(?i)^S\.yaml$", "s.YAML", "x")
    for bad in (r"(?=x)", r"(a)\1", r"\Z", "([a-"):
        with pytest.raises(SopsError, match="not a valid RE2 regular expression"):
            compile_re2(bad, "creation_rules[0].path_regex")


_tree = st.recursive(
    st.sampled_from(["v", "1", ""]),
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, min_size=1, max_size=3)
    ),
    max_leaves=40,
)


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(_depth(v) for v in value.values())
    if isinstance(value, list):
        return 1 + max(_depth(v) for v in value)
    return 0


@settings(max_examples=150, deadline=None)
@given(tree=_tree, flow=st.booleans())
def test_depth_bound_is_an_upper_bound(tree: object, flow: bool) -> None:
    """The text-level bound never under-estimates the nesting (it keeps deep input away from libyaml)."""
    import json

    text = json.dumps({"root": tree}) if flow else dump_rt(load_rt(json.dumps({"root": tree})))
    assert yamlguard.depth_bound(text) >= _depth({"root": tree})


def test_check_depth_counts_json_nesting() -> None:
    yamlguard.check_depth({"a": [[[1]]]})
    deep: object = 1
    for _ in range(yamlguard.MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(yamlguard.TooComplex, match="nested deeper than"):
        yamlguard.check_depth(deep)


def test_hook_install_force_replaces_a_symlinked_hook_not_its_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes go through symlinks, except the hook itself: --force replaces the link, and a hook
    script shared from elsewhere stays as it was."""
    from click.testing import CliRunner

    from generator.cli import main

    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    shared = tmp_path / "shared-hook.sh"
    shared.write_text("#!/bin/sh\necho shared\n")
    (repo / ".git/hooks/pre-commit").symlink_to(shared)
    monkeypatch.chdir(repo)
    assert CliRunner().invoke(main, ["hook", "install"]).exit_code == 1
    assert CliRunner().invoke(main, ["hook", "install", "--force"]).exit_code == 0
    hook = repo / ".git/hooks/pre-commit"
    assert not hook.is_symlink() and "fluxforge pre-commit hook" in hook.read_text()
    assert shared.read_text() == "#!/bin/sh\necho shared\n"

"""How ``fluxforge render`` writes its files: into a folder the run itself created, without the checks for a file,
link or stale temp file already there (``fsio.write_new``); anywhere else through ``fsio.write_atomic``. Both ways
give the same tree, byte for byte and mode for mode."""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from generator import fsio
from generator.commands.render import run_render
from generator.errors import WriteError
from tests.helpers import REPO_ROOT

SAMPLE = REPO_ROOT / "sample-repo" / "fluxforge.yaml"


def _fleet(clusters: int, kustomizations: int) -> str:
    """The bench's fleet (bench/render.py), so the tests render what the bench measures."""
    spec = importlib.util.spec_from_file_location("bench_render", REPO_ROOT / "bench" / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    text: str = module.fleet_config(clusters, kustomizations)
    return text


def _tree(root: Path) -> dict[str, tuple[bytes | str, int]]:
    """Every file and folder below ``root``: its bytes (folders: ``"folder"``) and mode."""
    found: dict[str, tuple[bytes | str, int]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        found[path.relative_to(root).as_posix()] = (
            "folder" if path.is_dir() else path.read_bytes(),
            stat.S_IMODE(info.st_mode),
        )
    return found


def _render(root: Path, config: str, *, new_folders: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    root.mkdir()
    (root / "fluxforge.yaml").write_text(config)
    fast: list[str] = []
    write_new = fsio.write_new
    with monkeypatch.context() as patched:
        patched.setenv("FLUXFORGE_RENDER_CACHE", "off")
        if not new_folders:  # the general path only: no folder counts as made by this run
            patched.setattr(fsio, "make_folders", lambda folder: [])
        patched.setattr(fsio, "write_new", lambda path, data, **kw: (fast.append(path), write_new(path, data, **kw)))
        report = run_render(root / "fluxforge.yaml")
    # every file below the output folder (all but .sops.yaml) lies in a folder this run made
    assert sorted(os.path.relpath(path, root) for path in fast) == (
        sorted(path for path in report.written if "/" in path) if new_folders else []
    )
    assert len(report.written) == report.total
    return {"tree": _tree(root), "written": report.written, "notes": report.notes}


@pytest.mark.parametrize("config", ["sample-repo", "fleet 12 x 25"])
def test_new_folders_and_the_general_path_write_the_same_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str
) -> None:
    """A first render into an empty folder writes (nearly) every file into a folder it just created; the tree,
    the modes, the report are those of the general path (``write_atomic`` for every file)."""
    text = SAMPLE.read_text() if config == "sample-repo" else _fleet(12, 25)
    fast = _render(tmp_path / "fast", text, new_folders=True, monkeypatch=monkeypatch)
    general = _render(tmp_path / "general", text, new_folders=False, monkeypatch=monkeypatch)
    assert fast == general
    assert not [name for name in fast["tree"] if fsio.is_temp_name(Path(name).name)]  # type: ignore[attr-defined]


def test_an_existing_folder_is_written_the_careful_way(tmp_path: Path) -> None:
    """Only a folder the run created skips the checks: in a folder that exists, a generated path that is a
    symlink is written through to its target (the link stays), a stale temp file of a gone process beside it is
    swept,
    and identical bytes are not rewritten."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(SAMPLE, root / "fluxforge.yaml")
    first = run_render(root / "fluxforge.yaml")
    kustomization = root / "clusters/staging/apps.yaml"
    target = tmp_path / "elsewhere.yaml"
    target.write_text("old\n")
    data = kustomization.read_bytes()
    kustomization.unlink()
    kustomization.symlink_to(target)
    stale = tmp_path / f".elsewhere.yaml.fluxforge-{_gone_pid()}-1.tmp"  # beside the file written
    stale.write_text("left by a killed run\n")
    untouched = root / "clusters/staging/flux-system/gotk-sync.yaml"
    inode = untouched.stat().st_ino
    (root / "fluxforge.lock").unlink()  # no base: the differing link target is replaced only with --force
    again = run_render(root / "fluxforge.yaml", force=True)
    assert kustomization.is_symlink() and target.read_bytes() == data
    assert not stale.exists()
    assert untouched.stat().st_ino == inode
    assert "clusters/staging/apps.yaml" in again.written and len(again.written) < len(first.written)


def test_make_folders_names_the_folders_it_made(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b" / "c"
    made = fsio.make_folders(os.fspath(folder))
    assert made == [os.fspath(tmp_path / "a"), os.fspath(tmp_path / "a/b"), os.fspath(folder)] and folder.is_dir()
    assert fsio.make_folders(os.fspath(folder)) == []  # there already: it may hold anything
    assert fsio.make_folders(os.fspath(tmp_path / "a" / "d")) == [os.fspath(tmp_path / "a/d")]
    (tmp_path / "file").write_text("x")
    assert fsio.make_folders(os.fspath(tmp_path / "file" / "sub")) == []  # a file in the way
    assert fsio.make_folders(os.fspath(tmp_path / "file")) == []


def test_write_new_is_atomic_and_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The temp file lives in the same folder, carries the temp pattern and is gone after a failure, which
    names the file asked for."""
    seen: list[str] = []
    real_replace = os.replace

    def spy(source: str, dest: str) -> None:
        seen.append(source)
        real_replace(source, dest)

    monkeypatch.setattr(os, "replace", spy)
    fsio.write_new(os.fspath(tmp_path / "f.yaml"), b"a: 1\n")
    assert (tmp_path / "f.yaml").read_bytes() == b"a: 1\n"
    assert stat.S_IMODE((tmp_path / "f.yaml").stat().st_mode) == 0o644
    (temp,) = seen
    assert Path(temp).parent == tmp_path and fsio.is_temp_name(Path(temp).name)

    def full(*_a: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(WriteError, match=r"g\.yaml: cannot write: No space left on device; free space"):
        fsio.write_new(os.fspath(tmp_path / "g.yaml"), b"b: 2\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.yaml"]


def _gone_pid() -> int:
    pid = 2**22 - 1
    while fsio.process_alive(pid):
        pid -= 1
    return pid

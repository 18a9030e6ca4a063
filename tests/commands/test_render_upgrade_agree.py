"""``fluxforge render`` and ``fluxforge upgrade`` agree on the files around the merge (one rule, in
``generator.merge.plan``): a generated file the user deleted is written again, and the unedited generated
files of a cluster removed from the config are deleted (an edited one is a conflict, nothing written
unless --force). Runs both commands through the CLI on a copy of the committed sample and its lock."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generator.merge.lock import read_lock
from tests.helpers import REPO_ROOT, snapshot

SAMPLE = REPO_ROOT / "sample-repo"
# upgrade to the sample's own version: the same render as `render`, through upgrade's code path
COMMANDS = {"render": ["render"], "upgrade": ["upgrade", "--to", "2.9.4"]}
PROD_FILES = [
    "clusters/production/apps.yaml",
    "clusters/production/flux-system/gotk-sync.yaml",
    "clusters/production/flux-system/kustomization.yaml",
    "clusters/production/infrastructure.yaml",
]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(SAMPLE, root)
    return root


def _run(run_cli, command: str, repo: Path, *extra: str):  # type: ignore[no-untyped-def]
    args = COMMANDS[command]
    return run_cli(args[0], str(repo), *args[1:], *extra)


def _drop_production(repo: Path) -> None:
    config = repo / "fluxforge.yaml"
    text = config.read_text()
    config.write_text(text[: text.index("\n  - name: production") + 1])


@pytest.mark.parametrize("command", COMMANDS)
def test_deleted_generated_file_is_written_again(repo: Path, run_cli, command: str) -> None:
    (repo / "clusters/staging/apps.yaml").unlink()
    result = _run(run_cli, command, repo)
    assert result.exit_code == 0, result.output
    assert "wrote clusters/staging/apps.yaml" in result.stdout.splitlines()
    assert (repo / "clusters/staging/apps.yaml").read_bytes() == (SAMPLE / "clusters/staging/apps.yaml").read_bytes()
    assert run_cli("render", str(repo), "--check").exit_code == 0


@pytest.mark.parametrize("command", COMMANDS)
def test_deleted_file_the_config_changed_is_written_again_without_conflict(repo: Path, run_cli, command: str) -> None:
    kust = repo / "clusters/staging/flux-system/kustomization.yaml"
    kust.unlink()
    config = repo / "fluxforge.yaml"
    old, new = "c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772", "0f5c2a6e-3d7b-4e1f-9a8c-2b6d4e8f1a3c"
    config.write_text(config.read_text().replace(old, new))
    result = _run(run_cli, command, repo)
    assert result.exit_code == 0, result.output
    text = kust.read_text()
    assert new in text and old not in text
    assert run_cli("render", str(repo), "--check").exit_code == 0


@pytest.mark.parametrize("command", COMMANDS)
def test_removed_cluster_unedited_files_are_deleted(repo: Path, run_cli, command: str) -> None:
    gotk = repo / "clusters/production/flux-system/gotk-components.yaml"
    gotk.write_text("# Flux Version: v2.9.4\n# Components: source-controller\n")  # Flux's file, not ours
    _drop_production(repo)
    result = _run(run_cli, command, repo)
    assert result.exit_code == 0, result.output
    for path in PROD_FILES:
        assert not (repo / path).exists(), path
        assert any(line.startswith("removed ") and path in line for line in result.stdout.splitlines())
    assert gotk.is_file()  # not in the lock: left alone
    lock = read_lock(repo / "fluxforge.lock")
    assert lock is not None and not any(p.startswith("clusters/production/") for p in lock.files)
    assert run_cli("render", str(repo), "--check").exit_code == 0
    again = snapshot(repo)
    assert _run(run_cli, command, repo).exit_code == 0
    assert snapshot(repo) == again


@pytest.mark.parametrize("command", COMMANDS)
def test_removed_cluster_edited_file_is_a_conflict(repo: Path, run_cli, command: str) -> None:
    apps = repo / "clusters/production/apps.yaml"
    apps.write_text(apps.read_text().replace("  interval: 30m\n", "  interval: 5m\n"))
    _drop_production(repo)
    before = snapshot(repo)
    result = _run(run_cli, command, repo)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(
        "clusters/production/apps.yaml: (document): conflict: your file has edits, the "
    )
    assert "no longer generated; edit the file by hand or rerun with --force" in result.stderr.splitlines()[0]
    assert snapshot(repo) == before  # nothing written: no file, not the lock, not the config
    forced = _run(run_cli, command, repo, "--force")
    assert forced.exit_code == 0, forced.output
    for path in PROD_FILES:
        assert not (repo / path).exists(), path

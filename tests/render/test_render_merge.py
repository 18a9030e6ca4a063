"""``fluxforge render`` keeps the user's edits to generated files: a three-way merge against
fluxforge.lock (base), the file on disk (ours) and the new render (theirs), as ``fluxforge upgrade``
does. Runs on a copy of the committed sample (its lock included); the merged flux-system folder is
built with the real ``kubectl kustomize`` against the stand-in gotk-components.yaml."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from generator.config.load import load_config
from generator.merge.lock import read_lock
from generator.render.files import render_tree
from generator.yamlio import load_all_rt, load_rt
from tests.helpers import REPO_ROOT, snapshot
from tests.helpers.user_patches import LIMITS_PATCH

SAMPLE = REPO_ROOT / "sample-repo"
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "gotk-components.yaml"
KUST = "clusters/staging/flux-system/kustomization.yaml"
OLD_CLIENT = "c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772"
NEW_CLIENT = "0f5c2a6e-3d7b-4e1f-9a8c-2b6d4e8f1a3c"
COMMENT = "# platform team: the limits below are ours, keep them\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A clean clone of the sample: config, rendered tree and fluxforge.lock (no unrelated files)."""
    root = tmp_path / "repo"
    shutil.copytree(SAMPLE, root)
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new))


def _user_edits(repo: Path) -> None:
    """A comment above `patches:` and an extra resource-limits patch appended to the list."""
    kust = repo / KUST
    _edit(kust, "patches:\n", COMMENT + "patches:\n")
    kust.write_text(kust.read_text() + LIMITS_PATCH)


def _new_client_id(repo: Path) -> None:
    _edit(repo / "fluxforge.yaml", f"clientId: {OLD_CLIENT}", f"clientId: {NEW_CLIENT}")


def _build(folder: Path) -> dict[tuple[str, str], Any]:
    shutil.copy(FIXTURE, folder / "gotk-components.yaml")
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is required for the kustomize build tests (scripts/test.sh checks for it)"
    out = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return {(d["kind"], d["metadata"]["name"]): d for d in load_all_rt(out.stdout) if d}


def _render_of(repo: Path) -> dict[str, str]:
    return {p: b.decode() for p, b in render_tree(load_config(repo / "fluxforge.yaml")).items()}


def test_clean_clone_of_the_sample_passes_check(repo: Path, run_cli) -> None:
    result = run_cli("render", str(repo), "--check")
    assert result.exit_code == 0, result.output
    before = snapshot(repo)
    assert "0 written, 16 unchanged" in run_cli("render", str(repo)).output
    assert snapshot(repo) == before  # the lock included


@pytest.mark.interop
def test_edit_survives_a_render_and_check_passes(repo: Path, run_cli) -> None:
    _user_edits(repo)
    edited = (repo / KUST).read_text()
    lock_before = (repo / "fluxforge.lock").read_bytes()
    check = run_cli("render", str(repo), "--check")
    assert check.exit_code == 0, check.output  # a kept edit is not stale
    result = run_cli("render", str(repo))
    assert result.exit_code == 0, result.output
    assert "0 written, 16 unchanged" in result.stdout
    assert (repo / KUST).read_text() == edited
    assert (repo / "fluxforge.lock").read_bytes() == lock_before

    # the config changes under the edit: the render's change lands, the edit stays
    _new_client_id(repo)
    diff = run_cli("render", str(repo), "--diff")
    assert diff.exit_code == 0
    assert f"-          azure.workload.identity/client-id: {OLD_CLIENT}" in diff.stdout
    assert "memory: 2Gi" not in diff.stdout  # the edit is kept, so it is not part of the diff
    result = run_cli("render", str(repo))
    assert result.exit_code == 0, result.output
    assert f"wrote {KUST} (merged: your edits kept)" in result.stdout.splitlines()
    merged = (repo / KUST).read_text()
    assert merged == edited.replace(OLD_CLIENT, NEW_CLIENT)  # byte for byte: only the changed value moved
    assert COMMENT + "patches:\n" in merged and merged.endswith(LIMITS_PATCH)
    # the lock holds the render (theirs), not the merged file: the base of the next merge
    lock = read_lock(repo / "fluxforge.lock")
    assert lock is not None and dict(lock.files) == _render_of(repo)
    assert run_cli("render", str(repo), "--check").exit_code == 0
    before = snapshot(repo)
    again = run_cli("render", str(repo))
    assert "0 written, 16 unchanged" in again.stdout
    assert snapshot(repo) == before

    objects = _build(repo / "clusters/staging/flux-system")
    sa = objects[("ServiceAccount", "kustomize-controller")]
    assert sa["metadata"]["annotations"]["azure.workload.identity/client-id"] == NEW_CLIENT
    deploy = objects[("Deployment", "kustomize-controller")]
    manager = deploy["spec"]["template"]["spec"]["containers"][0]
    assert manager["resources"]["limits"]["memory"] == "2Gi"
    assert deploy["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert "--feature-gates=ObjectLevelWorkloadIdentity=true" in manager["args"]


def test_conflicting_edit_writes_nothing_then_force_takes_the_render(repo: Path, run_cli) -> None:
    _user_edits(repo)
    _edit(repo / KUST, f"client-id: {OLD_CLIENT}", "client-id: 11111111-2222-4333-8444-555555555555")
    _new_client_id(repo)
    before = snapshot(repo)
    result = run_cli("render", str(repo))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        (
            f"{KUST}: patches[ServiceAccount/kustomize-controller].patch:metadata.annotations"
            "[\"azure.workload.identity/client-id\"]: conflict: your file has '11111111-2222-4333-8444-555555555555', "
            f"the render wants '{NEW_CLIENT}'; edit the file by hand or rerun with --force"
        ),
        (
            "1 conflict(s): nothing was written; edit the files named above by hand (or the config), "
            "or rerun with --force to take the render's side"
        ),
    ]
    assert snapshot(repo) == before  # not a file, not the lock
    for mode in ("--check", "--diff"):
        other = run_cli("render", str(repo), mode)
        assert other.exit_code == 1 and "conflict: your file has" in other.stderr, mode
    assert snapshot(repo) == before

    forced = run_cli("render", str(repo), "--force")
    assert forced.exit_code == 0, forced.output
    assert forced.stderr.startswith(f"forced: {KUST}: patches[ServiceAccount/kustomize-controller]")
    text = (repo / KUST).read_text()
    assert f"client-id: {NEW_CLIENT}" in text and "11111111-2222" not in text
    assert COMMENT in text and text.endswith(LIMITS_PATCH)  # the other edits stay
    lock = read_lock(repo / "fluxforge.lock")
    assert lock is not None and dict(lock.files) == _render_of(repo)
    assert run_cli("render", str(repo), "--check").exit_code == 0


def test_deleted_generated_file_is_written_again(repo: Path, run_cli) -> None:
    (repo / "clusters/staging/apps.yaml").unlink()
    check = run_cli("render", str(repo), "--check")
    assert check.exit_code == 1
    assert check.stderr.splitlines()[0] == "clusters/staging/apps.yaml: missing (run `fluxforge render` to update it)"
    assert run_cli("render", str(repo)).stdout.splitlines()[0] == "wrote clusters/staging/apps.yaml"
    assert (repo / "clusters/staging/apps.yaml").read_bytes() == (SAMPLE / "clusters/staging/apps.yaml").read_bytes()


def _drop_team_a(repo: Path) -> None:
    text = (repo / "fluxforge.yaml").read_text()
    start = text.index("      - name: team-a")
    end = text.index("\n  - name: production")
    (repo / "fluxforge.yaml").write_text(text[:start] + text[end + 1 :])


def test_orphans_come_from_the_lock_when_there_is_one(repo: Path, run_cli) -> None:
    # a copy of a generated file carries the marker, but the lock knows it is the user's
    copy = repo / "clusters/staging/apps-copy.yaml"
    copy.write_bytes((repo / "clusters/staging/apps.yaml").read_bytes().replace(b"name: apps", b"name: apps-copy"))
    _drop_team_a(repo)
    result = run_cli("render", str(repo))
    assert result.exit_code == 0, result.output
    assert "removed clusters/staging/team-a.yaml (no longer in the config)" in result.stdout.splitlines()
    assert not (repo / "clusters/staging/team-a.yaml").exists()
    assert copy.is_file()
    assert run_cli("render", str(repo), "--check").exit_code == 0


def test_edited_orphan_is_a_conflict(repo: Path, run_cli) -> None:
    team = repo / "clusters/staging/team-a.yaml"
    _edit(team, "  interval: 10m\n", "  interval: 2m\n")
    _drop_team_a(repo)
    before = snapshot(repo)
    result = run_cli("render", str(repo))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "clusters/staging/team-a.yaml: (document): conflict: your file has edits, the render wants the file "
        "no longer generated; edit the file by hand or rerun with --force"
    )
    assert snapshot(repo) == before
    assert run_cli("render", str(repo), "--force").exit_code == 0
    assert not team.exists()


def test_without_a_lock_orphans_are_recognised_by_the_marker(repo: Path, run_cli) -> None:
    """Without the lock, edits cannot be told: the marked orphan (and every generated file that differs)
    is listed and kept (exit 1); --force deletes it."""
    (repo / "fluxforge.lock").unlink()
    _drop_team_a(repo)
    before = snapshot(repo)
    result = run_cli("render", str(repo))
    assert result.exit_code == 1
    assert (
        "clusters/staging/team-a.yaml: no longer in the config, and there is no fluxforge.lock (the merge base) "
        "to tell your edits in it from an older render"
    ) in result.stderr
    assert snapshot(repo) == before
    forced = run_cli("render", str(repo), "--force")
    assert forced.exit_code == 0, forced.output
    assert not (repo / "clusters/staging/team-a.yaml").exists()


def test_gotk_sync_rewritten_by_bootstrap_does_not_flap(repo: Path, run_cli) -> None:
    """`flux bootstrap` writes gotk-sync.yaml with its own header; the render's bytes are the same."""
    sync = repo / "clusters/production/flux-system/gotk-sync.yaml"
    text = sync.read_text()
    assert text.startswith("# This manifest was generated by flux. DO NOT EDIT.\n---\n")
    docs = [d for d in load_all_rt(text) if d]
    assert [d["kind"] for d in docs] == ["GitRepository", "Kustomization"]
    assert load_rt(text.split("---\n")[2])["spec"]["path"] == "./clusters/production"
    before = snapshot(repo)
    assert "0 written" in run_cli("render", str(repo)).stdout
    assert snapshot(repo) == before


def test_broken_yaml_edit_is_a_conflict_not_an_overwrite(repo: Path, run_cli) -> None:
    kust = repo / KUST
    kust.write_text(kust.read_text() + "  - target: [unclosed\n")
    _new_client_id(repo)
    before = snapshot(repo)
    result = run_cli("render", str(repo))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(
        f"{KUST}: (document): conflict: your file has YAML the merge cannot read ("
    )
    assert snapshot(repo) == before


def test_hand_edited_lock_is_refused_when_a_merge_needs_it(repo: Path, run_cli) -> None:
    lock = repo / "fluxforge.lock"
    lock.write_text(lock.read_text().replace("prune: true", "prune: false", 1))
    _user_edits(repo)
    before = snapshot(repo)
    result = run_cli("render", str(repo))
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert "does not match its sha256 (edited by hand?); restore it from git (git checkout -- fluxforge.lock)" in line
    assert snapshot(repo) == before

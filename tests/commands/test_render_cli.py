"""``fluxforge render`` through the CLI: write only what changed, --check, --diff, never touch others."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT, snapshot

SAMPLE_CONFIG = REPO_ROOT / "sample-repo" / "fluxforge.yaml"


@pytest.fixture
def repo(chdir_tmp: Path) -> Path:
    shutil.copy(SAMPLE_CONFIG, chdir_tmp / "fluxforge.yaml")
    return chdir_tmp


def test_render_default_config_writes_tree_then_nothing(repo: Path, run_cli) -> None:
    first = run_cli("render")
    assert first.exit_code == 0, first.output
    assert "16 written, 0 unchanged" in first.output
    assert (repo / "clusters/staging/flux-system/kustomization.yaml").is_file()
    before = snapshot(repo)
    second = run_cli("render")
    assert second.exit_code == 0
    assert "0 written, 16 unchanged" in second.output
    assert snapshot(repo) == before


def test_only_changed_files_are_rewritten(repo: Path, run_cli) -> None:
    run_cli("render")
    text = (repo / "fluxforge.yaml").read_text().replace("interval: 30m", "interval: 15m")
    (repo / "fluxforge.yaml").write_text(text)
    before = snapshot(repo)  # after the config edit: only generated files may change now
    result = run_cli("render")
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == "wrote clusters/production/apps.yaml"
    after = snapshot(repo)
    changed = {p for p in after if after[p] != before.get(p)}
    assert changed - {"fluxforge.lock"} == {"clusters/production/apps.yaml"}  # the lock belongs to upgrade


def test_user_files_are_never_touched(repo: Path, run_cli) -> None:
    mine = repo / "clusters/staging/notes.yaml"
    mine.parent.mkdir(parents=True)
    mine.write_text("# mine\n")
    components = repo / "clusters/staging/flux-system/gotk-components.yaml"
    components.parent.mkdir(parents=True)
    components.write_text(
        "---\n# Flux Version: v2.9.4\n"
        "# Components: source-controller,kustomize-controller,helm-controller,notification-controller\n"
    )
    before = {p: p.read_bytes() for p in (mine, components)}
    assert run_cli("render").exit_code == 0
    assert {p: p.read_bytes() for p in before} == before


def test_check_lists_stale_and_missing_with_diff(repo: Path, run_cli) -> None:
    run_cli("render")
    config = repo / "fluxforge.yaml"
    config.write_text(config.read_text().replace("interval: 30m", "interval: 15m"))
    edited = repo / "clusters/staging/apps.yaml"  # a user edit fluxforge.lock records the base of: kept
    edited.write_text(edited.read_text().replace("prune: true", "prune: false"))
    (repo / ".sops.yaml").unlink()
    before = snapshot(repo)
    result = run_cli("render", "--check")
    assert result.exit_code == 1
    err = result.stderr.splitlines()
    assert err[:3] == [
        ".sops.yaml: missing (run `fluxforge render` to update it)",
        "clusters/production/apps.yaml: stale (run `fluxforge render` to update it)",
        "fluxforge.lock: stale (run `fluxforge render` to update it; it is the merge base)",
    ]
    assert "--- /dev/null" in err and "+++ b/.sops.yaml" in err
    assert "--- a/clusters/production/apps.yaml" in err
    assert "-  interval: 30m" in err and "+  interval: 15m" in err
    assert "clusters/staging/apps.yaml" not in result.stderr
    assert snapshot(repo) == before


NO_LOCK = (
    "clusters/staging/apps.yaml: differs from the render and there is no fluxforge.lock (the merge base), so "
    "your edits in it cannot be told from an older render; restore fluxforge.lock (git checkout -- "
    "fluxforge.lock) to merge them, or review the file and rerun with --force to replace it with the render"
)


def test_a_deleted_lock_never_drops_your_edits_with_exit_0(repo: Path, run_cli) -> None:
    """Without the merge base an edited generated file cannot be merged: render, --check and --diff refuse
    (exit 1, the file named, nothing written); --force replaces it and says so."""
    run_cli("render")
    (repo / "fluxforge.lock").unlink()
    edited = repo / "clusters/staging/apps.yaml"
    rendered = edited.read_text()
    edited.write_text(rendered.replace("prune: true", "prune: false"))
    before = snapshot(repo)
    for args in (["render"], ["render", "--check"], ["render", "--diff"]):
        result = run_cli(*args)
        assert result.exit_code == 1, args
        assert result.stderr.splitlines() == [NO_LOCK, "nothing was written (no file, not fluxforge.lock)"], args
        assert snapshot(repo) == before
    forced = run_cli("render", "--force")
    assert forced.exit_code == 0
    assert forced.stderr.splitlines()[0] == (
        "warning: clusters/staging/apps.yaml: overwritten with the render (--force): it differed and there is "
        "no fluxforge.lock to merge your edits against"
    )
    assert all(line.startswith("note: ") for line in forced.stderr.splitlines()[1:])  # no gotk-components.yaml
    assert forced.stdout.splitlines()[0] == "wrote clusters/staging/apps.yaml"
    assert edited.read_text() == rendered
    assert run_cli("render", "--check").exit_code == 0


def test_a_deleted_lock_with_an_untouched_tree_just_writes_the_lock(repo: Path, run_cli) -> None:
    run_cli("render")
    lock = (repo / "fluxforge.lock").read_bytes()
    (repo / "fluxforge.lock").unlink()
    result = run_cli("render")
    assert result.exit_code == 0
    assert all(line.startswith("note: ") for line in result.stderr.splitlines())  # no gotk-components.yaml
    assert result.stdout.splitlines()[-1].startswith("0 written,")
    assert (repo / "fluxforge.lock").read_bytes() == lock


def test_an_unreadable_lock_is_exit_1_and_points_at_git(repo: Path, run_cli) -> None:
    run_cli("render")
    edited = repo / "clusters/staging/apps.yaml"
    edited.write_text(edited.read_text().replace("prune: true", "prune: false"))
    lock = repo / "fluxforge.lock"
    lock.write_text(lock.read_text().replace("sha256: ", "sha256: 0", 1))
    before = snapshot(repo)
    result = run_cli("render")
    assert result.exit_code == 1
    assert result.stderr.endswith(
        "restore it from git (git checkout -- fluxforge.lock); if you delete it instead, "
        "render refuses to replace generated files that differ until you review them "
        "and pass --force\n"
    )
    assert snapshot(repo) == before


def test_diff_prints_and_writes_nothing(repo: Path, run_cli) -> None:
    result = run_cli("render", "--diff")
    assert result.exit_code == 0
    assert "+++ b/clusters/staging/team-a.yaml" in result.stdout
    assert "16 of 16 generated files would change" in result.stderr
    assert sorted(p.name for p in repo.iterdir()) == ["fluxforge.yaml"]


def test_check_and_diff_are_exclusive(repo: Path, run_cli) -> None:
    result = run_cli("render", "--check", "--diff")
    assert result.exit_code == 2


def test_config_folder_and_output_dir(tmp_path: Path, run_cli) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    shutil.copy(SAMPLE_CONFIG, conf / "fluxforge.yaml")
    out = tmp_path / "out"
    result = run_cli("render", str(conf), "--out-dir", str(out))
    assert result.exit_code == 0, result.output
    assert (out / ".sops.yaml").is_file()
    assert sorted(p.name for p in conf.iterdir()) == ["fluxforge.yaml"]
    assert run_cli("render", str(conf / "fluxforge.yaml"), "--out-dir", str(out), "--check").exit_code == 0
    # --output means the output *file* everywhere (decrypt); render's folder is --out-dir only
    old = run_cli("render", str(conf), "--output", str(out))
    assert old.exit_code == 2 and "No such option '--output'" in old.stderr


def test_gotk_version_mismatch_warns_and_fails_check(repo: Path, run_cli) -> None:
    components = repo / "clusters/production/flux-system/gotk-components.yaml"
    components.parent.mkdir(parents=True)
    components.write_text(
        "---\n# This manifest was generated by flux. DO NOT EDIT.\n# Flux Version: v2.6.1\n"
        "# Components: source-controller,kustomize-controller\n"
    )
    result = run_cli("render")
    assert result.exit_code == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        (
            "warning: clusters/production/flux-system/gotk-components.yaml: Flux v2.6.1 but flux.version is 2.9.4; "
            "run `flux install --export > clusters/production/flux-system/gotk-components.yaml` with Flux 2.9.4 "
            "or set flux.version"
        ),
        (
            "warning: clusters/production/flux-system/gotk-components.yaml: components differ from flux.components "
            "(missing helm-controller, notification-controller)"
        ),
    ]
    check = run_cli("render", "--check")
    assert check.exit_code == 1
    assert "Flux v2.6.1 but flux.version is 2.9.4" in check.stderr


def test_invalid_config_writes_nothing(repo: Path, run_cli) -> None:
    text = (repo / "fluxforge.yaml").read_text().replace("dependsOn: [infrastructure]", "dependsOn: [infra]", 1)
    (repo / "fluxforge.yaml").write_text(text)
    result = run_cli("render")
    assert result.exit_code == 1
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "dependsOn: [infra]" in row)
    assert result.stderr == (
        f"fluxforge.yaml:{line}: clusters[0].kustomizations[1].dependsOn[0]: unknown Kustomization 'infra' in this "
        "cluster; did you mean 'infrastructure'?\n"
    )
    assert sorted(p.name for p in repo.iterdir()) == ["fluxforge.yaml"]


def test_missing_config_is_exit_1(chdir_tmp: Path, run_cli) -> None:
    result = run_cli("render")
    assert result.exit_code == 1
    assert result.stderr == "fluxforge.yaml: not found here or in a parent folder; create one with `fluxforge init`\n"


def test_generated_path_blocked_by_a_folder(repo: Path, run_cli) -> None:
    (repo / ".sops.yaml").mkdir()
    result = run_cli("render", "--check")
    assert result.exit_code == 1
    assert "is a folder, but fluxforge generates a file there" in result.stderr
    assert not os.path.exists(repo / "clusters")


def test_removed_kustomization_is_reported_then_deleted(repo: Path, run_cli) -> None:
    run_cli("render")
    text = (repo / "fluxforge.yaml").read_text()
    start = text.index("      - name: team-a")
    end = text.index("\n    workloads:")
    (repo / "fluxforge.yaml").write_text(text[:start] + text[end + 1 :])
    mine = repo / "clusters/staging/mine.yaml"
    mine.write_text("# not generated\n")
    check = run_cli("render", "--check")
    assert check.exit_code == 1
    assert check.stderr.splitlines()[:2] == [  # the lockdown keeps the feature gate: kustomization.yaml holds
        ".sops.yaml: stale (run `fluxforge render` to update it)",
        "clusters/staging/team-a.yaml: orphaned (run `fluxforge render` to delete it)",
    ]
    assert "+++ /dev/null" in check.stderr.splitlines()
    result = run_cli("render")
    assert result.exit_code == 0
    assert "removed clusters/staging/team-a.yaml (no longer in the config)" in result.output.splitlines()
    assert not (repo / "clusters/staging/team-a.yaml").exists()
    assert mine.read_text() == "# not generated\n"
    assert run_cli("render", "--check").exit_code == 0

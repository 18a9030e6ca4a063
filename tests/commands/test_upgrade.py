"""`fluxforge upgrade` on fixture repos (2.3→2.6, 2.6→2.9, 2.5→2.9) carrying user edits: the WI
patches follow the target's documented form, the edits survive byte for byte (checked against the
real `git merge-file` as oracle), real `kubectl kustomize` still builds, a second upgrade writes
nothing, and a conflicting edit is reported with no write."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from generator.commands.upgrade import UpgradeConflict, _version_site, run_upgrade, set_flux_version, with_flux_version
from generator.config.load import load_config
from generator.errors import ConfigError
from generator.flux.versions import FEATURE_GATE_ARG, features_for, parse_version
from generator.merge.lock import read_lock
from generator.render.files import render_tree
from generator.yamlio import load_plain, load_rt
from tests.helpers import REPO_ROOT, snapshot
from tests.helpers.upgrade import (
    COMMENT,
    INTERVAL_EDITED,
    LIMITS_PATCH,
    RESOURCES_REORDERED,
    TENANT_ID,
    apply_user_edits,
    edit,
    find,
    git_merge_file,
    kustomize_build,
    make_repo,
    write_gotk,
)

pytestmark = pytest.mark.interop

USE = "azure.workload.identity/use"
CLIENT = "azure.workload.identity/client-id"
TENANT = "azure.workload.identity/tenant-id"
STAGING_KUST = "clusters/staging/flux-system/kustomization.yaml"


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node if node is None or isinstance(node, bool | int | float) else str(node)


def _assert_wi_form(repo: Path, cluster: str, version: str, *, tenant: bool, limits: bool) -> None:
    """Build flux-system with real kubectl kustomize; the result carries the target's documented form."""
    wi = features_for(version).workload_identity
    docs = kustomize_build(repo / "clusters" / cluster / "flux-system")
    sa = find(docs, "ServiceAccount", "kustomize-controller")["metadata"]
    deploy = find(docs, "Deployment", "kustomize-controller")
    assert CLIENT in sa["annotations"]
    assert (TENANT in sa["annotations"]) == wi.tenant_id_annotation
    assert (USE in (sa.get("labels") or {})) == wi.service_account_use_label
    assert (USE in deploy["metadata"].get("labels", {})) == wi.deployment_use_label
    assert deploy["spec"]["template"]["metadata"]["labels"][USE] == "true"
    manager = deploy["spec"]["template"]["spec"]["containers"][0]
    assert manager["name"] == "manager"
    assert (FEATURE_GATE_ARG in manager["args"]) == (tenant and features_for(version).object_level_identity)
    assert manager["args"][:2] == ["--watch-all-namespaces=true", "--log-level=info"]
    if limits:
        assert manager["resources"]["limits"]["memory"] == "2Gi"


def _generated_patches(text: str) -> list[Any]:
    """The patches of a flux-system kustomization.yaml minus the user's resource-limits patch."""
    return [_plain(p) for p in load_rt(text)["patches"] if "resources:" not in str(p["patch"])]


UPGRADES = [("2.3.0", "2.6.0", False), ("2.6.0", "2.9.4", True), ("2.5.1", "2.9.4", False)]


@pytest.mark.parametrize(("old", "new", "tenant"), UPGRADES, ids=[f"{o}-{n}" for o, n, _ in UPGRADES])
def test_upgrade_keeps_user_edits_and_follows_target_form(tmp_path: Path, old: str, new: str, tenant: bool) -> None:
    repo = make_repo(tmp_path / "repo", old, tenant=tenant)
    _assert_wi_form(repo, "staging", old, tenant=tenant, limits=False)
    apply_user_edits(repo)
    lock = read_lock(repo / "fluxforge.lock")
    assert lock is not None and lock.flux == old
    before = {path: (repo / path).read_text() for path in lock.files}
    config_before = (repo / "fluxforge.yaml").read_text()

    # 2.5.1 -> 2.9.4 skips the minor that stores OCIRepository as v1 (2.6): refused without --allow-skip
    # (test_migrate.py); this test is about the merge, so it allows the skip
    report = run_upgrade(repo, to=new, allow_skip=old == "2.5.1")

    assert str(report.target) == new
    assert report.current == {"staging": f"{old} (gotk-components.yaml)", "production": f"{old} (gotk-components.yaml)"}
    theirs = {p: b.decode() for p, b in render_tree(load_config(repo / "fluxforge.yaml")).items()}
    # the config: only the version value changed, its comments and layout are intact
    assert (repo / "fluxforge.yaml").read_text() == config_before.replace(f'"{old}"', f'"{new}"')
    for path, ours in before.items():
        merged = (repo / path).read_text()
        # byte for byte what a line-based merge of the same three texts gives (no overlapping edits here)
        conflicts, oracle = git_merge_file(tmp_path, ours, lock.files[path], theirs[path])
        assert conflicts == 0
        assert merged == oracle, path
    # each edit is there, verbatim
    staging = (repo / STAGING_KUST).read_text()
    assert LIMITS_PATCH in staging and RESOURCES_REORDERED in staging
    assert INTERVAL_EDITED in (repo / "clusters/staging/apps.yaml").read_text()
    assert COMMENT in (repo / "clusters/production/apps.yaml").read_text()
    # the generated patches are exactly the target version's render
    for cluster in ("staging", "production"):
        path = f"clusters/{cluster}/flux-system/kustomization.yaml"
        assert _generated_patches((repo / path).read_text()) == _generated_patches(theirs[path])
    assert (repo / "clusters/production/flux-system/kustomization.yaml").read_text() == theirs[
        "clusters/production/flux-system/kustomization.yaml"
    ]
    # the lock now holds the new render as the next base
    after = read_lock(repo / "fluxforge.lock")
    assert after is not None and after.flux == new and dict(after.files) == theirs

    write_gotk(repo, new)  # what `flux install --export` would do next
    _assert_wi_form(repo, "staging", new, tenant=tenant, limits=True)
    _assert_wi_form(repo, "production", new, tenant=False, limits=False)

    # a second upgrade writes nothing at all
    still = snapshot(repo)
    again = run_upgrade(repo, to=new)
    assert again.changed == ()
    assert snapshot(repo) == still


def test_conflicting_edit_is_reported_and_nothing_written(tmp_path: Path, run_cli: Any) -> None:
    repo = make_repo(tmp_path / "repo", "2.5.1")
    apply_user_edits(repo)
    # the user set the ServiceAccount label the 2.6+ form removes
    edit(
        repo / STAGING_KUST,
        f'        labels:\n          {USE}: "true"\n        annotations:',
        f'        labels:\n          {USE}: "false"\n        annotations:',
    )
    still = snapshot(repo)
    result = run_cli("upgrade", str(repo), "--to", "2.7")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        (
            f'{STAGING_KUST}: patches[ServiceAccount/kustomize-controller].patch:metadata.labels["{USE}"]: '
            "conflict: your file has 'false', the upgrade wants it removed; edit the file by hand or rerun with --force"
        ),
        (
            "1 conflict(s): nothing was written; edit the files named above by hand, or rerun with --force to take "
            "the upgrade's side"
        ),
    ]
    assert snapshot(repo) == still
    with pytest.raises(UpgradeConflict):
        run_upgrade(repo, to="2.7.0", dry_run=True)

    forced = run_cli("upgrade", str(repo), "--to", "2.7", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert f"forced: {STAGING_KUST}: patches[ServiceAccount/kustomize-controller]" in forced.stderr
    text = (repo / STAGING_KUST).read_text()
    assert f'{USE}: "false"' not in text and TENANT in text
    assert LIMITS_PATCH in text  # the rest of the user's edits still survive
    assert run_upgrade(repo, to="2.7.0").changed == ()


def test_dry_run_prints_the_diff_and_writes_nothing(tmp_path: Path, run_cli: Any) -> None:
    repo = make_repo(tmp_path / "repo", "2.3.0")
    apply_user_edits(repo)
    still = snapshot(repo)
    result = run_cli("upgrade", str(repo), "--to", "2.6.0", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert snapshot(repo) == still
    assert f"+          {TENANT}: {TENANT_ID}" in result.stdout
    assert '-  version: "2.3.0"   # bumped by `fluxforge upgrade`' in result.stdout
    assert f"would write {STAGING_KUST}" in result.stdout
    assert "staging: Flux 2.3.0 (gotk-components.yaml) -> 2.6.0" in result.stderr
    assert "next: flux install --export --version=v2.6.0 > clusters/staging/flux-system/gotk-components.yaml" in (
        result.stderr
    )


def test_cluster_option_limits_the_files(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", "2.3.0")
    production = (repo / "clusters/production/flux-system/kustomization.yaml").read_bytes()
    report = run_upgrade(repo, to="2.6.0", cluster="staging")
    assert set(report.changed) == {STAGING_KUST, "fluxforge.yaml", "fluxforge.lock"}
    assert (repo / "clusters/production/flux-system/kustomization.yaml").read_bytes() == production
    lock = read_lock(repo / "fluxforge.lock")
    assert lock is not None
    assert TENANT not in lock.files["clusters/production/flux-system/kustomization.yaml"]  # still the old base
    rest = run_upgrade(repo, to="2.6.0")  # the other cluster follows later
    assert set(rest.changed) == {"clusters/production/flux-system/kustomization.yaml", "fluxforge.lock"}


def test_without_lock_the_base_is_the_render_before_upgrade(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", "2.3.0")
    apply_user_edits(repo)
    (repo / "fluxforge.lock").unlink()
    report = run_upgrade(repo, to="2.6.0")
    assert report.notes[0] == "no fluxforge.lock: the merge base is the render of the config before the upgrade"
    text = (repo / STAGING_KUST).read_text()
    assert LIMITS_PATCH in text and TENANT in text
    assert (repo / "fluxforge.lock").exists()


def test_refusals(tmp_path: Path, run_cli: Any) -> None:
    repo = make_repo(tmp_path / "repo", "2.6.0")
    down = run_cli("upgrade", str(repo), "--to", "2.5.0")
    assert down.exit_code == 2
    assert "older than the installed Flux 2.6.0; fluxforge upgrade does not downgrade" in down.stderr
    unknown = run_cli("upgrade", str(repo), "--cluster", "qa")
    assert unknown.exit_code == 2
    assert "--cluster qa: no such cluster in the config (clusters: staging, production)" in unknown.stderr
    assert run_cli("upgrade", str(repo), "--to", "2.10").exit_code == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('flux:\n  version: "2.3.0"  # pin\n', 'flux:\n  version: "2.9.4"  # pin\n'),
        ("flux:\n  version: '2.3.0'\n", "flux:\n  version: '2.9.4'\n"),
        ("flux:\n  version: v2.3.0 # x\n", "flux:\n  version: 2.9.4 # x\n"),
        ("# c\nflux:\n    namespace: fs\n", '# c\nflux:\n    version: "2.9.4"\n    namespace: fs\n'),
        ("git: {}\n", 'git: {}\nflux:\n  version: "2.9.4"\n'),
        ("git: {}", 'git: {}\nflux:\n  version: "2.9.4"\n'),
        ('flux: {version: "2.6.0"}  # flow\n', 'flux: {version: "2.9.4"}  # flow\n'),
    ],
)
def test_set_flux_version_touches_only_the_value(text: str, expected: str) -> None:
    assert set_flux_version(text, parse_version("2.9.4")) == expected


@pytest.mark.parametrize("text", ["flux: {namespace: x}\n", "flux: [1]\n", "- a\n"])
def test_set_flux_version_refuses_what_it_cannot_edit_in_place(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^cfg.yaml: flux.version: cannot edit it in place; set it to \"2.9.4\""):
        set_flux_version(text, parse_version("2.9.4"), "cfg.yaml")


# (config text, whether the parser's events alone find flux.version): with_flux_version's corpus
VERSION_SITES = [
    ('flux:\n  version: "2.3.0"  # pin\n', True),
    ("flux:\n  version: '2.3.0'\n", True),
    ("flux:\n  version: v2.3.0 # x\n", True),
    ('flux: {version: "2.6.0"}  # flow\n', True),
    ('flux: {version: "2.9.4"}\n', True),
    ('git: {flux: {version: "1.0.0"}}\nflux:\n  version: "2.6.0"\n', True),
    ("x: [1, {flux: 2}, [flux]]\nflux: {version: '2.6.0'}\n", True),
    ('? [a, b]\n: 1\nflux: {version: "2.6.0"}\n', True),
    ('"flux": {"version": "2.6.0"}\n', True),
    ('flux:\n  namespace: fs\n  version: "2.6.0"\n', True),
    ('flux:\n  <<: {version: "2.5.0"}\n  version: "2.6.0"\n', True),
    ("# c\n---\nflux:\n  version: v2.6.0\n", True),
    ("%YAML 1.2\n---\nflux: {version: 2.6.0}\n", True),
    ('&k flux: {version: "2.6.0"}\nz: 1\n', True),
    ("# c\nflux:\n    namespace: fs\n", False),
    ("git: {}", False),
    ('flux: &f {version: "2.6.0"}\nother: *f\n', False),
    ('flux:\n  version: &v "2.6.0"\nx: *v\n', False),
    ('--- &r\nflux: {version: "2.6.0"}\n', False),
    ('base: &b {version: "2.6.0"}\nflux: *b\n', False),
    ('flux:\n  <<: {version: "2.5.0"}\n', False),
    ("flux:\n  version: !!str 2.6.0\n", False),
    ('!!map\nflux: {version: "2.6.0"}\n', False),
    ('flux: !!map {version: "2.6.0"}\n', False),
    ("flux:\n  version: >-\n    2.6.0\n", False),
]


@pytest.mark.parametrize(
    ("text", "fast"),
    [
        *VERSION_SITES,
        *[(REPO_ROOT / folder / "fluxforge.yaml", True) for folder in ("sample-repo", "examples/aks-extension")],
    ],
)
def test_with_flux_version_is_set_flux_version_and_a_fresh_read(text: str | Path, fast: bool) -> None:
    """The upgrade's config edit without composing and re-reading the whole config: the same text as
    set_flux_version, and the same data as reading that text again; events alone answer where they may."""
    text = text.read_text(encoding="utf-8") if isinstance(text, Path) else text
    data = load_plain(text)
    before = copy.deepcopy(data)
    target = parse_version("2.9.4")
    try:
        expected = set_flux_version(text, target, "cfg.yaml")
    except ConfigError as err:
        with pytest.raises(ConfigError) as raised:
            with_flux_version(text, data, target, "cfg.yaml")
        assert raised.value.problems == err.problems
        return
    new_text, new_data = with_flux_version(text, data, target, "cfg.yaml")
    assert new_text == expected
    assert new_data == load_plain(expected)
    assert data == before  # not modified
    assert (_version_site(text) is not None) == fast


def test_bad_inputs_write_nothing(tmp_path: Path, run_cli: Any) -> None:
    repo = make_repo(tmp_path / "repo", "2.5.1")
    apply_user_edits(repo)
    (repo / "clusters/staging/apps.yaml").unlink()  # a generated file the user removed is written again
    lock = repo / "fluxforge.lock"
    good_lock = lock.read_text()
    lock.write_text(good_lock.replace("kind: ServiceAccount", "kind: ServiceAccountX", 1))
    still = snapshot(repo)
    tampered = run_cli("upgrade", str(repo), "--to", "2.7")
    assert tampered.exit_code == 1
    assert "does not match its sha256 (edited by hand?); restore it from git" in tampered.stderr
    assert snapshot(repo) == still
    lock.write_text(good_lock)
    config = repo / "fluxforge.yaml"
    good_config = config.read_text()
    config.write_text(good_config.replace("clientId: ", "clientId: not-a-guid-", 1))
    still = snapshot(repo)
    invalid = run_cli("upgrade", str(repo), "--to", "2.7")
    assert invalid.exit_code == 1
    assert "fluxforge.yaml:" in invalid.stderr and "Traceback" not in invalid.stderr
    assert snapshot(repo) == still
    config.write_text(good_config)
    ok = run_cli("upgrade", str(repo), "--to", "2.7")
    assert ok.exit_code == 0, ok.stderr
    assert (repo / "clusters/staging/apps.yaml").is_file()  # as render does: the config is the source of truth

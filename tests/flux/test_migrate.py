"""Upgrades say what the cluster needs (issue 10 item 4): ``flux migrate`` when crossing 2.7/2.8/2.9, a
refusal (or --allow-skip) for jumps one ``flux migrate`` cannot prepare, and a controller restart after a
client ID change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generator.commands.upgrade import UpgradeRefused, run_upgrade
from generator.errors import FluxforgeError
from generator.flux.migrate import blockers, crossed_removals, furthest_step
from generator.flux.versions import DEFAULT_COMPONENTS, api_versions, first_served, parse_version
from tests.helpers import snapshot
from tests.helpers.upgrade import PRODUCTION_CLIENT, STAGING_CLIENT, make_repo

IMAGE = (*DEFAULT_COMPONENTS, "image-reflector-controller", "image-automation-controller")
V = parse_version


@pytest.mark.parametrize(
    ("old", "new", "components", "expected", "step"),
    [
        # default components
        ("2.6.0", "2.9.4", DEFAULT_COMPONENTS, [], 9),
        ("2.5.1", "2.7.0", DEFAULT_COMPONENTS, [], 7),
        ("2.5.1", "2.8.0", DEFAULT_COMPONENTS, [("OCIRepository", "source.toolkit.fluxcd.io/v1beta2", 8, 6)], 7),
        (
            "2.3.0",
            "2.8.0",
            DEFAULT_COMPONENTS,
            [
                ("Bucket", "source.toolkit.fluxcd.io/v1beta2", 8, 4),
                ("OCIRepository", "source.toolkit.fluxcd.io/v1beta2", 8, 6),
            ],
            7,
        ),
        ("2.0.0", "2.7.0", DEFAULT_COMPONENTS, [("HelmRelease", "helm.toolkit.fluxcd.io/v2beta1", 7, 2)], 6),
        (
            "2.1.0",
            "2.9.4",
            DEFAULT_COMPONENTS,
            [
                ("HelmRelease", "helm.toolkit.fluxcd.io/v2beta1", 7, 2),
                ("HelmRepository", "source.toolkit.fluxcd.io/v1beta2", 8, 3),
                ("HelmChart", "source.toolkit.fluxcd.io/v1beta2", 8, 3),
                ("Bucket", "source.toolkit.fluxcd.io/v1beta2", 8, 4),
                ("OCIRepository", "source.toolkit.fluxcd.io/v1beta2", 8, 6),
                ("Alert", "notification.toolkit.fluxcd.io/v1beta2", 9, 2),
                ("Provider", "notification.toolkit.fluxcd.io/v1beta2", 9, 2),
            ],
            6,
        ),  # Receiver is v1 from 2.0: never a blocker
        # image automation: ImageUpdateAutomation v1beta1 until 2.2, the image kinds v1beta2 until 2.6
        (
            "2.6.0",
            "2.9.4",
            IMAGE,
            [
                ("ImageRepository", "image.toolkit.fluxcd.io/v1beta2", 9, 7),
                ("ImagePolicy", "image.toolkit.fluxcd.io/v1beta2", 9, 7),
                ("ImageUpdateAutomation", "image.toolkit.fluxcd.io/v1beta2", 9, 7),
            ],
            8,
        ),
        ("2.2.0", "2.7.0", IMAGE, [("ImageUpdateAutomation", "image.toolkit.fluxcd.io/v1beta1", 7, 3)], 6),
        ("2.9.0", "2.9.4", IMAGE, [], 9),
    ],
)
def test_which_jumps_one_flux_migrate_can_prepare(
    old: str, new: str, components: tuple[str, ...], expected: list[tuple[str, str, int, int]], step: int
) -> None:
    found = blockers(V(old), V(new), components)
    assert [(b.kind, b.api_version, b.removed_in, b.stored_newer_from) for b in found] == expected
    for b in found:  # the version the kind moves to is served (and stored) from that minor, and not dropped
        assert api_versions(V(f"2.{b.stored_newer_from}.0"))[b.kind] == b.newer_api_version != b.api_version
    assert furthest_step(V(old), V(new), components) == step
    assert blockers(V(old), V(f"2.{step}.0"), components) == []


def test_api_history_as_flux_serves_it() -> None:
    assert api_versions(V("2.0.0"))["Receiver"] == "notification.toolkit.fluxcd.io/v1"
    assert api_versions(V("2.2.0"))["ImageUpdateAutomation"] == "image.toolkit.fluxcd.io/v1beta1"
    assert api_versions(V("2.3.0"))["ImageUpdateAutomation"] == "image.toolkit.fluxcd.io/v1beta2"
    assert api_versions(V("2.7.0"))["ExternalArtifact"] == "source.toolkit.fluxcd.io/v1"
    assert api_versions(V("2.7.0"))["ArtifactGenerator"] == "source.extensions.fluxcd.io/v1beta1"
    assert "ArtifactGenerator" not in api_versions(V("2.6.0"))
    assert first_served("OCIRepository", "source.toolkit.fluxcd.io/v1") == 6


def test_crossed_removals() -> None:
    assert crossed_removals(V("2.6.3"), V("2.9.4")) == [7, 8, 9]
    assert crossed_removals(V("2.7.0"), V("2.8.1")) == [8]
    assert crossed_removals(V("2.3.0"), V("2.6.0")) == []
    assert crossed_removals(V("2.9.0"), V("2.9.4")) == []


def test_a_jump_migrate_cannot_prepare_is_refused_and_nothing_written(tmp_path: Path, run_cli: Any) -> None:
    repo = make_repo(tmp_path / "repo", "2.5.1")
    still = snapshot(repo)
    result = run_cli("upgrade", str(repo), "--to", "2.9")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "staging: Flux 2.5.1 (gotk-components.yaml) -> 2.9.4 is more than one `flux migrate` can prepare: it stores "
        "OCIRepository as source.toolkit.fluxcd.io/v1beta2, which Flux 2.8 no longer serves (Flux 2.6 and later "
        "store source.toolkit.fluxcd.io/v1); `flux migrate` moves objects only to the storage version of the Flux "
        "the cluster runs"
    )
    assert lines[1].startswith("production: Flux 2.5.1 (gotk-components.yaml) -> 2.9.4 is more than one")
    assert lines[2].startswith(
        "upgrade in steps: `fluxforge upgrade --to 2.7`, let Flux 2.7 reach the clusters and run `flux migrate` "
        "against each, then `fluxforge upgrade --to 2.9.4`; nothing was written. Rerun with --allow-skip only if"
    )
    assert "kubectl get crd ocirepositories.source.toolkit.fluxcd.io -o custom-columns=" in lines[2]
    assert len(lines) == 3 and "Traceback" not in result.stderr
    assert snapshot(repo) == still
    with pytest.raises(UpgradeRefused):
        run_upgrade(repo, to="2.9.4", dry_run=True)
    assert issubclass(UpgradeRefused, FluxforgeError) and UpgradeRefused.exit_code == 1

    # the suggested step works, and says to migrate
    step = run_cli("upgrade", str(repo), "--to", "2.7")
    assert step.exit_code == 0, step.stderr
    assert (
        "next: `flux migrate` against cluster staging while it still runs Flux 2.5.1, before Flux 2.7.0 "
        "reaches it (Flux CLI >= 2.7.0): Flux 2.7 drop API versions"
    ) in step.stderr

    # --allow-skip goes ahead, repeating why it was refused
    repo2 = make_repo(tmp_path / "repo2", "2.5.1")
    skipped = run_cli("upgrade", str(repo2), "--to", "2.9", "--allow-skip")
    assert skipped.exit_code == 0, skipped.stderr
    assert "--allow-skip: staging: Flux 2.5.1 (gotk-components.yaml) -> 2.9.4 is more than one" in skipped.stderr
    assert 'version: "2.9.4"' in (repo2 / "fluxforge.yaml").read_text()


def test_image_automation_blocks_26_to_29(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", "2.6.0")
    config = repo / "fluxforge.yaml"
    config.write_text(
        config.read_text().replace(
            "  namespace: flux-system\n",
            "  namespace: flux-system\n  components: [source-controller, kustomize-controller, helm-controller, "
            "notification-controller, image-reflector-controller, image-automation-controller]\n",
        )
    )
    with pytest.raises(UpgradeRefused) as refused:
        run_upgrade(repo, to="2.9.4")
    assert (
        "it stores ImageRepository, ImagePolicy, ImageUpdateAutomation as image.toolkit.fluxcd.io/v1beta2, "
        "which Flux 2.9 no longer serves (Flux 2.7 and later store image.toolkit.fluxcd.io/v1)"
    ) in refused.value.problems[0]
    assert "`fluxforge upgrade --to 2.8`" in refused.value.problems[-1]
    assert run_upgrade(repo, to="2.8.0").target == parse_version("2.8.0")


def test_crossing_27_28_29_says_flux_migrate_for_each_cluster(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", "2.6.0")
    notes = run_upgrade(repo, to="2.9.4").notes
    migrate = [n for n in notes if "flux migrate" in n]
    assert migrate == [
        f"next: `flux migrate` against cluster {name} while it still runs Flux 2.6.0, before Flux 2.9.4 reaches it "
        "(Flux CLI >= 2.7.0): Flux 2.7/2.8/2.9 drop API versions that its CRDs may still list in "
        "status.storedVersions, even when Git only uses stable APIs, and the new CRDs then fail to apply"
        for name in ("staging", "production")
    ]
    # migrate comes before the new components
    assert notes.index(migrate[-1]) < next(i for i, n in enumerate(notes) if n.startswith("next: flux install"))


def test_a_patch_release_needs_no_migrate(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", "2.9.0")
    assert not any("flux migrate" in n for n in run_upgrade(repo, to="2.9.4").notes)


NEW_CLIENT = "11111111-2222-4333-8444-555555555555"


def test_a_changed_client_id_says_restart_the_controller(tmp_path: Path, run_cli: Any) -> None:
    repo = make_repo(tmp_path / "repo", "2.6.0")
    config = repo / "fluxforge.yaml"
    config.write_text(config.read_text().replace(STAGING_CLIENT, NEW_CLIENT))
    result = run_cli("render", str(repo))
    assert result.exit_code == 0, result.stderr
    assert (
        f"note: staging: kustomize-controller's identity changes (client ID {STAGING_CLIENT} -> {NEW_CLIENT}): "
        "once Flux has applied clusters/staging/flux-system/kustomization.yaml, restart the controller, since "
        "the workload identity webhook sets AZURE_CLIENT_ID and AZURE_TENANT_ID only when a pod is created: "
        "kubectl -n flux-system rollout restart deployment/kustomize-controller"
    ) in result.stderr
    assert "production: kustomize-controller's identity" not in result.stderr
    again = run_cli("render", str(repo))  # nothing changes any more: nothing to say
    assert "identity changes" not in again.stderr
    # the same note when an upgrade carries a client ID change made in the config
    config.write_text(config.read_text().replace(PRODUCTION_CLIENT, NEW_CLIENT))
    notes = run_upgrade(repo, to="2.7.0").notes
    assert [n.split(":")[0] for n in notes if "identity changes" in n] == ["production"]

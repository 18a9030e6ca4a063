"""What a Flux minor upgrade needs on the cluster itself: ``flux migrate``, and the jumps it cannot make
in one step. Pure data and functions over :mod:`generator.flux.versions`.

Flux 2.7, 2.8 and 2.9 drop API versions from their CRDs (blog posts "Upgrade Procedure"). A CRD whose
``status.storedVersions`` still lists a dropped version cannot be applied ("status.storedVersions[0]:
Invalid value: ... must appear in spec.versions"; fluxcd/flux2#5598, #5852) — whatever Git holds,
because etcd keeps every version a CRD was ever stored in. ``flux migrate`` (Flux CLI >= 2.7, cluster
mode, fluxcd/flux2 cmd/flux/migrate.go) rewrites every Flux object to the storage version of the CRDs
*installed in the cluster* and then sets ``storedVersions`` to that version alone. So it must run while
the cluster still runs the old Flux, and it only clears versions that Flux no longer stores: when the
installed Flux still stores a kind in a version the target drops (ImageRepository in
``image.toolkit.fluxcd.io/v1beta2`` until 2.6, dropped in 2.9), no single step works — upgrade to a
minor that stores the new version, migrate there, then go on.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from generator.flux.versions import FluxVersion, api_versions, removals

__all__ = ["COMPONENT_KINDS", "MIGRATE_CLI", "Blocker", "blockers", "crossed_removals", "furthest_step"]

MIGRATE_CLI: Final = FluxVersion(2, 7, 0)
"""``flux migrate`` first shipped with Flux CLI 2.7.0 (fluxcd/flux2 45837d2)."""

COMPONENT_KINDS: Final = MappingProxyType(
    {
        "source-controller": (
            "GitRepository",
            "HelmRepository",
            "HelmChart",
            "Bucket",
            "OCIRepository",
            "ExternalArtifact",
        ),
        "kustomize-controller": ("Kustomization",),
        "helm-controller": ("HelmRelease",),
        "notification-controller": ("Alert", "Provider", "Receiver"),
        "image-reflector-controller": ("ImageRepository", "ImagePolicy"),
        "image-automation-controller": ("ImageUpdateAutomation",),
        "source-watcher": ("ArtifactGenerator",),
    }
)
"""The CRDs each component installs."""


@dataclass(frozen=True)
class Blocker:
    """Flux ``old`` stores ``kind`` as ``api_version``, which ``removed_in`` no longer serves; the first
    minor that stores it in a newer version (``newer_api_version``) is ``stored_newer_from``."""

    kind: str
    api_version: str
    removed_in: int
    stored_newer_from: int
    newer_api_version: str


def crossed_removals(old: FluxVersion, new: FluxVersion) -> list[int]:
    """The minors in (old, new] that drop API versions: each one needs ``flux migrate`` first."""
    return sorted({minor for minor, _, _ in removals() if old.minor < minor <= new.minor})


def _storage(kind: str, minor: int) -> str | None:
    return api_versions(FluxVersion(2, minor, 0)).get(kind)


def blockers(old: FluxVersion, new: FluxVersion, components: tuple[str, ...]) -> list[Blocker]:
    """Why ``flux migrate`` on a cluster running ``old`` cannot prepare it for ``new`` (empty: it can)."""
    installed = {kind for component in components for kind in COMPONENT_KINDS.get(component, ())}
    return [
        _blocker(kind, api, old, minor)
        for minor, api, kinds in removals()
        if old.minor < minor <= new.minor
        for kind in kinds
        if kind in installed and _storage(kind, old.minor) == api
    ]


def _blocker(kind: str, api: str, old: FluxVersion, minor: int) -> Blocker:
    """``kind`` is stored as ``api`` under ``old`` and Flux 2.``minor`` removes it: the first minor whose
    storage version differs is where ``flux migrate`` must run."""
    newer = next((m for m in range(old.minor + 1, minor + 1) if _storage(kind, m) != api), minor)
    return Blocker(kind, api, minor, newer, _storage(kind, newer) or "?")


def furthest_step(old: FluxVersion, new: FluxVersion, components: tuple[str, ...]) -> int:
    """The newest minor up to ``new`` that ``old`` reaches with one ``flux migrate``."""
    minor = new.minor
    while minor > old.minor and blockers(old, FluxVersion(2, minor, 0), components):
        minor -= 1
    return minor

"""What each documented Flux 2.x minor expects from a generated tree (pure data + lookups).

Facts (see ``docs/config-reference.md`` for the sources):

* 2.0–2.5 (kustomize-controller 1.0–1.5 spec, "Workload Identity"): ServiceAccount annotation
  ``azure.workload.identity/client-id`` plus the ServiceAccount label ``azure.workload.identity/use``,
  and the ``use`` label on the Deployment and on its pod template; no tenant-id annotation.
* 2.6+ (fluxcd.io integrations/azure "At the controller level"): ServiceAccount annotations
  ``client-id`` and ``tenant-id``; the ``use`` label only on the pod template.
  Object-level workload identity (``spec.decryption.serviceAccountName``) behind the
  ``ObjectLevelWorkloadIdentity`` feature gate, enabled by an append-style JSON patch.
* 2.7+: ``--default-decryption-service-account`` (needs the gate); v1beta1 APIs removed.
* 2.8: v1beta2 (source, kustomize) and helm v2beta2 removed. 2.9: image/notification v1beta2 removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = [
    "ANNOTATION_CLIENT_ID",
    "ANNOTATION_TENANT_ID",
    "DEFAULT_COMPONENTS",
    "EXTRA_COMPONENTS",
    "FEATURE_GATE_ARG",
    "FEATURE_GATE_NAME",
    "FIRST_MINOR",
    "LABEL_USE",
    "NEWEST",
    "ApiRemoval",
    "FluxFeatures",
    "FluxVersion",
    "WorkloadIdentityForm",
    "api_versions",
    "features_for",
    "first_served",
    "parse_version",
    "removals",
    "removed_apis_between",
    "supported_range",
]

ANNOTATION_CLIENT_ID: Final = "azure.workload.identity/client-id"
ANNOTATION_TENANT_ID: Final = "azure.workload.identity/tenant-id"
LABEL_USE: Final = "azure.workload.identity/use"
FEATURE_GATE_NAME: Final = "ObjectLevelWorkloadIdentity"
FEATURE_GATE_ARG: Final = f"--feature-gates={FEATURE_GATE_NAME}=true"
DEFAULT_DECRYPTION_SA_FLAG: Final = "--default-decryption-service-account"

DEFAULT_COMPONENTS: Final = (
    "source-controller",
    "kustomize-controller",
    "helm-controller",
    "notification-controller",
)
EXTRA_COMPONENTS: Final = MappingProxyType(
    {"image-reflector-controller": 0, "image-automation-controller": 0, "source-watcher": 7}
)
"""Optional components and the first 2.x minor that ships them."""

FIRST_MINOR: Final = 0
LAST_MINOR: Final = 9

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")


@dataclass(frozen=True, order=True)
class FluxVersion:
    """A Flux CLI/distribution version ``major.minor.patch``."""

    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def tag(self) -> str:
        """The form of the ``# Flux Version:`` header and git tags: ``v2.6.4``."""
        return f"v{self}"


NEWEST: Final = FluxVersion(2, 9, 4)
"""The newest release covered by the reference material; the config default."""


@dataclass(frozen=True)
class WorkloadIdentityForm:
    """How the kustomize-controller ServiceAccount/Deployment patch looks for one Flux range."""

    tenant_id_annotation: bool
    service_account_use_label: bool
    deployment_use_label: bool
    pod_template_use_label: bool = True


@dataclass(frozen=True)
class FluxFeatures:
    """Everything the generator needs to know about one Flux minor."""

    version: FluxVersion
    kustomize_controller: str
    workload_identity: WorkloadIdentityForm
    object_level_identity: bool
    default_decryption_service_account: bool
    api_versions: MappingProxyType[str, str]


@dataclass(frozen=True)
class ApiRemoval:
    """``api_version`` of ``kind`` is no longer served from Flux ``removed_in`` (``2.N``)."""

    kind: str
    api_version: str
    removed_in: str


_WI_LEGACY = WorkloadIdentityForm(tenant_id_annotation=False, service_account_use_label=True, deployment_use_label=True)
_WI_CURRENT = WorkloadIdentityForm(
    tenant_id_annotation=True, service_account_use_label=False, deployment_use_label=False
)

# (kind, first minor, apiVersion): the newest version each kind is served (and stored) as from that minor
# on; a kind's first row is when Flux first served it. Checked against the API imports of fluxcd/flux2
# cmd/flux at each tag: Receiver is v1 from 2.0, ImageUpdateAutomation v1beta2 from 2.3, Alert/Provider
# v1beta3 from 2.2; ExternalArtifact (source-controller) and ArtifactGenerator (source-watcher) from 2.7.
_API_HISTORY: Final = (
    ("GitRepository", 0, "source.toolkit.fluxcd.io/v1"),
    ("Kustomization", 0, "kustomize.toolkit.fluxcd.io/v1"),
    ("HelmRepository", 0, "source.toolkit.fluxcd.io/v1beta2"),
    ("HelmRepository", 3, "source.toolkit.fluxcd.io/v1"),
    ("HelmChart", 0, "source.toolkit.fluxcd.io/v1beta2"),
    ("HelmChart", 3, "source.toolkit.fluxcd.io/v1"),
    ("HelmRelease", 0, "helm.toolkit.fluxcd.io/v2beta1"),
    ("HelmRelease", 2, "helm.toolkit.fluxcd.io/v2beta2"),
    ("HelmRelease", 3, "helm.toolkit.fluxcd.io/v2"),
    ("Bucket", 0, "source.toolkit.fluxcd.io/v1beta2"),
    ("Bucket", 4, "source.toolkit.fluxcd.io/v1"),
    ("OCIRepository", 0, "source.toolkit.fluxcd.io/v1beta2"),
    ("OCIRepository", 6, "source.toolkit.fluxcd.io/v1"),
    ("ImageRepository", 0, "image.toolkit.fluxcd.io/v1beta2"),
    ("ImageRepository", 7, "image.toolkit.fluxcd.io/v1"),
    ("ImagePolicy", 0, "image.toolkit.fluxcd.io/v1beta2"),
    ("ImagePolicy", 7, "image.toolkit.fluxcd.io/v1"),
    ("ImageUpdateAutomation", 0, "image.toolkit.fluxcd.io/v1beta1"),
    ("ImageUpdateAutomation", 3, "image.toolkit.fluxcd.io/v1beta2"),
    ("ImageUpdateAutomation", 7, "image.toolkit.fluxcd.io/v1"),
    ("Alert", 0, "notification.toolkit.fluxcd.io/v1beta2"),
    ("Alert", 2, "notification.toolkit.fluxcd.io/v1beta3"),
    ("Provider", 0, "notification.toolkit.fluxcd.io/v1beta2"),
    ("Provider", 2, "notification.toolkit.fluxcd.io/v1beta3"),
    ("Receiver", 0, "notification.toolkit.fluxcd.io/v1"),
    ("ExternalArtifact", 7, "source.toolkit.fluxcd.io/v1"),
    ("ArtifactGenerator", 7, "source.extensions.fluxcd.io/v1beta1"),
)

# (removed in minor, apiVersion, kinds): served versions dropped by a release.
_REMOVALS: Final = (
    (7, "source.toolkit.fluxcd.io/v1beta1", ("GitRepository", "HelmRepository", "HelmChart", "Bucket")),
    (7, "kustomize.toolkit.fluxcd.io/v1beta1", ("Kustomization",)),
    (7, "helm.toolkit.fluxcd.io/v2beta1", ("HelmRelease",)),
    (7, "image.toolkit.fluxcd.io/v1beta1", ("ImageRepository", "ImagePolicy", "ImageUpdateAutomation")),
    (7, "notification.toolkit.fluxcd.io/v1beta1", ("Alert", "Provider", "Receiver")),
    (
        8,
        "source.toolkit.fluxcd.io/v1beta2",
        ("GitRepository", "HelmRepository", "HelmChart", "Bucket", "OCIRepository"),
    ),
    (8, "kustomize.toolkit.fluxcd.io/v1beta2", ("Kustomization",)),
    (8, "helm.toolkit.fluxcd.io/v2beta2", ("HelmRelease",)),
    (9, "image.toolkit.fluxcd.io/v1beta2", ("ImageRepository", "ImagePolicy", "ImageUpdateAutomation")),
    (9, "notification.toolkit.fluxcd.io/v1beta2", ("Alert", "Provider", "Receiver")),
)


def parse_version(text: str) -> FluxVersion:
    """Parse ``2.6.4`` or ``v2.6.4``; raise ValueError naming the expected form."""
    match = _VERSION_RE.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a Flux version; expected MAJOR.MINOR.PATCH such as {NEWEST}")
    major, minor, patch = (int(part) for part in match.groups())
    return FluxVersion(major, minor, patch)


def supported_range() -> str:
    """Human-readable range of documented versions, for error messages."""
    return f"2.{FIRST_MINOR}.0 to 2.{LAST_MINOR}.x"


def api_versions(version: FluxVersion) -> MappingProxyType[str, str]:
    """The stable apiVersion per kind served by ``version`` (kinds it does not serve are absent)."""
    # later rows override earlier ones, so the newest version served wins
    return MappingProxyType({kind: api for kind, since, api in _API_HISTORY if version.minor >= since})


def features_for(version: FluxVersion | str) -> FluxFeatures:
    """Return the documented behaviour of ``version``; raise ValueError outside 2.0–2.9."""
    ver = parse_version(version) if isinstance(version, str) else version
    if ver.major != 2 or not FIRST_MINOR <= ver.minor <= LAST_MINOR:
        raise ValueError(f"Flux {ver} is not documented here; fluxforge supports {supported_range()}")
    return FluxFeatures(
        version=ver,
        kustomize_controller=f"1.{ver.minor}",
        workload_identity=_WI_CURRENT if ver.minor >= 6 else _WI_LEGACY,
        object_level_identity=ver.minor >= 6,
        default_decryption_service_account=ver.minor >= 7,
        api_versions=api_versions(ver),
    )


def removals() -> tuple[tuple[int, str, tuple[str, ...]], ...]:
    """(minor, apiVersion, kinds): the API versions each release stops serving."""
    return _REMOVALS


def first_served(kind: str, api_version: str) -> int | None:
    """The first 2.x minor that serves ``api_version`` of ``kind`` as its newest version (None: unknown,
    or a pre-2.0 version)."""
    minors = [since for k, since, api in _API_HISTORY if k == kind and api == api_version]
    return min(minors) if minors else None


def removed_apis_between(old: FluxVersion, new: FluxVersion) -> list[ApiRemoval]:
    """API versions served by ``old`` that ``new`` no longer serves (for upgrade advice)."""
    found: list[ApiRemoval] = []
    for minor, api, kinds in _REMOVALS:
        if old.minor < minor <= new.minor:
            found.extend(ApiRemoval(kind, api, f"2.{minor}") for kind in kinds)
    return found

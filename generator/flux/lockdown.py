"""Flux multi-tenancy lockdown (``flux.lockdown: true``): which controller gets which flag, per Flux version.

Facts (fluxcd.io "Multi-tenancy lockdown" and "Security best practices"; the flag names of fluxcd/pkg
``runtime/acl`` and ``auth``; each controller's ``main.go`` at the release a Flux 2.N.0 ships):

* ``--no-cross-namespace-refs=true``: kustomize-, helm-, notification-, image-reflector- and
  image-automation-controller, Flux 2.0 on (source-controller has no such flag);
* ``--no-remote-bases=true``: kustomize-controller, 2.0 on;
* ``--default-service-account=<name>``: kustomize- and helm-controller (RBAC impersonation), 2.0 on;
* ``--default-decryption-service-account=<name>``: kustomize-controller, 2.7 on (with the
  ObjectLevelWorkloadIdentity feature gate, or the controller exits at start). Rendered from
  ``flux.defaultDecryptionServiceAccount``, which lockdown sets to :data:`LOCKDOWN_DECRYPTION_SA`
  when the config leaves it out and a Key Vault key exists.

Each flag is appended with a JSON patch (``op: add``, ``/spec/template/spec/containers/0/args/-``)
targeted at the Deployment by name, as the documented lockdown patch does. Pure data and lookups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from generator.config.model import Config

__all__ = [
    "LOCKDOWN_DECRYPTION_SA",
    "LOCKDOWN_DEFAULT_SA",
    "LOCKDOWN_FLAGS",
    "RECONCILER_SA",
    "LockdownFlag",
    "flag_problem",
    "lockdown_args",
    "lockdown_flags",
]

LOCKDOWN_DEFAULT_SA: Final = "default"
"""``--default-service-account``: objects without ``spec.serviceAccountName`` are applied as the
``default`` ServiceAccount of their namespace, which has no RBAC permissions (the documented value)."""
LOCKDOWN_DECRYPTION_SA: Final = "flux-decryption"
"""``flux.defaultDecryptionServiceAccount`` when lockdown sets it (Flux >= 2.7 with Key Vault keys)."""
RECONCILER_SA: Final = "kustomize-controller"
"""The platform's Kustomizations (in the Flux namespace) keep applying as kustomize-controller itself."""

_CROSS_NS_CONTROLLERS: Final = (
    "kustomize-controller",
    "helm-controller",
    "notification-controller",
    "image-reflector-controller",
    "image-automation-controller",
)


@dataclass(frozen=True)
class LockdownFlag:
    """One controller flag of the lockdown and the first Flux 2.N minor whose controllers know it."""

    name: str
    value: str
    controllers: tuple[str, ...]
    since_minor: int
    why: str

    @property
    def arg(self) -> str:
        return f"{self.name}={self.value}"


LOCKDOWN_FLAGS: Final = (
    LockdownFlag(
        "--no-cross-namespace-refs",
        "true",
        _CROSS_NS_CONTROLLERS,
        0,
        "sourceRef, dependsOn and other references stay in the object's namespace",
    ),
    LockdownFlag(
        "--no-remote-bases",
        "true",
        ("kustomize-controller",),
        0,
        "kustomize builds read only the source artifact, no remote bases",
    ),
    LockdownFlag(
        "--default-service-account",
        LOCKDOWN_DEFAULT_SA,
        ("kustomize-controller", "helm-controller"),
        0,
        "an object without spec.serviceAccountName is applied as the default ServiceAccount of its namespace, "
        "not as the controller",
    ),
    LockdownFlag(
        "--default-decryption-service-account",
        "",
        ("kustomize-controller",),
        7,
        "a Kustomization without spec.decryption.serviceAccountName decrypts as this ServiceAccount of its "
        "namespace, not with the controller's identity",
    ),
)


def lockdown_flags(minor: int, controller: str) -> list[LockdownFlag]:
    """The lockdown flags ``controller`` of Flux 2.``minor`` knows (the decryption one without its value)."""
    return [f for f in LOCKDOWN_FLAGS if controller in f.controllers and minor >= f.since_minor]


def flag_problem(name: str, controller: str, minor: int) -> str | None:
    """Why ``controller`` of Flux 2.``minor`` would not start with lockdown flag ``name``, or None."""
    for flag in LOCKDOWN_FLAGS:
        if flag.name != name:
            continue
        if controller not in flag.controllers:
            return f"{controller} has no {name} flag (only {', '.join(flag.controllers)})"
        if minor < flag.since_minor:
            return f"{name} exists from Flux 2.{flag.since_minor} on ({controller} of Flux 2.{minor} would not start)"
        return None
    return None


def lockdown_args(config: Config, controller: str) -> list[str]:
    """The lockdown arguments appended to ``controller`` (none without ``flux.lockdown`` or outside the
    configured components). The default decryption ServiceAccount is not among them: kustomize-controller
    gets it with the feature gate (:func:`generator.render.files.controller_args`)."""
    if not config.flux.lockdown or controller not in config.flux.components:
        return []
    minor = config.flux.version.minor
    return [f.arg for f in lockdown_flags(minor, controller) if f.value]

"""What the live gates read, as protocols: Azure (ARM), the cluster (kubectl) and the end-to-end probe.

The gates only see these small read-only interfaces and the plain facts below, so they are tested
with the real implementations against the emulator (``azure_reader.ArmReader``, ``kubectl.Kubectl``,
``probe.KeyVaultProbe``) and need nothing else. No reader ever returns a secret; the probe returns
whether Key Vault handed back a data key, never the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from generator.errors import FluxforgeError

__all__ = [
    "AssignmentFacts",
    "AzureReader",
    "CredentialFacts",
    "IdentityFacts",
    "KeyFacts",
    "KubeReader",
    "PolicyFacts",
    "Prober",
    "ReadError",
    "RoleFacts",
    "SecretFacts",
    "VaultFacts",
]


class ReadError(FluxforgeError):
    """A reader could not read (no permission, unreachable, tool missing): the gate is not checked."""


@dataclass(frozen=True)
class IdentityFacts:
    name: str
    resource_group: str
    client_id: str
    principal_id: str
    id: str


@dataclass(frozen=True)
class CredentialFacts:
    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...]


@dataclass(frozen=True)
class PolicyFacts:
    object_id: str
    key_permissions: tuple[str, ...]


@dataclass(frozen=True)
class VaultFacts:
    name: str
    resource_group: str
    id: str
    rbac: bool
    policies: tuple[PolicyFacts, ...] = ()


@dataclass(frozen=True)
class KeyFacts:
    """One key version (the current one when no version was asked for)."""

    name: str
    version: str
    enabled: bool
    expires: int | None  # epoch seconds
    not_before: int | None
    key_ops: tuple[str, ...]
    kty: str


@dataclass(frozen=True)
class SecretFacts:
    """A Key Vault secret's current version as ARM shows it: attributes, never the value."""

    name: str
    enabled: bool
    expires: int | None  # epoch seconds
    not_before: int | None


@dataclass(frozen=True)
class AssignmentFacts:
    scope: str
    role_definition_id: str
    principal_id: str


@dataclass(frozen=True)
class RoleFacts:
    name: str
    data_actions: tuple[str, ...]
    not_data_actions: tuple[str, ...] = ()


class AzureReader(Protocol):
    """Read-only ARM queries in one subscription (the user's credential)."""

    subscription_id: str

    def identities(self) -> list[IdentityFacts]: ...

    def federated_credentials(self, identity: IdentityFacts) -> list[CredentialFacts]: ...

    def vault(self, name: str) -> VaultFacts | None: ...

    def key(self, vault: VaultFacts, name: str, version: str | None) -> KeyFacts | None: ...

    def secret(self, vault: VaultFacts, name: str) -> SecretFacts | None: ...

    def role_assignments(self, principal_id: str) -> list[AssignmentFacts]: ...

    def role_definition(self, role_definition_id: str) -> RoleFacts | None: ...


class KubeReader(Protocol):
    """Read-only queries of one cluster (plus TokenRequest for the probe)."""

    label: str  # the kube context, for messages

    def discovery_issuer(self) -> str: ...

    def get(self, kind: str, name: str, namespace: str = "") -> dict[str, Any] | None: ...

    def list(self, kind: str, namespace: str = "", selector: str = "") -> list[dict[str, Any]]: ...

    def create_token(self, namespace: str, service_account: str, audience: str) -> str: ...


@dataclass(frozen=True)
class ProbeResult:
    """How far the probe got: ``step`` is ``"exchange"`` or ``"decrypt"`` when it failed there."""

    ok: bool
    step: str = ""
    message: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


class Prober(Protocol):
    """Exchange a ServiceAccount token at Entra ID for ``client_id`` and unwrap one file's data key."""

    def unwrap(self, entry: dict[str, Any], tenant_id: str, client_id: str, token: str) -> ProbeResult: ...

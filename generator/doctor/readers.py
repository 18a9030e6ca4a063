"""What the live gates read, as protocols: Azure (ARM), the cluster (kubectl) and the end-to-end probe.

The gates only see these small read-only interfaces, the plain facts below and the ARM facts of
``generator.azure.facts`` (the types ``azure plan/apply`` read too), so they are tested
with the real implementations against the emulator (``azure_reader.ArmReader``, ``kubectl.Kubectl``,
``probe.KeyVaultProbe``) and need nothing else. No reader ever returns a secret; the probe returns
whether Key Vault handed back a data key, never the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from generator.azure.facts import CredentialFacts, IdentityFacts, RoleFacts, VaultFacts
from generator.errors import FluxforgeError

__all__ = [
    "AssignmentFacts",
    "AzureReader",
    "KeyFacts",
    "KubeReader",
    "Prober",
    "ReadError",
    "SecretFacts",
]


class ReadError(FluxforgeError):
    """A reader could not read (no permission, unreachable, tool missing): the gate is not checked."""


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

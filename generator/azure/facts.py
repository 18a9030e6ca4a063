"""What ARM shows, as plain frozen facts: one type per Azure object, whoever reads it.

``generator.azure.arm.Arm`` fills :class:`~generator.azure.plan.ActualState` with them for ``azure
plan/apply``; ``generator.doctor.azure_reader.ArmReader`` returns them to doctor's live gates. Each
``from_arm`` takes the azure-mgmt-* model object (duck-typed: this module never imports ``azure.*``).
No fact ever holds a secret value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["CredentialFacts", "IdentityFacts", "PolicyFacts", "RoleFacts", "VaultFacts", "group_of", "wire_text"]


def wire_text(value: Any) -> str:
    """An SDK enum member's wire value (``RSA``, not ``JsonWebKeyType.RSA``), or the string itself."""
    return str(getattr(value, "value", value))


def group_of(resource_id: str) -> str:
    """The resource group named in an ARM resource ID ("" when it names none)."""
    parts = resource_id.split("/")
    lowered = [p.lower() for p in parts]
    return parts[lowered.index("resourcegroups") + 1] if "resourcegroups" in lowered else ""


@dataclass(frozen=True)
class IdentityFacts:
    """A user-assigned managed identity."""

    name: str
    resource_group: str
    client_id: str
    principal_id: str
    id: str

    @classmethod
    def from_arm(cls, found: Any) -> IdentityFacts:
        return cls(
            str(found.name), group_of(str(found.id)), str(found.client_id), str(found.principal_id), str(found.id)
        )


@dataclass(frozen=True)
class CredentialFacts:
    """A federated identity credential of a managed identity."""

    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...]

    @classmethod
    def from_arm(cls, found: Any) -> CredentialFacts:
        return cls(str(found.name), str(found.issuer), str(found.subject), tuple(found.audiences or ()))


@dataclass(frozen=True)
class PolicyFacts:
    """One access policy of a vault in the access-policy permission model: its key permissions."""

    object_id: str
    key_permissions: tuple[str, ...]


@dataclass(frozen=True)
class VaultFacts:
    """A Key Vault: its permission model (``rbac``), protection settings, tenant and access policies."""

    name: str
    resource_group: str
    id: str
    rbac: bool
    purge_protection: bool
    soft_delete: bool
    tenant_id: str
    policies: tuple[PolicyFacts, ...] = ()

    @classmethod
    def from_arm(cls, found: Any) -> VaultFacts:
        props = found.properties
        policies = tuple(
            PolicyFacts(str(p.object_id), tuple(wire_text(k) for k in (p.permissions.keys or ())))
            for p in props.access_policies or ()
            if p.permissions is not None
        )
        return cls(
            str(found.name),
            group_of(str(found.id)),
            str(found.id),
            bool(props.enable_rbac_authorization),
            bool(props.enable_purge_protection),
            props.enable_soft_delete is not False,
            str(props.tenant_id),
            policies,
        )


@dataclass(frozen=True)
class RoleFacts:
    """A role definition: its name and the data actions it grants (and excludes)."""

    name: str
    data_actions: tuple[str, ...]
    not_data_actions: tuple[str, ...] = ()

    @classmethod
    def from_arm(cls, found: Any) -> RoleFacts:
        perms = found.permissions or ()
        return cls(
            str(found.role_name),
            tuple(a for p in perms for a in p.data_actions or ()),
            tuple(a for p in perms for a in p.not_data_actions or ()),
        )

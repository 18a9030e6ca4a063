"""The Azure reader: read-only ARM queries through ``generator.azure.arm.Arm`` (the one module that imports
the azure-mgmt-* clients), turned into the plain facts the live gates compare.

Reads: the subscription's user-assigned identities and their federated credentials, a vault by name
(permission model, access policies), a key or one of its versions (enabled, expiry, not-before, key_ops), a
workload's secret (its attributes, never its value),
the role assignments of a principal anywhere in the subscription, and role definitions by ID. Needs Reader
on the subscription (or on the resource groups that hold these).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from generator.azure.arm import Arm
from generator.azure.facts import CredentialFacts, IdentityFacts, RoleFacts, VaultFacts, wire_text
from generator.doctor.readers import AssignmentFacts, AzureReader, KeyFacts, ReadError, SecretFacts
from generator.errors import FluxforgeError

__all__ = ["ArmReader", "make_reader"]

T = TypeVar("T")


def _epoch(value: Any) -> int | None:
    if value is None:
        return None
    if hasattr(value, "timestamp"):
        return int(value.timestamp())
    return int(value)


class ArmReader:
    """:class:`~generator.doctor.readers.AzureReader` over the management clients of one subscription
    (``generator.azure.arm.Arm``: its SDK clients, ``call`` and ``get_or_none``)."""

    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.subscription_id: str = arm.subscription_id

    def _call(self, what: str, func: Callable[[], T]) -> T:
        try:
            result: T = self.arm.call(what, func)
        except FluxforgeError as err:
            raise ReadError(err.problems[0]) from None
        return result

    def _find(self, what: str, func: Callable[[], T]) -> T | None:
        try:
            found: T | None = self.arm.get_or_none(what, func)
        except FluxforgeError as err:
            raise ReadError(err.problems[0]) from None
        return found

    def identities(self) -> list[IdentityFacts]:
        found = self._call(
            "list managed identities", lambda: list(self.arm.msi.user_assigned_identities.list_by_subscription())
        )
        return [IdentityFacts.from_arm(i) for i in found]

    def federated_credentials(self, identity: IdentityFacts) -> list[CredentialFacts]:
        found = self._call(
            f"list federated credentials of {identity.name}",
            lambda: list(self.arm.msi.federated_identity_credentials.list(identity.resource_group, identity.name)),
        )
        return [CredentialFacts.from_arm(c) for c in found]

    def vault(self, name: str) -> VaultFacts | None:
        vaults = self._call("list key vaults", lambda: list(self.arm.kv.vaults.list_by_subscription()))
        found = next((v for v in vaults if str(v.name).lower() == name.lower()), None)
        return VaultFacts.from_arm(found) if found is not None else None

    def key(self, vault: VaultFacts, name: str, version: str | None) -> KeyFacts | None:
        keys = self.arm.kv.keys
        if version:
            found = self._find(
                f"read key {vault.name}/{name}/{version}",
                lambda: keys.get_version(vault.resource_group, vault.name, name, version),
            )
        else:
            found = self._find(
                f"read key {vault.name}/{name}", lambda: keys.get(vault.resource_group, vault.name, name)
            )
        if found is None:
            return None
        props = found.properties
        attrs = props.attributes
        uri = str(props.key_uri_with_version or "")
        return KeyFacts(
            name,
            uri.rstrip("/").rsplit("/", 1)[-1] if uri else (version or ""),
            attrs is None or attrs.enabled is not False,
            _epoch(getattr(attrs, "expires", None)),
            _epoch(getattr(attrs, "not_before", None)),
            tuple(wire_text(o) for o in props.key_ops or ()),
            wire_text(props.kty),
        )

    def secret(self, vault: VaultFacts, name: str) -> SecretFacts | None:
        """A workload's secret: its attributes (ARM never returns a secret's value)."""
        found = self._find(
            f"read secret {vault.name}/{name}", lambda: self.arm.kv.secrets.get(vault.resource_group, vault.name, name)
        )
        if found is None:
            return None
        attrs = found.properties.attributes if found.properties is not None else None
        return SecretFacts(
            name,
            attrs is None or attrs.enabled is not False,
            _epoch(getattr(attrs, "expires", None)),
            _epoch(getattr(attrs, "not_before", None)),
        )

    def role_assignments(self, principal_id: str) -> list[AssignmentFacts]:
        found = self._call(
            "list role assignments",
            lambda: list(
                self.arm.authz.role_assignments.list_for_subscription(filter=f"principalId eq '{principal_id}'")
            ),
        )
        return [AssignmentFacts(str(a.scope), str(a.role_definition_id), str(a.principal_id)) for a in found]

    def role_definition(self, role_definition_id: str) -> RoleFacts | None:
        found = self._find(
            f"read role definition {role_definition_id}",
            lambda: self.arm.authz.role_definitions.get_by_id(role_definition_id),
        )
        return RoleFacts.from_arm(found) if found is not None else None


def make_reader(subscription_id: str, credential: str | None) -> tuple[AzureReader | None, str]:
    """The reader for ``subscription_id`` with ``--credential`` (default chain), or why there is none."""
    try:
        return ArmReader(Arm(subscription_id, credential)), ""
    except FluxforgeError as err:
        return None, f"no Azure credential: {err.problems[0]}"

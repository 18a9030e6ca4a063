"""Azure RBAC: role definitions (built-in with their real GUIDs, plus customs), assignments at a scope, checks.

One model for both planes: ``allows_control`` evaluates ``actions``/``notActions`` (ARM requests),
``allows_data`` evaluates ``dataActions``/``notDataActions`` (Key Vault data plane). An assignment at a
scope covers that scope and everything below it (subscription > resource group > vault > key).
The built-in definitions are copied field by field from the published built-in role JSON
(learn.microsoft.com, "Azure built-in roles"); the ``SOPS ...`` roles are test customs.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

KEYS = "Microsoft.KeyVault/vaults/keys"
SECRETS = "Microsoft.KeyVault/vaults/secrets"
READ, ENCRYPT, DECRYPT = f"{KEYS}/read", f"{KEYS}/encrypt/action", f"{KEYS}/decrypt/action"
WRAP, UNWRAP = f"{KEYS}/wrap/action", f"{KEYS}/unwrap/action"
CREATE, UPDATE = f"{KEYS}/create/action", f"{KEYS}/update/action"
GET_SECRET, SET_SECRET = f"{SECRETS}/getSecret/action", f"{SECRETS}/setSecret/action"
SECRET_METADATA = f"{SECRETS}/readMetadata/action"

_KV_READ_ACTIONS = (
    "Microsoft.Authorization/*/read",
    "Microsoft.Insights/alertRules/*",
    "Microsoft.Resources/deployments/*",
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.Support/*",
    "Microsoft.KeyVault/checkNameAvailability/read",
    "Microsoft.KeyVault/deletedVaults/read",
    "Microsoft.KeyVault/locations/*/read",
    "Microsoft.KeyVault/vaults/*/read",
    "Microsoft.KeyVault/operations/read",
)


@dataclass(frozen=True)
class RoleDefinition:
    id: str  # the GUID (ARM ``name``)
    name: str  # roleName
    description: str = ""
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()
    builtin: bool = True
    assignable_scopes: tuple[str, ...] = ("/",)

    def permits(self, action: str, *, data: bool) -> bool:
        allow, deny = (self.data_actions, self.not_data_actions) if data else (self.actions, self.not_actions)
        return any(_covers(p, action) for p in allow) and not any(_covers(p, action) for p in deny)

    def arm_id(self, subscription: str | None) -> str:
        prefix = f"/subscriptions/{subscription}" if subscription else ""
        return f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{self.id}"

    def body(self, subscription: str | None) -> dict[str, Any]:
        return {
            "id": self.arm_id(subscription),
            "name": self.id,
            "type": "Microsoft.Authorization/roleDefinitions",
            "properties": {
                "roleName": self.name,
                "type": "BuiltInRole" if self.builtin else "CustomRole",
                "description": self.description,
                "assignableScopes": list(self.assignable_scopes),
                "permissions": [
                    {
                        "actions": list(self.actions),
                        "notActions": list(self.not_actions),
                        "dataActions": list(self.data_actions),
                        "notDataActions": list(self.not_data_actions),
                    }
                ],
                "createdOn": "2015-02-02T21:55:09.8806423Z",
                "updatedOn": "2024-01-01T00:00:00.0000000Z",
                "createdBy": None,
                "updatedBy": None,
            },
        }


BUILTIN: tuple[RoleDefinition, ...] = (
    RoleDefinition(
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        "Owner",
        "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
        actions=("*",),
    ),
    RoleDefinition(
        "b24988ac-6180-42a0-ab88-20f7382dd24c",
        "Contributor",
        "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, "
        "manage assignments in Azure Blueprints, or share image galleries.",
        actions=("*",),
        not_actions=(
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
            "Microsoft.Purview/consents/write",
            "Microsoft.Purview/consents/delete",
        ),
    ),
    RoleDefinition(
        "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        "Reader",
        "View all resources, but does not allow you to make any changes.",
        actions=("*/read",),
    ),
    RoleDefinition(
        "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        "User Access Administrator",
        "Lets you manage user access to Azure resources.",
        actions=("*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"),
    ),
    RoleDefinition(
        "00482a5a-887f-4fb3-b363-3b7fe8e74483",
        "Key Vault Administrator",
        "Perform all data plane operations on a key vault and all objects in it, including certificates, "
        "keys, and secrets. Cannot manage key vault resources or manage role assignments. Only works for key "
        "vaults that use the 'Azure role-based access control' permission model.",
        actions=_KV_READ_ACTIONS,
        data_actions=("Microsoft.KeyVault/vaults/*",),
    ),
    RoleDefinition(
        "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
        "Key Vault Crypto Officer",
        "Perform any action on the keys of a key vault, except manage permissions. Only works for key vaults "
        "that use the 'Azure role-based access control' permission model.",
        actions=_KV_READ_ACTIONS,
        data_actions=(f"{KEYS}/*", "Microsoft.KeyVault/vaults/keyrotationpolicies/*"),
    ),
    RoleDefinition(
        "12338af0-0e69-4776-bea7-57ae8d297424",
        "Key Vault Crypto User",
        "Perform cryptographic operations using keys. Only works for key vaults that use the 'Azure "
        "role-based access control' permission model.",
        data_actions=(
            READ,
            UPDATE,
            f"{KEYS}/backup/action",
            ENCRYPT,
            DECRYPT,
            WRAP,
            UNWRAP,
            f"{KEYS}/sign/action",
            f"{KEYS}/verify/action",
        ),
    ),
    RoleDefinition(
        "e147488a-f6f5-4113-8e2d-b22465e65bf6",
        "Key Vault Crypto Service Encryption User",
        "Read metadata of keys and perform wrap/unwrap operations. Only works for key vaults that use the "
        "'Azure role-based access control' permission model.",
        actions=(
            "Microsoft.EventGrid/eventSubscriptions/write",
            "Microsoft.EventGrid/eventSubscriptions/read",
            "Microsoft.EventGrid/eventSubscriptions/delete",
        ),
        data_actions=(READ, WRAP, UNWRAP),
    ),
    RoleDefinition(
        "21090545-7ca7-4776-b22c-e363652d74d2",
        "Key Vault Reader",
        "Read metadata of key vaults and its certificates, keys, and secrets. Cannot read sensitive values "
        "such as secret contents or key material. Only works for key vaults that use the 'Azure role-based "
        "access control' permission model.",
        actions=_KV_READ_ACTIONS,
        data_actions=("Microsoft.KeyVault/vaults/*/read", SECRET_METADATA),
    ),
    RoleDefinition(
        "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        "Key Vault Secrets Officer",
        "Perform any action on the secrets of a key vault, except manage permissions. Only works for key "
        "vaults that use the 'Azure role-based access control' permission model.",
        actions=_KV_READ_ACTIONS,
        data_actions=(f"{SECRETS}/*",),
    ),
    RoleDefinition(
        "4633458b-17de-408a-b874-0445c86b69e6",
        "Key Vault Secrets User",
        "Read secret contents. Only works for key vaults that use the 'Azure role-based access control' "
        "permission model.",
        data_actions=(GET_SECRET, SECRET_METADATA),
    ),
    RoleDefinition(
        "7f951dda-4ed3-4680-a7ca-43fe172d538d",
        "AcrPull",
        "acr pull",
        actions=("Microsoft.ContainerRegistry/registries/pull/read",),
    ),
)


def _custom(name: str, data_actions: tuple[str, ...]) -> RoleDefinition:
    return RoleDefinition(
        str(uuid.uuid5(uuid.NAMESPACE_URL, f"fluxforge-emulator/{name}")),
        name,
        f"test custom role: {name}",
        data_actions=data_actions,
        builtin=False,
    )


# least-privilege customs the tests use (defined tenant-wide, like a custom role with assignable scope "/")
CUSTOM: tuple[RoleDefinition, ...] = (
    _custom("SOPS Decrypt Only", (DECRYPT,)),
    _custom("SOPS Encrypt Only", (READ, ENCRYPT)),
    _custom("SOPS Encrypt Only (no read)", (ENCRYPT,)),
)

ROLES: dict[str, tuple[str, ...]] = {r.name: r.data_actions for r in (*BUILTIN, *CUSTOM)}
ROLE_IDS: dict[str, str] = {r.name: r.id for r in BUILTIN}


@dataclass(frozen=True)
class Assignment:
    id: str  # the assignment's name (a GUID)
    principal_id: str
    role: str  # roleName
    scope: str
    role_id: str = ""
    principal_type: str = "ServicePrincipal"
    created_by: str = ""
    created_on: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))

    @property
    def arm_id(self) -> str:
        return f"{self.scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{self.id}"

    def body(self, subscription: str) -> dict[str, Any]:
        return {
            "id": self.arm_id,
            "name": self.id,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {
                "roleDefinitionId": f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/"
                f"{self.role_id}",
                "principalId": self.principal_id,
                "principalType": self.principal_type,
                "scope": self.scope,
                "condition": None,
                "conditionVersion": None,
                "createdOn": self.created_on,
                "updatedOn": self.created_on,
                "createdBy": self.created_by or None,
                "updatedBy": self.created_by or None,
                "delegatedManagedIdentityResourceId": None,
                "description": None,
            },
        }


def _covers(pattern: str, action: str) -> bool:
    """Azure's action wildcards: ``*`` matches any run of characters (``*/read``, ``Microsoft.KeyVault/*``)."""
    regex = "".join(".*" if c == "*" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, action, flags=re.IGNORECASE) is not None


def in_scope(scope: str, resource: str) -> bool:
    """``resource`` is ``scope`` or below it (case-insensitive; ``/`` is the root above everything)."""
    scope, resource = scope.rstrip("/").lower(), resource.rstrip("/").lower()
    return not scope or resource == scope or resource.startswith(scope + "/")


class Rbac:
    def __init__(self) -> None:
        self.assignments: list[Assignment] = []
        self.definitions: dict[str, RoleDefinition] = {r.id: r for r in (*BUILTIN, *CUSTOM)}

    # -- definitions -------------------------------------------------------------------------------
    def role(self, name_or_id: str) -> RoleDefinition:
        """A definition by roleName (case-insensitive) or GUID; ValueError naming the known ones otherwise."""
        key = name_or_id.rsplit("/", 1)[-1].lower()
        for definition in self.definitions.values():
            if definition.id == key or definition.name.lower() == name_or_id.lower():
                return definition
        raise ValueError(f"unknown role {name_or_id!r}; known: {', '.join(d.name for d in self.definitions.values())}")

    def define(self, definition: RoleDefinition) -> RoleDefinition:
        self.definitions[definition.id] = definition
        return definition

    # -- assignments -------------------------------------------------------------------------------
    def assign(
        self,
        principal_id: str,
        role: str,
        scope: str,
        *,
        name: str | None = None,
        principal_type: str = "ServicePrincipal",
        created_by: str = "",
    ) -> Assignment:
        definition = self.role(role)
        assignment = Assignment(
            name or str(uuid.uuid4()), principal_id, definition.name, scope, definition.id, principal_type, created_by
        )
        self.assignments.append(assignment)
        return assignment

    def revoke(self, principal_id: str, role: str | None = None) -> int:
        """Remove the principal's assignments (of ``role`` only, when given); returns how many."""
        keep = [a for a in self.assignments if a.principal_id != principal_id or (role and a.role != role)]
        removed = len(self.assignments) - len(keep)
        self.assignments = keep
        return removed

    def remove(self, assignment_id: str) -> Assignment | None:
        for assignment in self.assignments:
            if assignment.id.lower() == assignment_id.lower():
                self.assignments.remove(assignment)
                return assignment
        return None

    # -- checks ------------------------------------------------------------------------------------
    def allows_data(self, principal_id: str, action: str, resource: str) -> bool:
        return self._allows(principal_id, action, resource, data=True)

    def allows_control(self, principal_id: str, action: str, resource: str) -> bool:
        return self._allows(principal_id, action, resource, data=False)

    allows = allows_data  # the Key Vault data plane's question (kept for older callers)

    def _allows(self, principal_id: str, action: str, resource: str, *, data: bool) -> bool:
        for a in self.assignments:
            if a.principal_id != principal_id or not in_scope(a.scope, resource):
                continue
            definition = self.definitions.get(a.role_id)
            if definition is not None and definition.permits(action, data=data):
                return True
        return False

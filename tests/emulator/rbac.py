"""Azure RBAC for Key Vault data actions: role definitions, assignments at a scope, and the check."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

KEYS = "Microsoft.KeyVault/vaults/keys"
READ, ENCRYPT, DECRYPT = f"{KEYS}/read", f"{KEYS}/encrypt/action", f"{KEYS}/decrypt/action"
WRAP, UNWRAP = f"{KEYS}/wrap/action", f"{KEYS}/unwrap/action"

# Built-in definitions (data actions as in the published role JSON), plus least-privilege customs.
ROLES: dict[str, tuple[str, ...]] = {
    "Key Vault Crypto User": (READ, f"{KEYS}/update/action", f"{KEYS}/backup/action", ENCRYPT, DECRYPT, WRAP,
                              UNWRAP, f"{KEYS}/sign/action", f"{KEYS}/verify/action"),
    "Key Vault Crypto Service Encryption User": (READ, WRAP, UNWRAP),
    "Key Vault Administrator": ("Microsoft.KeyVault/vaults/*",),
    "SOPS Decrypt Only": (DECRYPT,),
    "SOPS Encrypt Only": (READ, ENCRYPT),
    "SOPS Encrypt Only (no read)": (ENCRYPT,),
}
ROLE_IDS = {"Key Vault Crypto User": "12338af0-0e69-4776-bea7-57ae8d297424",
            "Key Vault Crypto Service Encryption User": "e147488a-f6f5-4113-8e2d-b22465e65bf6",
            "Key Vault Administrator": "00482a5a-887f-4fb3-b363-3b7fe8e74483"}


@dataclass(frozen=True)
class Assignment:
    id: str
    principal_id: str
    role: str
    scope: str


def _covers(pattern: str, action: str) -> bool:
    if pattern.endswith("*"):
        return action.lower().startswith(pattern[:-1].lower())
    return pattern.lower() == action.lower()


def _in_scope(scope: str, resource: str) -> bool:
    scope, resource = scope.rstrip("/").lower(), resource.rstrip("/").lower()
    return resource == scope or resource.startswith(scope + "/")


class Rbac:
    def __init__(self) -> None:
        self.assignments: list[Assignment] = []

    def assign(self, principal_id: str, role: str, scope: str) -> Assignment:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; known: {', '.join(ROLES)}")
        assignment = Assignment(str(uuid.uuid4()), principal_id, role, scope)
        self.assignments.append(assignment)
        return assignment

    def revoke(self, principal_id: str, role: str | None = None) -> int:
        """Remove the principal's assignments (of ``role`` only, when given); returns how many."""
        keep = [a for a in self.assignments if a.principal_id != principal_id or (role and a.role != role)]
        removed = len(self.assignments) - len(keep)
        self.assignments = keep
        return removed

    def allows(self, principal_id: str, action: str, resource: str) -> bool:
        return any(
            a.principal_id == principal_id and _in_scope(a.scope, resource) and any(_covers(p, action) for p in ROLES[a.role])
            for a in self.assignments
        )

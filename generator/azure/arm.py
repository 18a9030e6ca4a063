"""Azure Resource Manager through the real SDK clients (azure-mgmt-msi, -authorization, -keyvault,
-containerservice): read what the desired state names, create and update it. The only module that imports
``azure.mgmt.*`` (lazily, inside the functions: ``fluxforge --help`` stays fast).

The credential chain is the Key Vault one (``--credential``: environment, workload identity, az login).
Every refusal becomes an :class:`ArmCallError` whose one line names the call, ARM's code and message and,
for ``AuthorizationFailed``, the action that is missing and the roles that grant it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from generator.azure.desired import (
    DesiredAccess,
    DesiredAssignment,
    DesiredCredential,
    DesiredIdentity,
    DesiredKey,
    DesiredState,
    DesiredVaultObject,
    Role,
)
from generator.azure.facts import CredentialFacts, IdentityFacts, RoleFacts, VaultFacts, wire_text
from generator.azure.plan import (
    ActualAks,
    ActualAssignment,
    ActualKey,
    ActualObject,
    ActualState,
)
from generator.errors import FluxforgeError

__all__ = ["Arm", "ArmCallError", "missing_permission"]

T = TypeVar("T")
_ACTION = re.compile(r"perform action '([^']+)' over scope '([^']+)'")
_GRANTED_BY = (
    ("Microsoft.Authorization/roleDefinitions/write", "Owner or User Access Administrator"),
    (
        "Microsoft.Authorization/roleAssignments/write",
        "Owner, User Access Administrator or Role Based Access Control Administrator",
    ),
    (
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
        "Managed Identity Contributor, Contributor or Owner",
    ),
    ("Microsoft.ManagedIdentity/userAssignedIdentities/write", "Managed Identity Contributor, Contributor or Owner"),
    ("Microsoft.KeyVault/", "Key Vault Contributor, Contributor or Owner"),
    ("/read", "Reader (or any role above it)"),
)
_RG_API = "2021-04-01"


class ArmCallError(FluxforgeError):
    """ARM (or Entra ID, for the token) refused a call."""


def missing_permission(message: str) -> str:
    """From ARM's ``AuthorizationFailed`` text: the missing action, its scope and the roles that grant it."""
    match = _ACTION.search(message)
    if match is None:
        return "AuthorizationFailed: " + message.split(" If access was recently granted")[0]
    action, scope = match.groups()
    roles = next((who for prefix, who in _GRANTED_BY if prefix in action), "a role granting it")
    return (
        f"AuthorizationFailed: your identity may not {action} on {scope}; that needs {roles} on the scope (or a parent)"
    )


def _described(what: str, exc: Exception) -> ArmCallError:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    if isinstance(exc, ClientAuthenticationError):
        first = str(exc.message or exc).strip().splitlines()[0]
        return ArmCallError(f"{what}: no Azure token ({first}); sign in (az login) or choose --credential")
    if isinstance(exc, HttpResponseError):
        code = exc.error.code if exc.error is not None else str(exc.status_code)
        message = exc.error.message if exc.error is not None and exc.error.message else str(exc.message)
        if code == "AuthorizationFailed":
            return ArmCallError(f"{what}: {missing_permission(message)}")
        return ArmCallError(f"{what}: {code}: {message.splitlines()[0] if message else exc.reason}")
    return ArmCallError(f"{what}: {type(exc).__name__}: {exc}")


class Arm:
    """The four management clients of one subscription."""

    def __init__(self, subscription_id: str, credential_name: str | None = None, credential: Any = None) -> None:
        from azure.mgmt.authorization import AuthorizationManagementClient
        from azure.mgmt.containerservice import ContainerServiceClient
        from azure.mgmt.keyvault import KeyVaultManagementClient
        from azure.mgmt.msi import ManagedServiceIdentityClient

        from generator.sops.api import azure_credential as make_credential

        self.subscription_id = subscription_id
        cred = credential if credential is not None else make_credential(credential_name)
        # typed Any: the SDKs' overloads want their model classes, the keyvault client documents plain
        # dicts with the wire names, and the multi-API authorization package types its default models wrongly
        self.msi: Any = ManagedServiceIdentityClient(cred, subscription_id)
        self.authz: Any = AuthorizationManagementClient(cred, subscription_id)
        self.kv: Any = KeyVaultManagementClient(cred, subscription_id)
        self.aks: Any = ContainerServiceClient(cred, subscription_id)

    def call(self, what: str, func: Callable[[], T]) -> T:
        from azure.core.exceptions import AzureError

        try:
            return func()
        except AzureError as exc:
            raise _described(what, exc) from None

    def get_or_none(self, what: str, func: Callable[[], T]) -> T | None:
        """``func()``, or None when ARM answers 404 (not found); other failures as :meth:`call` words them."""
        return self._get(what, func)

    def _get(self, what: str, func: Callable[[], T]) -> T | None:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            return func()
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise _described(what, exc) from None

    # -- reading -------------------------------------------------------------------------------------
    def read(self, state: DesiredState) -> ActualState:
        actual = ActualState(self.subscription_id)
        for group in state.resource_groups:
            actual.groups[group.lower()] = self._group_location(group)
        for ident in state.identities:
            self._read_identity(actual, ident)
        for key in state.keys:
            self._read_key(actual, key)
        for assignment in state.assignments:
            guid = assignment.role.resolved(self.subscription_id)
            if guid not in actual.roles:
                actual.roles[guid] = self._read_role(assignment.role, guid)
        for target in state.vault_objects:
            self._read_vault_object(actual, target)
        for aks in state.clusters:
            if actual.groups.get(aks.resource_group.lower()) is not None:
                actual.clusters[(aks.resource_group.lower(), aks.name.lower())] = self._read_aks(
                    aks.resource_group, aks.name
                )
        return actual

    def _group_location(self, group: str) -> str | None:
        from azure.core.rest import HttpRequest

        url = (
            f"https://management.azure.com/subscriptions/{self.subscription_id}/resourcegroups/{group}"
            f"?api-version={_RG_API}"
        )
        response = self.call(f"read resource group {group}", lambda: self.kv.send_request(HttpRequest("GET", url)))
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            from azure.core.exceptions import HttpResponseError

            raise _described(f"read resource group {group}", HttpResponseError(response=response))
        return str(response.json().get("location") or "") or None

    def _read_identity(self, actual: ActualState, ident: DesiredIdentity) -> None:
        if actual.groups.get(ident.resource_group.lower()) is None:
            actual.identities[ident.key] = None
            return
        found = self._get(
            f"read identity {ident.name}",
            lambda: self.msi.user_assigned_identities.get(ident.resource_group, ident.name),
        )
        actual.identities[ident.key] = IdentityFacts.from_arm(found) if found else None
        if found is not None:
            creds = self.call(
                f"list federated credentials of {ident.name}",
                lambda: list(self.msi.federated_identity_credentials.list(ident.resource_group, ident.name)),
            )
            actual.credentials[ident.key] = [CredentialFacts.from_arm(c) for c in creds]

    def _read_vault(self, actual: ActualState, group: str, name: str) -> Any:
        """Read a vault into ``actual.vaults`` (None: not found); returns ARM's object (None: not found)."""
        vault = self._get(f"read key vault {name}", lambda: self.kv.vaults.get(group, name))
        found = vault is not None and vault.properties is not None
        actual.vaults[name.lower()] = VaultFacts.from_arm(vault) if found else None
        return vault

    def _read_key(self, actual: ActualState, key: DesiredKey) -> None:
        vault_key = key.vault.lower()
        if actual.groups.get(key.resource_group.lower()) is None:
            actual.vaults.setdefault(vault_key, None)
            return
        if vault_key not in actual.vaults:
            vault = self._read_vault(actual, key.resource_group, key.vault)
            if vault is None and not key.existing:
                self._name_taken(actual, key)
        if actual.vaults[vault_key] is None:
            return
        found = self._get(f"read key {key.label}", lambda: self.kv.keys.get(key.resource_group, key.vault, key.key))
        pair = (vault_key, key.key.lower())
        if found is None:
            actual.keys[pair] = None
            return
        props = found.properties
        actual.keys[pair] = ActualKey(
            wire_text(props.kty),
            tuple(wire_text(op) for op in props.key_ops or ()),
            str(props.key_uri_with_version or props.key_uri),
        )
        actual.assignments[pair] = self._assignments_at(key.key_id(self.subscription_id), f"key {key.label}")

    def _read_vault_object(self, actual: ActualState, target: DesiredVaultObject) -> None:
        """A workload's vault (when not a SOPS vault, already read), the secret or key it mounts (attributes,
        never the value) and the role assignments at that scope."""
        vault_key = target.vault.lower()
        if actual.groups.get(target.resource_group.lower()) is None:
            actual.vaults.setdefault(vault_key, None)
            return
        if vault_key not in actual.vaults:
            self._read_vault(actual, target.resource_group, target.vault)
        if actual.vaults[vault_key] is None:
            return
        if target.kind != "vault" and not self._read_object(actual, target):
            return
        scope = target.scope_id(self.subscription_id)
        actual.scoped[scope.lower()] = self._assignments_at(scope, target.label)

    def _read_object(self, actual: ActualState, target: DesiredVaultObject) -> bool:
        """The secret or key a workload mounts into ``actual.objects``: its attributes (never its value);
        False when it does not exist."""
        operations = self.kv.secrets if target.kind == "secrets" else self.kv.keys
        found = self._get(
            f"read {target.label}", lambda: operations.get(target.resource_group, target.vault, target.name)
        )
        attributes = found.properties.attributes if found is not None and found.properties else None
        actual.objects[target.key] = (
            None if found is None else ActualObject(attributes is None or attributes.enabled is not False)
        )
        return found is not None

    def _assignments_at(self, scope: str, what: str) -> list[ActualAssignment]:
        """The role assignments made at exactly ``scope`` (not those inherited from above it)."""
        listed = self.call(
            f"list role assignments on {what}",
            lambda: list(self.authz.role_assignments.list_for_scope(scope, filter="atScope()")),
        )
        return [
            ActualAssignment(a.name, str(a.role_definition_id).rsplit("/", 1)[-1].lower(), str(a.principal_id))
            for a in listed
            if str(a.scope).rstrip("/").lower() == scope.lower()
        ]

    def _name_taken(self, actual: ActualState, key: DesiredKey) -> None:
        """A vault to create: is its (global) name free? Taken elsewhere or soft-deleted, creating it fails."""
        body = {"name": key.vault, "type": "Microsoft.KeyVault/vaults"}
        found = self.call(f"check key vault name {key.vault}", lambda: self.kv.vaults.check_name_availability(body))
        if found.name_available is False:
            actual.taken[key.vault.lower()] = str(found.message or wire_text(found.reason) or "the name is taken")

    def _role_scope(self, role: Role) -> str:
        base = f"/subscriptions/{self.subscription_id}"
        return f"{base}/resourceGroups/{role.custom_group}" if role.custom_group else base

    def _read_role(self, role: Role, guid: str) -> RoleFacts | None:
        scope = self._role_scope(role)
        found = self._get(f"read role definition {guid}", lambda: self.authz.role_definitions.get(scope, guid))
        return RoleFacts.from_arm(found) if found is not None else None

    def _read_aks(self, group: str, name: str) -> ActualAks | None:
        found = self._get(f"read AKS cluster {name}", lambda: self.aks.managed_clusters.get(group, name))
        if found is None:
            return None
        oidc = found.oidc_issuer_profile
        wi = found.security_profile.workload_identity if found.security_profile else None
        return ActualAks(bool(oidc and oidc.enabled), oidc.issuer_url if oidc else None, bool(wi and wi.enabled))

    # -- writing -------------------------------------------------------------------------------------
    def create_identity(self, ident: DesiredIdentity, location: str) -> IdentityFacts:
        from azure.mgmt.msi.models import Identity

        made = self.call(
            f"create identity {ident.resource_group}/{ident.name}",
            lambda: self.msi.user_assigned_identities.create_or_update(
                ident.resource_group, ident.name, Identity(location=location)
            ),
        )
        return IdentityFacts.from_arm(made)

    def put_credential(self, cred: DesiredCredential) -> None:
        from azure.mgmt.msi.models import FederatedIdentityCredential

        body = FederatedIdentityCredential(issuer=cred.issuer, subject=cred.subject, audiences=[cred.audience])
        ident = cred.identity
        self.call(
            f"write federated credential {ident.name}/{cred.name}",
            lambda: self.msi.federated_identity_credentials.create_or_update(
                ident.resource_group, ident.name, cred.name, body
            ),
        )

    def create_vault(self, key: DesiredKey, location: str, tenant_id: str) -> None:
        body = {
            "location": location,
            "properties": {
                "tenantId": tenant_id,
                "sku": {"family": "A", "name": "standard"},
                "enableRbacAuthorization": True,
                "enableSoftDelete": True,
                "softDeleteRetentionInDays": 90,
                "enablePurgeProtection": True,
                "publicNetworkAccess": "Enabled",
                "networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow"},
            },
        }
        self.call(
            f"create key vault {key.resource_group}/{key.vault}",
            lambda: self.kv.vaults.begin_create_or_update(key.resource_group, key.vault, body).result(),
        )

    def update_vault(self, key: DesiredKey, fields: tuple[str, ...]) -> None:
        body = {"properties": dict.fromkeys(fields, True)}
        self.call(f"update key vault {key.vault}", lambda: self.kv.vaults.update(key.resource_group, key.vault, body))

    def create_key(self, key: DesiredKey) -> str:
        body = {"properties": {"kty": "RSA", "keySize": 4096, "keyOps": ["encrypt", "decrypt"]}}
        made = self.call(
            f"create key {key.label}",
            lambda: self.kv.keys.create_if_not_exist(key.resource_group, key.vault, key.key, body),
        )
        return str(made.properties.key_uri_with_version or made.properties.key_uri)

    def put_role(self, role: Role) -> None:
        from azure.mgmt.authorization import models

        Permission: Any = models.Permission
        RoleDefinition: Any = models.RoleDefinition

        scope, guid = self._role_scope(role), role.resolved(self.subscription_id)
        body = RoleDefinition(
            role_name=role.name,
            role_type="CustomRole",
            assignable_scopes=[scope],
            description="Read the public key and call Encrypt on Key Vault keys (fluxforge and the "
            "Go sops); no decrypt",
            permissions=[
                Permission(actions=[], not_actions=[], data_actions=list(role.data_actions), not_data_actions=[])
            ],
        )
        self.call(
            f"write role definition {role.name!r}",
            lambda: self.authz.role_definitions.create_or_update(scope, guid, body),
        )

    def create_assignment(self, assignment: DesiredAssignment, principal_id: str) -> None:
        from azure.mgmt.authorization import models

        RoleAssignmentCreateParameters: Any = models.RoleAssignmentCreateParameters

        sub = self.subscription_id
        guid = assignment.role.resolved(sub)
        kind = (
            "ServicePrincipal"
            if assignment.identity is not None
            else (assignment.encryptor.principal_type if assignment.encryptor else None)
        )
        body = RoleAssignmentCreateParameters(
            role_definition_id=f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
            principal_id=principal_id,
            principal_type=kind,
            description=assignment.description,
        )
        scope = assignment.key.key_id(sub)
        what = f"assign {assignment.role.name} on key {assignment.key.label} to {assignment.principal_label}"
        try:
            self.call(what, lambda: self.authz.role_assignments.create(scope, assignment.name(sub), body))
        except ArmCallError as err:
            if "RoleAssignmentExists" not in str(err):  # granted meanwhile under another name: done
                raise

    def create_access(self, access: DesiredAccess, principal_id: str) -> None:
        """A workload identity's role on one Key Vault object (or its vault), named as the Bicep names it."""
        from azure.mgmt.authorization import models

        RoleAssignmentCreateParameters: Any = models.RoleAssignmentCreateParameters

        sub = self.subscription_id
        guid = access.role.resolved(sub)
        body = RoleAssignmentCreateParameters(
            role_definition_id=f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
            principal_id=principal_id,
            principal_type="ServicePrincipal",
            description=access.description,
        )
        what = f"assign {access.role.name} on {access.target.label} to identity {access.identity.name}"
        try:
            self.call(
                what, lambda: self.authz.role_assignments.create(access.target.scope_id(sub), access.name(sub), body)
            )
        except ArmCallError as err:
            if "RoleAssignmentExists" not in str(err):
                raise

"""Microsoft.KeyVault (ARM): vaults (permission model, purge protection, soft delete, access policies),
keys as ARM resources (create-if-not-exists, versions), secrets as ARM reads them (attributes, never the
value), and vault name availability.

A vault created here is served on ``https://<name>.vault.azure.net`` by the same emulator at once (the
test CA's certificate covers ``*.vault.azure.net``; the sandbox's hosts file is rewritten). With the
newest API versions (2026-02-01 and later) a new vault defaults to Azure RBAC, as the service announced;
older versions default to access policies.
"""

from __future__ import annotations

import re
from typing import Any

from .arm import Arm, ArmError, Call, ResourceGroup, listing, not_found
from .keyvault import AccessPolicy, KeyVault, KeyVersion, SecretVersion
from .wire import Response

VAULT_TYPE = "Microsoft.KeyVault/vaults"
VAULT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
RBAC_DEFAULT_SINCE = "2026-02-01"


def vault_body(arm: Arm, vault: KeyVault) -> dict[str, Any]:
    props: dict[str, Any] = {
        "sku": {"family": "A", "name": vault.sku},
        "tenantId": arm.emu.tenant_id,
        "accessPolicies": [p.body() for p in vault.access_policies],
        "enabledForDeployment": False,
        "enabledForDiskEncryption": False,
        "enabledForTemplateDeployment": False,
        "enableSoftDelete": vault.soft_delete,
        "softDeleteRetentionInDays": vault.retention_days,
        "enableRbacAuthorization": vault.rbac_authorization,
        "vaultUri": f"{vault.url}/",
        "provisioningState": "Succeeded",
        "publicNetworkAccess": vault.public_network_access,
    }
    if vault.purge_protection is not None:
        props["enablePurgeProtection"] = vault.purge_protection
    return {
        "id": vault.resource_id,
        "name": vault.name,
        "type": VAULT_TYPE,
        "location": vault.location,
        "tags": vault.tags,
        "properties": props,
    }


def key_body(
    vault: KeyVault, name: str, versions: list[KeyVersion], version: KeyVersion | None = None
) -> dict[str, Any]:
    current = version or versions[-1]
    attrs: dict[str, Any] = {
        "enabled": current.enabled,
        "created": current.created,
        "updated": current.updated or current.created,
        "recoveryLevel": vault.recovery_level,
        "exportable": False,
    }
    for field_name in ("exp", "nbf"):
        if getattr(current, field_name) is not None:
            attrs[field_name] = getattr(current, field_name)
    suffix = f"/versions/{current.version}" if version else ""
    return {
        "id": f"{vault.resource_id}/keys/{name}{suffix}",
        "name": name if not version else current.version,
        "type": f"{VAULT_TYPE}/keys" + ("/versions" if version else ""),
        "location": vault.location,
        "tags": current.tags,
        "properties": {
            "attributes": attrs,
            "kty": "RSA",
            "keyOps": list(current.ops),
            "keySize": current.key.key_size,
            "keyUri": vault.key_url(name),
            "keyUriWithVersion": vault.key_url(name, current.version),
        },
    }


def _vault_in(arm: Arm, group: ResourceGroup, name: str) -> KeyVault | None:
    vault = arm.emu.vaults.get(name.lower())
    return vault if vault is not None and vault.resource_group.lower() == group.name.lower() else None


def resolve(arm: Arm, group: ResourceGroup, types: list[str], names: list[str]) -> bool:
    kinds = [t.lower() for t in types]
    vault = _vault_in(arm, group, names[0]) if kinds[:1] == ["vaults"] else None
    if vault is None:
        return False
    if len(kinds) == 1:
        return True
    if kinds[1:] == ["keys"]:
        return bool(vault.keys.get(names[1]))
    return kinds[1:] == ["secrets"] and bool(vault.secrets.get(names[1]))


def handle(arm: Arm, call: Call) -> Response:
    kinds = [t.lower() for t in call.types]
    if kinds == ["checknameavailability"] and call.method == "POST":
        return _name_availability(arm, call)
    if kinds == ["vaults"] and not call.names:
        scope = call.rg_id if call.resource_group else arm.subscription_id
        call.authorize(f"{VAULT_TYPE}/read", scope)
        return listing(
            [
                vault_body(arm, v)
                for v in arm.emu.vaults.values()
                if v.resource_id.lower().startswith(scope.lower() + "/")
            ]
        )
    if kinds[:1] != ["vaults"] or call.resource_group is None:
        raise ArmError(
            400,
            "InvalidResourceType",
            f"The resource type '{'/'.join(call.types)}' could not be found in the namespace 'Microsoft.KeyVault'.",
        )
    if len(kinds) == 1:
        return _vault(arm, call)
    vault = _vault_in(arm, call.resource_group, call.names[0])
    if vault is None:
        raise not_found(VAULT_TYPE, call.names[0], call.resource_group.name)
    if kinds[1] == "keys":
        return _keys(call, vault)
    if kinds[1:] == ["secrets"] and call.method == "GET":
        return _secrets(call, vault)
    raise ArmError(400, "InvalidResourceType", f"The resource type '{'/'.join(call.types)}' is not served here.")


def _name_availability(arm: Arm, call: Call) -> Response:
    call.authorize("Microsoft.KeyVault/checkNameAvailability/read", arm.subscription_id)
    name = str(call.body().get("name") or "")
    if not VAULT_NAME.match(name) or "--" in name:
        return Response(200, {"nameAvailable": False, "reason": "AccountNameInvalid", "message": _invalid_name(name)})
    if name.lower() in arm.emu.vaults or name.lower() in arm.emu.deleted_vaults:
        return Response(
            200,
            {
                "nameAvailable": False,
                "reason": "AlreadyExists",
                "message": f"The vault name '{name}' is already in use.",
            },
        )
    return Response(200, {"nameAvailable": True})


def _invalid_name(name: str) -> str:
    return (
        f"The vault name '{name}' is invalid. A vault's name must be between 3-24 alphanumeric characters. The "
        "name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens."
    )


def _vault(arm: Arm, call: Call) -> Response:
    assert call.resource_group is not None
    name = call.names[0]
    rid = f"{call.rg_id}/providers/{VAULT_TYPE}/{name}"
    vault = _vault_in(arm, call.resource_group, name)
    if call.method == "GET":
        call.authorize(f"{VAULT_TYPE}/read", rid)
        if vault is None:
            raise not_found(VAULT_TYPE, name, call.resource_group.name)
        return Response(200, vault_body(arm, vault))
    if call.method in ("PUT", "PATCH"):
        call.authorize(f"{VAULT_TYPE}/write", rid)
        return _put_vault(arm, call, name, vault)
    if call.method == "DELETE":
        call.authorize(f"{VAULT_TYPE}/delete", rid)
        if vault is None:
            return Response(204)
        arm.emu.deleted_vaults[name.lower()] = arm.emu.vaults.pop(name.lower())
        return Response(200)
    raise ArmError(405, "MethodNotAllowed", f"{call.method} is not supported on {VAULT_TYPE}")


def _put_vault(arm: Arm, call: Call, name: str, vault: KeyVault | None) -> Response:
    assert call.resource_group is not None
    body = call.body()
    props: dict[str, Any] = body.get("properties") or {}
    if vault is None:
        if call.method == "PATCH":
            raise not_found(VAULT_TYPE, name, call.resource_group.name)
        vault = _new_vault(arm, call, name, body, props)
        created = True
    else:
        created = False
    _apply_properties(vault, props)
    if "tags" in body:
        vault.tags = dict(body.get("tags") or {})
    if created:
        arm.emu.add_vault(vault)
    return Response(200, vault_body(arm, vault))


def _new_vault(arm: Arm, call: Call, name: str, body: dict[str, Any], props: dict[str, Any]) -> KeyVault:
    assert call.resource_group is not None
    if not VAULT_NAME.match(name) or "--" in name:
        raise ArmError(400, "VaultNameNotValid", _invalid_name(name))
    if name.lower() in arm.emu.vaults:
        raise ArmError(
            409,
            "VaultAlreadyExists",
            f"The vault name '{name}' is already in use. Vault names are globally "
            "unique so it is possible that the name is already taken. If you are sure that the vault name "
            "was not taken then it is possible that a vault with the same name was recently deleted but not "
            "purged after being placed in a recoverable state. If the vault is in a recoverable state then "
            "the vault will need to be explicitly purged.",
        )
    if name.lower() in arm.emu.deleted_vaults and props.get("createMode") != "recover":
        raise ArmError(409, "ConflictError", "Exist soft deleted vault with the same name.")
    if name.lower() in arm.emu.deleted_vaults:
        return arm.emu.deleted_vaults.pop(name.lower())
    for required in ("tenantId", "sku"):
        if not props.get(required):
            raise ArmError(400, "BadRequest", f"The property '{required}' is required to create a vault.")
    if str(props["tenantId"]).lower() != arm.emu.tenant_id.lower():
        raise ArmError(
            400,
            "BadRequest",
            f"The tenant ID '{props['tenantId']}' does not match the subscription's tenant '{arm.emu.tenant_id}'.",
        )
    if not body.get("location"):
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    vault = KeyVault(
        name,
        arm.emu.entra,
        arm.emu.rbac,
        subscription=call.subscription,
        resource_group=call.resource_group.name,
        location=str(body["location"]),
    )
    vault.rbac_authorization = call.api_version >= RBAC_DEFAULT_SINCE
    vault.sku = str((props.get("sku") or {}).get("name") or "standard")
    return vault


def _apply_properties(vault: KeyVault, props: dict[str, Any]) -> None:
    if props.get("enablePurgeProtection") is False or (
        vault.purge_protection and "enablePurgeProtection" in props and not props["enablePurgeProtection"]
    ):
        raise ArmError(
            400,
            "BadRequest",
            'The property "enablePurgeProtection" cannot be set to false. Enabling the '
            "purge protection for a vault is an irreversible action.",
        )
    if props.get("enableSoftDelete") is False:
        raise ArmError(
            400,
            "BadRequest",
            'The property "enableSoftDelete" cannot be set to false. Soft delete is '
            "enabled on every vault and cannot be turned off.",
        )
    days = props.get("softDeleteRetentionInDays")
    if days is not None and not 7 <= int(days) <= 90:
        raise ArmError(400, "BadRequest", 'The property "softDeleteRetentionInDays" must be between 7 and 90.')
    if props.get("enablePurgeProtection"):
        vault.purge_protection = True
    if props.get("enableRbacAuthorization") is not None:
        vault.rbac_authorization = bool(props["enableRbacAuthorization"])
    if days is not None:
        vault.retention_days = int(days)
    if props.get("publicNetworkAccess"):
        vault.public_network_access = str(props["publicNetworkAccess"])
    if "accessPolicies" in props:
        vault.access_policies = [
            AccessPolicy(
                str(p.get("tenantId", "")),
                str(p.get("objectId", "")),
                list((p.get("permissions") or {}).get("keys") or []),
                list((p.get("permissions") or {}).get("secrets") or []),
                list((p.get("permissions") or {}).get("certificates") or []),
            )
            for p in props.get("accessPolicies") or []
        ]


def _keys(call: Call, vault: KeyVault) -> Response:
    if len(call.names) == 1:
        call.authorize(f"{VAULT_TYPE}/keys/read", vault.resource_id)
        return listing([key_body(vault, n, v) for n, v in sorted(vault.keys.items()) if v])
    name = call.names[1]
    kid = f"{vault.resource_id}/keys/{name}"
    versions = vault.keys.get(name, [])
    if call.method == "PUT":
        call.authorize(f"{VAULT_TYPE}/keys/write", kid)
        if not versions:  # create if not exists: an existing key is returned unchanged
            props = call.body().get("properties") or {}
            attrs = props.get("attributes") or {}
            vault.create_key(
                name,
                int(props.get("keySize") or 2048),
                ops=list(props.get("keyOps") or []) or None,
                enabled=attrs.get("enabled", True),
                exp=attrs.get("exp"),
                nbf=attrs.get("nbf"),
                tags=call.body().get("tags"),
            )
            versions = vault.keys[name]
        return Response(200, key_body(vault, name, versions))
    call.authorize(f"{VAULT_TYPE}/keys/read", kid)
    if not versions:
        raise not_found(f"{VAULT_TYPE}/keys", f"{vault.name}/{name}", vault.resource_group)
    extra = [t.lower() for t in call.types[2:]]
    if extra == ["versions"] and len(call.names) == 2:
        return listing([key_body(vault, name, versions, v) for v in versions])
    if extra == ["versions"]:
        match = [v for v in versions if v.version == call.names[2]]
        if not match:
            raise not_found(f"{VAULT_TYPE}/keys/versions", f"{vault.name}/{name}/{call.names[2]}", vault.resource_group)
        return Response(200, key_body(vault, name, versions, match[0]))
    return Response(200, key_body(vault, name, versions))


def secret_body(vault: KeyVault, name: str, current: SecretVersion) -> dict[str, Any]:
    """A secret as ARM returns it (``Microsoft.KeyVault/vaults/secrets``): attributes and URIs, no value."""
    attrs: dict[str, Any] = {
        "enabled": current.enabled,
        "created": current.created,
        "updated": current.updated or current.created,
    }
    for field_name in ("exp", "nbf"):
        if getattr(current, field_name) is not None:
            attrs[field_name] = getattr(current, field_name)
    props: dict[str, Any] = {
        "attributes": attrs,
        "secretUri": vault.secret_url(name),
        "secretUriWithVersion": vault.secret_url(name, current.version),
    }
    if current.content_type:
        props["contentType"] = current.content_type
    return {
        "id": f"{vault.resource_id}/secrets/{name}",
        "name": name,
        "type": f"{VAULT_TYPE}/secrets",
        "location": vault.location,
        "tags": current.tags,
        "properties": props,
    }


def _secrets(call: Call, vault: KeyVault) -> Response:
    if len(call.names) == 1:
        call.authorize(f"{VAULT_TYPE}/secrets/read", vault.resource_id)
        return listing([secret_body(vault, n, v[-1]) for n, v in sorted(vault.secrets.items()) if v])
    name = call.names[1]
    call.authorize(f"{VAULT_TYPE}/secrets/read", f"{vault.resource_id}/secrets/{name}")
    versions = vault.secrets.get(name, [])
    if not versions:
        raise not_found(f"{VAULT_TYPE}/secrets", f"{vault.name}/{name}", vault.resource_group)
    return Response(200, secret_body(vault, name, versions[-1]))

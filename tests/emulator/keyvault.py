"""Azure Key Vault data plane: keys (versions, attributes, create/update, crypto) and secrets; challenge auth.

Authorization follows the vault's permission model, as the real service does: in RBAC mode
(``rbac_authorization``, the default) a role assignment at the key/secret scope or any parent scope
(vault, resource group, subscription) must grant the data action; otherwise the vault's access policies
decide. The vault's ARM side (properties, purge protection, tags) lives here too and is served by
``arm_keyvault``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from . import jwt, rbac
from .entra import LOGIN_HOST, Entra, TokenClaims
from .wire import Request, Response

RESOURCE = "https://vault.azure.net"
ACTIONS = {"encrypt": rbac.ENCRYPT, "decrypt": rbac.DECRYPT, "wrapkey": rbac.WRAP, "unwrapkey": rbac.UNWRAP}
OPS = {"encrypt": "encrypt", "decrypt": "decrypt", "wrapkey": "wrapKey", "unwrapkey": "unwrapKey"}
# what a disabled key still allows (public-key operations), as the service answers
DISABLED_REFUSES = {"decrypt", "unwrapkey"}
# access-policy permission names per data action
POLICY = {
    rbac.READ: ("keys", "get"),
    rbac.ENCRYPT: ("keys", "encrypt"),
    rbac.DECRYPT: ("keys", "decrypt"),
    rbac.WRAP: ("keys", "wrapKey"),
    rbac.UNWRAP: ("keys", "unwrapKey"),
    rbac.CREATE: ("keys", "create"),
    rbac.UPDATE: ("keys", "update"),
    rbac.GET_SECRET: ("secrets", "get"),
    rbac.SET_SECRET: ("secrets", "set"),
    rbac.SECRET_METADATA: ("secrets", "list"),
}
LIST_KEYS = "Microsoft.KeyVault/vaults/keys/read"


@dataclass
class KeyVersion:
    version: str
    key: rsa.RSAPrivateKey
    created: int
    enabled: bool = True
    ops: list[str] = field(default_factory=lambda: ["encrypt", "decrypt", "wrapKey", "unwrapKey"])
    exp: int | None = None  # expiry (unix seconds)
    nbf: int | None = None  # not before
    tags: dict[str, str] = field(default_factory=dict)
    updated: int = 0


@dataclass
class SecretVersion:
    version: str
    value: str
    created: int
    enabled: bool = True
    content_type: str | None = None
    exp: int | None = None
    nbf: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    updated: int = 0


@dataclass
class AccessPolicy:
    tenant_id: str
    object_id: str
    keys: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    certificates: list[str] = field(default_factory=list)

    def grants(self, kind: str, permission: str) -> bool:
        granted = {p.lower() for p in (self.keys if kind == "keys" else self.secrets)}
        return "all" in granted or permission.lower() in granted

    def body(self) -> dict[str, Any]:
        return {
            "tenantId": self.tenant_id,
            "objectId": self.object_id,
            "permissions": {"keys": self.keys, "secrets": self.secrets, "certificates": self.certificates},
        }


def _rsa_key(size: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=size)


def _padding(alg: str) -> padding.AsymmetricPadding | None:
    if alg == "RSA-OAEP-256":
        return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    if alg == "RSA-OAEP":
        return padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    if alg == "RSA1_5":
        return padding.PKCS1v15()
    return None


def _error(status: int, code: str, message: str, inner: str | None = None, **note: str) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner:
        error["innererror"] = {"code": inner}
    return Response(status, {"error": error}, note={"error": inner or code, **note})


def _attributes(
    enabled: bool, created: int, updated: int, exp: int | None, nbf: int | None, recovery: str
) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "enabled": enabled,
        "created": created,
        "updated": updated or created,
        "recoveryLevel": recovery,
        "recoverableDays": 90,
    }
    if exp is not None:
        attrs["exp"] = exp
    if nbf is not None:
        attrs["nbf"] = nbf
    return attrs


class KeyVault:
    def __init__(
        self,
        name: str,
        entra: Entra,
        access: rbac.Rbac,
        *,
        subscription: str | None = None,
        resource_group: str = "rg-fluxforge",
        location: str = "westeurope",
    ) -> None:
        self.name, self.entra, self.rbac, self.location = name, entra, access, location
        self.host = f"{name}.vault.azure.net"
        self.url = f"https://{self.host}"
        self.subscription = subscription or str(uuid.uuid5(uuid.NAMESPACE_DNS, entra.tenant_id))
        self.resource_group = resource_group
        self.resource_id = (
            f"/subscriptions/{self.subscription}/resourceGroups/{resource_group}"
            f"/providers/Microsoft.KeyVault/vaults/{name}"
        )
        self.keys: dict[str, list[KeyVersion]] = {}
        self.secrets: dict[str, list[SecretVersion]] = {}
        self.challenge_resource = RESOURCE  # change it to rehearse a vault in another cloud
        self.authority = f"https://{LOGIN_HOST}/{entra.tenant_id}"
        # ARM properties (Microsoft.KeyVault/vaults)
        self.rbac_authorization = True
        self.purge_protection: bool | None = None
        self.soft_delete = True
        self.retention_days = 90
        self.access_policies: list[AccessPolicy] = []
        self.public_network_access = "Enabled"
        self.sku = "standard"
        self.tags: dict[str, str] = {}

    # -- configuration ---------------------------------------------------------------------------
    def create_key(
        self,
        name: str,
        size: int = 2048,
        version: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        *,
        ops: list[str] | None = None,
        enabled: bool = True,
        exp: int | None = None,
        nbf: int | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """Create ``name`` or add a new current version to it (``key``: that version's RSA key, else a new
        one); returns the version."""
        version_obj = KeyVersion(
            version or uuid.uuid4().hex,
            key or _rsa_key(size),
            int(time.time()),
            enabled,
            ops or ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
            exp,
            nbf,
            dict(tags or {}),
        )
        self.keys.setdefault(name, []).append(version_obj)
        return version_obj.version

    def set_secret(self, name: str, value: str, *, content_type: str | None = None, enabled: bool = True) -> str:
        """Store a new current version of secret ``name``; returns the version."""
        secret = SecretVersion(uuid.uuid4().hex, value, int(time.time()), enabled, content_type)
        self.secrets.setdefault(name, []).append(secret)
        return secret.version

    def key_url(self, name: str, version: str | None = None) -> str:
        return f"{self.url}/keys/{name}" + (f"/{version}" if version else "")

    def secret_url(self, name: str, version: str | None = None) -> str:
        return f"{self.url}/secrets/{name}" + (f"/{version}" if version else "")

    def key_scope(self, name: str) -> str:
        return f"{self.resource_id}/keys/{name}"

    def secret_scope(self, name: str) -> str:
        return f"{self.resource_id}/secrets/{name}"

    def challenge(self) -> str:
        return f'Bearer authorization="{self.authority}", resource="{self.challenge_resource}"'

    @property
    def recovery_level(self) -> str:
        return "Recoverable" if self.purge_protection else "Recoverable+Purgeable"

    # -- HTTP --------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p]
        if not parts or parts[0] not in ("keys", "secrets"):
            return _error(404, "NotFound", f"no route {req.path}")
        claims, denied = self._authenticate(req)
        if denied is not None:
            return denied
        assert claims is not None
        if parts[0] == "secrets":
            return self._secrets(claims, req, parts[1:])
        return self._keys(claims, req, parts[1:])

    def _keys(self, claims: TokenClaims, req: Request, rest: list[str]) -> Response:
        method = req.method
        if not rest:
            return self._list_keys(claims) if method == "GET" else _error(405, "BadParameter", "unsupported")
        name, tail = rest[0], rest[1:]
        if method == "GET" and tail == ["versions"]:
            return self._list_versions(claims, name)
        if method == "GET" and len(tail) <= 1:
            return self._get(claims, name, tail[0] if tail else "")
        if method == "POST" and tail == ["create"]:
            return self._create(claims, req.json(), name)
        if method == "PATCH" and len(tail) <= 1:
            return self._update(claims, req.json(), name, tail[0] if tail else "")
        if method == "POST" and tail and tail[-1] in ACTIONS and len(tail) <= 2:
            return self._operate(claims, req.json(), name, tail[0] if len(tail) == 2 else "", tail[-1])
        return _error(405, "BadParameter", f"unsupported operation {method} {req.path}")

    def _authenticate(self, req: Request) -> tuple[TokenClaims | None, Response | None]:
        token = req.bearer()
        challenge = {"WWW-Authenticate": self.challenge()}
        if token is None:
            resp = _error(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
            resp.headers.update(challenge)
            return None, resp
        try:
            claims = self.entra.validate(token)
        except jwt.JwtError as exc:
            resp = _error(401, "Unauthorized", f"AKV10032: Invalid token ({exc}).")
            resp.headers.update(challenge)
            return None, resp
        expected = self.challenge_resource if self.challenge_resource.startswith("https://0.0.1") else RESOURCE
        if claims.audience.rstrip("/") != expected:
            resp = _error(
                401, "Unauthorized", f"AKV10022: Invalid audience. Expected {expected}, found: {claims.audience}."
            )
            resp.headers.update(challenge)
            return None, resp
        return claims, None

    # -- authorization -----------------------------------------------------------------------------
    def _denied(self, claims: TokenClaims, action: str, scope: str) -> Response | None:
        """None when the caller may perform ``action`` on ``scope``; the service's 403 otherwise."""
        if self.rbac_authorization:
            if self.rbac.allows_data(claims.object_id, action, scope):
                return None
            return self._forbidden_rbac(claims, action, scope)
        kind, permission = POLICY.get(action, ("keys", action.rsplit("/", 2)[-2]))
        if any(p.object_id == claims.object_id and p.grants(kind, permission) for p in self.access_policies):
            return None
        message = (
            f"The user, group or application 'appid={claims.app_id};oid={claims.object_id};"
            f"iss=https://sts.windows.net/{claims.tenant_id}/' does not have {kind} {permission.lower()} "
            f"permission on key vault '{self.name};location={self.location}'. For help resolving this issue, "
            "please see https://go.microsoft.com/fwlink/?linkid=2125287"
        )
        return _error(403, "Forbidden", message, "AccessDenied", principal=claims.object_id)

    def _forbidden_rbac(self, claims: TokenClaims, action: str, scope: str) -> Response:
        message = (
            "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role "
            "definitions were changed recently, please observe propagation time.\r\n"
            f"Caller: appid={claims.app_id};oid={claims.object_id};iss=https://sts.windows.net/{claims.tenant_id}/\r\n"
            f"Action: '{action}'\r\nResource: '{scope.lower()}'\r\nAssignment: (not found)\r\n"
            f"DenyAssignmentId: null\r\nDecisionReason: null \r\nVault: {self.name};location={self.location}\r\n"
        )
        return _error(403, "Forbidden", message, "ForbiddenByRbac", principal=claims.object_id)

    # -- keys --------------------------------------------------------------------------------------
    def _find(self, name: str, version: str) -> KeyVersion | Response:
        versions = self.keys.get(name)
        match = [v for v in versions or [] if v.version == version] if version else (versions or [])[-1:]
        if not match:
            what = f"{name}/{version}" if version else name
            return _error(
                404,
                "KeyNotFound",
                f"A key with (name/id) {what} was not found in this key vault. If you "
                "recently deleted this key you may be able to recover it using the correct recovery command.",
            )
        return match[0]

    def _key_attributes(self, kv: KeyVersion) -> dict[str, Any]:
        attrs = _attributes(kv.enabled, kv.created, kv.updated, kv.exp, kv.nbf, self.recovery_level)
        attrs["exportable"] = False
        return attrs

    def _bundle(self, name: str, kv: KeyVersion) -> dict[str, Any]:
        numbers = kv.key.public_key().public_numbers()
        return {
            "key": {
                "kid": f"{self.url}/keys/{name}/{kv.version}",
                "kty": "RSA",
                "key_ops": kv.ops,
                "n": jwt.int_b64(numbers.n),
                "e": jwt.int_b64(numbers.e),
            },
            "attributes": self._key_attributes(kv),
            "tags": kv.tags,
        }

    def _list_keys(self, claims: TokenClaims) -> Response:
        denied = self._denied(claims, LIST_KEYS, self.resource_id)
        if denied is not None:
            return denied
        items = [
            {"kid": f"{self.url}/keys/{n}", "attributes": self._key_attributes(v[-1]), "tags": v[-1].tags}
            for n, v in sorted(self.keys.items())
            if v
        ]
        return Response(200, {"value": items, "nextLink": None})

    def _list_versions(self, claims: TokenClaims, name: str) -> Response:
        denied = self._denied(claims, rbac.READ, self.key_scope(name))
        if denied is not None:
            return denied
        if not self.keys.get(name):
            return self._find(name, "")  # type: ignore[return-value]
        items = [
            {"kid": f"{self.url}/keys/{name}/{v.version}", "attributes": self._key_attributes(v), "tags": v.tags}
            for v in self.keys[name]
        ]
        return Response(200, {"value": items, "nextLink": None})

    def _get(self, claims: TokenClaims, name: str, version: str) -> Response:
        denied = self._denied(claims, rbac.READ, self.key_scope(name))
        if denied is not None:
            return denied
        found = self._find(name, version)
        if isinstance(found, Response):
            return found
        return Response(200, self._bundle(name, found), note={"principal": claims.object_id, "version": found.version})

    def _create(self, claims: TokenClaims, body: dict[str, Any], name: str) -> Response:
        denied = self._denied(claims, rbac.CREATE, self.key_scope(name))
        if denied is not None:
            return denied
        if body.get("kty") not in ("RSA", "RSA-HSM"):
            return _error(
                400, "BadParameter", f"Key type {body.get('kty')!r} is not supported by this emulator (RSA, RSA-HSM)."
            )
        size = int(body.get("key_size") or 2048)
        if size not in (2048, 3072, 4096):
            return _error(400, "BadParameter", f"The key size {size} is not valid. Valid sizes: 2048, 3072, 4096.")
        attrs = body.get("attributes") or {}
        version = self.create_key(
            name,
            size,
            ops=list(body.get("key_ops") or []) or None,
            enabled=attrs.get("enabled", True),
            exp=attrs.get("exp"),
            nbf=attrs.get("nbf"),
            tags=body.get("tags"),
        )
        return Response(
            200,
            self._bundle(name, self._find(name, version)),  # type: ignore[arg-type]
            note={"principal": claims.object_id, "version": version},
        )

    def _update(self, claims: TokenClaims, body: dict[str, Any], name: str, version: str) -> Response:
        denied = self._denied(claims, rbac.UPDATE, self.key_scope(name))
        if denied is not None:
            return denied
        found = self._find(name, version)
        if isinstance(found, Response):
            return found
        attrs = body.get("attributes") or {}
        if "enabled" in attrs:
            found.enabled = bool(attrs["enabled"])
        for field_name in ("exp", "nbf"):
            if field_name in attrs:
                setattr(found, field_name, attrs[field_name])
        if body.get("key_ops"):
            found.ops = list(body["key_ops"])
        if "tags" in body:
            found.tags = dict(body["tags"] or {})
        found.updated = int(time.time())
        return Response(200, self._bundle(name, found), note={"principal": claims.object_id, "version": found.version})

    def _unusable(self, found: KeyVersion, op: str) -> Response | None:
        """The key's own state (ops, enabled, validity window) refusing ``op``."""
        if OPS[op] not in found.ops:
            return _error(
                403, "Forbidden", f"Operation {OPS[op]} is not permitted on this key.", "KeyOperationForbidden"
            )
        if not found.enabled and op in DISABLED_REFUSES:
            return _error(403, "Forbidden", f"Operation {OPS[op]} is not allowed on a disabled key.", "KeyDisabled")
        now = time.time()
        if op in ("encrypt", "wrapkey") and found.exp is not None and found.exp < now:
            return _error(403, "Forbidden", f"Operation {OPS[op]} is not allowed on an expired key.", "KeyExpired")
        if found.nbf is not None and found.nbf > now:
            return _error(
                403,
                "Forbidden",
                f"Operation {OPS[op]} is not allowed on a key that is not yet valid.",
                "KeyNotYetValid",
            )
        return None

    def _operate(self, claims: TokenClaims, body: dict[str, Any], name: str, version: str, op: str) -> Response:
        denied = self._denied(claims, ACTIONS[op], self.key_scope(name))
        if denied is not None:
            return denied
        found = self._find(name, version)
        if isinstance(found, Response):
            return found
        alg = str(body.get("alg", ""))
        pad = _padding(alg)
        note = {"principal": claims.object_id, "alg": alg, "version": found.version}
        if pad is None:
            return _error(400, "BadParameter", f"Invalid algorithm {alg!r}.", **note)
        refused = self._unusable(found, op)
        if refused is not None:
            return refused
        try:
            data = jwt.b64url_decode(str(body.get("value", "")))
            out = (
                found.key.public_key().encrypt(data, pad)
                if op in ("encrypt", "wrapkey")
                else found.key.decrypt(data, pad)
            )
        except ValueError:
            return _error(400, "BadParameter", "The parameter is incorrect.", **note)
        return Response(200, {"kid": f"{self.url}/keys/{name}/{found.version}", "value": jwt.b64url(out)}, note=note)

    # -- secrets -----------------------------------------------------------------------------------
    def _secrets(self, claims: TokenClaims, req: Request, rest: list[str]) -> Response:
        if not rest:
            if req.method != "GET":
                return _error(405, "BadParameter", "unsupported")
            denied = self._denied(claims, rbac.SECRET_METADATA, self.resource_id)
            return denied or Response(
                200,
                {
                    "value": [
                        self._secret_item(n, v[-1], versioned=False) for n, v in sorted(self.secrets.items()) if v
                    ],
                    "nextLink": None,
                },
            )
        name, tail = rest[0], rest[1:]
        if req.method == "PUT" and not tail:
            return self._set_secret(claims, req.json(), name)
        if req.method == "GET" and tail == ["versions"]:
            denied = self._denied(claims, rbac.SECRET_METADATA, self.secret_scope(name))
            return denied or Response(
                200, {"value": [self._secret_item(name, v) for v in self.secrets.get(name, [])], "nextLink": None}
            )
        if req.method == "GET" and len(tail) <= 1:
            return self._get_secret(claims, name, tail[0] if tail else "")
        return _error(405, "BadParameter", f"unsupported operation {req.method} {req.path}")

    def _secret_item(self, name: str, sv: SecretVersion, *, versioned: bool = True) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": self.secret_url(name, sv.version if versioned else None),
            "attributes": _attributes(sv.enabled, sv.created, sv.updated, sv.exp, sv.nbf, self.recovery_level),
            "tags": sv.tags,
        }
        if sv.content_type:
            item["contentType"] = sv.content_type
        return item

    def _set_secret(self, claims: TokenClaims, body: dict[str, Any], name: str) -> Response:
        denied = self._denied(claims, rbac.SET_SECRET, self.secret_scope(name))
        if denied is not None:
            return denied
        if not isinstance(body.get("value"), str):
            return _error(400, "BadParameter", "The request body must have a 'value' string.")
        attrs = body.get("attributes") or {}
        version = self.set_secret(
            name, body["value"], content_type=body.get("contentType"), enabled=attrs.get("enabled", True)
        )
        secret = self.secrets[name][-1]
        return Response(
            200,
            {"value": secret.value, **self._secret_item(name, secret)},
            note={"principal": claims.object_id, "version": version},
        )

    def _get_secret(self, claims: TokenClaims, name: str, version: str) -> Response:
        denied = self._denied(claims, rbac.GET_SECRET, self.secret_scope(name))
        if denied is not None:
            return denied
        versions = self.secrets.get(name, [])
        match = [v for v in versions if v.version == version] if version else versions[-1:]
        if not match:
            what = f"{name}/{version}" if version else name
            return _error(
                404,
                "SecretNotFound",
                f"A secret with (name/id) {what} was not found in this key vault. If "
                "you recently deleted this secret you may be able to recover it using the correct recovery "
                "command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
            )
        secret = match[0]
        if not secret.enabled:
            return _error(403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled")
        return Response(
            200,
            {"value": secret.value, **self._secret_item(name, secret)},
            note={"principal": claims.object_id, "version": secret.version},
        )

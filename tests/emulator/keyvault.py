"""Azure Key Vault (keys only): versions, GET key, encrypt/decrypt/wrapkey/unwrapkey, challenge auth, RBAC."""

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


@dataclass
class KeyVersion:
    version: str
    key: rsa.RSAPrivateKey
    created: int
    enabled: bool = True
    ops: list[str] = field(default_factory=lambda: ["encrypt", "decrypt", "wrapKey", "unwrapKey"])


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


class KeyVault:
    def __init__(self, name: str, entra: Entra, access: rbac.Rbac, *, subscription: str | None = None,
                 resource_group: str = "rg-fluxforge", location: str = "westeurope") -> None:
        self.name, self.entra, self.rbac, self.location = name, entra, access, location
        self.host = f"{name}.vault.azure.net"
        self.url = f"https://{self.host}"
        sub = subscription or str(uuid.uuid5(uuid.NAMESPACE_DNS, entra.tenant_id))
        self.resource_id = f"/subscriptions/{sub}/resourceGroups/{resource_group}/providers/Microsoft.KeyVault/vaults/{name}"
        self.keys: dict[str, list[KeyVersion]] = {}
        self.challenge_resource = RESOURCE  # change it to rehearse a vault in another cloud
        self.authority = f"https://{LOGIN_HOST}/{entra.tenant_id}"

    # -- configuration ---------------------------------------------------------------------------
    def create_key(self, name: str, size: int = 2048, version: str | None = None,
                   key: rsa.RSAPrivateKey | None = None) -> str:
        """Create ``name`` or add a new current version to it (``key``: that version's RSA key, else a new
        one); returns the version."""
        key = key or _rsa_key(size)
        version_obj = KeyVersion(version or uuid.uuid4().hex, key, int(time.time()))
        self.keys.setdefault(name, []).append(version_obj)
        return version_obj.version

    def key_url(self, name: str, version: str | None = None) -> str:
        return f"{self.url}/keys/{name}" + (f"/{version}" if version else "")

    def key_scope(self, name: str) -> str:
        return f"{self.resource_id}/keys/{name}"

    def challenge(self) -> str:
        return f'Bearer authorization="{self.authority}", resource="{self.challenge_resource}"'

    # -- HTTP --------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p]
        if not parts or parts[0] != "keys" or len(parts) < 2:
            return _error(404, "NotFound", f"no route {req.path}")
        claims, denied = self._authenticate(req)
        if denied is not None:
            return denied
        assert claims is not None
        name, rest = parts[1], parts[2:]
        if req.method == "GET" and len(rest) <= 1:
            return self._get(claims, name, rest[0] if rest else "")
        if req.method == "POST" and rest and rest[-1] in ACTIONS and len(rest) <= 2:
            return self._operate(claims, req.json(), name, rest[0] if len(rest) == 2 else "", rest[-1])
        return _error(405, "BadParameter", f"unsupported operation {req.method} {req.path}")

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
            resp = _error(401, "Unauthorized", f"AKV10022: Invalid audience. Expected {expected}, found: {claims.audience}.")
            resp.headers.update(challenge)
            return None, resp
        return claims, None

    def _forbidden(self, claims: TokenClaims, action: str, key: str) -> Response:
        message = (
            "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role "
            "definitions were changed recently, please observe propagation time.\r\n"
            f"Caller: appid={claims.app_id};oid={claims.object_id};iss=https://sts.windows.net/{claims.tenant_id}/\r\n"
            f"Action: '{action}'\r\nResource: '{self.key_scope(key).lower()}'\r\nAssignment: (not found)\r\n"
            f"DenyAssignmentId: null\r\nDecisionReason: null \r\nVault: {self.name};location={self.location}\r\n"
        )
        return _error(403, "Forbidden", message, "ForbiddenByRbac", principal=claims.object_id)

    def _find(self, name: str, version: str) -> KeyVersion | Response:
        versions = self.keys.get(name)
        match = [v for v in versions or [] if v.version == version] if version else (versions or [])[-1:]
        if not match:
            what = f"{name}/{version}" if version else name
            return _error(404, "KeyNotFound", f"A key with (name/id) {what} was not found in this key vault. If you "
                          "recently deleted this key you may be able to recover it using the correct recovery command.")
        return match[0]

    def _bundle(self, name: str, kv: KeyVersion) -> dict[str, Any]:
        numbers = kv.key.public_key().public_numbers()
        return {
            "key": {"kid": f"{self.url}/keys/{name}/{kv.version}", "kty": "RSA", "key_ops": kv.ops,
                    "n": jwt.int_b64(numbers.n), "e": jwt.int_b64(numbers.e)},
            "attributes": {"enabled": kv.enabled, "created": kv.created, "updated": kv.created,
                           "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90, "exportable": False},
        }

    def _get(self, claims: TokenClaims, name: str, version: str) -> Response:
        if not self.rbac.allows(claims.object_id, rbac.READ, self.key_scope(name)):
            return self._forbidden(claims, rbac.READ, name)
        found = self._find(name, version)
        if isinstance(found, Response):
            return found
        return Response(200, self._bundle(name, found), note={"principal": claims.object_id, "version": found.version})

    def _operate(self, claims: TokenClaims, body: dict[str, Any], name: str, version: str, op: str) -> Response:
        if not self.rbac.allows(claims.object_id, ACTIONS[op], self.key_scope(name)):
            return self._forbidden(claims, ACTIONS[op], name)
        found = self._find(name, version)
        if isinstance(found, Response):
            return found
        alg = str(body.get("alg", ""))
        pad = _padding(alg)
        note = {"principal": claims.object_id, "alg": alg, "version": found.version}
        if pad is None:
            return _error(400, "BadParameter", f"Invalid algorithm {alg!r}.", **note)
        if not found.enabled or OPS[op] not in found.ops:
            return _error(403, "Forbidden", f"Operation {OPS[op]} is not allowed on this key.", "KeyOperationForbidden")
        try:
            data = jwt.b64url_decode(str(body.get("value", "")))
            out = found.key.public_key().encrypt(data, pad) if op in ("encrypt", "wrapkey") else found.key.decrypt(data, pad)
        except ValueError:
            return _error(400, "BadParameter", "The parameter is incorrect.", **note)
        return Response(200, {"kid": f"{self.url}/keys/{name}/{found.version}", "value": jwt.b64url(out)}, note=note)

"""Microsoft Entra ID (login.microsoftonline.com): instance discovery, OpenID metadata, token endpoint.

Client credentials with a secret or with a ``client_assertion`` (workload identity federation). The
assertion is verified against the registered cluster issuer's JWKS and matched against the federated
credentials of the identity; mismatches answer with Entra's error codes and JSON error shape.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from . import jwt
from .oidc import ClusterIssuer
from .wire import Request, Response

LOGIN_HOST = "login.microsoftonline.com"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
KNOWN_RESOURCES = ("https://vault.azure.net", "https://management.azure.com", "https://management.core.windows.net")


@dataclass
class FederatedCredential:
    name: str
    issuer: str
    subject: str
    audiences: list[str] = field(default_factory=lambda: ["api://AzureADTokenExchange"])


@dataclass
class Principal:
    """A user-assigned managed identity, an app registration (service principal) or a user."""

    name: str
    client_id: str
    object_id: str
    kind: str = "managed_identity"  # or "app", "user"
    secrets: list[str] = field(default_factory=list)
    federated: list[FederatedCredential] = field(default_factory=list)
    resource_id: str = ""  # the ARM user-assigned identity, when it is one (see ``arm_msi``)
    location: str = "westeurope"
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TokenClaims:
    object_id: str
    app_id: str
    tenant_id: str
    audience: str


class EntraError(Exception):
    def __init__(self, code: int, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code, self.error, self.description, self.status = code, error, description, status


class Entra:
    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.principals: dict[str, Principal] = {}
        self.issuers: dict[str, ClusterIssuer] = {}
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = uuid.uuid4().hex[:16]
        self.tokens_issued = 0
        self.adfs_base = ""  # "https://127.0.0.1:<port>/adfs" in loopback mode
        self.resources: set[str] = set(KNOWN_RESOURCES)

    # -- configuration ---------------------------------------------------------------------------
    def add_principal(
        self, name: str, kind: str = "managed_identity", secret: str | None = None, client_id: str | None = None
    ) -> Principal:
        principal = Principal(name, client_id or str(uuid.uuid4()), str(uuid.uuid4()), kind, [secret] if secret else [])
        self.principals[principal.client_id] = principal
        return principal

    def remove_principal(self, principal: Principal) -> None:
        self.principals.pop(principal.client_id, None)

    def by_object_id(self, object_id: str) -> Principal | None:
        return next((p for p in self.principals.values() if p.object_id == object_id), None)

    def trust_issuer(self, issuer: ClusterIssuer) -> None:
        """Make the cluster issuer's discovery/JWKS reachable from Entra (public issuer URL)."""
        self.issuers[issuer.url] = issuer

    def mint_access_token(self, principal: Principal, resource: str, ttl: int = 3600) -> tuple[str, int]:
        """An access token as Entra would issue it (also what the fake ``az`` CLI hands out)."""
        now = int(time.time())
        claims = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "oid": principal.object_id,
            "appid": principal.client_id,
            "tid": self.tenant_id,
            "sub": principal.object_id,
        }
        self.tokens_issued += 1
        return jwt.sign(claims, self._key, self._kid), now + ttl

    def validate(self, token: str) -> TokenClaims:
        """Claims of an access token issued here; raises ``jwt.JwtError`` otherwise (expiry included)."""
        claims = jwt.verify(token, {"keys": [jwt.public_jwk(self._key.public_key(), self._kid)]})
        if claims.get("exp", 0) < time.time():
            raise jwt.JwtError("token expired")
        return TokenClaims(claims["oid"], claims["appid"], claims["tid"], claims["aud"])

    # -- HTTP --------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p]
        if parts == ["common", "discovery", "instance"]:
            return Response(200, self._instance_discovery())
        if self.adfs_base and parts[:1] == ["adfs"]:
            return self._adfs(req, parts[1:])
        if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return self._tenant_guard(parts[0]) or Response(200, self._openid(parts[0]))
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"] and req.method == "POST":
            return self._tenant_guard(parts[0]) or self._token(req.form())
        return Response(404, {"error": "not_found", "error_description": f"no route {req.path}"})

    def _adfs(self, req: Request, rest: list[str]) -> Response:
        """Loopback mode: the ADFS authority shape (MSAL skips instance discovery for tenant ``adfs``)."""
        if rest == [".well-known", "openid-configuration"]:
            return Response(
                200,
                {
                    "authorization_endpoint": f"{self.adfs_base}/oauth2/authorize",
                    "token_endpoint": f"{self.adfs_base}/oauth2/token",
                    "issuer": self.adfs_base,
                },
            )
        if rest in (["oauth2", "token"], ["oauth2", "v2.0", "token"]) and req.method == "POST":
            return self._token(req.form())
        return Response(404, {"error": "not_found", "error_description": f"no route {req.path}"})

    def _instance_discovery(self) -> dict[str, Any]:
        base = f"https://{LOGIN_HOST}"
        return {
            "tenant_discovery_endpoint": f"{base}/{self.tenant_id}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": LOGIN_HOST, "preferred_cache": LOGIN_HOST, "aliases": [LOGIN_HOST]}],
        }

    def _openid(self, tenant: str) -> dict[str, Any]:
        base = f"https://{LOGIN_HOST}/{tenant}"
        return {
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "issuer": f"https://{LOGIN_HOST}/{self.tenant_id}/v2.0",
            "jwks_uri": f"https://{LOGIN_HOST}/{tenant}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        }

    def _tenant_guard(self, tenant: str) -> Response | None:
        if tenant in (self.tenant_id, "organizations", "common"):
            return None
        return _error_response(EntraError(90002, "invalid_request", f"AADSTS90002: Tenant '{tenant}' not found."))

    def _token(self, form: dict[str, str]) -> Response:
        try:
            principal = self._authenticate(form)
            resource = _resource_of(form.get("scope", ""), self.resources)
            token, expires = self.mint_access_token(principal, resource)
        except EntraError as exc:
            return _error_response(exc, client_id=form.get("client_id", ""))
        body = {
            "token_type": "Bearer",
            "expires_in": expires - int(time.time()),
            "ext_expires_in": 3600,
            "access_token": token,
        }
        return Response(200, body, note={"principal": principal.name, "resource": resource})

    def _authenticate(self, form: dict[str, str]) -> Principal:
        if form.get("grant_type") != "client_credentials":
            raise EntraError(
                70003, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type."
            )
        client_id = form.get("client_id", "")
        principal = self.principals.get(client_id)
        if principal is None:
            raise EntraError(
                700016,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{client_id}' was not found in the directory "
                f"'{self.tenant_id}'.",
            )
        if "client_assertion" in form:
            if form.get("client_assertion_type") != JWT_BEARER:
                raise EntraError(50027, "invalid_request", "AADSTS50027: JWT token is invalid or malformed.")
            self._match_federated(principal, form["client_assertion"])
        elif form.get("client_secret") not in principal.secrets or not principal.secrets:
            raise EntraError(
                7000215,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "
                f"request is the client secret value, not the client secret ID, for a secret added to "
                f"app '{client_id}'.",
                status=401,
            )
        return principal

    def _match_federated(self, principal: Principal, assertion: str) -> None:
        try:
            _, claims = jwt.decode_unverified(assertion)
        except jwt.JwtError:
            raise EntraError(50027, "invalid_request", "AADSTS50027: JWT token is invalid or malformed.") from None
        iss, sub = str(claims.get("iss", "")), str(claims.get("sub", ""))
        aud = claims.get("aud", [])
        auds = [aud] if isinstance(aud, str) else list(aud)
        issuer = self.issuers.get(iss)
        if issuer is None or not issuer.enabled:
            raise EntraError(
                90061,
                "invalid_request",
                f"AADSTS90061: Request to External OIDC endpoint failed. Issuer '{iss}' is unreachable.",
            )
        try:
            jwt.verify(assertion, issuer.jwks())
        except jwt.JwtError:
            raise EntraError(
                700027, "invalid_client", "AADSTS700027: Client assertion failed signature validation.", 401
            ) from None
        if not claims.get("nbf", 0) - 300 <= time.time() <= claims.get("exp", 0):
            raise EntraError(
                700024, "invalid_client", "AADSTS700024: Client assertion is not within its valid time range.", 401
            )
        _check_federation(principal, iss, sub, auds)


def _check_federation(principal: Principal, iss: str, sub: str, auds: list[str]) -> None:
    creds = principal.federated
    if not creds:
        raise EntraError(
            70021,
            "invalid_request",
            "AADSTS70021: No matching federated identity record found for presented assertion. "
            f"Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: "
            f"'{','.join(auds)}'. https://learn.microsoft.com/entra/workload-id/workload-identity-federation",
        )
    by_issuer = [c for c in creds if c.issuer == iss]
    if not by_issuer:
        raise EntraError(
            700211,
            "invalid_request",
            f"AADSTS700211: No matching federated identity record found for presented assertion issuer "
            f"'{iss}'. Please check your federated identity credential Subject, Audience and Issuer "
            "against the presented assertion.",
        )
    by_subject = [c for c in by_issuer if c.subject == sub]
    if not by_subject and any(c.subject.lower() == sub.lower() for c in by_issuer):
        raise EntraError(
            7002138,
            "invalid_request",
            f"AADSTS7002138: No matching federated identity record found for presented assertion subject "
            f"'{sub}'. The subject matches with case-insensitive comparison, but not with case-sensitive "
            "comparison. Check your federated identity credential Subject, Audience and Issuer against "
            "the presented assertion. See documentation at: "
            "https://learn.microsoft.com/entra/workload-id/workload-identity-federation.",
        )
    if not by_subject:
        raise EntraError(
            700213,
            "invalid_request",
            f"AADSTS700213: No matching federated identity record found for presented assertion subject "
            f"'{sub}'. Please check your federated identity credential Subject, Audience and Issuer "
            "against the presented assertion.",
        )
    if not any(set(c.audiences) & set(auds) for c in by_subject):
        raise EntraError(
            700212,
            "invalid_request",
            f"AADSTS700212: No matching federated identity record found for presented assertion audience "
            f"'{','.join(auds)}'. Please check your federated identity credential Subject, Audience and "
            "Issuer against the presented assertion.",
        )


def _resource_of(scope: str, known: set[str]) -> str:
    for item in scope.split():
        if item.endswith("/.default"):
            resource = item[: -len("/.default")]
            if resource.rstrip("/") in known:
                return resource.rstrip("/")
            raise EntraError(
                500011,
                "invalid_resource",
                f"AADSTS500011: The resource principal named {resource} was not found in the tenant.",
            )
    raise EntraError(1002012, "invalid_scope", f"AADSTS1002012: The provided value for scope {scope} is not valid.")


def _error_response(exc: EntraError, client_id: str = "") -> Response:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    body = {
        "error": exc.error,
        "error_description": f"{exc.description} Trace ID: {trace} Correlation ID: {corr} Timestamp: {now}",
        "error_codes": [exc.code],
        "timestamp": now,
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": f"https://{LOGIN_HOST}/error?code={exc.code}",
    }
    return Response(exc.status, body, note={"error": f"AADSTS{exc.code}", "client_id": client_id})

"""A Kubernetes cluster's service-account OIDC issuer: discovery, JWKS and projected token minting."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from . import jwt

WI_AUDIENCE = "api://AzureADTokenExchange"


class ClusterIssuer:
    """The AKS OIDC issuer of one cluster (URL ends with ``/`` like AKS issuer URLs)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.host = urlsplit(url).hostname or ""
        self.base_path = urlsplit(url).path.rstrip("/")
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex[:16]
        self.enabled = True  # False: discovery and JWKS answer 404 (the cluster's OIDC issuer is off)

    def rotate_signing_key(self) -> None:
        """A new signing key: tokens minted before no longer verify (like a recreated cluster)."""
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex[:16]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [jwt.public_jwk(self._key.public_key(), self.kid)]}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": f"https://{self.host}{self.base_path}/openid/v1/jwks",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def mint(
        self,
        namespace: str,
        service_account: str,
        *,
        audience: str | list[str] = WI_AUDIENCE,
        ttl: int = 3600,
        now: float | None = None,
        uid: str | None = None,
    ) -> str:
        """A projected service-account token as the kubelet (or the TokenRequest API) would issue it."""
        issued = int(time.time() if now is None else now)
        claims = {
            "aud": [audience] if isinstance(audience, str) else list(audience),
            "exp": issued + ttl,
            "iat": issued,
            "nbf": issued,
            "iss": self.url,
            "jti": str(uuid.uuid4()),
            "sub": f"system:serviceaccount:{namespace}:{service_account}",
            "kubernetes.io": {
                "namespace": namespace,
                "serviceaccount": {
                    "name": service_account,
                    "uid": uid or str(uuid.uuid5(uuid.NAMESPACE_URL, service_account)),
                },
            },
        }
        return jwt.sign(claims, self._key, self.kid)

    def handle(self, path: str) -> tuple[int, dict[str, Any]]:
        """Serve the discovery document and the JWKS (what Entra fetches)."""
        if not self.enabled:
            return 404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404}
        if path == f"{self.base_path}/.well-known/openid-configuration":
            return 200, self.discovery()
        if path == f"{self.base_path}/openid/v1/jwks":
            return 200, self.jwks()
        return 404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404}

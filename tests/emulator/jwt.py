"""Just enough JWS (RS256) for the emulator: sign, verify against a JWKS, decode without verifying."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class JwtError(Exception):
    """A token that cannot be decoded or whose signature does not verify."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def public_jwk(key: rsa.RSAPublicKey, kid: str) -> dict[str, str]:
    numbers = key.public_numbers()
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": int_b64(numbers.n), "e": int_b64(numbers.e)}


def sign(claims: dict[str, Any], key: rsa.RSAPrivateKey, kid: str) -> str:
    header = {"alg": "RS256", "typ": "JWT", "kid": kid}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a compact JWS, without checking the signature."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise JwtError("not a compact JWS (expected three dot-separated parts)")
    try:
        return json.loads(b64url_decode(parts[0])), json.loads(b64url_decode(parts[1]))
    except ValueError as exc:
        raise JwtError(f"undecodable JWT: {exc}") from None


def verify(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """Claims of ``token`` if its RS256 signature verifies with a key of ``jwks`` (matched by kid)."""
    header, claims = decode_unverified(token)
    if header.get("alg") != "RS256":
        raise JwtError(f"unsupported alg {header.get('alg')!r}")
    for jwk in jwks.get("keys", []):
        if jwk.get("kid") != header.get("kid"):
            continue
        public = rsa.RSAPublicNumbers(
            int.from_bytes(b64url_decode(jwk["e"]), "big"), int.from_bytes(b64url_decode(jwk["n"]), "big")
        ).public_key()
        head, _, sig = token.strip().rpartition(".")
        try:
            public.verify(b64url_decode(sig), head.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise JwtError("signature does not verify") from None
        return claims
    raise JwtError(f"no key with kid {header.get('kid')!r} in the issuer's JWKS")

"""AES-256-GCM ``ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`` values."""

from __future__ import annotations

import binascii
import os
import re
from typing import TYPE_CHECKING

from generator.sops.record import record
from generator.sops.regex import lazy
from generator.sops.values import Comment, GoTime, to_bytes, type_name

if TYPE_CHECKING:
    from collections.abc import Callable

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_ENC = re.compile(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]", re.DOTALL)
_INT = lazy(r"[+-]?[0-9]+")
_FLOAT = lazy(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)", re.IGNORECASE)
_BOOLS = {
    "1": True,
    "t": True,
    "T": True,
    "TRUE": True,
    "true": True,
    "True": True,
    "0": False,
    "f": False,
    "F": False,
    "FALSE": False,
    "false": False,
    "False": False,
}
_TIME = lazy(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")

# (plaintext bytes, type, aad) -> iv: sops's "stash", so unchanged values keep their ciphertext.
Stash = dict[tuple[bytes, str, str], bytes]


class UndecryptableValue(Exception):
    """A value cannot be decrypted; the message never contains plaintext."""


class MalformedValue(UndecryptableValue):
    """Not an ``ENC[AES256_GCM,…]`` value sops can read; ``shape``: the pattern itself does not match
    (else a part is not base64)."""

    def __init__(self, message: str, *, shape: bool) -> None:
        super().__init__(message)
        self.shape = shape


TYPES = frozenset({"str", "int", "float", "bool", "bytes", "time", "comment"})
"""The ``type:`` values sops writes."""


@record(frozen=True)
class EncValue:
    """The parts of one ``ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`` value, base64-decoded."""

    data: bytes
    iv: bytes
    tag: bytes
    type: str


def is_enc(value: object) -> bool:
    """A value sops would treat as ciphertext (it starts with ``ENC[``; whether it is well formed is
    ``parse_enc``)."""
    return isinstance(value, str) and value.startswith("ENC[")


def parse_enc(text: str) -> EncValue:
    """Split an ``ENC[…]`` value as sops does (its pattern, base64 parts); raise ``MalformedValue``."""
    match = _ENC.match(text)
    if match is None:
        raise MalformedValue("value is not in sops' ENC[AES256_GCM,…] format", shape=True)
    try:
        data, iv, tag = (binascii.a2b_base64(match.group(i), strict_mode=True) for i in (1, 2, 3))
    except (binascii.Error, ValueError):
        raise MalformedValue("malformed base64 in ENC[…] value", shape=False) from None
    return EncValue(data, iv, tag, match.group(4))


def _b64(data: bytes) -> str:
    """Standard base64 with padding and no line break (``base64.b64encode``, without importing it)."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def aesgcm_class() -> type[AESGCM]:
    """cryptography's ``AESGCM``, taken from its compiled binding where it lives (the very class the
    public ``cryptography.hazmat.primitives.ciphers.aead`` module re-exports) so that a one-file decrypt
    does not import that module's package (the other ciphers and modes); the public import otherwise."""
    try:
        from cryptography.hazmat.bindings._rust import openssl

        found: type[AESGCM] = openssl.aead.AESGCM
    except (ImportError, AttributeError):  # pragma: no cover - a cryptography that moved the class
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        found = AESGCM
    return found


class Cipher:
    """One data key, one AESGCM instance, an optional IV stash."""

    def __init__(self, key: bytes, stash: Stash | None = None) -> None:
        if len(key) != 32:
            raise UndecryptableValue(f"data key has {len(key)} bytes, expected 32")
        self.key = key
        self._gcm: AESGCM = aesgcm_class()(key)
        self.stash: Stash = stash if stash is not None else {}

    def encrypt(self, value: object, aad: str) -> str:
        """Encrypt one leaf; empty strings and empty comments stay ``""``."""
        plain = to_bytes(value)
        kind = type_name(value)
        if not plain and kind in ("str", "comment"):
            return ""
        iv = self.stash.get((plain, kind, aad)) or os.urandom(32)
        sealed = self._gcm.encrypt(iv, plain, aad.encode("utf-8", "surrogateescape"))
        return f"ENC[AES256_GCM,data:{_b64(sealed[:-16])},iv:{_b64(iv)},tag:{_b64(sealed[-16:])},type:{kind}]"

    def decrypt_raw(self, text: str, aad: str) -> tuple[bytes, str]:
        """Return (plaintext bytes, type) of one ``ENC[…]`` string."""
        value = parse_enc(text)
        return self._open(value, aad), value.type

    def _open(self, value: EncValue, aad: str) -> bytes:
        if not value.iv:
            raise UndecryptableValue("empty IV in ENC[…] value")
        from cryptography.exceptions import InvalidTag

        try:
            plain = self._gcm.decrypt(value.iv, value.data + value.tag, aad.encode("utf-8", "surrogateescape"))
        except InvalidTag:
            raise UndecryptableValue(
                "authentication failed (wrong data key, or the value was moved or altered)"
            ) from None
        return plain

    def decrypt(self, text: str, aad: str) -> object:
        """Decrypt and parse by type, remembering the IV for re-encryption."""
        if text == "":
            return ""
        enc = parse_enc(text)
        value = parse_plain(self._open(enc, aad), enc.type)
        self.stash[(to_bytes(value), type_name(value), aad)] = enc.iv
        return value


def parse_plain(plain: bytes, kind: str) -> object:
    """Parse decrypted bytes as Go sops does for each ``type``."""
    text = plain.decode("utf-8", "surrogateescape")
    if kind == "str":
        return text
    if kind == "bytes":
        raise UndecryptableValue(
            "type:bytes, which sops never writes (sops crashes on it); the value's type was changed outside sops"
        )
    if kind == "comment":
        return Comment(text)
    parse = _SCALARS.get(kind)
    if parse is None:
        raise UndecryptableValue(f"unknown value type {kind!r}")
    value = parse(text)
    if value is None:
        raise UndecryptableValue(f"decrypted value is not a valid {kind}")
    return value


def _int(text: str) -> int | None:
    return int(text) if _INT().fullmatch(text) and -(2**63) <= int(text) < 2**63 else None


_SCALARS: dict[str, Callable[[str], object | None]] = {
    "int": _int,
    "float": lambda text: float(text) if _FLOAT().fullmatch(text) else None,
    "bool": _BOOLS.get,
    "time": lambda text: GoTime(text) if _TIME().fullmatch(text) else None,
}
"""How each scalar ``type`` is parsed from its decrypted text (None: not a valid value of the type)."""

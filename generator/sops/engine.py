"""Pure sops document encryption/decryption (in progress)."""

from __future__ import annotations

from generator.sops.keys import KeyOptions, KeySource
from generator.sops.rules import CreationRule


def encrypt_document(plaintext: bytes, *, fmt: str, rule: CreationRule, cache: dict[str, KeySource] | None,
                     options: KeyOptions, name: str) -> bytes:
    raise NotImplementedError


def decrypt_document(data: bytes, *, fmt: str, name: str, cache: dict[str, KeySource] | None,
                     options: KeyOptions, verify_mac: bool) -> bytes:
    raise NotImplementedError

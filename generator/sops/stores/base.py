"""What every store provides."""

from __future__ import annotations

from typing import Any, Protocol

from generator.sops.values import Branch


class Store(Protocol):
    name: str

    def load_plain(self, data: bytes, name: str) -> list[Branch]: ...

    def load_encrypted(self, data: bytes, name: str) -> tuple[list[Branch], Any]:
        """Documents without metadata, and the raw metadata mapping (None when absent)."""
        ...

    def emit_encrypted(self, docs: list[Branch], meta: Branch) -> bytes: ...

    def emit_plain(self, docs: list[Branch]) -> bytes: ...


def decode_text(data: bytes, name: str) -> str:
    from generator.errors import SopsError

    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SopsError(
            f"{name}: not UTF-8 text (byte {err.start}); use a binary file name to encrypt raw bytes"
        ) from None


def sops_entry_refused(name: str, entry: str) -> str:
    """Why a plaintext file with a sops metadata entry cannot be encrypted (sops refuses it too)."""
    return (
        f"{name}: has {entry}, where sops keeps its metadata, so it cannot be encrypted (this file is "
        "not a valid sops file either); rename it, or if the file was encrypted, restore it from git"
    )

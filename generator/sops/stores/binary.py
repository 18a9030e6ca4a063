"""The binary store: the whole file is one string leaf ``data`` in a JSON envelope."""

from __future__ import annotations

from typing import Any

from generator.errors import SopsError
from generator.sops.stores.json import JsonStore
from generator.sops.values import Branch


class BinaryStore:
    name = "binary"

    def __init__(self, indent: int = -1) -> None:
        self.json = JsonStore(indent)

    def load_plain(self, data: bytes, name: str) -> list[Branch]:  # noqa: ARG002 - any bytes are fine
        return [Branch([("data", data.decode("utf-8", "surrogateescape"))])]

    def load_encrypted(self, data: bytes, name: str) -> tuple[list[Branch], Any]:
        return self.json.load_encrypted(data, name)

    def emit_encrypted(self, docs: list[Branch], meta: Branch) -> bytes:
        return self.json.emit_encrypted(docs, meta)

    def emit_plain(self, docs: list[Branch]) -> bytes:
        for key, value in docs[0]:
            if key == "data" and isinstance(value, str):
                return value.encode("utf-8", "surrogateescape")
        raise SopsError("no binary data found (the envelope has no string 'data' key)")

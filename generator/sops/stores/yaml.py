"""The YAML store (sops 3.11 layout: metadata appended to every document, indent 4 by default)."""

from __future__ import annotations

from typing import Any

from generator.errors import SopsError
from generator.sops.metadata import to_plain
from generator.sops.stores.base import decode_text, sops_entry_refused
from generator.sops.stores.yaml_emit import emit_documents
from generator.sops.stores.yaml_read import load_documents
from generator.sops.values import Branch


class YamlStore:
    name = "yaml"

    def __init__(self, indent: int = 4) -> None:
        self.indent = indent

    def load_plain(self, data: bytes, name: str) -> list[Branch]:
        docs = load_documents(decode_text(data, name), name)
        if not docs:
            raise SopsError(f"{name}: the file is empty; nothing to encrypt")
        for index, doc in enumerate(docs):
            if any(key == "sops" for key, _ in doc):
                where = f" in document {index + 1}" if len(docs) > 1 else ""
                raise SopsError(sops_entry_refused(name, f"a top-level 'sops' key{where}"))
        return docs

    def load_encrypted(self, data: bytes, name: str) -> tuple[list[Branch], Any]:
        docs = load_documents(decode_text(data, name), name)
        meta = None
        for i, doc in enumerate(docs):
            for key, value in doc:
                if key == "sops" and i == 0:
                    meta = to_plain(value)
            doc[:] = [(k, v) for k, v in doc if k != "sops"]
        return docs, meta

    def emit_encrypted(self, docs: list[Branch], meta: Branch) -> bytes:
        return emit_documents([Branch([*doc, ("sops", meta)]) for doc in docs], self.indent).encode()

    def emit_plain(self, docs: list[Branch]) -> bytes:
        return emit_documents(docs, self.indent).encode("utf-8", "surrogateescape")

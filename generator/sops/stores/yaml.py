"""The YAML store (sops 3.11 layout: metadata appended to every document, indent 4 by default).

A Secret-shaped file (nested mappings of plain strings, no comments) is read and written by
``yaml_fast``, everything else by the general reader and writer; both give the same trees and bytes.
"""

from __future__ import annotations

from typing import Any

from generator.errors import SopsError
from generator.sops.metadata import to_plain
from generator.sops.stores.base import decode_text, sops_entry_refused
from generator.sops.stores.yaml_emit import emit_documents
from generator.sops.stores.yaml_fast import emit_simple, load_simple, read_encrypted, split_metadata
from generator.sops.values import Branch


def load_documents(text: str, name: str) -> list[Branch]:
    """The general reader (``yaml_read``), imported when a file is not Secret-shaped: a one-file decrypt
    of the common shape does not load it."""
    from generator.sops.stores.yaml_read import load_documents as read

    return read(text, name)


class YamlStore:
    name = "yaml"

    def __init__(self, indent: int = 4) -> None:
        self.indent = indent

    def load_plain(self, data: bytes, name: str) -> list[Branch]:
        text = decode_text(data, name)
        simple = load_simple(text)
        if simple is not None:
            return [simple]
        docs = load_documents(text, name)
        if not docs:
            raise SopsError(f"{name}: the file is empty; nothing to encrypt")
        for index, doc in enumerate(docs):
            if any(key == "sops" for key, _ in doc):
                where = f" in document {index + 1}" if len(docs) > 1 else ""
                raise SopsError(sops_entry_refused(name, f"a top-level 'sops' key{where}"))
        return docs

    def load_encrypted(self, data: bytes, name: str) -> tuple[list[Branch], Any]:
        text = decode_text(data, name)
        docs = _load_encrypted_simple(text, name)
        if docs is None:
            docs = load_documents(text, name)
        meta = None
        for i, doc in enumerate(docs):
            for key, value in doc:
                if key == "sops" and i == 0:
                    meta = to_plain(value)
            doc[:] = [(k, v) for k, v in doc if k != "sops"]
        return docs, meta

    def read_back(self, data: bytes, name: str) -> list[Branch]:
        """The documents of a file this store just wrote, for the read-back check: a Secret-shaped
        file's data lines only (its ``sops:`` block is the general writer's, read by ``sops``)."""
        parts = split_metadata(data.decode())
        simple = load_simple(parts[0]) if parts is not None else None
        return [simple] if simple is not None else self.load_encrypted(data, name)[0]

    def emit_encrypted(self, docs: list[Branch], meta: Branch) -> bytes:
        if len(docs) == 1:
            text = emit_simple(Branch([*docs[0], ("sops", meta)]), self.indent)
            if text is not None:
                return text.encode()
        return emit_documents([Branch([*doc, ("sops", meta)]) for doc in docs], self.indent).encode()

    def emit_plain(self, docs: list[Branch]) -> bytes:
        if len(docs) == 1:
            data = emit_simple(docs[0], self.indent)
            if data is not None:
                return data.encode()
        return emit_documents(docs, self.indent).encode("utf-8", "surrogateescape")


def _load_encrypted_simple(text: str, name: str) -> list[Branch] | None:
    """An encrypted Secret-shaped file: its data lines read by ``yaml_fast``, its ``sops:`` block by
    ``yaml_fast.read_metadata`` when sops wrote it so, else by the general reader (None when the file is
    not that shape). What ``detect`` just read of the same text is taken over, not read again."""
    found = read_encrypted(text)
    if found is None:
        return None
    data = found.data
    if found.meta is not None:
        data.append(("sops", found.meta.meta))  # plain already: load_encrypted's to_plain leaves it as it is
        return [data]
    try:
        meta_docs = load_documents(text[len(found.head) :], name)
    except SopsError:
        return None  # the general reader names the line in the whole file
    if len(meta_docs) != 1 or [key for key, _ in meta_docs[0]] != ["sops"]:
        return None
    data.extend(meta_docs[0])
    return [data]

"""The dotenv store: ``KEY=VALUE`` lines, no quoting or trimming, metadata flattened as ``sops_…``."""

from __future__ import annotations

from typing import Any

from generator.errors import SopsError
from generator.sops.stores.base import decode_text, sops_entry_refused
from generator.sops.stores.flat import flatten, unflatten
from generator.sops.values import Branch, Comment, GoTime, format_float

PREFIX = "sops_"


def _lines(data: bytes, name: str) -> Branch:
    branch = Branch()
    for number, line in enumerate(decode_text(data, name).split("\n"), 1):
        if not line:
            continue
        if line.startswith("#"):
            branch.append((Comment(line[1:]), None))
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise SopsError(f"{name}:{number}: not a KEY=VALUE line (dotenv needs '=')")
        branch.append((key, value.replace("\\n", "\n")))
    return branch


def val_to_string(value: object) -> str:
    """sops's ``ValToString`` for a non-string leaf of a flat store."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = format_float(value)
        return text if "." in text else f"{value:.1f}"
    if isinstance(value, GoTime):
        return value.text
    return str(value)


class DotenvStore:
    name = "dotenv"

    def load_plain(self, data: bytes, name: str) -> list[Branch]:
        branch = _lines(data, name)
        if any(isinstance(k, str) and k.startswith(PREFIX) for k, _ in branch):
            raise SopsError(sops_entry_refused(name, "keys starting with 'sops_'"))
        return [branch]

    def load_encrypted(self, data: bytes, name: str) -> tuple[list[Branch], Any]:
        branch = _lines(data, name)
        flat = {k[len(PREFIX) :]: v for k, v in branch if isinstance(k, str) and k.startswith(PREFIX)}
        rest = Branch((k, v) for k, v in branch if not (isinstance(k, str) and k.startswith(PREFIX)))
        return [rest], (unflatten(flat) if flat else None)

    def emit_encrypted(self, docs: list[Branch], meta: Branch) -> bytes:
        flat = flatten(meta)
        items = [(PREFIX + k, flat[k]) for k in sorted(flat)]
        return self.emit_plain([Branch([*docs[0], *items])])

    def emit_plain(self, docs: list[Branch]) -> bytes:
        out = []
        for key, value in docs[0]:
            if isinstance(key, Comment):
                out.append(f"#{key.value}\n")
                continue
            if isinstance(value, (Branch, list)):
                raise SopsError(f"cannot use a nested value in a dotenv file; offending key {key}")
            text = value.replace("\n", "\\n") if isinstance(value, str) else val_to_string(value)
            out.append(f"{key}={text}\n")
        return "".join(out).encode("utf-8", "surrogateescape")

"""sops's metadata flattening for dotenv (``__map_`` / ``__list_`` separators, escaped newlines)."""

from __future__ import annotations

import re
from typing import Any

from generator.sops.values import Branch

_TOKEN = re.compile(r"__(map|list)_")


def flatten(meta: Branch) -> dict[str, str]:
    """Metadata as sops's ``FlattenMetadata`` (+ EncodeNonStrings/EncodeNewLines); nulls dropped."""
    out: dict[str, str] = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, Branch):
            for k, v in value:
                walk(f"{prefix}__map_{k}" if prefix else str(k), v)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(f"{prefix}__list_{i}", v)
        elif value is None:
            return
        elif isinstance(value, bool):
            out[prefix] = "true" if value else "false"
        else:
            out[prefix] = str(value).replace("\n", "\\n")

    walk("", meta)
    return out


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """Inverse of ``flatten`` (values get their newlines back)."""
    root: dict[str, Any] = {}
    for key, raw in flat.items():
        value = raw.replace("\\n", "\n") if isinstance(raw, str) else raw
        parts = _TOKEN.split(key)
        tokens: list[tuple[str, str]] = [("map", parts[0])]
        tokens.extend((parts[i], parts[i + 1]) for i in range(1, len(parts) - 1, 2))
        node: Any = root
        for (kind, name), nxt in zip(tokens, [*tokens[1:], None], strict=True):
            slot: Any = name if kind == "map" else int(name)
            if nxt is None:
                _set(node, slot, value)
            else:
                child = _get(node, slot)
                if child is None:
                    child = {} if nxt[0] == "map" else []
                    _set(node, slot, child)
                node = child
    return root


def _get(node: Any, slot: Any) -> Any:
    if isinstance(node, list):
        return node[slot] if slot < len(node) else None
    return node.get(slot)


def _set(node: Any, slot: Any, value: Any) -> None:
    if isinstance(node, list):
        while len(node) <= slot:
            node.append(None)
        node[slot] = value
    else:
        node[slot] = value

"""Set values in ``fluxforge.yaml`` keeping its comments and layout: a ruamel round trip through the
project's yamlio factory, in the file's own indentation. Pure: text in, text out.

``fluxforge azure apply`` writes the client IDs of the identities it created; ``fluxforge rotate-key``
pins the new Key Vault key version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from generator.config.model import KeyPath
from generator.config.problems import dotted
from generator.errors import ConfigError
from generator.merge.layout import layout_of
from generator.yamlio import dump_rt, load_rt

__all__ = ["with_fields"]


def _node(root: Any, path: KeyPath) -> Any:
    node = root
    for part in path:
        node = node[part]
    return node


def with_fields(
    text: str,
    updates: Mapping[KeyPath, Mapping[str, str]],
    *,
    after: str,
    display: str = "fluxforge.yaml",
    command: str = "fluxforge",
) -> str:
    """``text`` with each mapping at a key path given the fields ``{name: value}``: an existing field is
    replaced in place, a new one goes right after ``after`` (or first); every other line is untouched."""
    indent = layout_of(text)
    root = load_rt(text)
    for path, fields in updates.items():
        try:
            mapping = _node(root, path)
        except (KeyError, IndexError, TypeError):
            mapping = None
        if not hasattr(mapping, "insert"):
            wanted = ", ".join(f"{name}: {value}" for name, value in fields.items())
            raise ConfigError(f"{display}: {dotted(path)}: changed while {command} ran; set {wanted} there yourself")
        for name, value in fields.items():
            if mapping.get(name) == value:
                continue
            if name in mapping:
                mapping[name] = value
            else:
                keys = list(mapping)
                mapping.insert(keys.index(after) + 1 if after in keys else 0, name, value)
    return dump_rt(root, indent=indent)

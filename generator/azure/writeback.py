"""Write client IDs into ``fluxforge.yaml`` keeping its comments and layout (ruamel round trip through the
project's yamlio factory, in the file's own indentation). Pure: text in, text out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from generator.config.model import KeyPath
from generator.errors import ConfigError
from generator.merge.layout import layout_of
from generator.yamlio import dump_rt, load_rt

__all__ = ["with_client_ids"]


def _node(root: Any, path: KeyPath) -> Any:
    node = root
    for part in path:
        node = node[part]
    return node


def with_client_ids(text: str, client_ids: Mapping[KeyPath, str], *, display: str = "fluxforge.yaml") -> str:
    """``text`` with ``clientId: <id>`` set in each identity mapping at the given key paths: placed right
    after ``name`` (or first), every other line untouched."""
    indent = layout_of(text)
    root = load_rt(text)
    for path, client_id in client_ids.items():
        try:
            identity = _node(root, path)
        except (KeyError, IndexError, TypeError):
            raise ConfigError(f"{display}: {path}: changed while fluxforge azure apply ran; set clientId "
                              f"{client_id} there yourself") from None
        if identity.get("clientId") == client_id:
            continue
        if "clientId" in identity:
            identity["clientId"] = client_id
        else:
            keys = list(identity)
            at = keys.index("name") + 1 if "name" in keys else 0
            identity.insert(at, "clientId", client_id)
    out = dump_rt(root, indent=indent)
    return out

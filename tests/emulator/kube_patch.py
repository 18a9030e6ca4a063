"""The three PATCH formats ``kubectl`` sends: JSON merge patch (RFC 7386), strategic merge patch (lists merged
by their patch merge key, with ``$patch``/``$setElementOrder``/``$retainKeys`` directives) and JSON patch
(RFC 6902). Strategic merge knows the merge keys of the fields the emulated kinds use."""

from __future__ import annotations

import copy
from typing import Any

# patchMergeKey of list fields (k8s.io/api struct tags), by field name
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "conditions": "type",
    "webhooks": "name",
    "envFrom": "",
    "tolerations": "",
    "secrets": "name",
    "ownerReferences": "uid",
    "finalizers": "",
}


class PatchError(ValueError):
    """A patch document that cannot be applied (Kubernetes answers 422/400)."""


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def strategic_merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    out = dict(target) if isinstance(target, dict) else {}
    orders = {k.split("/", 1)[1]: v for k, v in patch.items() if k.startswith("$setElementOrder/")}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            out.pop(key, None)
        elif isinstance(value, list) and MERGE_KEYS.get(key):
            out[key] = _merge_list(out.get(key) or [], value, MERGE_KEYS[key], orders.get(key))
        else:
            out[key] = strategic_merge(out.get(key), value)
    if "$retainKeys" in patch:
        keep = set(patch["$retainKeys"])
        out = {k: v for k, v in out.items() if k in keep}
    return out


def _merge_list(current: list[Any], patch: list[Any], key: str, order: list[Any] | None) -> list[Any]:
    items = [copy.deepcopy(i) for i in current]
    for element in patch:
        if not isinstance(element, dict) or key not in element:
            raise PatchError(f"strategic merge patch: list element without merge key {key!r}")
        index = next(
            (i for i, item in enumerate(items) if isinstance(item, dict) and item.get(key) == element[key]), None
        )
        if element.get("$patch") == "delete":
            if index is not None:
                items.pop(index)
        elif index is None:
            items.append(strategic_merge({}, element))
        else:
            items[index] = strategic_merge(items[index], element)
    if order:
        rank = {o.get(key): n for n, o in enumerate(order) if isinstance(o, dict)}
        items.sort(key=lambda i: rank.get(i.get(key), len(rank)) if isinstance(i, dict) else len(rank))
    return items


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise PatchError(f"json patch: path {path!r} must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> Any:
    node = doc
    for part in parts[:-1]:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError):
            raise PatchError(f"json patch: path /{'/'.join(parts)} does not exist") from None
    return node


def json_patch(doc: Any, ops: list[dict[str, Any]]) -> Any:
    out = copy.deepcopy(doc)
    for op in ops:
        parts = _pointer(str(op.get("path", "")))
        parent, last = _parent(out, parts), parts[-1]
        kind = op.get("op")
        if kind in ("add", "replace"):
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if kind == "add":
                    parent.insert(index, copy.deepcopy(op.get("value")))
                else:
                    parent[index] = copy.deepcopy(op.get("value"))
            else:
                if kind == "replace" and last not in parent:
                    raise PatchError(f"json patch: replace of missing path {op.get('path')}")
                parent[last] = copy.deepcopy(op.get("value"))
        elif kind == "remove":
            try:
                del parent[int(last) if isinstance(parent, list) else last]
            except (KeyError, IndexError, ValueError):
                raise PatchError(f"json patch: remove of missing path {op.get('path')}") from None
        elif kind == "test":
            current = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if current != op.get("value"):
                raise PatchError(f"json patch: test failed at {op.get('path')}")
        else:
            raise PatchError(f"json patch: unsupported op {kind!r}")
    return out

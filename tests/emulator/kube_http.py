"""REST verbs of the emulated API server on one resource type: list/get (JSON or ``Table``), create, replace,
patch (merge, strategic, JSON patch, server-side apply), delete, the ``status`` subresource and TokenRequest."""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from . import kube_types as kt
from .kube import KubeError, _not_found
from .kube_patch import PatchError, json_patch, merge_patch, strategic_merge
from .kube_proto import ProtoError, token_request
from .wire import Request, Response

if TYPE_CHECKING:
    from .kube import KubeCluster


def _body(req: Request) -> Any:
    ctype = req.headers.get("content-type", "")
    if "protobuf" in ctype:
        if not req.path.endswith("/token"):
            raise KubeError(415, "UnsupportedMediaType", "the emulated API server reads protobuf only for TokenRequest")
        try:
            return token_request(req.body)
        except ProtoError as exc:
            raise KubeError(400, "BadRequest", f"the request body could not be decoded: {exc}") from None
    try:
        if "yaml" in ctype:
            return YAML(typ="safe").load(req.body.decode("utf-8"))
        return json.loads(req.body or b"{}")
    except (ValueError, YAMLError) as exc:
        raise KubeError(400, "BadRequest", f"the request body could not be decoded: {exc}") from None


def _manager(req: Request, default: str) -> str:
    return req.query.get("fieldManager") or default


def dispatch(cluster: KubeCluster, req: Request, t: kt.ResourceType, namespace: str, rest: list[str]) -> Response:
    if t.namespaced and not namespace and req.method != "GET":
        raise KubeError(400, "BadRequest", "the namespace of the object must be given")
    if not rest:
        return _collection(cluster, req, t, namespace)
    name, sub = rest[0], rest[1:]
    if sub == ["token"] and t.plural == "serviceaccounts" and req.method == "POST":
        return Response(201, cluster.token_request(namespace, name, _body(req)))
    if sub and sub != ["status"]:
        raise KubeError(404, "NotFound", "the server could not find the requested resource")
    return _item(cluster, req, t, namespace, name, status=bool(sub))


def _collection(cluster: KubeCluster, req: Request, t: kt.ResourceType, namespace: str) -> Response:
    if req.method == "POST":
        obj = _body(req)
        if not isinstance(obj, dict):
            raise KubeError(400, "BadRequest", "the request body must be an object")
        obj.setdefault("apiVersion", t.api_version)
        obj.setdefault("kind", t.kind)
        if t.namespaced:
            body_ns = (obj.get("metadata") or {}).get("namespace")
            if body_ns and body_ns != namespace:
                raise KubeError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
        created = cluster._create(
            t,
            namespace,
            copy.deepcopy(obj),
            _manager(req, "kubectl-create"),
            "Update",
            dry_run=req.query.get("dryRun") == "All",
        )
        return Response(201, _public(created))
    if req.method != "GET":
        raise KubeError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    if req.query.get("watch") in ("true", "1"):
        raise KubeError(405, "MethodNotAllowed", "watch is not supported by the emulated API server")
    items = [
        o
        for (plural, ns, _), o in sorted(cluster.objects.items())
        if plural == f"{t.plural}.{t.group}"
        and (not namespace or ns == namespace)
        and _selected(o, req.query.get("labelSelector", ""), req.query.get("fieldSelector", ""))
    ]
    if "as=Table" in req.headers.get("accept", ""):
        return Response(200, _table(t, items))
    return Response(
        200,
        {
            "kind": f"{t.kind}List",
            "apiVersion": t.api_version,
            "metadata": {"resourceVersion": str(next(cluster._rv))},
            "items": [_public(o) for o in items],
        },
    )


def _selected(obj: dict[str, Any], labels: str, fields: str) -> bool:
    have = obj.get("metadata", {}).get("labels") or {}
    for term in (x.strip() for x in labels.split(",") if x.strip()):
        if "!=" in term:
            key, value = term.split("!=", 1)
            ok = have.get(key.strip()) != value.strip()
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            ok = have.get(key.strip()) == value.strip()
        else:
            ok = (term[1:] not in have) if term.startswith("!") else term in have
        if not ok:
            return False
    meta = obj.get("metadata", {})
    for term in (x.strip() for x in fields.split(",") if x.strip()):
        key, _, value = term.partition("=")
        actual = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace")}.get(key.strip())
        if actual != value.strip().lstrip("="):
            return False
    return True


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(obj)


def _table(t: kt.ResourceType, items: list[dict[str, Any]]) -> dict[str, Any]:
    columns = [{"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}]
    columns += [
        {"name": name, "type": kind if kind != "date" else "string", "format": "", "description": name, "priority": 0}
        for name, kind, _ in t.columns
    ]
    rows = []
    for obj in items:
        meta = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
        rows.append(
            {
                "cells": [obj["metadata"]["name"], *(cell(obj) for _, _, cell in t.columns)],
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta},
            }
        )
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": "1"},
        "columnDefinitions": columns,
        "rows": rows,
    }


def _item(
    cluster: KubeCluster, req: Request, t: kt.ResourceType, namespace: str, name: str, *, status: bool
) -> Response:
    key = cluster._key(t, namespace, name)
    current = cluster.objects.get(key)
    if req.method == "GET":
        if current is None:
            raise _not_found(t, name)
        if "as=Table" in req.headers.get("accept", ""):
            return Response(200, _table(t, [current]))
        return Response(200, _public(current))
    if req.method == "DELETE":
        return _delete(cluster, t, key, name, current)
    if req.method == "PATCH" and req.headers.get("content-type", "").startswith("application/apply-patch"):
        return _server_side_apply(cluster, req, t, namespace, name, current)
    if current is None:
        raise _not_found(t, name)
    if req.method == "PUT":
        replacement = _body(req)
    elif req.method == "PATCH":
        replacement = _patched(req, t, current)
    else:
        raise KubeError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    return Response(200, _public(_write(cluster, req, t, namespace, current, replacement, status=status)))


def _patched(req: Request, t: kt.ResourceType, current: dict[str, Any]) -> dict[str, Any]:
    ctype = req.headers.get("content-type", "").split(";")[0].strip()
    patch = _body(req)
    try:
        if ctype == "application/merge-patch+json":
            return merge_patch(current, patch)
        if ctype == "application/strategic-merge-patch+json":
            if t.crd:
                raise KubeError(
                    415, "UnsupportedMediaType", "strategic merge patch is not supported for custom resources"
                )
            return strategic_merge(current, patch)
        if ctype == "application/json-patch+json":
            return json_patch(current, patch)
    except PatchError as exc:
        raise KubeError(422, "Invalid", str(exc)) from None
    raise KubeError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media "
        f"types include: application/json-patch+json, application/merge-patch+json, "
        f"application/apply-patch+yaml (got {ctype!r})",
    )


def _write(
    cluster: KubeCluster,
    req: Request,
    t: kt.ResourceType,
    namespace: str,
    current: dict[str, Any],
    replacement: Any,
    *,
    status: bool,
) -> dict[str, Any]:
    if not isinstance(replacement, dict):
        raise KubeError(400, "BadRequest", "the request body must be an object")
    if status:  # the status subresource changes status only
        merged = copy.deepcopy(current)
        merged["status"] = replacement.get("status")
    else:
        merged = copy.deepcopy(replacement)
        if "status" in t.subresources:
            merged["status"] = copy.deepcopy(current.get("status"))
    manager = _manager(req, "kubectl-client-side-apply" if req.method == "PATCH" else "kubectl-replace")
    return cluster._store(t, namespace, merged, current, manager, "Update", dry_run=req.query.get("dryRun") == "All")


def _server_side_apply(
    cluster: KubeCluster, req: Request, t: kt.ResourceType, namespace: str, name: str, current: dict[str, Any] | None
) -> Response:
    applied = _body(req)
    if not isinstance(applied, dict):
        raise KubeError(400, "BadRequest", "the apply configuration must be an object")
    manager = req.query.get("fieldManager")
    if not manager:
        raise KubeError(
            422,
            "Invalid",
            'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
        )
    applied.setdefault("metadata", {}).setdefault("name", name)
    dry = req.query.get("dryRun") == "All"
    if current is None:
        return Response(201, _public(cluster._create(t, namespace, copy.deepcopy(applied), manager, "Apply", dry)))
    merged = strategic_merge(current, applied) if not t.crd else merge_patch(current, applied)
    if "status" in t.subresources:
        merged["status"] = copy.deepcopy(current.get("status"))
    return Response(200, _public(cluster._store(t, namespace, merged, current, manager, "Apply", dry)))


def _delete(
    cluster: KubeCluster, t: kt.ResourceType, key: tuple[str, str, str], name: str, current: dict[str, Any] | None
) -> Response:
    if current is None:
        raise _not_found(t, name)
    del cluster.objects[key]
    if t.kind == "Pod":  # its ReplicaSet replaces it
        cluster.replace_owned_pod(current)
    return Response(
        200,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "group": t.group, "kind": t.plural, "uid": current["metadata"]["uid"]},
        },
    )

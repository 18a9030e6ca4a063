"""Cross-field checks of ``clusters[].workloads[]`` (applications reading Key Vault objects with workload
identity) that JSON Schema cannot express: where the Component goes, which namespace the ServiceAccount lands
in, one ServiceAccount per workload, one file per object.

Pure, over the raw parsed config; tolerant of wrongly typed input (the schema reports those).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any

from generator.config.paths import path_problem
from generator.config.problems import ConfigProblem, KeyPath, did_you_mean, dotted

__all__ = ["workload_problems"]

_CONTROLLER = "kustomize-controller"


def _items(value: Any, base: KeyPath) -> Iterator[tuple[KeyPath, dict[str, Any]]]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict):
                yield (*base, index), item


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _folder(raw: Any) -> str | None:
    """A usable folder, normalised (``./apps//x/`` -> ``apps/x``), or None (the path checks report it)."""
    if not isinstance(raw, str) or path_problem(raw) is not None:
        return None
    return posixpath.normpath(raw)


def _ks_folders(cluster: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(folder, Kustomization) for every Kustomization of the cluster with a usable path."""
    environment = cluster.get("environment", cluster.get("name"))
    found = []
    for _path, ks in _items(cluster.get("kustomizations"), ()):
        folder = _folder(ks.get("path", f"{ks.get('name')}/{environment}"))
        if folder:
            found.append((folder, ks))
    return found


def _inside(folder: str, parent: str) -> bool:
    return folder == parent or folder.startswith(parent + "/")


def _path_checks(wpath: KeyPath, workload: dict[str, Any], cluster: dict[str, Any]) -> Iterator[ConfigProblem]:
    folder = _folder(workload.get("path"))
    if folder is None:
        if isinstance(workload.get("path"), str):
            yield ConfigProblem((*wpath, "path"), str(path_problem(workload["path"])))
        return
    folders = _ks_folders(cluster)
    covering = sorted((f for f in folders if _inside(folder, f[0])), key=lambda f: -len(f[0]))
    if not covering:
        known = [f for f, _ in folders]
        listed = ", ".join(known) if known else "none"
        yield ConfigProblem(
            (*wpath, "path"),
            f"{folder!r} is not built by a Kustomization of this cluster (paths: {listed}), "
            f"so Flux would never apply the workload's Component{did_you_mean(folder, known)}",
        )
        return
    yield from _target_namespace_checks(wpath, workload, *covering[0])


def _target_namespace_checks(
    wpath: KeyPath, workload: dict[str, Any], ks_folder: str, ks: dict[str, Any]
) -> Iterator[ConfigProblem]:
    """The Kustomization that applies the workload must not move it to another namespace."""
    target = _str(ks.get("targetNamespace"))
    namespace = _str(workload.get("namespace"))
    account = _str(workload.get("serviceAccount", workload.get("name"))) or "<serviceAccount>"
    if target and namespace and target != namespace:
        yield ConfigProblem(
            (*wpath, "namespace"),
            (
                f"Kustomization {ks.get('name')!r} ({ks_folder}) sets targetNamespace {target!r} "
                "on everything it applies: "
                f"the ServiceAccount would land in {target!r} and the federated subject "
                f"system:serviceaccount:{namespace}:{account} would never match; set namespace: {target}"
            ),
        )


def _flux_accounts(data: dict[str, Any], cluster: dict[str, Any]) -> dict[tuple[str, str], str]:
    """ServiceAccounts Flux itself federates in this cluster: (namespace, name) -> what it is."""
    raw = data.get("flux")
    flux: dict[str, Any] = raw if isinstance(raw, dict) else {}
    flux_ns = _str(flux.get("namespace")) or "flux-system"
    found = {(flux_ns, _CONTROLLER): "kustomize-controller (controller-level workload identity)"}
    lockdown = _str(flux.get("defaultDecryptionServiceAccount"))
    if lockdown:
        found[(flux_ns, lockdown)] = "flux.defaultDecryptionServiceAccount"
    for _kpath, ks in _items(cluster.get("kustomizations"), ()):
        namespace = _str(ks.get("namespace")) or flux_ns
        tenant = ks.get("tenant")
        if isinstance(tenant, dict) and _str(tenant.get("serviceAccount")):
            found.setdefault(
                (namespace, tenant["serviceAccount"]), f"the tenant ServiceAccount of Kustomization {ks.get('name')!r}"
            )
        elif lockdown and ks.get("decryption") is not False:
            found.setdefault((namespace, lockdown), "flux.defaultDecryptionServiceAccount")
    return found


def _account_checks(data: dict[str, Any], cpath: KeyPath, cluster: dict[str, Any]) -> Iterator[ConfigProblem]:
    flux = _flux_accounts(data, cluster)
    first: dict[tuple[str, str], KeyPath] = {}
    for wpath, workload in _items(cluster.get("workloads"), (*cpath, "workloads")):
        namespace, name = _str(workload.get("namespace")), _str(workload.get("serviceAccount", workload.get("name")))
        if not namespace or not name:
            continue
        key, where = (namespace, name), (*wpath, "serviceAccount" if "serviceAccount" in workload else "name")
        if key in flux:
            yield ConfigProblem(
                where,
                f"ServiceAccount {name!r} in namespace {namespace!r} is {flux[key]}; give the workload "
                "its own ServiceAccount (serviceAccount: ...)",
            )
        elif key in first:
            yield ConfigProblem(
                where,
                f"ServiceAccount {name!r} in namespace {namespace!r} is already used by the workload at "
                f"{dotted(first[key])}; give each workload its own ServiceAccount",
            )
        else:
            first[key] = wpath


def _unique_workloads(cpath: KeyPath, cluster: dict[str, Any]) -> Iterator[ConfigProblem]:
    targets: dict[tuple[str, str, str], KeyPath] = {}
    folders: dict[tuple[str, str], KeyPath] = {}
    for wpath, workload in _items(cluster.get("workloads"), (*cpath, "workloads")):
        name, namespace = _str(workload.get("name")), _str(workload.get("namespace"))
        if not name:
            continue
        kind = _str(workload.get("kind")) or "Deployment"
        if namespace and (target := (kind, namespace, name)) in targets:
            yield ConfigProblem(
                (*wpath, "name"),
                f"{kind} {namespace}/{name} is already patched by the workload at "
                f"{dotted(targets[target])}; list its objects there",
            )
        elif namespace:
            targets[target] = wpath
        folder = _folder(workload.get("path"))
        if folder and (place := (folder, name)) in folders:
            yield ConfigProblem(
                (*wpath, "name"),
                f"{folder}/workload-identity/{name} is already the Component of the workload "
                f"at {dotted(folders[place])}; give the workloads different names",
            )
        elif folder:
            folders[place] = wpath


def _object_checks(wpath: KeyPath, workload: dict[str, Any]) -> Iterator[ConfigProblem]:
    files: dict[str, KeyPath] = {}
    keys: dict[tuple[str, str], KeyPath] = {}
    types: dict[str, tuple[KeyPath, str]] = {}
    for opath, obj in _items(workload.get("objects"), (*wpath, "objects")):
        file = _str(obj.get("alias")) or _str(obj.get("name"))
        if file and file in files:
            yield ConfigProblem(
                (*opath, "alias" if "alias" in obj else "name"),
                f"file {file!r} is already mounted by {dotted(files[file])}; give one of them an alias",
            )
        elif file:
            files[file] = opath
        sync = obj.get("syncAs")
        if isinstance(sync, dict) and _str(sync.get("secret")) and _str(sync.get("key")):
            yield from _sync_checks(opath, sync, keys, types)


def _sync_checks(
    opath: KeyPath, sync: dict[str, Any], keys: dict[tuple[str, str], KeyPath], types: dict[str, tuple[KeyPath, str]]
) -> Iterator[ConfigProblem]:
    """``syncAs``: one object per key of a synced Secret, one type per Secret (``keys``, ``types``: the first
    of each, recorded here)."""
    pair = (sync["secret"], sync["key"])
    if pair in keys:
        yield ConfigProblem(
            (*opath, "syncAs", "key"),
            f"key {pair[1]!r} of Secret {pair[0]!r} is already synced from {dotted(keys[pair])}; use another key",
        )
    else:
        keys[pair] = opath
    kind = _str(sync.get("type")) or "Opaque"
    if pair[0] in types and types[pair[0]][1] != kind:
        first, first_kind = types[pair[0]]
        yield ConfigProblem(
            (*opath, "syncAs", "type"),
            f"Secret {pair[0]!r} has type {first_kind!r} at {dotted(first)}; one Secret, one type",
        )
    types.setdefault(pair[0], (opath, kind))


def workload_problems(data: dict[str, Any]) -> list[ConfigProblem]:
    """Every cross-field problem of the clusters' workloads."""
    problems: list[ConfigProblem] = []
    for cpath, cluster in _items(data.get("clusters"), ("clusters",)):
        for wpath, workload in _items(cluster.get("workloads"), (*cpath, "workloads")):
            problems.extend(_path_checks(wpath, workload, cluster))
            problems.extend(_object_checks(wpath, workload))
        problems.extend(_unique_workloads(cpath, cluster))
        problems.extend(_account_checks(data, cpath, cluster))
    return problems

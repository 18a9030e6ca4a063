"""Checks JSON Schema cannot express: uniqueness, references, cycles, paths, version gates.

Every check tolerates wrongly typed input (the schema reports those) so that all problems are
found in one run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from generator.azure.checks import azure_problems
from generator.config.flavour import flavour_problems
from generator.config.paths import normalise_path, path_problem
from generator.config.problems import ConfigProblem, KeyPath, did_you_mean, dotted
from generator.config.tenancy_checks import tenancy_problems
from generator.config.workload_checks import workload_problems
from generator.flux.versions import EXTRA_COMPONENTS, features_for, parse_version

__all__ = ["check_semantics", "normalise_path"]

_REQUIRED_COMPONENTS = ("source-controller", "kustomize-controller")


def _mappings(items: Any, base: KeyPath) -> Iterator[tuple[KeyPath, dict[str, Any]]]:
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield (*base, index), item


def _strings(items: Any) -> Iterator[tuple[int, str]]:
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, str):
                yield index, item


_GO_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_NS = {"ms": Decimal(10**6), "s": Decimal(10**9), "m": Decimal(60 * 10**9), "h": Decimal(3600 * 10**9)}
_MAX_DURATION_NS = 2**63 - 1  # Go's time.Duration is an int64 of nanoseconds


def duration_problem(text: str) -> str | None:
    """Why Flux (Go's ``time.ParseDuration``) would reject a duration the schema's pattern allows."""
    total = sum((Decimal(n) * _NS[unit] for n, unit in _GO_DURATION_PART.findall(text)), Decimal(0))
    if total > _MAX_DURATION_NS:
        return f"{text[:40]!r} is longer than Go's largest duration (2562047h47m16.854775807s); Flux rejects it"
    return None


def _duration_checks(data: dict[str, Any]) -> Iterator[ConfigProblem]:
    git = data.get("git")
    if isinstance(git, dict) and isinstance(git.get("interval"), str) and (why := duration_problem(git["interval"])):
        yield ConfigProblem(("git", "interval"), why)
    for cpath, cluster in _mappings(data.get("clusters"), ("clusters",)):
        for kpath, ks in _mappings(cluster.get("kustomizations"), (*cpath, "kustomizations")):
            for key in ("interval", "retryInterval", "timeout"):
                if isinstance(ks.get(key), str) and (why := duration_problem(ks[key])):
                    yield ConfigProblem((*kpath, key), why)


def _duplicates(entries: list[tuple[KeyPath, str]], what: str) -> Iterator[ConfigProblem]:
    first: dict[str, KeyPath] = {}
    for path, value in entries:
        if value in first:
            yield ConfigProblem(path, f"duplicate {what} {value!r} (first used by {dotted(first[value][:-1])})")
        else:
            first[value] = path


def _flux_minor(version: Any) -> tuple[int | None, list[ConfigProblem]]:
    """The configured Flux minor (9 when unset, None when unusable)."""
    if not isinstance(version, str):
        return (9 if version is None else None), []
    try:
        parsed = parse_version(version)
    except ValueError:
        return None, []  # the schema pattern reports it
    try:
        return features_for(parsed).version.minor, []
    except ValueError as err:
        return None, [ConfigProblem(("flux", "version"), str(err))]


def _flux_checks(data: dict[str, Any]) -> tuple[int | None, list[ConfigProblem]]:
    """Return the Flux minor (None if unusable) and problems of the flux block."""
    flux = data.get("flux")
    flux = flux if isinstance(flux, dict) else {}
    minor, problems = _flux_minor(flux.get("version"))
    components = flux.get("components")
    if isinstance(components, list):
        problems += _component_problems(components, minor)
    if "defaultDecryptionServiceAccount" in flux and minor is not None and minor < 7:
        problems.append(
            ConfigProblem(("flux", "defaultDecryptionServiceAccount"), "needs Flux >= 2.7 (set flux.version)")
        )
    return minor, problems


def _component_problems(components: list[Any], minor: int | None) -> list[ConfigProblem]:
    """flux.components: the ones fluxforge configures are there, each one exists in the Flux version."""
    names = [c for c in components if isinstance(c, str)]
    problems = [
        ConfigProblem(("flux", "components"), f"must include {need} (fluxforge configures it)")
        for need in _REQUIRED_COMPONENTS
        if need not in names
    ]
    for index, name in _strings(components):
        since = EXTRA_COMPONENTS.get(name)
        if since is not None and minor is not None and minor < since:
            problems.append(ConfigProblem(("flux", "components", index), f"{name} needs Flux >= 2.{since}"))
    return problems


def _sops_present(block: Any) -> bool:
    return isinstance(block, dict) and bool(block.get("keyVault") or block.get("age"))


def _cluster_folder(cluster: dict[str, Any]) -> str | None:
    raw = cluster.get("path", f"clusters/{cluster.get('name')}")
    return normalise_path(raw) if isinstance(raw, str) and path_problem(raw) is None else None


def _ks_path_checks(path: KeyPath, raw: Any, cluster_folder: str | None) -> Iterator[ConfigProblem]:
    if not isinstance(raw, str):
        return
    if why := path_problem(raw):
        yield ConfigProblem((*path, "path"), why)
    elif cluster_folder and (normalise_path(raw) + "/").startswith(cluster_folder + "/"):
        yield ConfigProblem(
            (*path, "path"),
            f"{raw!r} is inside the cluster folder {cluster_folder}, which the flux-system Kustomization "
            "already applies; use a folder outside it (e.g. apps/<environment>)",
        )


def _tenant_conflicts(entries: list[tuple[KeyPath, dict[str, Any]]], flux_ns: str) -> Iterator[ConfigProblem]:
    first: dict[tuple[str, str], tuple[KeyPath, Any]] = {}
    for path, ks in entries:
        tenant = ks.get("tenant")
        if not isinstance(tenant, dict) or not isinstance(tenant.get("serviceAccount"), str):
            continue
        key = (str(ks.get("namespace", flux_ns)), tenant["serviceAccount"])
        identity = tenant.get("identity")
        if key not in first:
            first[key] = (path, identity)
        elif first[key][1] != identity:
            yield ConfigProblem(
                (*path, "tenant", "identity"),
                f"ServiceAccount {key[1]!r} in namespace {key[0]!r} already has another identity "
                f"(at {dotted(first[key][0])}); use one identity per ServiceAccount",
            )


def _lockdown_clash(path: KeyPath, ks: dict[str, Any], lockdown: str | None) -> Iterator[ConfigProblem]:
    tenant = ks.get("tenant")
    if lockdown and isinstance(tenant, dict) and tenant.get("serviceAccount") == lockdown:
        yield ConfigProblem(
            (*path, "tenant", "serviceAccount"),
            f"{lockdown!r} is flux.defaultDecryptionServiceAccount, rendered with the cluster identity; "
            "give the tenant's ServiceAccount another name",
        )


def _kustomization_checks(
    cpath: KeyPath, cluster: dict[str, Any], minor: int | None, flux_ns: str, lockdown: str | None
) -> Iterator[ConfigProblem]:
    entries = list(_mappings(cluster.get("kustomizations"), (*cpath, "kustomizations")))
    names = [(p, ks["name"]) for p, ks in entries if isinstance(ks.get("name"), str)]
    yield from _duplicates([((*p, "name"), n) for p, n in names], "Kustomization name")
    known = {n for _, n in names}
    for path, ks in entries:
        if ks.get("name") == flux_ns:
            yield ConfigProblem(
                (*path, "name"),
                f"{flux_ns!r} is reserved for the sync Kustomization gotk-sync.yaml "
                "(flux bootstrap names it after flux.namespace)",
            )
        yield from _lockdown_clash(path, ks, lockdown)
        yield from _ks_path_checks(path, ks.get("path"), _cluster_folder(cluster))
        yield from _tenant_field_checks(path, ks, minor)
        yield from _depends_on_checks(path, ks, known)
    yield from _cycles(entries, known)
    yield from _tenant_conflicts(entries, flux_ns)


def _tenant_field_checks(path: KeyPath, ks: dict[str, Any], minor: int | None) -> Iterator[ConfigProblem]:
    if "tenant" in ks and minor is not None and minor < 6:
        yield ConfigProblem((*path, "tenant"), "object-level workload identity needs Flux >= 2.6 (set flux.version)")
    if isinstance(ks.get("tenant"), dict) and ks.get("decryption") is False:
        yield ConfigProblem(
            (*path, "tenant"), "a tenant identity is only used for decryption; remove it or the decryption: false"
        )


def _depends_on_checks(path: KeyPath, ks: dict[str, Any], known: set[str]) -> Iterator[ConfigProblem]:
    for index, dep in _strings(ks.get("dependsOn")):
        if dep not in known:
            hint = did_you_mean(dep, sorted(known))
            yield ConfigProblem((*path, "dependsOn", index), f"unknown Kustomization {dep!r} in this cluster{hint}")


def _cycles(entries: list[tuple[KeyPath, dict[str, Any]]], known: set[str]) -> Iterator[ConfigProblem]:
    graph: dict[str, list[str]] = {}
    where: dict[str, KeyPath] = {}
    for path, ks in entries:
        name = ks.get("name")
        if isinstance(name, str) and name not in graph:
            graph[name] = [d for _, d in _strings(ks.get("dependsOn")) if d in known]
            where[name] = (*path, "dependsOn")
    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()

    def visit(node: str, stack: list[str]) -> Iterator[ConfigProblem]:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, []):
            if state.get(dep) == 1:
                cycle = [*stack[stack.index(dep) :], dep]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    yield ConfigProblem(where[dep], f"dependsOn cycle: {' -> '.join(cycle)}")
            elif state.get(dep) is None:
                yield from visit(dep, stack)
        stack.pop()
        state[node] = 2

    for name in graph:
        if name not in state:
            yield from visit(name, [])


def _flux_namespace(data: dict[str, Any]) -> str:
    flux = data.get("flux")
    namespace = flux.get("namespace") if isinstance(flux, dict) else None
    return namespace if isinstance(namespace, str) else "flux-system"


def _lockdown(data: dict[str, Any]) -> str | None:
    """flux.defaultDecryptionServiceAccount, or the one flux.lockdown sets (Flux >= 2.7)."""
    from generator.flux.lockdown import LOCKDOWN_DECRYPTION_SA

    flux = data.get("flux")
    if not isinstance(flux, dict):
        return None
    name = flux.get("defaultDecryptionServiceAccount")
    if name is None and flux.get("lockdown") is True and _flux_minor(flux.get("version"))[0] in range(7, 10):
        return LOCKDOWN_DECRYPTION_SA
    return name if isinstance(name, str) else None


def _sparse_folders(data: dict[str, Any], minor: int | None, problems: list[ConfigProblem]) -> list[str]:
    git = data.get("git")
    sparse = git.get("sparseCheckout") if isinstance(git, dict) else None
    if not isinstance(sparse, list) or not sparse:
        return []
    if minor is not None and minor < 9:
        problems.append(
            ConfigProblem(
                ("git", "sparseCheckout"),
                "needs Flux >= 2.9 (flux bootstrap --sparse-checkout); set flux.version, or remove it",
            )
        )
    folders = []
    for index, raw in _strings(sparse):
        if why := path_problem(raw):
            problems.append(ConfigProblem(("git", "sparseCheckout", index), why))
        else:
            folders.append(normalise_path(raw))
    return folders


def _ks_folders(cpath: KeyPath, cluster: dict[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    environment = cluster.get("environment", cluster.get("name"))
    for path, ks in _mappings(cluster.get("kustomizations"), (*cpath, "kustomizations")):
        raw = ks.get("path", f"{ks.get('name')}/{environment}")
        if isinstance(raw, str) and path_problem(raw) is None:
            yield (*path, "path" if "path" in ks else "name"), normalise_path(raw)


def _sparse_checks(data: dict[str, Any], minor: int | None) -> list[ConfigProblem]:
    """Every folder Flux applies lies in a git.sparseCheckout folder (else the artifact lacks it)."""
    problems: list[ConfigProblem] = []
    folders = _sparse_folders(data, minor, problems)
    if not folders:
        return problems
    for cpath, cluster in _mappings(data.get("clusters"), ("clusters",)):
        wanted = [
            ((*cpath, "path" if "path" in cluster else "name"), _cluster_folder(cluster)),
            *_ks_folders(cpath, cluster),
        ]
        for where, folder in wanted:
            if folder and not any(folder == f or folder.startswith(f + "/") for f in folders):
                problems.append(
                    ConfigProblem(
                        where,
                        f"{folder!r} is outside git.sparseCheckout ({', '.join(folders)}): "
                        "the GitRepository would not check it out; add it (or a parent) to the list",
                    )
                )
    return problems


def _cluster_path(
    cpath: KeyPath, cluster: dict[str, Any], named: set[str], cluster_paths: list[tuple[KeyPath, str]]
) -> list[ConfigProblem]:
    """Record the cluster's folder in ``cluster_paths`` (its path, else clusters/<name> for the first cluster of
    that name; ``named`` collects the names); the problem with an unusable path."""
    raw = cluster.get("path")
    problems = []
    if isinstance(raw, str):
        if why := path_problem(raw):
            problems.append(ConfigProblem((*cpath, "path"), why))
        else:
            cluster_paths.append(((*cpath, "path"), normalise_path(raw)))
    elif isinstance(cluster.get("name"), str) and cluster["name"] not in named:
        cluster_paths.append(((*cpath, "name"), f"clusters/{cluster['name']}"))
    if isinstance(cluster.get("name"), str):
        named.add(cluster["name"])
    return problems


def check_semantics(data: Any) -> list[ConfigProblem]:
    """All cross-field problems of a parsed config (empty when fine)."""
    if not isinstance(data, dict):
        return []
    minor, problems = _flux_checks(data)
    clusters = list(_mappings(data.get("clusters"), ("clusters",)))
    problems.extend(
        _duplicates([((*p, "name"), c["name"]) for p, c in clusters if isinstance(c.get("name"), str)], "cluster name")
    )
    cluster_paths: list[tuple[KeyPath, str]] = []
    named: set[str] = set()
    for cpath, cluster in clusters:
        problems += _cluster_path(cpath, cluster, named, cluster_paths)
        if not _sops_present(cluster.get("sops")) and not _sops_present(data.get("sops")):
            problems.append(
                ConfigProblem((*cpath,), "no SOPS recipient: add sops.keyVault or sops.age (top level or per cluster)")
            )
        problems.extend(_kustomization_checks(cpath, cluster, minor, _flux_namespace(data), _lockdown(data)))
    problems.extend(tenancy_problems(data, _flux_namespace(data)))
    problems.extend(_duplicates(cluster_paths, "cluster path"))
    problems.extend(_duration_checks(data))
    problems.extend(_sparse_checks(data, minor))
    problems.extend(azure_problems(data))
    problems.extend(flavour_problems(data))
    problems.extend(workload_problems(data))
    return problems

"""Checks of tenants (impersonation) and of ``flux.lockdown`` on the raw config: what Flux's lockdown would
reject is refused here, at the key that causes it, with the reason and the fix.

Tolerates wrongly typed input (the schema reports it), like :mod:`generator.config.checks`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.config.problems import ConfigProblem, KeyPath, dotted
from generator.resources import load_schema

__all__ = ["tenancy_problems"]


def _mappings(items: Any, base: KeyPath) -> Iterator[tuple[KeyPath, dict[str, Any]]]:
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield (*base, index), item


def _reconciler(tenant: dict[str, Any]) -> tuple[str | None, str]:
    """(ServiceAccount the Kustomization applies as, its role) of a raw tenant block."""
    raw = tenant.get("reconciler")
    raw = raw if isinstance(raw, dict) else {}
    defaults = load_schema("config.schema.json")["$defs"]["tenantReconciler"]["properties"]  # declared once
    name = raw.get("serviceAccount", tenant.get("serviceAccount"))
    role = raw.get("role", defaults["role"]["default"])
    return (name if isinstance(name, str) else None), f"{raw.get('roleKind', defaults['roleKind']['default'])}/{role}"


def _tenant_checks(entries: list[tuple[KeyPath, dict[str, Any]]], flux_ns: str) -> Iterator[ConfigProblem]:
    first: dict[tuple[str, str], tuple[KeyPath, str]] = {}
    for path, ks in entries:
        tenant = ks.get("tenant")
        if not isinstance(tenant, dict):
            continue
        namespace = ks.get("namespace", flux_ns)
        name, role = _reconciler(tenant)
        if not isinstance(namespace, str) or name is None:
            continue
        key = (namespace, name)
        if key not in first:
            first[key] = (path, role)
        elif first[key][1] != role:
            yield ConfigProblem(
                (*path, "tenant", "reconciler"),
                f"ServiceAccount {name!r} in namespace {namespace!r} is bound to {first[key][1]} by "
                f"{dotted(first[key][0])}; one ServiceAccount has one role: use the same role or another "
                "reconciler.serviceAccount",
            )


def _namespaces(entries: list[tuple[KeyPath, dict[str, Any]]], flux_ns: str) -> dict[str, str]:
    return {ks["name"]: str(ks.get("namespace", flux_ns)) for _, ks in entries if isinstance(ks.get("name"), str)}


def _lockdown_checks(entries: list[tuple[KeyPath, dict[str, Any]]], flux_ns: str) -> Iterator[ConfigProblem]:
    spaces = _namespaces(entries, flux_ns)
    for path, ks in entries:
        namespace = ks.get("namespace", flux_ns)
        if namespace == flux_ns and isinstance(ks.get("tenant"), dict):
            where = (*path, "namespace") if "namespace" in ks else (*path, "tenant")
            yield ConfigProblem(
                where,
                f"flux.lockdown: a tenant applies as a ServiceAccount bound to a role in its "
                f"namespace, and {flux_ns!r} is the Flux namespace (the tenant would administer Flux "
                "itself); give the Kustomization a namespace of its own (namespace: <tenant>)",
            )
        if namespace != flux_ns and not isinstance(ks.get("tenant"), dict):
            yield ConfigProblem(
                (*path, "namespace"),
                f"flux.lockdown: Kustomization {ks.get('name')!r} in namespace {namespace!r} has no tenant, "
                f"so its sourceRef is GitRepository {flux_ns}/{flux_ns} in another namespace, which "
                "--no-cross-namespace-refs=true rejects; make it a tenant (tenant: with its own source) or "
                f"move it to namespace {flux_ns}",
            )
        yield from _cross_namespace_depends(path, ks, namespace, spaces)


def _cross_namespace_depends(
    path: KeyPath, ks: dict[str, Any], namespace: str, spaces: dict[str, str]
) -> Iterator[ConfigProblem]:
    deps = ks.get("dependsOn")
    for index, dep in enumerate(deps if isinstance(deps, list) else []):
        other = spaces.get(dep) if isinstance(dep, str) else None
        if other is not None and other != namespace:
            yield ConfigProblem(
                (*path, "dependsOn", index),
                f"flux.lockdown: {dep!r} is in namespace {other!r}, this Kustomization in {namespace!r}: "
                "--no-cross-namespace-refs=true rejects a cross-namespace dependsOn; remove it (the "
                "tenant's Kustomization waits for nothing outside its namespace)",
            )


def tenancy_problems(data: dict[str, Any], flux_ns: str) -> list[ConfigProblem]:
    """Tenant and lockdown problems of a parsed config."""
    flux = data.get("flux")
    lockdown = isinstance(flux, dict) and flux.get("lockdown") is True
    problems: list[ConfigProblem] = []
    for cpath, cluster in _mappings(data.get("clusters"), ("clusters",)):
        entries = list(_mappings(cluster.get("kustomizations"), (*cpath, "kustomizations")))
        problems.extend(_tenant_checks(entries, flux_ns))
        if lockdown:
            problems.extend(_lockdown_checks(entries, flux_ns))
    return problems

"""Config checks of the Azure keys JSON Schema cannot express (called by ``config_checks``).

Pure, over the raw parsed config; tolerant of wrongly typed input (the schema reports those).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.config.problems import ConfigProblem, KeyPath, dotted

__all__ = ["azure_problems"]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any, base: KeyPath) -> Iterator[tuple[KeyPath, dict[str, Any]]]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict):
                yield (*base, index), item


def identities(data: dict[str, Any]) -> Iterator[tuple[KeyPath, dict[str, Any]]]:
    """Every identity mapping of the config with its key path: cluster identities, then tenants', then
    workloads'."""
    for cpath, cluster in _items(data.get("clusters"), ("clusters",)):
        if isinstance(cluster.get("identity"), dict):
            yield (*cpath, "identity"), cluster["identity"]
        for kpath, ks in _items(cluster.get("kustomizations"), (*cpath, "kustomizations")):
            tenant = _dict(ks.get("tenant"))
            if isinstance(tenant.get("identity"), dict):
                yield (*kpath, "tenant", "identity"), tenant["identity"]
        for wpath, workload in _items(cluster.get("workloads"), (*cpath, "workloads")):
            if isinstance(workload.get("identity"), dict):
                yield (*wpath, "identity"), workload["identity"]


def _key_entries(data: dict[str, Any]) -> Iterator[tuple[KeyPath, dict[str, Any]]]:
    yield from _items(_dict(data.get("sops")).get("keyVault"), ("sops", "keyVault"))
    for cpath, cluster in _items(data.get("clusters"), ("clusters",)):
        yield from _items(_dict(cluster.get("sops")).get("keyVault"), (*cpath, "sops", "keyVault"))


def _workload_vaults(data: dict[str, Any]) -> Iterator[tuple[KeyPath, dict[str, Any]]]:
    for cpath, cluster in _items(data.get("clusters"), ("clusters",)):
        for wpath, workload in _items(cluster.get("workloads"), (*cpath, "workloads")):
            if isinstance(workload.get("keyVault"), dict):
                yield (*wpath, "keyVault"), workload["keyVault"]


def _vault_name(vault: Any) -> str | None:
    if not isinstance(vault, str):
        return None
    return vault.removeprefix("https://").split(".", 1)[0].split("/", 1)[0].lower()


def _identity_problems(data: dict[str, Any], group: Any) -> Iterator[ConfigProblem]:
    seen: dict[tuple[str, str], tuple[KeyPath, dict[str, Any]]] = {}
    for path, ident in identities(data):
        name = ident.get("name")
        yield from _unnamed_problems(path, ident, name)
        if not isinstance(name, str):
            continue
        key = (str(ident.get("resourceGroup", group)).lower(), name.lower())
        if key not in seen:
            seen[key] = (path, ident)
            continue
        yield from _redeclared_problems(path, ident, name, *seen[key])


def _unnamed_problems(path: KeyPath, ident: dict[str, Any], name: Any) -> Iterator[ConfigProblem]:
    if not ident.get("clientId") and not name:
        yield ConfigProblem(
            path,
            "needs clientId, or a name so that `fluxforge azure apply` can create the identity "
            "(and write its clientId here)",
        )
    if ident.get("existing") is True and not name:
        yield ConfigProblem((*path, "existing"), "an existing identity is found by its name: add name")


def _redeclared_problems(
    path: KeyPath, ident: dict[str, Any], name: str, first_path: KeyPath, first: dict[str, Any]
) -> Iterator[ConfigProblem]:
    """The same identity declared again with another clientId or existing."""
    for field in ("clientId", "existing"):
        if ident.get(field) != first.get(field) and field in ident and field in first:
            yield ConfigProblem(
                (*path, field),
                f"identity {name!r} is declared at {dotted(first_path)} with "
                f"{field} {first.get(field)!r}; one identity, one {field}",
            )


def _vault_problems(data: dict[str, Any], group: Any) -> Iterator[ConfigProblem]:
    seen: dict[str, tuple[KeyPath, Any, Any]] = {}
    for path, entry in _key_entries(data):
        vault = _vault_name(entry.get("vault"))
        if vault is None:
            continue
        here = (entry.get("resourceGroup", group), bool(entry.get("existing", False)))
        if vault not in seen:
            seen[vault] = (path, *here)
            continue
        first_path, first_group, first_existing = seen[vault]
        if here[0] != first_group:
            yield ConfigProblem(
                (*path, "resourceGroup"),
                f"Key Vault {vault!r} is in resource group {first_group!r} at "
                f"{dotted(first_path)}; give every entry of one vault the same "
                "resourceGroup",
            )
        if here[1] != first_existing:
            yield ConfigProblem(
                (*path, "existing"),
                f"Key Vault {vault!r} has existing: {str(first_existing).lower()} at "
                f"{dotted(first_path)}; fluxforge either manages a vault or not",
            )


def _workload_vault_problems(data: dict[str, Any], group: Any) -> Iterator[ConfigProblem]:
    """A vault named by workloads is in one resource group (the one its sops.keyVault entries give, if any)."""
    seen: dict[str, tuple[KeyPath, Any]] = {}
    for path, entry in _key_entries(data):
        if (vault := _vault_name(entry.get("vault"))) is not None:
            seen.setdefault(vault, (path, entry.get("resourceGroup", group)))
    for path, entry in _workload_vaults(data):
        vault = _vault_name(entry.get("name"))
        if vault is None:
            continue
        here = entry.get("resourceGroup", group)
        first_path, first_group = seen.setdefault(vault, (path, here))
        if here != first_group:
            yield ConfigProblem(
                (*path, "resourceGroup"),
                f"Key Vault {vault!r} is in resource group {first_group!r} at "
                f"{dotted(first_path)}; give every mention of one vault the same "
                "resourceGroup",
            )


def _encryptor_problems(azure: dict[str, Any]) -> Iterator[ConfigProblem]:
    first: dict[str, KeyPath] = {}
    for path, entry in _items(azure.get("encryptors"), ("azure", "encryptors")):
        object_id = entry.get("objectId")
        if not isinstance(object_id, str):
            continue
        if object_id.lower() in first:
            yield ConfigProblem(
                (*path, "objectId"), f"duplicate encryptor {object_id!r} (first at {dotted(first[object_id.lower()])})"
            )
        else:
            first[object_id.lower()] = path


def azure_problems(data: dict[str, Any]) -> list[ConfigProblem]:
    """Cross-field problems of the Azure keys (identities, Key Vaults, encryptors)."""
    azure = _dict(data.get("azure"))
    group = azure.get("resourceGroup")
    return [
        *_identity_problems(data, group),
        *_vault_problems(data, group),
        *_workload_vault_problems(data, group),
        *_encryptor_problems(azure),
    ]

"""Tenant isolation: which managed identity can decrypt a Key Vault key that ``.sops.yaml`` also uses for
folders the identity does not decrypt (it could read those Secrets straight from Git).

An identity's folders are those its Kustomizations apply (:func:`generator.flux.tenancy.decryptors`) and the
shared folders their builds pull in; the keys it can decrypt are the grants ``fluxforge azure`` makes
(:func:`generator.flux.tenancy.decrypt_grants`). :func:`exposures` is the one check; ``fluxforge lint`` prints
it. Pure: no I/O (the caller passes the shared folders it read).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from generator.config.model import Config, Identity, KeyVaultKey
from generator.config.problems import dotted
from generator.flux.tenancy import Decryptor, decrypt_grants, decryptors, identity_key, key_label
from generator.render.context import SopsRule, sops_rules

__all__ = ["Exposure", "exposures"]


@dataclass(frozen=True)
class Exposure:
    """``identity`` may decrypt ``key``, which the rules of ``folders`` (outside its own) list too."""

    identity: Identity
    key: KeyVaultKey
    folders: tuple[str, ...]
    owners: tuple[Decryptor, ...]
    """The decryptors acting as ``identity`` (the first names it in messages)."""
    fix: str
    level: str = "error"
    """``error`` when a tenant is on either side; ``warning`` for clusters sharing a platform key (often deliberate)."""

    @property
    def reason(self) -> str:
        name = self.identity.name or self.identity.client_id
        who = ", ".join(d.label for d in self.owners)
        where = ", ".join(f + "/" for f in self.folders)
        return (
            f"identity {name} ({who}) can decrypt Key Vault key {key_label(self.key)}, which .sops.yaml also "
            f"uses for {where} (not its folders): it can read those Secrets from Git"
        )

    @property
    def message(self) -> str:
        return f"{self.reason}; {self.fix}"


def _url_label(url: str) -> str:
    """``kv-fleet/sops-flux`` of ``https://kv-fleet.vault.azure.net/keys/sops-flux[/<version>]``."""
    host, _, rest = url.removeprefix("https://").partition("/keys/")
    return f"{host.split('.', 1)[0]}/{rest.split('/', 1)[0]}".lower()


def _within(folder: str, parents: set[str]) -> bool:
    return any(folder == p or folder.startswith(p + "/") for p in parents)


def _own_key_fix(decryptors: list[Decryptor]) -> str | None:
    for decryptor in decryptors:
        tenant = decryptor.tenant.tenant if decryptor.tenant is not None else None
        if tenant is not None and tenant.sops is None:
            assert decryptor.tenant is not None
            return (
                f"give tenant {decryptor.tenant.name} a Key Vault key of its own "
                f"({dotted(tenant.identity.where[:-1])}.sops.keyVault)"
            )
    return None


def _fix(config: Config, mine: list[Decryptor], key: KeyVaultKey, others: list[Decryptor]) -> str:
    """How to end an exposure a tenant is part of: ``mine`` act as the identity, ``others`` read the folders."""
    fix = _own_key_fix(mine)
    if fix is None and any(key_label(key).lower() == key_label(k).lower() for k in config.break_glass.key_vault):
        fix = (
            "sops.breakGlass names this key, and a break-glass key must be one no cluster or tenant identity "
            "decrypts (an offline age key, or a Key Vault key of its own)"
        )
    fix = fix or _own_key_fix(others)
    if fix is None and _clusters_share(mine, key, others):
        fix = (
            "clusters share this key, so each reads what the other's tenants read: "
            "give each its own (clusters[].sops.keyVault)"
        )
    return fix or "use a key only this identity's folders are encrypted for"


def _clusters_share(mine: list[Decryptor], key: KeyVaultKey, others: list[Decryptor]) -> bool:
    """No tenant acts as the identity, and another cluster's platform has the key as its own."""
    clusters = {m.cluster.name for m in mine}
    label = key_label(key).lower()
    return all(d.tenant is None for d in mine) and any(
        d.tenant is None and d.cluster.name not in clusters and label in {key_label(k).lower() for k in d.own.key_vault}
        for d in others
    )


def _rule_labels(rules: list[SopsRule]) -> dict[str, set[str]]:
    return {rule.path: {_url_label(url) for url in rule.azure_keyvault} for rule in rules}


def _sides(mine: list[Decryptor], outside: list[SopsRule]) -> tuple[list[SopsRule], list[SopsRule]]:
    """The folders where a tenant is on either side (the identity's, or a reader of the folder), and the rest."""
    tenant_mine = any(d.tenant is not None for d in mine)
    tenant_side = [r for r in outside if tenant_mine or any(not x.startswith("cluster ") for x in r.readers)]
    return tenant_side, [r for r in outside if r not in tenant_side]


def _exposures(
    config: Config, mine: list[Decryptor], key: KeyVaultKey, outside: list[SopsRule], by_label: dict[str, Decryptor]
) -> list[Exposure]:
    """An error for the folders where a tenant is on either side, a warning for the rest (clusters sharing a key)."""
    tenant_side, platform_side = _sides(mine, outside)  # both empty when nothing is outside
    found = []
    if tenant_side:
        others = [by_label[x] for r in tenant_side for x in r.readers if x in by_label]
        found.append(
            Exposure(
                mine[0].identity, key, tuple(r.path for r in tenant_side), tuple(mine), _fix(config, mine, key, others)
            )
        )
    if platform_side:
        found.append(
            Exposure(
                mine[0].identity,
                key,
                tuple(r.path for r in platform_side),
                tuple(mine),
                "clusters share this key; if one cluster must not read another's Secrets, give each its "
                "own (clusters[].sops.keyVault)",
                "warning",
            )
        )
    return found


def exposures(config: Config, shared: Mapping[str, frozenset[str]] | None = None) -> list[Exposure]:
    """Every (identity, key) whose key also encrypts folders the identity does not decrypt, in config order:
    an error when a tenant is on either side, a warning when clusters share a platform key."""
    shared = shared or {}
    rules = [r for r in sops_rules(config, shared) if r.workload is None]  # a Component rule encrypts nothing
    labels = _rule_labels(rules)
    readers = decryptors(config)
    by_label = {d.label: d for d in readers}
    owners = _decryptors_by_identity(readers)
    keys = _keys_by_identity(config)
    found: list[Exposure] = []
    for ident, mine in owners.items():
        folders = _folders_of(mine, shared)
        for label, key in keys.get(ident, {}).items():
            outside = [r for r in rules if label in labels[r.path] and not _within(r.path, folders)]
            found += _exposures(config, mine, key, outside, by_label)
    return found


def _decryptors_by_identity(readers: list[Decryptor]) -> dict[str, list[Decryptor]]:
    owners: dict[str, list[Decryptor]] = {}
    for decryptor in readers:
        owners.setdefault(identity_key(decryptor.identity), []).append(decryptor)
    return owners


def _keys_by_identity(config: Config) -> dict[str, dict[str, KeyVaultKey]]:
    """identity -> the Key Vault keys it decrypts (by lower-case label), in grant order."""
    keys: dict[str, dict[str, KeyVaultKey]] = {}
    for grant in decrypt_grants(config):
        keys.setdefault(identity_key(grant.decryptor.identity), {}).setdefault(key_label(grant.key).lower(), grant.key)
    return keys


def _folders_of(mine: list[Decryptor], shared: Mapping[str, frozenset[str]]) -> set[str]:
    """The folders the identity's decryptors apply, and the shared folders their builds read."""
    ids = {d.id for d in mine}
    return {p for d in mine for p in d.paths} | {f for f, readers in shared.items() if readers & ids}

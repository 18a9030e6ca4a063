"""Who decrypts what: the one answer ``.sops.yaml``, the Azure role assignments, the test rehearsal and the
isolation lint all read.

A cluster has one *decryptor* for the platform (the cluster identity, used by kustomize-controller and the
default decryption ServiceAccounts: the sync folder and every decrypting Kustomization without a tenant) and
one per tenant Kustomization (the tenant identity, for that Kustomization's folder). A decryptor's folders
are encrypted for its *recipients*: a tenant that names its own keys (``tenant.sops``) gets exactly those
plus the platform's break-glass recipients (``sops.breakGlass``); any other decryptor the cluster's keys.
Its identity is granted decrypt on the Key Vault keys of its own recipients, never on break-glass keys.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from generator.config.model import Cluster, Config, Identity, KeyVaultKey, KustomizationSpec, SopsKeys

__all__ = [
    "DecryptGrant",
    "Decryptor",
    "applier_keys",
    "cluster_keys",
    "decrypt_grants",
    "decryptors",
    "identity_key",
    "key_label",
    "merge_keys",
]


def identity_key(identity: Identity) -> str:
    """One managed identity, however often the config names it: its client ID, else group/name."""
    if identity.client_id:
        return identity.client_id.lower()
    return f"{(identity.resource_group or '').lower()}/{(identity.name or '').lower()}"


def key_label(key: KeyVaultKey) -> str:
    """``kv-fleet/sops-flux``: a role on a key covers every version, so versions are left out."""
    return f"{key.vault_name}/{key.key}"


def merge_keys(parts: Iterable[SopsKeys]) -> SopsKeys:
    """The recipients of several blocks, each once, in order (Key Vault keys by URL)."""
    vault: dict[str, KeyVaultKey] = {}
    age: dict[str, None] = {}
    for part in parts:
        for key in part.key_vault:
            vault.setdefault(key.url, key)
        age.update(dict.fromkeys(part.age))
    return SopsKeys(key_vault=tuple(vault.values()), age=tuple(age))


@dataclass(frozen=True)
class Decryptor:
    """One party that decrypts folders of a cluster."""

    id: str
    """``staging`` (the platform) or ``staging/team-a`` (the tenant Kustomization team-a)."""
    cluster: Cluster
    identity: Identity
    own: SopsKeys
    """The keys its identity decrypts with (and is granted decrypt on)."""
    paths: tuple[str, ...]
    """The folders its Kustomizations apply (the platform's: the cluster folder first, except under the AKS
    Flux extension)."""
    break_glass: SopsKeys = field(default_factory=SopsKeys)
    tenant: KustomizationSpec | None = None

    @property
    def recipients(self) -> SopsKeys:
        """What its folders are encrypted for: its own keys, then the break-glass recipients."""
        return merge_keys([self.own, self.break_glass])

    @property
    def label(self) -> str:
        if self.tenant is None:
            return f"cluster {self.cluster.name}"
        return f"tenant {self.tenant.name} of cluster {self.cluster.name}"


def applier_keys(cluster: Cluster, ks: KustomizationSpec | None) -> SopsKeys:
    """The keys the identity that decrypts for ``ks`` (None: the cluster's sync) holds: a tenant's own keys
    when it names them, else the cluster's."""
    if ks is not None and ks.tenant is not None and ks.tenant.sops is not None:
        return ks.tenant.sops
    return cluster.sops


def cluster_keys(cluster: Cluster) -> SopsKeys:
    """Every key some identity of ``cluster`` decrypts with: the cluster's, then its tenants' own."""
    return merge_keys([cluster.sops, *(applier_keys(cluster, ks) for ks in cluster.tenants)])


def _tenant_decryptor(config: Config, cluster: Cluster, ks: KustomizationSpec) -> Decryptor:
    assert ks.tenant is not None
    own = ks.tenant.sops
    return Decryptor(
        f"{cluster.name}/{ks.name}",
        cluster,
        ks.tenant.identity,
        own or cluster.sops,
        (ks.path,),
        config.break_glass if own else SopsKeys(),
        ks,
    )


def decryptors(config: Config) -> list[Decryptor]:
    """Every decryptor of every cluster, in config order (each cluster's platform first)."""
    found: list[Decryptor] = []
    for cluster in config.clusters:
        # the cluster folder is applied by the sync Kustomization, which decrypts; not under the AKS Flux extension
        # (flux.install: extension), whose Flux configuration has no decryption
        own = [] if config.flux.extension else [cluster.path]
        platform = [*own, *(ks.path for ks in cluster.kustomizations if ks.decryption and ks.tenant is None)]
        found.append(Decryptor(cluster.name, cluster, cluster.identity, cluster.sops, tuple(dict.fromkeys(platform))))
        found += [_tenant_decryptor(config, cluster, ks) for ks in cluster.tenants if ks.decryption]
    return found


@dataclass(frozen=True)
class DecryptGrant:
    """``decryptor``'s identity may decrypt with ``key`` (a Key Vault role on that key)."""

    decryptor: Decryptor
    key: KeyVaultKey


def decrypt_grants(config: Config) -> list[DecryptGrant]:
    """Every (identity, Key Vault key) decrypt grant the config implies, once per decryptor and key."""
    grants: dict[tuple[str, str], DecryptGrant] = {}
    for decryptor in decryptors(config):
        for key in decryptor.own.key_vault:
            grants.setdefault((decryptor.id, key_label(key).lower()), DecryptGrant(decryptor, key))
    return list(grants.values())

"""Stand up the Azure side a ``fluxforge.yaml`` describes, in the emulator (a rehearsal before Azure).

Tenant, Key Vault keys (with the configured versions), one OIDC issuer per cluster, the kustomize-controller
identity of each cluster granted Key Vault Crypto User and each tenant identity decrypt only, each on its own
keys at the key scope (``generator.flux.tenancy.decrypt_grants``, what ``fluxforge azure`` grants), every
federated credential the config implies (``generator.flux.federation``: the controller's ServiceAccount, the
lockdown's default decryption ServiceAccounts, each tenant's, each workload's), and a developer (client
secret) who may encrypt but not decrypt. Each workload's vault is served too, holding every secret and key
the workload mounts (secret values ``rehearsal-<name>``), with its identity granted what ``fluxforge azure``
would grant: Key Vault Secrets User on each secret, Key Vault Reader on each key (and on the vault for a
certificate). Each cluster is also an AKS cluster (ARM ``managedClusters/<name>`` in
``rg-fluxforge`` with the configured issuer, and its Kubernetes API server: ``emu.clusters[name]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from generator.config.load import load_config
from generator.config.model import Cluster, Config, Workload
from generator.flux.federation import federated_credentials
from generator.flux.tenancy import decrypt_grants, decryptors

from .cloud import Emulator
from .entra import Principal

DEVELOPER_SECRET = "rehearsal-developer-secret"


@dataclass
class Rehearsal:
    emu: Emulator
    config: Config
    developer: Principal
    identities: dict[str, Principal] = field(default_factory=dict)  # client id -> principal

    def cluster(self, name: str) -> Cluster:
        return self.config.cluster(name)

    def controller_env(self, cluster: str, token_file: Path, **overrides: str) -> dict[str, str]:
        """kustomize-controller's pod env on ``cluster`` (controller-level workload identity)."""
        spec = self.cluster(cluster)
        return self.emu.workload_env(
            self.identities[spec.identity.client_id],
            token_file,
            **{
                "namespace": self.config.flux.namespace,
                "service_account": "kustomize-controller",
                "issuer": spec.oidc_issuer,
                **overrides,
            },
        )

    def tenant_env(self, cluster: str, kustomization: str, token_file: Path) -> dict[str, str]:
        """The token kustomize-controller requests for a tenant's ``decryption.serviceAccountName``."""
        spec = self.cluster(cluster)
        ks = spec.kustomization(kustomization)
        assert ks.tenant is not None, f"{cluster}/{kustomization} has no tenant identity"
        return self.emu.workload_env(
            self.identities[ks.tenant.identity.client_id],
            token_file,
            namespace=ks.namespace,
            service_account=ks.tenant.service_account,
            issuer=spec.oidc_issuer,
        )

    def default_sa_env(self, cluster: str, namespace: str, token_file: Path) -> dict[str, str]:
        """The token kustomize-controller requests for ``flux.defaultDecryptionServiceAccount`` in ``namespace``
        (multi-tenant lockdown): the cluster identity, through that ServiceAccount's federated credential."""
        spec = self.cluster(cluster)
        name = self.config.flux.default_decryption_service_account
        assert name, "the config sets no flux.defaultDecryptionServiceAccount"
        return self.emu.workload_env(
            self.identities[spec.identity.client_id],
            token_file,
            namespace=namespace,
            service_account=name,
            issuer=spec.oidc_issuer,
        )

    def workload_env(self, cluster: str, workload: str, token_file: Path) -> dict[str, str]:
        """What the CSI driver's Azure provider exchanges for a workload: its pod's ServiceAccount token."""
        spec = self.cluster(cluster)
        found = next(w for w in spec.workloads if w.name == workload)
        return self.emu.workload_env(
            self.identities[str(found.identity.client_id)],
            token_file,
            namespace=found.namespace,
            service_account=found.service_account,
            issuer=spec.oidc_issuer,
        )

    def developer_env(self) -> dict[str, str]:
        return self.emu.secret_env(self.developer)


def _vault_name(vault_url: str) -> str:
    return (urlsplit(vault_url).hostname or "").split(".", 1)[0]


def rehearse(config_path: Path, workdir: Path, key_material: dict[str, rsa.RSAPrivateKey] | None = None) -> Rehearsal:
    """An emulator (not started) mirroring ``config_path``'s tenant, vaults, clusters and identities.

    ``key_material`` maps a key URL (``https://<vault>.vault.azure.net/keys/<name>/<version>``) to the RSA
    key that version holds (files committed encrypted for it decrypt); other keys are generated."""
    config = load_config(config_path)
    keys = {k for c in config.clusters for k in c.sops.key_vault} | set(config.sops.key_vault)
    keys |= {k for d in decryptors(config) for k in d.recipients.key_vault}
    vaults = sorted({_vault_name(k.vault_url) for k in keys})
    vaults += sorted({w.key_vault.name for c in config.clusters for w in c.workloads} - set(vaults))
    emu = Emulator(workdir, vaults=vaults, tenant_id=config.tenant_id, issuers=[c.oidc_issuer for c in config.clusters])
    for key in sorted(keys, key=lambda k: (k.vault_url, k.key, k.version or "")):
        material = (key_material or {}).get(key.url)
        emu.vaults[_vault_name(key.vault_url)].create_key(key.key, version=key.version, key=material)
    scopes = [v.resource_id for v in emu.vaults.values()]
    developer = emu.add_identity("developer", secret=DEVELOPER_SECRET)
    play = Rehearsal(emu, config, developer)
    for scope in scopes:
        emu.rbac.assign(developer.object_id, "SOPS Encrypt Only", scope)
    for grant in decrypt_grants(config):
        # the cluster identity Key Vault Crypto User, a tenant's decrypt only: each on its own keys, at the key
        role = "Key Vault Crypto User" if grant.decryptor.tenant is None else "SOPS Decrypt Only"
        principal = _identity(play, grant.decryptor.identity.client_id, grant.decryptor.identity.name)
        vault = emu.vaults[_vault_name(grant.key.vault_url)]
        emu.rbac.assign(principal.object_id, role, vault.key_scope(grant.key.key))
    for cluster in config.clusters:
        emu.add_cluster(cluster.name, issuer=cluster.oidc_issuer)
        for ident in (cluster.identity, *(ks.tenant.identity for ks in cluster.tenants if ks.tenant)):
            _identity(play, ident.client_id, ident.name)
        for workload in cluster.workloads:
            _workload(play, workload)
        for credential in federated_credentials(config, cluster):
            emu.federate(
                play.identities[credential.identity.client_id],
                credential.namespace,
                credential.service_account,
                name=credential.name,
                issuer=credential.issuer,
            )
    return play


def _identity(play: Rehearsal, client_id: str | None, name: str | None) -> Principal:
    assert client_id, f"identity {name} has no clientId in the config"
    if client_id not in play.identities:
        play.identities[client_id] = play.emu.add_identity(name or client_id, client_id=client_id)
    return play.identities[client_id]


def _workload(play: Rehearsal, workload: Workload) -> None:
    """The workload's identity, the objects it mounts in its vault, and its roles on exactly those."""
    principal = _identity(play, workload.identity.client_id, workload.identity.name)
    vault = play.emu.vaults[workload.key_vault.name]
    for obj in workload.objects:
        if obj.type == "secret":
            if obj.name not in vault.secrets:
                vault.set_secret(obj.name, f"rehearsal-{obj.name}")
            play.emu.rbac.assign(principal.object_id, "Key Vault Secrets User", vault.secret_scope(obj.name))
        elif obj.type == "key":
            if obj.name not in vault.keys:
                vault.create_key(obj.name)
            play.emu.rbac.assign(principal.object_id, "Key Vault Reader", f"{vault.resource_id}/keys/{obj.name}")
        else:
            play.emu.rbac.assign(principal.object_id, "Key Vault Reader", vault.resource_id)

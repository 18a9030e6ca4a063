"""The Azure side the config declares, as doctor compares it with the tree and with Azure.

Which federated credentials a cluster needs comes from ``generator.federation`` — the same list
``generator.azure.desired.desired_state`` builds its credentials from; their names and the identities'
resource groups come from ``desired_state`` itself (what ``fluxforge azure bicep``/``apply`` create), so
doctor's fix commands name what ``azure apply`` would. A config that lacks what the Azure side needs
(identity names, resource groups) still gets every check, with the names ``federation`` derives.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from generator.az_hints import federated_credential_create
from generator.config.model import Cluster, Config, Identity
from generator.flux.federation import federated_credentials

__all__ = ["DeclaredCredential", "client_id_of", "declared_credentials", "decrypting_identities"]


@dataclass(frozen=True)
class DeclaredCredential:
    cluster: str
    identity: Identity
    name: str
    issuer: str
    namespace: str
    service_account: str
    identity_name: str
    resource_group: str

    @property
    def subject(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"

    def az_create(self) -> str:
        return federated_credential_create(
            name=self.name,
            identity_name=self.identity_name,
            resource_group=self.resource_group,
            issuer=self.issuer,
            subject=self.subject,
        )


def client_id_of(ident: Identity) -> str:
    """The configured client ID ("" until ``fluxforge azure apply`` wrote it into the config)."""
    return ident.client_id or ""


@lru_cache(maxsize=8)
def _desired(config: Config) -> dict[tuple[str, str, str], tuple[str, str, str]]:
    """(identity name, issuer, subject) -> (credential name, identity name, resource group) from the desired
    state; empty when the config lacks what ``desired_state`` needs."""
    from generator.azure.desired import DesiredStateError, desired_state

    try:
        state = desired_state(config)
    except DesiredStateError:
        return {}
    return {
        (c.identity.name.lower(), c.issuer, c.subject): (c.name, c.identity.name, c.identity.resource_group)
        for c in state.credentials
    }


def declared_credentials(config: Config, cluster: Cluster, *, workloads: bool = False) -> list[DeclaredCredential]:
    """Every federated credential Flux needs on ``cluster``, controller first; with ``workloads`` also the
    applications' (``clusters[].workloads[]``: their gates are :mod:`generator.doctor.workloads`)."""
    desired = _desired(config)
    apps = set() if workloads else {(w.namespace, w.service_account) for w in cluster.workloads}
    found = []
    for cred in federated_credentials(config, cluster):
        if (cred.namespace, cred.service_account) in apps:
            continue
        ident = cred.identity
        fallback = (
            cred.name,
            ident.name or f"<name of identity {client_id_of(ident)}>",
            ident.resource_group or config.azure.resource_group or "<resource group>",
        )
        name, identity_name, group = desired.get(((ident.name or "").lower(), cred.issuer, cred.subject), fallback)
        found.append(
            DeclaredCredential(
                cred.cluster, ident, name, cred.issuer, cred.namespace, cred.service_account, identity_name, group
            )
        )
    return found


def decrypting_identities(cluster: Cluster) -> list[tuple[str, Identity]]:
    """(what it is for, identity) of each identity that decrypts on ``cluster``: the controller's, then each
    tenant's, each once. Each is granted decrypt on every Key Vault key of the cluster."""
    found: dict[str, tuple[str, Identity]] = {
        client_id_of(cluster.identity) or f"name:{cluster.identity.name}": (f"cluster {cluster.name}", cluster.identity)
    }
    for ks in cluster.tenants:
        assert ks.tenant is not None
        ident = ks.tenant.identity
        found.setdefault(client_id_of(ident) or f"name:{ident.name}", (f"tenant {ks.namespace}/{ks.name}", ident))
    return list(found.values())

"""The Azure side the config declares, as doctor compares it with the tree and with Azure.

One call site for the desired state: today ``generator.federation`` (the credentials every rendered
comment, the docs and the emulator's rehearsal use); ``generator.azure.desired.desired_state`` (issue 11)
derives its credentials from the same function, so switching is this module only.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.config_model import Cluster, Config, Identity
from generator.federation import federated_credentials

__all__ = ["DeclaredCredential", "declared_credentials", "decrypting_identities"]


@dataclass(frozen=True)
class DeclaredCredential:
    cluster: str
    identity: Identity
    name: str
    issuer: str
    namespace: str
    service_account: str
    az_create: str

    @property
    def subject(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"


def declared_credentials(config: Config, cluster: Cluster) -> list[DeclaredCredential]:
    """Every federated credential ``cluster`` needs, controller first."""
    return [DeclaredCredential(c.cluster, c.identity, c.name, c.issuer, c.namespace, c.service_account, c.az_create())
            for c in federated_credentials(config, cluster)]


def decrypting_identities(cluster: Cluster) -> list[tuple[str, Identity]]:
    """(what it is for, identity) of each identity that decrypts on ``cluster``: the controller's, then each
    tenant's, each client ID once. Each is granted decrypt on every Key Vault key of the cluster."""
    found: dict[str, tuple[str, Identity]] = {
        cluster.identity.client_id: (f"cluster {cluster.name}", cluster.identity)}
    for ks in cluster.tenants:
        assert ks.tenant is not None
        found.setdefault(ks.tenant.identity.client_id, (f"tenant {ks.namespace}/{ks.name}", ks.tenant.identity))
    return list(found.values())

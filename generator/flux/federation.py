"""The federated credentials a config implies: which Kubernetes ServiceAccount each managed identity
must trust, on which cluster issuer.

Three kinds of ServiceAccount exchange a token for an Entra ID token:

* ``kustomize-controller`` in the Flux namespace (controller-level workload identity, every cluster);
* the ``flux.defaultDecryptionServiceAccount`` of every namespace that holds a Kustomization without a
  tenant, the sync Kustomization's namespace included (multi-tenant lockdown, Flux >= 2.7): it acts for
  the cluster identity, so its subject is federated on that identity;
* a tenant's ``serviceAccount`` in its Kustomization's namespace (object-level workload identity);
* ``source-controller`` (and ``image-reflector-controller`` when it is a component) in the Flux namespace, on
  the cluster's ``sourceIdentity``: they pull from Azure Container Registry with ``provider: azure``.
* a workload's ``serviceAccount`` in its namespace (``clusters[].workloads[]``: the Secrets Store CSI driver
  exchanges the pod's token for the workload identity's).

Pure: no I/O. The rendered comments, the docs and the test emulator's rehearsal all read this list.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from generator.az_hints import federated_credential_create
from generator.config.model import Cluster, Config, Identity

__all__ = [
    "CONTROLLER_SERVICE_ACCOUNT",
    "FederatedCredential",
    "default_decryption_namespaces",
    "federated_credentials",
]

CONTROLLER_SERVICE_ACCOUNT = "kustomize-controller"
_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_NAME_MAX = 120  # ^[a-zA-Z0-9]{1}[a-zA-Z0-9-_]{2,119}$ (Microsoft.ManagedIdentity federatedIdentityCredentials)


@dataclass(frozen=True)
class FederatedCredential:
    """One federated identity credential: ``identity`` trusts ``namespace/service_account`` of ``issuer``."""

    cluster: str
    identity: Identity
    issuer: str
    namespace: str
    service_account: str

    @property
    def subject(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"

    @property
    def name(self) -> str:
        """A deterministic credential name (re-running the command updates, never duplicates)."""
        full = f"{self.cluster}-{self.namespace}-{self.service_account}"
        name = _NOT_NAME.sub("-", full)
        if len(name) <= _NAME_MAX:
            return name
        # cut, and keep names of different long subjects apart with a digest of the whole
        return f"{name[: _NAME_MAX - 9].rstrip('-_')}-{hashlib.sha256(full.encode()).hexdigest()[:8]}"

    def az_create(self) -> str:
        """The ``az`` command that creates it (placeholders where the config leaves name/group out)."""
        return federated_credential_create(
            name=self.name,
            identity_name=self.identity.name or f"<name of identity {self.identity.client_id}>",
            resource_group=self.identity.resource_group or "<resource group>",
            issuer=self.issuer,
            subject=self.subject,
        )


def default_decryption_namespaces(config: Config, cluster: Cluster) -> tuple[str, ...]:
    """Namespaces that need ``flux.defaultDecryptionServiceAccount`` (empty without lockdown): the Flux
    namespace (the sync Kustomization decrypts too), then each namespace of a Kustomization that decrypts
    without a tenant identity, in config order."""
    if not config.flux.default_decryption_service_account:
        return ()
    found = [config.flux.namespace]
    found += [ks.namespace for ks in cluster.kustomizations if ks.decryption and ks.tenant is None]
    return tuple(dict.fromkeys(found))


def _controller_credentials(config: Config, cluster: Cluster) -> list[FederatedCredential]:
    """kustomize-controller's, and the default decryption ServiceAccount's in each namespace that uses it."""
    found = [
        FederatedCredential(
            cluster.name, cluster.identity, cluster.oidc_issuer, config.flux.namespace, CONTROLLER_SERVICE_ACCOUNT
        )
    ]
    lockdown = config.flux.default_decryption_service_account
    if lockdown:
        found += [
            FederatedCredential(cluster.name, cluster.identity, cluster.oidc_issuer, ns, lockdown)
            for ns in default_decryption_namespaces(config, cluster)
        ]
    return found


def federated_credentials(config: Config, cluster: Cluster) -> list[FederatedCredential]:
    """Every credential ``cluster`` needs, controller first, then tenants and workloads, each (namespace,
    ServiceAccount) once (the config checks refuse a workload ServiceAccount that Flux already uses)."""
    found = _controller_credentials(config, cluster)
    if cluster.source_identity is not None:
        found += [
            FederatedCredential(
                cluster.name, cluster.source_identity.identity, cluster.oidc_issuer, config.flux.namespace, controller
            )
            for controller in config.flux.source_controllers
        ]
    for ks in cluster.tenants:
        assert ks.tenant is not None
        found.append(
            FederatedCredential(
                cluster.name, ks.tenant.identity, cluster.oidc_issuer, ks.namespace, ks.tenant.service_account
            )
        )
    found += [
        FederatedCredential(cluster.name, w.identity, cluster.oidc_issuer, w.namespace, w.service_account)
        for w in cluster.workloads
    ]
    unique = {(c.namespace, c.service_account): c for c in reversed(found)}
    return [c for c in found if unique[(c.namespace, c.service_account)] is c]

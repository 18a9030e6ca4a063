"""A local, HTTPS emulator of the Azure pieces fluxforge and Flux touch (test code, reusable for rehearsals).

``Emulator`` serves cluster OIDC issuers, Entra ID (workload identity federation, client secrets), Azure
Resource Manager (managed identities + federated credentials, role assignments/definitions, vaults, AKS
clusters), Key Vault (keys, secrets, RSA-OAEP-256 crypto, challenge auth, RBAC or access policies) and a
Kubernetes API server per AKS cluster (for the real ``kubectl``), with fault injection and a request log.
``Sandbox`` runs commands in a private network/mount namespace where the production host names resolve
to the emulator, so real clients (the Go ``sops`` binary, the Azure SDK) use their default URLs;
``Loopback`` is the fallback where namespaces are not permitted (IP URLs, ADFS-style authority).
"""

from __future__ import annotations

from .arm import MGMT_HOST, ArmError
from .arm_aks import ManagedCluster
from .cloud import AUTHORITY, DEFAULT_RESOURCE_GROUP, Emulator
from .entra import LOGIN_HOST, FederatedCredential, Principal
from .faults import Fault, Faults
from .kube import KubeCluster
from .oidc import WI_AUDIENCE, ClusterIssuer
from .rbac import BUILTIN, ROLE_IDS, ROLES, Rbac, RoleDefinition
from .sandbox import Loopback, Runner, Sandbox, SandboxUnavailable, sandbox_mode
from .server import LogEntry, RequestLog

__all__ = [
    "AUTHORITY",
    "BUILTIN",
    "DEFAULT_RESOURCE_GROUP",
    "LOGIN_HOST",
    "MGMT_HOST",
    "ROLES",
    "ROLE_IDS",
    "WI_AUDIENCE",
    "ArmError",
    "ClusterIssuer",
    "Emulator",
    "Fault",
    "Faults",
    "FederatedCredential",
    "KubeCluster",
    "LogEntry",
    "Loopback",
    "ManagedCluster",
    "Principal",
    "Rbac",
    "RequestLog",
    "RoleDefinition",
    "Runner",
    "Sandbox",
    "SandboxUnavailable",
    "sandbox_mode",
]

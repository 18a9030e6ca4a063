"""A local, HTTPS emulator of the Azure pieces fluxforge and Flux touch (test code, reusable for rehearsals).

``Emulator`` serves a cluster OIDC issuer, Entra ID (workload identity federation, client secrets) and
Key Vault (keys, RSA-OAEP-256 crypto, challenge auth, RBAC) with fault injection and a request log.
``Sandbox`` runs commands in a private network/mount namespace where the production host names resolve
to the emulator, so real clients (the Go ``sops`` binary, the Azure SDK) use their default URLs;
``Loopback`` is the fallback where namespaces are not permitted (IP URLs, ADFS-style authority).
"""

from __future__ import annotations

from .cloud import AUTHORITY, Emulator
from .entra import LOGIN_HOST, FederatedCredential, Principal
from .faults import Fault, Faults
from .oidc import WI_AUDIENCE, ClusterIssuer
from .rbac import ROLES, Rbac
from .sandbox import Loopback, Runner, Sandbox, SandboxUnavailable, sandbox_mode
from .server import LogEntry, RequestLog

__all__ = [
    "AUTHORITY", "LOGIN_HOST", "ROLES", "WI_AUDIENCE", "ClusterIssuer", "Emulator", "Fault", "Faults",
    "FederatedCredential", "LogEntry", "Loopback", "Principal", "Rbac", "RequestLog", "Runner", "Sandbox",
    "SandboxUnavailable", "sandbox_mode",
]

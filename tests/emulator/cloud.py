"""The whole emulated cloud behind one object: issuers, Entra ID, ARM, vaults, RBAC, AKS clusters with their
Kubernetes API servers, faults and the log."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Self

from . import arm_aks, arm_authz, arm_keyvault, arm_msi
from .arm import MGMT_HOST, Arm
from .arm_aks import ManagedCluster
from .arm_msi import IDENTITY_NAME, MsiState, identity_id
from .ca import TestPKI, make_pki
from .entra import LOGIN_HOST, Entra, FederatedCredential, Principal
from .faults import Faults
from .keyvault import KeyVault
from .kube import KubeCluster
from .oidc import WI_AUDIENCE, ClusterIssuer
from .rbac import Rbac
from .server import Front, RequestLog, serve
from .wire import Request, Response

AUTHORITY = f"https://{LOGIN_HOST}/"
DEFAULT_RESOURCE_GROUP = "rg-fluxforge"


class Emulator:
    """Entra ID, ARM, Key Vault, cluster OIDC issuers and Kubernetes API servers on one HTTPS endpoint,
    routed by Host header.

    Production names (``login.microsoftonline.com``, ``management.azure.com``, ``<vault>.vault.azure.net``,
    ``<cluster>-dns-<hash>.hcp.<region>.azmk8s.io``) must resolve to it: inside a ``Sandbox`` (private
    network namespace + hosts file, rewritten when vaults or clusters appear) or, in process,
    ``patch_resolver()``. The TLS certificate is reissued (same test CA) when a new name appears.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        vaults: Sequence[str] = ("sopstest",),
        tenant_id: str | None = None,
        issuers: Sequence[str] = (),
        loopback: bool = False,
    ) -> None:
        """``issuers``: cluster OIDC issuer URLs (default: one AKS-style URL); ``issuer`` is the first.

        ``loopback``: the fallback where no namespace is allowed: one vault at ``https://127.0.0.1:<port>``,
        challenge resource ``https://0.0.1:<port>`` (a dot-suffix of the host, as the SDKs demand) and
        Entra as an ADFS authority (tenant ``adfs``: no instance discovery on login.microsoftonline.com).
        """
        if loopback and len(vaults) != 1:
            raise ValueError("loopback mode serves exactly one vault")
        self.loopback = loopback
        self.workdir = workdir
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.entra = Entra(self.tenant_id)
        urls = list(issuers) or [f"https://westeurope.oic.prod-aks.azure.com/{self.tenant_id}/{uuid.uuid4()}/"]
        self.issuers = {url: ClusterIssuer(url) for url in urls}
        for issuer in self.issuers.values():
            self.entra.trust_issuer(issuer)
        self.issuer = self.issuers[urls[0]]
        self._initial_issuers = set(urls)
        self.rbac = Rbac()
        self.arm = Arm(self)
        self.arm.add_resource_group(DEFAULT_RESOURCE_GROUP)
        self.arm.register("Microsoft.ManagedIdentity", arm_msi.handle)
        self.arm.register("Microsoft.Authorization", arm_authz.handle)
        self.arm.register("Microsoft.KeyVault", arm_keyvault.handle, arm_keyvault.resolve)
        self.arm.register("Microsoft.ContainerService", arm_aks.handle, arm_aks.resolve)
        self.msi = MsiState()
        self.vaults = {
            name.lower(): KeyVault(
                name, self.entra, self.rbac, subscription=self.arm.subscription, resource_group=DEFAULT_RESOURCE_GROUP
            )
            for name in vaults
        }
        self._initial_vaults = list(self.vaults)
        self.deleted_vaults: dict[str, KeyVault] = {}
        self.clusters: dict[str, ManagedCluster] = {}
        self.faults = Faults()
        self.log = RequestLog()
        self.pki: TestPKI = make_pki(workdir / "pki", self.hostnames)
        self._issued = set(self.hostnames)
        self._hosts_files: list[Path] = []
        self.port = 0
        self._servers: list[Any] = []
        self._cluster_servers: list[Any] = []

    # -- lifecycle ---------------------------------------------------------------------------------
    @property
    def hostnames(self) -> list[str]:
        issuer_hosts = sorted({i.host for i in self.issuers.values()})
        kube_hosts = sorted(c.kube.host for c in self.clusters.values())
        return [
            LOGIN_HOST,
            MGMT_HOST,
            *issuer_hosts,
            *(v.host for v in self.vaults.values()),
            *kube_hosts,
            "localhost",
            "127.0.0.1",
        ]

    def _names_changed(self) -> None:
        """New vaults/clusters: reissue the certificate if needed and rewrite the sandbox hosts files."""
        names = set(self.hostnames)
        if not names <= self._issued:
            self._issued |= names
            self.pki.reissue(sorted(self._issued))
            context = self.pki.server_context()
            for server in self._servers:
                server.tls = context
        for path in self._hosts_files:
            self._write_hosts(path)

    def start(self, port: int = 0) -> Emulator:
        """Listen on 127.0.0.1:``port`` (0 = any free port)."""
        server, _ = serve(self._front(), self.pki.server_context(), ("127.0.0.1", port))
        self.port = server.server_address[1]
        self._servers.append(server)
        if self.loopback:
            base = f"https://127.0.0.1:{self.port}"
            vault = self.vault()
            vault.host, vault.url = "127.0.0.1", base
            vault.challenge_resource, vault.authority = f"https://0.0.1:{self.port}", f"{base}/adfs"
            self.entra.adfs_base = f"{base}/adfs"
            self.entra.resources.add(vault.challenge_resource)
        for cluster in self.clusters.values():
            self._serve_cluster(cluster)
        return self

    def listen_unix(self, path: Path) -> None:
        """Also serve on a Unix socket (what the ``Sandbox`` relay forwards to)."""
        path.unlink(missing_ok=True)
        self._servers.append(serve(self._front(), self.pki.server_context(), str(path))[0])

    @property
    def running(self) -> bool:
        return bool(self._servers)

    def _front(self) -> Front:
        return Front(self.route, self.service_of, self.faults, self.log)

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()
        self._cluster_servers.clear()

    def __enter__(self) -> Self:
        return self.start() if not self._servers else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- routing -----------------------------------------------------------------------------------
    def service_of(self, host: str, path: str = "/") -> str:
        if self.loopback and host == "127.0.0.1":
            return _loopback_service(path)
        if host == LOGIN_HOST:
            return "entra"
        if host == MGMT_HOST:
            return "arm"
        if any(i.host == host for i in self.issuers.values()):
            return "oidc"
        if any(c.kube.host == host for c in self.clusters.values()):
            return "kube"
        return "kv" if any(v.host == host for v in self.vaults.values()) else "?"

    def route(self, req: Request) -> tuple[str, Response]:
        service = self.service_of(req.host, req.path)
        if service == "entra":
            return service, self.entra.handle(req)
        if service == "arm":
            return service, self.arm.handle(req)
        if service == "kube":
            return service, self._kube(req)
        if service == "oidc":
            for issuer in self.issuers.values():
                if (issuer.host == req.host or self.loopback) and req.path.startswith(issuer.base_path + "/"):
                    status, body = issuer.handle(req.path)
                    return service, Response(status, body)
            return service, Response(404, {"kind": "Status", "status": "Failure", "code": 404})
        for vault in self.vaults.values():
            if vault.host == req.host or (self.loopback and service == "kv"):
                return service, vault.handle(req)
        return service, Response(421, {"error": f"this emulator does not serve {req.host!r}"})

    def _kube(self, req: Request) -> Response:
        cluster = next((c for c in self.clusters.values() if c.kube.host == req.host), None)
        if cluster is None:
            return Response(404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404})
        return cluster.kube.handle(req, req.path)

    def _serve_cluster(self, cluster: ManagedCluster) -> None:
        """The cluster's API server also on its own port (``direct_url``): reachable without host names."""
        kube = cluster.kube

        def route(req: Request) -> tuple[str, Response]:
            return "kube", kube.handle(req, req.path)

        front = Front(route, lambda host, path: "kube", self.faults, self.log)
        server, _ = serve(front, self.pki.server_context(), ("127.0.0.1", 0))
        self._servers.append(server)
        self._cluster_servers.append(server)
        kube.direct_url = f"https://127.0.0.1:{server.server_address[1]}"
        if self.loopback:
            kube.server_url = kube.direct_url

    def reset(self) -> None:
        """Forget identities, role assignments, custom roles, keys, secrets, ARM-made vaults, clusters, faults and
        the log (CA, tenant, the constructor's vaults and issuers stay)."""
        self.entra.principals.clear()
        self.rbac = Rbac()
        for vault in self.vaults.values():
            vault.rbac = self.rbac
        self.faults.clear()
        self.vaults = {name: vault for name, vault in self.vaults.items() if name in self._initial_vaults}
        for vault in self.vaults.values():
            vault.keys.clear()
            vault.secrets.clear()
            vault.access_policies.clear()
            vault.rbac_authorization, vault.purge_protection, vault.tags = True, None, {}
        self.deleted_vaults.clear()
        self.clusters.clear()
        for server in self._cluster_servers:
            server.shutdown()
            server.server_close()
            self._servers.remove(server)
        self._cluster_servers.clear()
        for url in [u for u in self.issuers if u not in self._initial_issuers]:
            del self.issuers[url]
            self.entra.issuers.pop(url, None)
        for issuer in self.issuers.values():
            issuer.enabled = True
        self.arm.resource_groups.clear()
        self.arm.add_resource_group(DEFAULT_RESOURCE_GROUP)
        self.msi.fic_write_seconds = 0.0
        self.log.clear()
        self._names_changed()

    # -- conveniences ------------------------------------------------------------------------------
    def vault(self, name: str | None = None) -> KeyVault:
        return self.vaults[name.lower()] if name else next(iter(self.vaults.values()))

    def add_vault(self, vault: KeyVault) -> KeyVault:
        """Serve ``vault`` (made through ARM, or by a test) at ``https://<name>.vault.azure.net``."""
        self.vaults[vault.name.lower()] = vault
        self._names_changed()
        return vault

    def add_cluster(
        self,
        name: str,
        *,
        resource_group: str = DEFAULT_RESOURCE_GROUP,
        location: str = "westeurope",
        issuer: str | None = None,
        oidc_issuer: bool = True,
        workload_identity: bool = True,
    ) -> ManagedCluster:
        """An AKS cluster: ARM resource, OIDC issuer (``issuer`` URL, else a new AKS-style one) and API server."""
        url = issuer or f"https://{location}.oic.prod-aks.azure.com/{self.tenant_id}/{uuid.uuid4()}/"
        if url not in self.issuers:
            self.issuers[url] = ClusterIssuer(url)
            self.entra.trust_issuer(self.issuers[url])
        self.arm.add_resource_group(resource_group, location)
        digest = hashlib.sha256(f"{self.arm.subscription}/{resource_group}/{name}".encode()).hexdigest()[:8]
        host = f"{name.lower()}-dns-{digest}.hcp.{location}.azmk8s.io"
        kube = KubeCluster(
            name, self.issuers[url], host=host, tenant_id=self.tenant_id, workload_identity=workload_identity
        )
        cluster = ManagedCluster(
            name,
            resource_group,
            location,
            self.issuers[url],
            kube,
            self.arm.subscription,
            workload_identity=workload_identity,
        )
        cluster.oidc_issuer = oidc_issuer
        self.clusters[name.lower()] = cluster
        self._names_changed()
        if self._servers:
            self._serve_cluster(cluster)
        return cluster

    def kubeconfig(self, cluster: ManagedCluster, path: Path, *, direct: bool = True) -> Path:
        """A kubeconfig for ``cluster`` (test CA, token), written 0600 to ``path``. ``direct``: the server is the
        cluster's own ``https://127.0.0.1:<port>`` (works anywhere); else its AKS host name (inside a ``Sandbox``)."""
        assert cluster.kube.direct_url or not direct, "start the emulator first"
        server = cluster.kube.direct_url if direct else cluster.kube.server_url
        path.write_text(cluster.kube.kubeconfig(self.pki.ca_pem.read_bytes(), server=server))
        path.chmod(0o600)
        return path

    def tls_env(self) -> dict[str, str]:
        """Trust for Go (SSL_CERT_FILE) and Python requests (REQUESTS_CA_BUNDLE)."""
        return {"SSL_CERT_FILE": str(self.pki.ca_pem), "REQUESTS_CA_BUNDLE": str(self.pki.ca_pem)}

    def hosts_file(self, path: Path) -> Path:
        """A hosts file mapping every emulated name to 127.0.0.1, kept up to date as vaults/clusters appear."""
        self._write_hosts(path)
        if path not in self._hosts_files:
            self._hosts_files.append(path)
        return path

    def _write_hosts(self, path: Path) -> None:
        # rewrite in place (same inode): the sandbox bind-mounts this very file over /etc/hosts
        with path.open("w") as handle:
            handle.write(
                "127.0.0.1 localhost "
                + " ".join(h for h in self.hostnames if h[0].isalpha() and h != "localhost")
                + "\n::1 localhost\n"
            )

    def add_identity(
        self,
        name: str,
        *,
        roles: Sequence[str] = (),
        scope: str | None = None,
        secret: str | None = None,
        kind: str = "managed_identity",
        client_id: str | None = None,
    ) -> Principal:
        """A principal with ``roles`` on ``scope`` (default: the first vault). A managed identity is also an ARM
        user-assigned identity in ``rg-fluxforge`` (when its name is a valid, free ARM name)."""
        principal = self.entra.add_principal(name, "app" if secret else kind, secret, client_id)
        rid = identity_id(self.arm.subscription, DEFAULT_RESOURCE_GROUP, name)
        if (
            principal.kind == "managed_identity"
            and IDENTITY_NAME.match(name)
            and not any(p.resource_id.lower() == rid.lower() for p in self.entra.principals.values())
        ):
            principal.resource_id = rid
        for role in roles:
            self.rbac.assign(principal.object_id, role, scope or self.vault().resource_id)
        return principal

    def federate(
        self,
        principal: Principal,
        namespace: str,
        service_account: str,
        *,
        name: str = "kustomize-controller",
        issuer: str | None = None,
        audience: str = WI_AUDIENCE,
    ) -> FederatedCredential:
        credential = FederatedCredential(
            name, issuer or self.issuer.url, f"system:serviceaccount:{namespace}:{service_account}", [audience]
        )
        principal.federated.append(credential)
        return credential

    def workload_env(
        self,
        principal: Principal,
        token_file: Path,
        *,
        namespace: str = "flux-system",
        service_account: str = "kustomize-controller",
        audience: str = WI_AUDIENCE,
        issuer: str | None = None,
    ) -> dict[str, str]:
        """What the AKS webhook injects into a pod, with a freshly minted projected token on disk."""
        minter = self.issuers[issuer] if issuer else self.issuer
        token_file.write_text(minter.mint(namespace, service_account, audience=audience))
        return {
            "AZURE_CLIENT_ID": principal.client_id,
            "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
            **self._authority_env(),
            **self.tls_env(),
        }

    def secret_env(self, principal: Principal) -> dict[str, str]:
        """EnvironmentCredential settings for a service principal with a client secret."""
        env = {
            "AZURE_CLIENT_ID": principal.client_id,
            "AZURE_CLIENT_SECRET": principal.secrets[0],
            **self._authority_env(),
            **self.tls_env(),
        }
        if not self.loopback:
            env.pop("AZURE_AUTHORITY_HOST")
        return env

    def _authority_env(self) -> dict[str, str]:
        if self.loopback:
            return {"AZURE_TENANT_ID": "adfs", "AZURE_AUTHORITY_HOST": f"https://127.0.0.1:{self.port}"}
        return {"AZURE_TENANT_ID": self.tenant_id, "AZURE_AUTHORITY_HOST": AUTHORITY}

    @contextlib.contextmanager
    def patch_resolver(self) -> Iterator[None]:
        """In this process, resolve the emulated names (any port) to 127.0.0.1:<emulator port>."""
        real = socket.getaddrinfo

        def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            names = {h for h in self.hostnames if h[0].isalpha() and h != "localhost"}
            if isinstance(host, str) and host.lower() in names:
                return real("127.0.0.1", self.port, *args, **kwargs)
            return real(host, port, *args, **kwargs)

        socket.getaddrinfo = resolve
        try:
            yield
        finally:
            socket.getaddrinfo = real


def _loopback_service(path: str) -> str:
    """Loopback mode serves everything on 127.0.0.1: route by path."""
    for prefix, service in (
        ("/adfs/", "entra"),
        ("/keys", "kv"),
        ("/secrets", "kv"),
        ("/subscriptions", "arm"),
        ("/providers", "arm"),
    ):
        if path.startswith(prefix):
            return service
    return "oidc"

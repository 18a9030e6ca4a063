"""The whole emulated cloud behind one object: issuer, Entra ID, vaults, RBAC, faults and the log."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Self

from .ca import TestPKI, make_pki
from .entra import LOGIN_HOST, Entra, FederatedCredential, Principal
from .faults import Faults
from .keyvault import KeyVault
from .oidc import WI_AUDIENCE, ClusterIssuer
from .rbac import Rbac
from .server import Front, RequestLog, serve
from .wire import Request, Response

AUTHORITY = f"https://{LOGIN_HOST}/"


class Emulator:
    """Entra ID + Key Vault + a cluster OIDC issuer on one HTTPS endpoint, routed by Host header.

    Production names (``login.microsoftonline.com``, ``<vault>.vault.azure.net``) must resolve to it:
    inside a ``Sandbox`` (private network namespace + hosts file) or, in process, ``patch_resolver()``.
    """

    def __init__(self, workdir: Path, *, vaults: Sequence[str] = ("sopstest",), tenant_id: str | None = None,
                 issuers: Sequence[str] = (), loopback: bool = False) -> None:
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
        self.rbac = Rbac()
        self.vaults = {name: KeyVault(name, self.entra, self.rbac) for name in vaults}
        self.faults = Faults()
        self.log = RequestLog()
        self.pki: TestPKI = make_pki(workdir / "pki", self.hostnames)
        self.port = 0
        self._servers: list[Any] = []

    # -- lifecycle ---------------------------------------------------------------------------------
    @property
    def hostnames(self) -> list[str]:
        issuer_hosts = sorted({i.host for i in self.issuers.values()})
        return [LOGIN_HOST, *issuer_hosts, *(v.host for v in self.vaults.values()), "localhost", "127.0.0.1"]

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

    def __enter__(self) -> Self:
        return self.start() if not self._servers else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- routing -----------------------------------------------------------------------------------
    def service_of(self, host: str, path: str = "/") -> str:
        if self.loopback and host == "127.0.0.1":
            return "entra" if path.startswith("/adfs/") else "kv" if path.startswith("/keys") else "oidc"
        if host == LOGIN_HOST:
            return "entra"
        if any(i.host == host for i in self.issuers.values()):
            return "oidc"
        return "kv" if any(v.host == host for v in self.vaults.values()) else "?"

    def route(self, req: Request) -> tuple[str, Response]:
        service = self.service_of(req.host, req.path)
        if service == "entra":
            return service, self.entra.handle(req)
        if service == "oidc":
            for issuer in self.issuers.values():
                if (issuer.host == req.host or self.loopback) and req.path.startswith(issuer.base_path + "/"):
                    status, body = issuer.handle(req.path)
                    return service, Response(status, body)
            return service, Response(404, {"kind": "Status", "status": "Failure", "code": 404})
        for vault in self.vaults.values():
            if vault.host == req.host:
                return service, vault.handle(req)
        return service, Response(421, {"error": f"this emulator does not serve {req.host!r}"})

    def reset(self) -> None:
        """Forget identities, role assignments, keys, faults and the log (CA, tenant and issuers stay)."""
        self.entra.principals.clear()
        self.rbac.assignments.clear()
        self.faults.clear()
        for vault in self.vaults.values():
            vault.keys.clear()
        self.log.clear()

    # -- conveniences ------------------------------------------------------------------------------
    def vault(self, name: str | None = None) -> KeyVault:
        return self.vaults[name] if name else next(iter(self.vaults.values()))

    def tls_env(self) -> dict[str, str]:
        """Trust for Go (SSL_CERT_FILE) and Python requests (REQUESTS_CA_BUNDLE)."""
        return {"SSL_CERT_FILE": str(self.pki.ca_pem), "REQUESTS_CA_BUNDLE": str(self.pki.ca_pem)}

    def hosts_file(self, path: Path) -> Path:
        path.write_text("127.0.0.1 localhost " + " ".join(h for h in self.hostnames if h[0].isalpha()) + "\n::1 localhost\n")
        return path

    def add_identity(self, name: str, *, roles: Sequence[str] = (), scope: str | None = None,
                     secret: str | None = None, kind: str = "managed_identity", client_id: str | None = None) -> Principal:
        """A principal with ``roles`` on ``scope`` (default: the first vault)."""
        principal = self.entra.add_principal(name, "app" if secret else kind, secret, client_id)
        for role in roles:
            self.rbac.assign(principal.object_id, role, scope or self.vault().resource_id)
        return principal

    def federate(self, principal: Principal, namespace: str, service_account: str, *, name: str = "kustomize-controller",
                 issuer: str | None = None, audience: str = WI_AUDIENCE) -> FederatedCredential:
        credential = FederatedCredential(name, issuer or self.issuer.url,
                                         f"system:serviceaccount:{namespace}:{service_account}", [audience])
        principal.federated.append(credential)
        return credential

    def workload_env(self, principal: Principal, token_file: Path, *, namespace: str = "flux-system",
                     service_account: str = "kustomize-controller", audience: str = WI_AUDIENCE,
                     issuer: str | None = None) -> dict[str, str]:
        """What the AKS webhook injects into a pod, with a freshly minted projected token on disk."""
        minter = self.issuers[issuer] if issuer else self.issuer
        token_file.write_text(minter.mint(namespace, service_account, audience=audience))
        return {"AZURE_CLIENT_ID": principal.client_id, "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
                **self._authority_env(), **self.tls_env()}

    def secret_env(self, principal: Principal) -> dict[str, str]:
        """EnvironmentCredential settings for a service principal with a client secret."""
        env = {"AZURE_CLIENT_ID": principal.client_id, "AZURE_CLIENT_SECRET": principal.secrets[0],
               **self._authority_env(), **self.tls_env()}
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
        names = {h for h in self.hostnames if h[0].isalpha() and h != "localhost"}

        def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(host, str) and host.lower() in names:
                return real("127.0.0.1", self.port, *args, **kwargs)
            return real(host, port, *args, **kwargs)

        socket.getaddrinfo = resolve
        try:
            yield
        finally:
            socket.getaddrinfo = real

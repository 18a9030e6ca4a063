"""A throwaway test CA and one server certificate covering every emulated host name (trustme)."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TestPKI:
    """PEM files on disk: point SSL_CERT_FILE (Go) and REQUESTS_CA_BUNDLE (Python) at ``ca_pem``."""

    ca_pem: Path
    server_pem: Path  # private key + certificate chain
    ca: trustme.CA | None = None

    def reissue(self, hostnames: Sequence[str]) -> None:
        """A new server certificate for ``hostnames`` from the same CA (new vaults and clusters appear)."""
        assert self.ca is not None
        self.ca.issue_cert(*hostnames).private_key_and_cert_chain_pem.write_to_path(str(self.server_pem))

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(self.server_pem))
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx


def make_pki(directory: Path, hostnames: Sequence[str]) -> TestPKI:
    """Create a CA and a server certificate for ``hostnames`` (SANs) under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="fluxforge emulator test CA")
    cert = ca.issue_cert(*hostnames)
    pki = TestPKI(ca_pem=directory / "ca.pem", server_pem=directory / "server.pem", ca=ca)
    ca.cert_pem.write_to_path(str(pki.ca_pem))
    cert.private_key_and_cert_chain_pem.write_to_path(str(pki.server_pem))
    return pki

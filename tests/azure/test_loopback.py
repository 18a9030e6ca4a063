"""The fallback for machines where ``unshare -mn`` is not permitted, exercised everywhere so it keeps working:
IP URLs (``https://127.0.0.1:<port>``), the challenge resource trick and an ADFS-style authority, with the
real sops binary and the fluxforge CLI on both sides of workload identity."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from azworld import fluxforge, kubectl

from tests.emulator import Emulator, Loopback, Principal

pytestmark = pytest.mark.interop
PLAIN = "apiVersion: v1\nkind: Secret\nstringData:\n    password: lb-hunter2\n"


@dataclass
class Setup:
    emu: Emulator
    box: Loopback
    developer: Principal
    flux: Principal
    tmp: Path


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    emu = Emulator(tmp_path_factory.mktemp("loopback"), loopback=True).start()
    emu.vault().create_key("sops-key")
    developer = emu.add_identity("developer", roles=["SOPS Encrypt Only"], secret="lb-secret")
    flux = emu.add_identity("id-flux", roles=["Key Vault Crypto User"])
    emu.federate(flux, "flux-system", "kustomize-controller")
    with Loopback(emu) as box:
        yield Setup(emu, box, developer, flux, tmp_path_factory.mktemp("loopback-work"))
    emu.stop()


def _sops(s: Setup, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "SOPS_"))}
    done = s.box.run(["sops", *args], env={**env, "SOPS_DISABLE_VERSION_CHECK": "1"}, base_env=keep, cwd=s.tmp)
    return done.returncode, done.stdout, done.stderr


def test_urls_are_loopback_only(loop: Setup) -> None:
    assert loop.emu.vault().url == f"https://127.0.0.1:{loop.emu.port}"
    assert loop.emu.workload_env(loop.flux, loop.tmp / "t")["AZURE_TENANT_ID"] == "adfs"


def test_sops_encrypts_fluxforge_decrypts_as_flux(loop: Setup) -> None:
    (loop.tmp / "a.yaml").write_text(PLAIN)
    code, out, err = _sops(
        loop,
        loop.emu.secret_env(loop.developer),
        "encrypt",
        "--azure-kv",
        loop.emu.vault().key_url("sops-key"),
        "a.yaml",
    )
    assert code == 0, err
    (loop.tmp / "a.enc.yaml").write_text(out)
    done = fluxforge(loop.box, loop.emu.workload_env(loop.flux, loop.tmp / "token"), loop.tmp, "decrypt", "a.enc.yaml")
    assert done.returncode == 0 and done.stdout == PLAIN, done.stderr


def test_fluxforge_encrypts_sops_decrypts_as_flux(loop: Setup) -> None:
    url = loop.emu.vault().key_url("sops-key")
    (loop.tmp / ".sops.yaml").write_text(
        f"creation_rules:\n  - encrypted_regex: ^(data|stringData)$\n    azure_keyvault: {url}\n"
    )
    (loop.tmp / "b.yaml").write_text(PLAIN)
    done = fluxforge(loop.box, loop.emu.secret_env(loop.developer), loop.tmp, "encrypt", "-i", "b.yaml")
    assert done.returncode == 0, done.stderr
    assert "lb-hunter2" not in (loop.tmp / "b.yaml").read_text()
    code, out, err = _sops(loop, loop.emu.workload_env(loop.flux, loop.tmp / "token"), "decrypt", "b.yaml")
    assert code == 0 and out == PLAIN, err


def test_a_missing_federated_credential_fails_both_tools(loop: Setup) -> None:
    (loop.tmp / "c.yaml").write_text(PLAIN)
    code, out, err = _sops(
        loop,
        loop.emu.secret_env(loop.developer),
        "encrypt",
        "--azure-kv",
        loop.emu.vault().key_url("sops-key"),
        "c.yaml",
    )
    assert code == 0, err
    (loop.tmp / "c.enc.yaml").write_text(out)
    saved = list(loop.flux.federated)
    loop.flux.federated.clear()
    try:
        env = loop.emu.workload_env(loop.flux, loop.tmp / "token")
        code, out, err = _sops(loop, env, "decrypt", "c.enc.yaml")
        assert code != 0 and "AADSTS70021" in err
        done = fluxforge(loop.box, env, loop.tmp, "decrypt", "c.enc.yaml")
        assert done.returncode == 1 and "no federated credential on identity" in done.stderr
        assert "lb-hunter2" not in done.stderr
    finally:
        loop.flux.federated.extend(saved)


def test_arm_sdk_and_kubectl_without_host_names(loop: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback also serves ARM (``base_url=https://127.0.0.1:<port>``, ADFS authority) and a cluster's API
    server on its own port: identity + federated credential through the SDK, token from kubectl, exchange."""
    from azure.identity import ClientSecretCredential, WorkloadIdentityCredential
    from azure.mgmt.msi import ManagedServiceIdentityClient
    from azure.mgmt.msi.models import FederatedIdentityCredential, Identity

    from tests.emulator import WI_AUDIENCE

    emu = loop.emu
    base = f"https://127.0.0.1:{emu.port}"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emu.pki.ca_pem))
    admin = emu.add_identity("lb-admin", secret="lb-admin-secret", roles=["Owner"], scope=emu.arm.subscription_id)
    msi = ManagedServiceIdentityClient(
        ClientSecretCredential("adfs", admin.client_id, "lb-admin-secret", authority=base),
        emu.arm.subscription,
        base_url=base,
    )
    cluster = emu.add_cluster("lb")
    ident = msi.user_assigned_identities.create_or_update("rg-fluxforge", "id-lb", Identity(location="westeurope"))
    msi.federated_identity_credentials.create_or_update(
        "rg-fluxforge",
        "id-lb",
        "lb-default",
        FederatedIdentityCredential(
            issuer=cluster.issuer.url, subject="system:serviceaccount:default:default", audiences=[WI_AUDIENCE]
        ),
    )
    config = emu.kubeconfig(cluster, loop.tmp / "lb.kubeconfig")
    assert cluster.kube.server_url == cluster.kube.direct_url  # listClusterUserCredential names no host either
    done = kubectl(config, "create", "token", "default", "-n", "default", "--audience", WI_AUDIENCE)
    assert done.returncode == 0, done.stderr
    (loop.tmp / "lb.token").write_text(done.stdout.strip())
    workload = WorkloadIdentityCredential(
        tenant_id="adfs", client_id=ident.client_id, authority=base, token_file_path=str(loop.tmp / "lb.token")
    )
    token = workload.get_token("https://management.azure.com/.default").token
    assert emu.entra.validate(token).object_id == ident.principal_id

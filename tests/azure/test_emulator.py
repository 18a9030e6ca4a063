"""The emulator's wire behaviour, checked with plain HTTPS (requests) and the real Azure SDK."""

from __future__ import annotations

import os
import time

import pytest
import requests
from azworld import KEY, World, fake_az

from generator.errors import KeyVaultError
from generator.sops.keys import KeyOptions, source_for
from tests.emulator import LOGIN_HOST, WI_AUDIENCE
from tests.emulator.jwt import decode_unverified, verify


def _get(world: World, url: str, **kwargs: object) -> requests.Response:
    return requests.get(url, verify=str(world.emu.pki.ca_pem), timeout=10, **kwargs)  # type: ignore[arg-type]


def test_key_vault_challenge_is_what_both_sdks_parse(in_process: World) -> None:
    w = in_process
    resp = _get(w, f"{w.key_url}?api-version=7.6")
    assert resp.status_code == 401
    vault = w.emu.vault()
    if w.emu.loopback:  # the fallback: ADFS authority and a resource that is a dot-suffix of 127.0.0.1:<port>
        expected = f'Bearer authorization="https://127.0.0.1:{w.emu.port}/adfs", resource="https://0.0.1:{w.emu.port}"'
    else:
        expected = f'Bearer authorization="https://{LOGIN_HOST}/{w.emu.tenant_id}", resource="https://vault.azure.net"'
    assert resp.headers["WWW-Authenticate"] == expected == vault.challenge()
    assert resp.json()["error"]["code"] == "Unauthorized"


def test_entra_metadata_and_error_shape(in_process: World) -> None:
    w = in_process
    tenant = w.emu.tenant_id
    disc = _get(w, f"https://{LOGIN_HOST}/common/discovery/instance", params={"api-version": "1.1"}).json()
    assert disc["tenant_discovery_endpoint"].endswith(f"/{tenant}/v2.0/.well-known/openid-configuration")
    oidc = _get(w, f"https://{LOGIN_HOST}/{tenant}/v2.0/.well-known/openid-configuration").json()
    assert oidc["token_endpoint"] == f"https://{LOGIN_HOST}/{tenant}/oauth2/v2.0/token"
    assert oidc["issuer"] == f"https://{LOGIN_HOST}/{tenant}/v2.0"
    bad = requests.post(
        oidc["token_endpoint"],
        verify=str(w.emu.pki.ca_pem),
        timeout=10,
        data={
            "grant_type": "client_credentials",
            "client_id": w.developer.client_id,
            "client_secret": "wrong",
            "scope": "https://vault.azure.net/.default",
        },
    )
    body = bad.json()
    assert bad.status_code == 401 and body["error"] == "invalid_client" and body["error_codes"] == [7000215]
    assert body["error_description"].startswith("AADSTS7000215: ") and "Trace ID: " in body["error_description"]
    assert {"timestamp", "trace_id", "correlation_id", "error_uri"} <= set(body)


def test_cluster_issuer_serves_discovery_and_signs_projected_tokens(in_process: World) -> None:
    w = in_process
    issuer = w.emu.issuer
    disc = _get(w, issuer.url + ".well-known/openid-configuration").json()
    assert disc["issuer"] == issuer.url
    jwks = _get(w, disc["jwks_uri"]).json()
    token = issuer.mint("flux-system", "kustomize-controller", ttl=600)
    claims = verify(token, jwks)
    assert claims["sub"] == "system:serviceaccount:flux-system:kustomize-controller"
    assert claims["aud"] == [WI_AUDIENCE] and claims["iss"] == issuer.url
    assert 590 <= claims["exp"] - time.time() <= 600
    assert decode_unverified(token)[0]["alg"] == "RS256"


def test_expired_and_foreign_service_account_tokens_are_refused(in_process: World, tmp_path: object) -> None:
    w = in_process
    url = f"https://{LOGIN_HOST}/{w.emu.tenant_id}/oauth2/v2.0/token"
    form = {
        "grant_type": "client_credentials",
        "client_id": w.controller.client_id,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "scope": "https://vault.azure.net/.default",
    }
    expired = w.emu.issuer.mint("flux-system", "kustomize-controller", now=time.time() - 7200)
    resp = requests.post(url, data={**form, "client_assertion": expired}, verify=str(w.emu.pki.ca_pem), timeout=10)
    assert resp.json()["error_codes"] == [700024]
    good = w.emu.issuer.mint("flux-system", "kustomize-controller")
    w.emu.issuer.rotate_signing_key()  # the cluster was recreated: old keys are gone from its JWKS
    resp = requests.post(url, data={**form, "client_assertion": good}, verify=str(w.emu.pki.ca_pem), timeout=10)
    assert resp.json()["error_codes"] == [700027]


def test_a_token_for_another_resource_is_refused_by_key_vault(
    in_process: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A credential that hands out a management-plane token: 401 AKV10022, named as an audience problem."""
    w = in_process
    bin_dir, _ = fake_az(w, w.developer)
    token, expires = w.emu.entra.mint_access_token(w.developer, "https://management.azure.com")
    (bin_dir / "answer.json").write_text(
        f'{{"accessToken": "{token}", "expiresOn": "2099-01-01 00:00:00.000000", "expires_on": {expires}, '
        f'"tenant": "{w.emu.tenant_id}", "tokenType": "Bearer"}}'
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(KeyVaultError) as info:
        source_for("azure_kv", KeyOptions({"azure_kv": {"credential": "cli"}}), {}).wrap(w.key_url, b"k" * 32)
    message = str(info.value)
    assert "rejected the access token's audience" in message and "AKV10022" in message
    assert "https://vault.azure.net/.default" in message


def test_the_sdk_refuses_a_challenge_for_another_domain(
    in_process: World, monkeypatch: pytest.MonkeyPatch, production_names: None
) -> None:
    """The emulator cannot be too lenient: a wrong challenge resource fails the real SDK's check."""
    w = in_process
    w.emu.vault("othervault").challenge_resource = "https://vault.azure.cn"
    for name, value in w.dev_env().items():
        monkeypatch.setenv(name, value)
    try:
        with pytest.raises(KeyVaultError, match="challenge resource|does not match"):
            source_for("azure_kv", KeyOptions(), {}).wrap(f"https://othervault.vault.azure.net/keys/{KEY}/x", b"k" * 32)
    finally:
        w.emu.vault("othervault").challenge_resource = "https://vault.azure.net"


def test_no_credential_at_all_says_how_to_provide_one(in_process: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no az either
    with pytest.raises(KeyVaultError) as info:
        source_for("azure_kv", KeyOptions(), {}).wrap(in_process.key_url, b"k" * 32)
    message = str(info.value)
    assert "no Azure credential is available" in message and "az login" in message
    assert "AZURE_FEDERATED_TOKEN_FILE" in message and "--credential" in message


def test_pinned_workload_credential_without_its_environment() -> None:
    with pytest.raises(KeyVaultError, match="credential 'workload' cannot start"):
        source_for("azure_kv", KeyOptions({"azure_kv": {"credential": "workload"}}), {}).wrap(
            "https://x.vault.azure.net/keys/k/v", b"k" * 32
        )


def test_the_request_log_holds_no_secrets(in_process: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = in_process
    for name, value in w.dev_env().items():
        monkeypatch.setenv(name, value)
    source_for("azure_kv", KeyOptions(), {}).wrap(w.key_url, b"\x01" * 32)
    text = repr(w.emu.log.entries())
    assert "dev-secret-value" not in text and "eyJ" not in text and "AQEB" not in text


def test_wrapkey_unwrapkey_and_remote_encrypt_with_the_sdk(in_process: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The operations sops does not use are served too (other tools rehearse with them)."""
    from azure.identity import ClientSecretCredential
    from azure.keyvault.keys.crypto import CryptographyClient, EncryptionAlgorithm, KeyWrapAlgorithm

    w = in_process
    w.emu.rbac.assign(w.developer.object_id, "Key Vault Crypto User", w.emu.vault().resource_id)
    credential = ClientSecretCredential(w.emu.tenant_id, w.developer.client_id, "dev-secret-value")
    crypto = CryptographyClient(w.key_url, credential)
    wrapped = crypto.wrap_key(KeyWrapAlgorithm.rsa_oaep_256, b"k" * 32)
    assert crypto.unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, wrapped.encrypted_key).key == b"k" * 32
    assert (
        crypto.decrypt(
            EncryptionAlgorithm.rsa_oaep, crypto.encrypt(EncryptionAlgorithm.rsa_oaep, b"x").ciphertext
        ).plaintext
        == b"x"
    )
    ops = {e.operation for e in w.emu.log.kv() if e.status == 200}
    assert "unwrapkey" in ops and "decrypt" in ops

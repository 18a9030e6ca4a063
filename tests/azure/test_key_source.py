"""The azure_kv key source through the KeySource Protocol, with the real Azure SDK over HTTPS to the emulator."""

from __future__ import annotations

import base64
import os
import re

import pytest
from azworld import KEY, World, fake_az

from generator.errors import KeyVaultError
from generator.sops.keys import KeyOptions, KeySource, source_for
from generator.sops.keys.azure_kv import decode_enc, parse_key_url


def _source(options: KeyOptions | None = None) -> KeySource:
    return source_for("azure_kv", options or KeyOptions(), {})


def _use(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Switch identity: drop every AZURE_* setting, then apply ``env``."""
    for name in [n for n in os.environ if n.startswith("AZURE_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_wrap_writes_sops_fields_and_unwraps(in_process: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = in_process
    w.emu.rbac.assign(w.developer.object_id, "Key Vault Crypto User", w.emu.vault().resource_id)
    _use(monkeypatch, w.dev_env())
    source = _source()
    data_key = os.urandom(32)
    entry = source.wrap(w.key_url, data_key)
    assert list(entry) == ["vault_url", "name", "version", "created_at", "enc"]
    assert entry["vault_url"] == w.emu.vault().url and entry["name"] == KEY
    assert entry["version"] == w.version
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["created_at"])
    assert re.fullmatch(r"[A-Za-z0-9_-]{342}", entry["enc"])  # RSA-2048, unpadded base64url
    assert source.unwrap(entry) == data_key
    assert source.recipient_of(entry) == w.key_url
    # the ciphertext really is RSA-OAEP-256 under the vault's key (checked with the vault's private key)
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    private = w.emu.vault().keys[KEY][-1].key
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    assert private.decrypt(base64.urlsafe_b64decode(entry["enc"] + "=="), oaep) == data_key


def test_many_wraps_cost_one_key_read_and_one_token(in_process: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = in_process
    _use(monkeypatch, w.dev_env())
    cache: dict[str, KeySource] = {}
    entries = [source_for("azure_kv", KeyOptions(), cache).wrap(w.key_url, os.urandom(32)) for _ in range(50)]
    assert len({e["enc"] for e in entries}) == 50
    kv = w.emu.log.kv()
    # the SDK caches the vault's 401 challenge per process, so the unauthenticated probe may be absent
    assert [(e.operation, e.status) for e in kv if e.authorized] == [("get", 200)]
    assert len(kv) <= 2
    tokens = [e for e in w.emu.log.entries("entra") if e.path.endswith("/token")]
    assert len(tokens) == 1 and tokens[0].note["principal"] == "developer"


def test_versionless_url_resolves_the_current_version(in_process: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = in_process
    newer = w.emu.vault().create_key(KEY)  # rotation: a new current version
    _use(monkeypatch, w.dev_env())
    entry = _source().wrap(w.versionless_url, os.urandom(32))
    assert entry["version"] == newer != w.version
    assert parse_key_url(w.versionless_url + "/").version == ""


def test_no_read_permission_falls_back_to_remote_encrypt(in_process: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = in_process
    w.emu.rbac.revoke(w.developer.object_id)
    w.emu.rbac.assign(w.developer.object_id, "SOPS Encrypt Only (no read)", w.emu.vault().resource_id)
    _use(monkeypatch, w.dev_env())
    source = _source()
    keys = [os.urandom(32) for _ in range(3)]
    newer = w.emu.vault().create_key(KEY)
    entries = [source.wrap(w.versionless_url, keys[0]), *(source.wrap(w.key_url, k) for k in keys[1:])]
    assert [e["version"] for e in entries] == [newer, w.version, w.version]  # versionless: from the result's kid
    ops = [(e.operation, e.status) for e in w.emu.log.kv() if e.authorized]
    assert ops.count(("encrypt", 200)) == 3 and ("get", 403) in ops
    assert all(e.note.get("alg") == "RSA-OAEP-256" for e in w.emu.log.kv() if e.operation == "encrypt")
    _use(monkeypatch, w.controller_env())
    decrypt = _source()
    assert [decrypt.unwrap(e) for e in entries] == keys


def test_decrypt_only_identity_unwraps_with_remote_decrypt(in_process: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = in_process
    _use(monkeypatch, w.dev_env())
    entry = _source().wrap(w.key_url, b"k" * 32)
    w.emu.rbac.revoke(w.controller.object_id)
    w.emu.rbac.assign(w.controller.object_id, "SOPS Decrypt Only", w.emu.vault().resource_id)
    _use(monkeypatch, w.controller_env())
    mark = w.emu.log.mark()
    assert _source().unwrap(entry) == b"k" * 32
    calls = [e for e in w.emu.log.since(mark, "kv") if e.authorized]
    assert [(e.operation, e.status, e.note.get("alg")) for e in calls] == [("decrypt", 200, "RSA-OAEP-256")]


def test_developer_may_encrypt_but_not_decrypt(in_process: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = in_process
    _use(monkeypatch, w.dev_env())
    source = _source()
    entry = source.wrap(w.key_url, os.urandom(32))
    with pytest.raises(KeyVaultError) as info:
        source.unwrap(entry)
    msg = str(info.value)
    assert "role assignment missing" in msg and "decrypt" in msg
    assert f"--assignee-object-id {w.developer.object_id}" in msg
    assert f"--scope {w.emu.vault().resource_id.lower()}" in msg
    assert "Key Vault Crypto User" in msg


def test_pinned_cli_credential_runs_az_once(in_process: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = in_process
    bin_dir, calls = fake_az(w, w.developer)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    _use(monkeypatch, w.dev_env())  # would win in the default chain; the pin must skip it
    source = _source(KeyOptions({"azure_kv": {"credential": "cli"}}))
    for _ in range(20):
        source.wrap(w.key_url, os.urandom(32))
    lines = calls.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("account get-access-token")
    assert not [e for e in w.emu.log.entries("entra") if e.path.endswith("/token")]


def test_unknown_credential_name_is_rejected() -> None:
    with pytest.raises(KeyVaultError, match="unknown credential 'nope'; choose one of: default, workload"):
        _source(KeyOptions({"azure_kv": {"credential": "nope"}})).wrap("https://x.vault.azure.net/keys/k/v", b"k" * 32)


@pytest.mark.parametrize(
    "url",
    [
        "http://x.vault.azure.net/keys/k",
        "https://x.vault.azure.net/secrets/k",
        "https://x.vault.azure.net/keys/k/v/extra",
    ],
)
def test_bad_key_urls(url: str) -> None:
    with pytest.raises(KeyVaultError, match="is not a Key Vault key URL"):
        parse_key_url(url)


def test_default_port_is_normalised() -> None:
    assert parse_key_url(" https://v.vault.azure.net:443/keys/k/abc ").vault_url == "https://v.vault.azure.net"


def test_padded_enc_is_rejected_like_sops() -> None:
    with pytest.raises(KeyVaultError, match="unpadded base64url"):
        decode_enc("abcd==", "f.yaml")


def test_a_credential_for_another_tenant_is_named(
    in_process: World, monkeypatch: pytest.MonkeyPatch, production_names: None
) -> None:
    w = in_process
    _use(monkeypatch, {**w.dev_env(), "AZURE_TENANT_ID": "11111111-2222-3333-4444-555555555555"})
    with pytest.raises(KeyVaultError) as info:
        _source().wrap(w.key_url, os.urandom(32))
    message = str(info.value)
    assert f"the vault belongs to tenant {w.emu.tenant_id} but the credential is for tenant 11111111-" in message
    assert f"set AZURE_TENANT_ID={w.emu.tenant_id}" in message

"""``fluxforge encrypt -i`` over 200 files while Key Vault misbehaves: retried, or a clear error; every file
ends up either fully encrypted (and decryptable) or byte-for-byte untouched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from azworld import World, base_env, fluxforge

from generator.sops import api
from generator.sops.keys import KeySource
from tests.emulator import Runner

pytestmark = pytest.mark.interop
N = 200


def make_repo(world: World) -> tuple[Path, dict[Path, bytes]]:
    repo = world.tmp / "repo"
    (repo / "secrets").mkdir(parents=True)
    (repo / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: \\.yaml$\n"
        f"    encrypted_regex: ^(data|stringData)$\n"
        f"    azure_keyvault: {world.key_url}\n"
    )
    originals = {}
    for i in range(N):
        path = repo / "secrets" / f"s{i:03}.yaml"
        path.write_text(
            f"apiVersion: v1\nkind: Secret\nmetadata:\n    name: s{i:03}\nstringData:\n    password: pw-{i:03}-plain\n"
        )
        originals[path] = path.read_bytes()
    return repo, originals


def remote_encrypt_only(world: World) -> None:
    """The developer may encrypt but not read the key: every file costs one remote Encrypt."""
    world.emu.rbac.revoke(world.developer.object_id)
    world.emu.rbac.assign(world.developer.object_id, "SOPS Encrypt Only (no read)", world.emu.vault().resource_id)


def classify(world: World, originals: dict[Path, bytes], monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """(encrypted, untouched); fails on any file that is neither, or that decrypts to something else."""
    for name in [n for n in os.environ if n.startswith("AZURE_")]:
        monkeypatch.delenv(name)
    for name, value in world.controller_env().items():
        monkeypatch.setenv(name, value)
    world.emu.faults.clear()
    encrypted = untouched = 0
    cache: dict[str, KeySource] = {}
    with world.emu.patch_resolver():
        for path, original in originals.items():
            data = path.read_bytes()
            if data == original:
                untouched += 1
                continue
            assert api.is_encrypted(data, "yaml"), path
            assert b"-plain" not in data
            assert api.decrypt_bytes(data, fmt="yaml", sources_cache=cache, path_for_errors=str(path)) == original
            encrypted += 1
    return encrypted, untouched


def test_transient_faults_during_remote_encrypts_are_retried(
    sandbox: Runner, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, originals = make_repo(world)
    remote_encrypt_only(world)
    faults = world.emu.faults
    planned = [
        faults.status(500, service="kv", path="/encrypt$", every=40, times=3),
        faults.status(429, retry_after=0.2, service="kv", path="/encrypt$", after=10, every=50, times=3),
        faults.reset(service="kv", path="/encrypt$", after=5, every=60, times=2),
    ]
    done = fluxforge(sandbox, world.dev_env(), repo, "encrypt", "-i", "secrets")
    assert done.returncode == 0, done.stderr
    assert [f.fired for f in planned] == [3, 3, 2]
    ok = [e for e in world.emu.log.kv() if e.operation == "encrypt" and e.status == 200]
    assert len(ok) == N and {e.note["alg"] for e in ok} == {"RSA-OAEP-256"}
    assert classify(world, originals, monkeypatch) == (N, 0)
    sample = min(originals)
    peer = sandbox.run(["sops", "decrypt", str(sample)], env=world.controller_env(), base_env=base_env(world), cwd=repo)
    assert peer.returncode == 0 and peer.stdout.encode() == originals[sample], peer.stderr


def test_a_vault_outage_mid_batch_leaves_the_rest_untouched(
    sandbox: Runner, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, originals = make_repo(world)
    remote_encrypt_only(world)
    world.emu.faults.status(503, retry_after=0.05, service="kv", path="/encrypt$", after=100, times=None)
    done = fluxforge(sandbox, world.dev_env(), repo, "encrypt", "-i", "secrets")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if "azure_kv encrypt with" in line]
    assert len(lines) == N - 100  # one line per file left alone
    assert all(line.startswith("secrets/s") and ".yaml: azure_kv encrypt with" in line for line in lines)
    assert "Key Vault kept answering 503 (unavailable) after retries" in lines[0]
    assert sum("not retried: this vault already failed earlier in this run" in line for line in lines) == N - 101
    assert "-plain" not in done.stderr
    assert classify(world, originals, monkeypatch) == (100, 100)


def test_faults_on_the_single_key_read_of_local_wrapping(
    sandbox: Runner, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, originals = make_repo(world)
    faults = world.emu.faults
    planned = [
        faults.status(429, retry_after=0.3, service="kv", path="/keys/sops-key/", times=2),
        faults.reset(service="kv", path="/keys/sops-key/", times=1),
    ]
    done = fluxforge(sandbox, world.dev_env(), repo, "encrypt", "-i", "secrets")
    assert done.returncode == 0, done.stderr
    assert [f.fired for f in planned] == [2, 1]
    kv = world.emu.log.kv()
    assert not [e for e in kv if e.operation == "encrypt"]  # wrapped locally with the public key
    assert [e.status for e in kv if e.status == 200] == [200]
    assert classify(world, originals, monkeypatch) == (N, 0)

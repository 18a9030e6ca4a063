"""The real sops binary against the emulator, with production URLs inside a network namespace.

sops plays kustomize-controller: workload identity env (projected SA token for
system:serviceaccount:flux-system:kustomize-controller from the emulated cluster issuer), exchanged at the
emulated Entra ID through the federated credential, then Key Vault Decrypt. fluxforge's key source wraps
and unwraps the same ``azure_kv`` entries.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from azworld import KEY, World, base_env, fluxforge

from generator.sops.keys import KeyOptions, source_for
from generator.yamlio import load_rt
from tests.emulator import Runner

pytestmark = pytest.mark.interop

SECRET = """apiVersion: v1
kind: Secret
metadata:
    name: db
    namespace: apps
stringData:
    password: hunter2
    url: postgres://db:5432/app
"""  # in the layout sops writes (4-space indent), so a round trip is byte-identical


def sops(box: Runner, world: World, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return box.run(["sops", *args], env=env, base_env=base_env(world), cwd=world.tmp)


def sops_encrypt(box: Runner, world: World, key_url: str) -> Path:
    plain = world.tmp / "secret.yaml"
    plain.write_text(SECRET)
    done = sops(
        box,
        world,
        world.dev_env(),
        "encrypt",
        "--azure-kv",
        key_url,
        "--encrypted-regex",
        "^(data|stringData)$",
        str(plain),
    )
    assert done.returncode == 0, done.stderr
    out = world.tmp / "secret.enc.yaml"
    out.write_text(done.stdout)
    return out


def azure_entry(path: Path) -> dict[str, Any]:
    doc = load_rt(path.read_bytes())
    entries = doc["sops"]["azure_kv"]
    assert len(entries) == 1
    return dict(entries[0])


@pytest.mark.parametrize("versioned", [True, False], ids=["versioned", "versionless"])
def test_sops_encrypts_and_the_flux_identity_decrypts(sandbox: Runner, world: World, versioned: bool) -> None:
    url = world.key_url if versioned else world.versionless_url
    enc = sops_encrypt(sandbox, world, url)
    entry = azure_entry(enc)
    assert entry["version"] == world.version and entry["vault_url"] == world.emu.vault().url
    mark = world.emu.log.mark()
    done = sops(sandbox, world, world.controller_env(), "decrypt", str(enc))
    assert done.returncode == 0, done.stderr
    assert done.stdout == SECRET
    kv = [e for e in world.emu.log.since(mark, "kv") if e.authorized]
    assert [(e.operation, e.status, e.note.get("alg")) for e in kv] == [("decrypt", 200, "RSA-OAEP-256")]
    assert kv[0].note["principal"] == world.controller.object_id
    token = [e for e in world.emu.log.since(mark, "entra") if e.path.endswith("/token")]
    assert [e.note.get("principal") for e in token] == ["id-flux-kustomize-controller"]


@pytest.mark.parametrize("versioned", [True, False], ids=["versioned", "versionless"])
def test_fluxforge_decrypts_what_sops_encrypted(sandbox: Runner, world: World, versioned: bool) -> None:
    enc = sops_encrypt(sandbox, world, world.key_url if versioned else world.versionless_url)
    mark = world.emu.log.mark()
    done = fluxforge(sandbox, world.controller_env(), world.tmp, "decrypt", str(enc))
    assert done.returncode == 0, done.stderr
    assert done.stdout == SECRET
    kv = [(e.operation, e.status, e.note.get("alg")) for e in world.emu.log.since(mark, "kv") if e.authorized]
    assert kv == [("decrypt", 200, "RSA-OAEP-256")]  # the same single call sops makes
    assert [e.status for e in world.emu.log.since(mark, "entra") if e.path.endswith("/token")] == [200]


def test_sops_decrypts_an_entry_fluxforge_wrapped(
    sandbox: Runner, in_process: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our local RSA-OAEP-256 with the public JWK, unpadded base64url: accepted by sops' Decrypt."""
    w = in_process
    enc = sops_encrypt(sandbox, w, w.key_url)
    for name, value in w.controller_env().items():
        monkeypatch.setenv(name, value)
    data_key = source_for("azure_kv", KeyOptions(), {}).unwrap(azure_entry(enc))
    w.emu.rbac.assign(w.controller.object_id, "Key Vault Crypto User", w.emu.vault().resource_id)
    ours = source_for("azure_kv", KeyOptions(), {}).wrap(w.versionless_url, data_key)
    old = azure_entry(enc)
    assert ours["enc"] != old["enc"] and ours["version"] == old["version"]
    text = enc.read_text().replace(old["enc"], ours["enc"])
    enc.write_text(text.replace(f'created_at: "{old["created_at"]}"', f'created_at: "{ours["created_at"]}"'))
    assert azure_entry(enc)["enc"] == ours["enc"]
    done = sops(sandbox, w, w.controller_env(), "decrypt", str(enc))
    assert done.returncode == 0, done.stderr
    assert done.stdout == SECRET


GATES = {
    # gate: (how to break it, what sops prints, what fluxforge's message must name)
    "no-federated-credential": (
        "AADSTS70021",
        [
            "no federated credential on identity",
            "matches issuer",
            "az identity federated-credential create",
            "--subject system:serviceaccount:flux-system:kustomize-controller",
        ],
    ),
    "subject-namespace": (
        "AADSTS700213",
        ["has subject 'system:serviceaccount:apps:kustomize-controller'", "az identity federated-credential create"],
    ),
    "no-role-assignment": (
        "ForbiddenByRbac",
        ["role assignment missing", "keys/decrypt/action", 'az role assignment create --role "Key Vault Crypto User"'],
    ),
    "wrong-audience": ("AADSTS700212", ["audience 'api://wrong-audience'", "api://AzureADTokenExchange"]),
}


@pytest.mark.parametrize("gate", list(GATES))
def test_each_broken_gate_fails_in_sops_and_fluxforge_names_it(sandbox: Runner, world: World, gate: str) -> None:
    enc = sops_encrypt(sandbox, world, world.key_url)
    env_args: dict[str, str] = {}
    if gate == "no-federated-credential":
        world.controller.federated.clear()
    elif gate == "subject-namespace":
        env_args["namespace"] = "apps"
    elif gate == "no-role-assignment":
        assert world.emu.rbac.revoke(world.controller.object_id) == 1
    else:
        env_args["audience"] = "api://wrong-audience"
    env = world.controller_env(**env_args)
    done = sops(sandbox, world, env, "decrypt", str(enc))
    sops_says, we_say = GATES[gate]
    assert done.returncode != 0 and "hunter2" not in done.stdout
    assert sops_says in done.stderr, done.stderr
    ours = fluxforge(sandbox, env, world.tmp, "decrypt", str(enc))
    assert ours.returncode == 1 and ours.stdout == ""
    assert "Traceback" not in ours.stderr and "hunter2" not in ours.stderr
    assert "Attempted credentials" not in ours.stderr  # the SDK's own warnings stay quiet
    lines = [line for line in ours.stderr.splitlines() if "sops.azure_kv" in line]
    assert len(lines) == 1, ours.stderr
    assert f"sops.azure_kv: azure_kv decrypt with {world.key_url}: " in lines[0]
    for fragment in we_say:
        assert fragment in lines[0], lines[0]


def test_sops_rejects_a_padded_enc(sandbox: Runner, world: World) -> None:
    enc = sops_encrypt(sandbox, world, world.key_url)
    old = azure_entry(enc)["enc"]
    enc.write_text(enc.read_text().replace(old, old + "=="))
    done = sops(sandbox, world, world.controller_env(), "decrypt", str(enc))
    assert done.returncode != 0 and "base64" in done.stderr


def test_key_name_in_fixture_is_the_one_used() -> None:
    assert KEY == "sops-key"

"""End to end on the sample repository: fluxforge encrypts as a developer, the real sops binary decrypts as
kustomize-controller would in each cluster (controller-level and object-level workload identity).

The emulated Azure side (tenant, vault key and version, cluster issuers, identities and their federated
credentials) is built from ``sample-repo/fluxforge.yaml`` by ``tests.emulator.rehearsal``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from azworld import REPO_ROOT_AZ, fluxforge

from generator.yamlio import load_rt
from tests.emulator import Sandbox, sandbox_mode
from tests.emulator.rehearsal import Rehearsal, rehearse

pytestmark = pytest.mark.interop

# (file, cluster, kustomization that applies it)
SECRETS = [
    ("apps/staging/db-secret.yaml", "staging", "apps"),
    ("infrastructure/staging/registry-secret.yaml", "staging", "infrastructure"),
    ("apps/production/db-secret.yaml", "production", "apps"),
    ("tenants/team-a/staging/api-secret.yaml", "staging", "team-a"),
]


def secret_text(name: str) -> str:
    return (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n    name: {name}\n    namespace: apps\ntype: Opaque\n"
        f"stringData:\n    password: pw-{name}-s3cr3t\n    token: tk-{name}\n"
    )


@dataclass
class Fleet:
    repo: Path
    play: Rehearsal
    box: Sandbox


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    if sandbox_mode() != "namespace":  # the top-level conftest turns this skip into a failure under CI=true
        pytest.skip(f"the sample repo's URLs need production host names: {Sandbox.available()}")
    repo = tmp_path_factory.mktemp("fleet") / "repo"
    shutil.copytree(REPO_ROOT_AZ / "sample-repo", repo)
    play = rehearse(repo / "fluxforge.yaml", tmp_path_factory.mktemp("rehearsal"))
    play.emu.start()
    with Sandbox(play.emu, tmp_path_factory.mktemp("fleet-sandbox")) as box:
        yield Fleet(repo, play, box)
    play.emu.stop()


def fluxforge_encrypt(fleet: Fleet, files: list[str]) -> None:
    """``fluxforge encrypt -i`` in the repo (its .sops.yaml), as the developer, inside the sandbox."""
    done = fluxforge(fleet.box, fleet.play.developer_env(), fleet.repo, "encrypt", "-i", *files)
    assert done.returncode == 0, done.stderr


def sops_decrypt(fleet: Fleet, rel: str, env: dict[str, str]) -> tuple[int, str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "SOPS_"))}
    done = fleet.box.run(
        ["sops", "decrypt", rel], env={**env, "SOPS_DISABLE_VERSION_CHECK": "1"}, base_env=keep, cwd=fleet.repo
    )
    return done.returncode, done.stdout, done.stderr


def controller_env(fleet: Fleet, cluster: str, kustomization: str, token: Path) -> dict[str, str]:
    spec = fleet.play.cluster(cluster).kustomization(kustomization)
    if spec.tenant is not None:
        return fleet.play.tenant_env(cluster, kustomization, token)
    return fleet.play.controller_env(cluster, token)


def test_fluxforge_encrypts_and_kustomize_controller_decrypts(fleet: Fleet, tmp_path: Path) -> None:
    emu = fleet.play.emu
    for rel, _, _ in SECRETS:
        (fleet.repo / rel).write_text(secret_text(Path(rel).stem))
    mark = emu.log.mark()
    fluxforge_encrypt(fleet, [rel for rel, _, _ in SECRETS])
    # one token and one public-key read per key (the fleet's, team-a's own) plus a challenge probe for the batch
    kv = emu.log.since(mark, "kv")
    assert [(e.operation, e.status) for e in kv if e.authorized] == [("get", 200)] * 2 and len(kv) <= 3
    assert {e.path.split("/")[2] for e in kv if e.authorized} == {"sops-flux", "sops-team-a"}
    assert len([e for e in emu.log.since(mark, "entra") if e.path.endswith("/token")]) == 1
    for rel, cluster, ks in SECRETS:
        doc = load_rt((fleet.repo / rel).read_bytes())
        assert "s3cr3t" not in (fleet.repo / rel).read_text()
        entry = doc["sops"]["azure_kv"][0]
        assert entry["vault_url"] == "https://kv-contoso-fleet.vault.azure.net"
        assert (entry["name"], entry["version"]) == (
            ("sops-team-a", "2fd93bbbe588db0b5b7a0eae95b2c602")
            if ks == "team-a"
            else ("sops-flux", "bad6639b7a09782fb620e036242cb891")
        )
        env = controller_env(fleet, cluster, ks, tmp_path / "token")
        mark = emu.log.mark()
        code, out, err = sops_decrypt(fleet, rel, env)
        assert code == 0, err
        assert out == secret_text(Path(rel).stem)
        decrypts = [e for e in emu.log.since(mark, "kv") if e.operation == "decrypt" and e.status == 200]
        expected = fleet.play.identities[env["AZURE_CLIENT_ID"]]
        assert [e.note["principal"] for e in decrypts] == [expected.object_id]


def test_the_developer_cannot_decrypt_and_is_told_why(fleet: Fleet) -> None:
    rel = "apps/staging/dev-only.yaml"
    (fleet.repo / rel).write_text(secret_text("dev-only"))
    fluxforge_encrypt(fleet, [rel])
    done = fluxforge(fleet.box, fleet.play.developer_env(), fleet.repo, "decrypt", rel)
    assert done.returncode == 1 and done.stdout == "" and "Traceback" not in done.stderr
    azure = [line for line in done.stderr.splitlines() if "sops.azure_kv" in line]
    assert len(azure) == 1 and azure[0].startswith(f"{rel}: sops.azure_kv: azure_kv decrypt with https://kv-contoso")
    message = azure[0]
    assert "role assignment missing" in message and fleet.play.developer.object_id in message
    assert "/providers/microsoft.keyvault/vaults/kv-contoso-fleet (new assignments" in message
    assert "dev-only-s3cr3t" not in done.stderr


def test_production_token_cannot_pose_as_staging(fleet: Fleet, tmp_path: Path) -> None:
    """A token from the production cluster's issuer does not match the staging identity's credential."""
    rel = "apps/staging/cross.yaml"
    (fleet.repo / rel).write_text(secret_text("cross"))
    fluxforge_encrypt(fleet, [rel])
    production_issuer = fleet.play.cluster("production").oidc_issuer
    env = fleet.play.controller_env("staging", tmp_path / "token", issuer=production_issuer)
    code, out, err = sops_decrypt(fleet, rel, env)
    assert code != 0 and "AADSTS700211" in err and "cross-s3cr3t" not in out

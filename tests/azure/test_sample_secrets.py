"""The encrypted Secrets committed in sample-repo/ decrypt with the real sops, both ways Flux can:

* the TEST age identity (tests/fixtures/sample-repo.agekey), no Azure at all;
* the Key Vault key, as kustomize-controller in each cluster (controller-level identity; the tenant's
  own identity for its folder; the lockdown's default ServiceAccount), through the emulator standing
  in for Entra ID and Key Vault (the key version's RSA key is tests/fixtures/sample-repo-kv.pem).

The plaintexts and the command that regenerates the files live in ``sample_secrets.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sample_secrets import AGE_KEY, PLAINTEXT, SAMPLE, key_material

from generator.yamlio import load_rt
from tests.emulator import Sandbox, sandbox_mode
from tests.emulator.rehearsal import Rehearsal, rehearse

pytestmark = pytest.mark.interop

CASES = sorted(PLAINTEXT)
IDS = [rel for rel, _, _ in CASES]


def _env(extra: dict[str, str]) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "SOPS_"))}
    return {**keep, "SOPS_DISABLE_VERSION_CHECK": "1", **extra}


def test_every_cluster_has_an_encrypted_secret_in_git() -> None:
    assert {cluster for _, cluster, _ in CASES} == {"staging", "production"}
    for rel, _, _ in CASES:
        text = (SAMPLE / rel).read_text()
        doc = load_rt(text)
        assert doc["kind"] == "Secret" and doc["metadata"]["name"]  # Flux reads kind and metadata in the clear
        assert all(str(v).startswith("ENC[AES256_GCM,") for v in doc["stringData"].values()), rel
        # the tenant's folder: its own key only (plus the break-glass age recipient, the same TEST key)
        assert [e["name"] for e in doc["sops"]["azure_kv"]] == [
            "sops-team-a" if rel.startswith("tenants/") else "sops-flux"
        ]
        assert [e["recipient"] for e in doc["sops"]["age"]] == [
            "age1lfc652rhtrfqg2mhuj3edtv38wdrgpk7fwgt2zdexvnj3923nuqqd0g2rh"
        ]
        secrets = [
            line.split(": ", 1)[1]
            for line in PLAINTEXT[next(c for c in CASES if c[0] == rel)].splitlines()
            if "-sample-" in line
        ]
        assert secrets and not any(value in text for value in secrets), rel


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_real_sops_decrypts_with_the_test_age_key(case: tuple[str, str, str]) -> None:
    done = subprocess.run(
        ["sops", "decrypt", case[0]],
        cwd=SAMPLE,
        capture_output=True,
        text=True,
        check=False,
        env=_env({"SOPS_AGE_KEY_FILE": str(AGE_KEY)}),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == PLAINTEXT[case]


def test_the_sample_tree_passes_fluxforge_check(run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(SAMPLE)
    result = run_cli("check", *(rel for rel, _, _ in CASES))
    assert result.exit_code == 0, result.output


@dataclass
class Azure:
    repo: Path
    play: Rehearsal
    box: Sandbox


def _azure(tmp: Path, config_text: str | None = None) -> Iterator[Azure]:
    if sandbox_mode() != "namespace":  # the top-level conftest turns this skip into a failure under CI=true
        pytest.skip(f"the sample repo's URLs need production host names: {Sandbox.available()}")
    repo = tmp / "repo"
    shutil.copytree(SAMPLE, repo)
    if config_text is not None:
        (repo / "fluxforge.yaml").write_text(config_text)
    play = rehearse(repo / "fluxforge.yaml", tmp / "rehearsal", key_material())
    play.emu.start()
    try:
        with Sandbox(play.emu, tmp / "sandbox") as box:
            yield Azure(repo, play, box)
    finally:
        play.emu.stop()


@pytest.fixture(scope="module")
def azure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azure]:
    yield from _azure(tmp_path_factory.mktemp("sample-azure"))


def _decrypt(az: Azure, rel: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "SOPS_"))}
    return az.box.run(
        ["sops", "decrypt", rel], env={**env, "SOPS_DISABLE_VERSION_CHECK": "1"}, base_env=keep, cwd=az.repo
    )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_kustomize_controller_decrypts_through_key_vault(
    azure: Azure, tmp_path: Path, case: tuple[str, str, str]
) -> None:
    rel, cluster, kustomization = case
    spec = azure.play.cluster(cluster).kustomization(kustomization)
    token = tmp_path / "token"
    # the sample is locked down (flux.lockdown on Flux 2.9): a platform Kustomization decrypts as the default
    # decryption ServiceAccount of its namespace (flux-decryption), with the cluster identity
    assert azure.play.config.flux.default_decryption_service_account == "flux-decryption"
    env = (
        azure.play.tenant_env(cluster, kustomization, token)
        if spec.tenant is not None
        else azure.play.default_sa_env(cluster, spec.namespace, token)
    )
    assert env["AZURE_CLIENT_ID"] == (
        spec.tenant.identity.client_id if spec.tenant is not None else azure.play.cluster(cluster).identity.client_id
    )
    mark = azure.play.emu.log.mark()
    done = _decrypt(azure, rel, env)  # no age key here: only the Key Vault entry can open it
    assert done.returncode == 0, done.stderr
    assert done.stdout == PLAINTEXT[case]
    decrypts = [e for e in azure.play.emu.log.since(mark, "kv") if e.operation == "decrypt" and e.status == 200]
    assert [e.note["principal"] for e in decrypts] == [azure.play.identities[env["AZURE_CLIENT_ID"]].object_id]


TENANT_FILE, PLATFORM_FILE = "tenants/team-a/staging/team-a-secret.yaml", "apps/staging/podinfo-secret.yaml"


def test_the_tenant_key_opens_the_tenant_file_only_and_the_platform_key_the_platform_file_only(
    azure: Azure, tmp_path: Path
) -> None:
    """Per-tenant keys (issue 14) on the locked-down sample: the real sops as kustomize-controller, once
    impersonating team-a's decryption ServiceAccount (the tenant identity, Key Vault role on sops-team-a only) and
    once as the lockdown's default decryption ServiceAccount flux-system/flux-decryption (the cluster identity,
    role on sops-flux only). Each opens its own file; the other's is refused by Key
    Vault (403 ForbiddenByRbac on the other key), and nothing of its plaintext shows."""
    tenant = azure.play.tenant_env("staging", "team-a", tmp_path / "tenant-token")
    platform = azure.play.default_sa_env("staging", "flux-system", tmp_path / "platform-token")
    cases = [
        (tenant, TENANT_FILE, "team-a", PLATFORM_FILE, "sops-flux"),
        (platform, PLATFORM_FILE, "apps", TENANT_FILE, "sops-team-a"),
    ]
    for env, own, kustomization, other, other_key in cases:
        done = _decrypt(azure, own, env)
        assert done.returncode == 0, done.stderr
        assert done.stdout == PLAINTEXT[(own, "staging", kustomization)]
        mark = azure.play.emu.log.mark()
        refused = _decrypt(azure, other, env)
        assert refused.returncode != 0
        assert "ForbiddenByRbac" in refused.stderr, refused.stderr
        secret = next(
            v.split(": ", 1)[1]
            for (rel, _, _), text in PLAINTEXT.items()
            if rel == other
            for v in text.splitlines()
            if "-sample-" in v
        )
        assert secret not in refused.stdout + refused.stderr
        denied = [e for e in azure.play.emu.log.since(mark, "kv") if e.operation == "decrypt" and e.authorized]
        principal = azure.play.identities[env["AZURE_CLIENT_ID"]].object_id
        assert denied and all(e.status == 403 and e.note["principal"] == principal for e in denied)
        assert all(f"/keys/{other_key}/" in e.path for e in denied), [e.path for e in denied]


@pytest.fixture(scope="module")
def lockdown(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azure]:
    text = (
        (SAMPLE / "fluxforge.yaml")
        .read_text()
        .replace(
            "  namespace: flux-system\n",
            "  namespace: flux-system\n  defaultDecryptionServiceAccount: flux-decrypt\n",
            1,
        )
    )
    yield from _azure(tmp_path_factory.mktemp("sample-lockdown"), text)


def test_lockdown_default_service_account_decrypts_with_the_cluster_identity(lockdown: Azure, tmp_path: Path) -> None:
    """With flux.defaultDecryptionServiceAccount, the apps Kustomization (no tenant) decrypts as that
    ServiceAccount of its own namespace: the federated credential fluxforge lists (and renders the az
    command for) is the one Entra ID accepts; another namespace's account is refused."""
    rel, cluster = "apps/production/podinfo-secret.yaml", "production"
    env = lockdown.play.default_sa_env(cluster, "flux-system", tmp_path / "token")
    done = _decrypt(lockdown, rel, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == PLAINTEXT[(rel, cluster, "apps")]
    assert env["AZURE_CLIENT_ID"] == lockdown.play.cluster(cluster).identity.client_id
    other = lockdown.play.default_sa_env(cluster, "podinfo", tmp_path / "token2")  # no Kustomization lives there
    refused = _decrypt(lockdown, rel, other)
    assert refused.returncode != 0 and "AADSTS700213" in refused.stderr
    assert "production-sample-password" not in refused.stdout + refused.stderr

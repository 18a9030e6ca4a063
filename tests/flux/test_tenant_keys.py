"""Per-tenant SOPS keys (issue 14, item 1): a tenant's folder is encrypted for its own keys (and the platform's
break-glass recipients) only; its identity is granted decrypt on its own key only; ``fluxforge lint`` names any
identity that can decrypt a key used outside its folders. The end-to-end decrypt isolation through Key Vault,
with the real sops, is in tests/azure/test_sample_secrets.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generator.azure.desired import desired_state
from generator.config.load import parse_config
from generator.flux.isolation import exposures
from generator.render.files import render_tree
from generator.yamlio import load_rt
from tests.helpers import SAMPLE_REPO

SAMPLE = (SAMPLE_REPO / "fluxforge.yaml").read_text(encoding="utf-8")
TEAM_KEY = (
    "          sops:                # team-a's own key: its identity decrypts this one only\n"
    "            keyVault:\n              - vault: kv-contoso-fleet\n                key: sops-team-a\n"
    "                version: 2fd93bbbe588db0b5b7a0eae95b2c602\n"
)
BREAK_GLASS = (
    "  breakGlass:                 # added to every tenant's own rule; no identity may decrypt it\n"
    "    age:\n      # the platform's offline key (here the same TEST-ONLY recipient); replace it\n"
    "      - age1lfc652rhtrfqg2mhuj3edtv38wdrgpk7fwgt2zdexvnj3923nuqqd0g2rh\n"
)
FLEET_URL = "https://kv-contoso-fleet.vault.azure.net/keys/sops-flux/bad6639b7a09782fb620e036242cb891"
TEAM_URL = "https://kv-contoso-fleet.vault.azure.net/keys/sops-team-a/2fd93bbbe588db0b5b7a0eae95b2c602"
TEST_AGE = "age1lfc652rhtrfqg2mhuj3edtv38wdrgpk7fwgt2zdexvnj3923nuqqd0g2rh"


def _rules(text: str) -> dict[str, Any]:
    rules = load_rt(render_tree(parse_config(text))[".sops.yaml"].decode())["creation_rules"]
    return {str(r["path_regex"]): r for r in rules}


def test_the_sample_config_has_what_this_file_edits() -> None:
    assert TEAM_KEY in SAMPLE and BREAK_GLASS in SAMPLE


def test_a_tenant_rule_lists_its_own_keys_and_the_break_glass_recipient_only() -> None:
    rules = _rules(SAMPLE)
    team = rules["^tenants/team-a/staging/"]
    assert team["azure_keyvault"] == TEAM_URL and team["age"] == TEST_AGE
    for regex, rule in rules.items():
        if regex != "^tenants/team-a/staging/":
            assert rule["azure_keyvault"] == FLEET_URL, regex  # the team's key nowhere else
    text = render_tree(parse_config(SAMPLE))[".sops.yaml"].decode()
    assert "  # tenants/team-a/staging/ (tenant team-a of cluster staging)\n" in text
    assert "  # apps/staging/ (cluster staging)\n" in text
    # without breakGlass the tenant rule has the tenant's key alone (the fleet's age recipient is not added)
    alone = _rules(SAMPLE.replace(BREAK_GLASS, ""))["^tenants/team-a/staging/"]
    assert alone["azure_keyvault"] == TEAM_URL and "age" not in alone
    # without a key of its own the tenant's folder keeps the cluster's keys (as before issue 14)
    shared = _rules(SAMPLE.replace(TEAM_KEY, ""))["^tenants/team-a/staging/"]
    assert shared["azure_keyvault"] == FLEET_URL and shared["age"] == TEST_AGE


def _roles(text: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for assignment in desired_state(parse_config(text)).assignments:
        if assignment.identity is not None:
            found.setdefault(assignment.identity.name, set()).add(f"{assignment.role.name} on {assignment.key.label}")
    return found


def test_the_tenant_identity_is_granted_decrypt_on_its_own_key_only() -> None:
    assert _roles(SAMPLE) == {
        "id-flux-staging": {"Key Vault Crypto User on kv-contoso-fleet/sops-flux"},
        "id-team-a-staging": {"Key Vault Crypto User on kv-contoso-fleet/sops-team-a"},
        "id-flux-production": {"Key Vault Crypto User on kv-contoso-fleet/sops-flux"},
    }
    # the encryptors may encrypt with the team's key too (they write its Secrets), never decrypt
    encrypt = {(a.key.label, a.role.name) for a in desired_state(parse_config(SAMPLE)).assignments if a.encryptor}
    assert encrypt == {
        ("kv-contoso-fleet/sops-flux", "Key Vault Reader"),
        ("kv-contoso-fleet/sops-team-a", "Key Vault Reader"),
    }
    # a tenant without a key of its own decrypts with the cluster's key: the flaw lint names
    assert _roles(SAMPLE.replace(TEAM_KEY, ""))["id-team-a-staging"] == {
        "Key Vault Crypto User on kv-contoso-fleet/sops-flux"
    }


def test_a_break_glass_key_vault_key_is_granted_to_nobody() -> None:
    text = SAMPLE.replace(
        BREAK_GLASS, "  breakGlass:\n    keyVault:\n      - vault: kv-contoso-vault\n        key: glass\n"
    )
    state = desired_state(parse_config(text))
    assert "kv-contoso-vault/glass" in {k.label for k in state.keys}
    assert {a.key.label for a in state.assignments if a.identity is not None} == {
        "kv-contoso-fleet/sops-flux",
        "kv-contoso-fleet/sops-team-a",
    }
    assert (
        _rules(text)["^tenants/team-a/staging/"]["azure_keyvault"]
        == f"{TEAM_URL},https://kv-contoso-vault.vault.azure.net/keys/glass"
    )
    # the two clusters share the fleet key (a warning); no identity reaches the break-glass key
    assert [(e.identity.name, e.level, e.folders) for e in exposures(parse_config(text))] == [
        ("id-flux-staging", "warning", ("clusters/production", "infrastructure/production", "apps/production")),
        ("id-flux-production", "warning", ("clusters/staging", "infrastructure/staging", "apps/staging")),
    ]


# --- lint -------------------------------------------------------------------------------------------------


def _lint(tmp_path: Path, run_cli: Any, text: str) -> Any:
    (tmp_path / "fluxforge.yaml").write_text(text)
    return run_cli("lint", str(tmp_path))


def test_lint_has_no_isolation_error_for_the_sample(run_cli: Any) -> None:
    result = run_cli("lint", str(SAMPLE_REPO))
    assert result.exit_code == 0, result.output
    assert "error" not in result.stdout and "id-team-a" not in result.stdout
    # the sample's clusters share the fleet key: said, as a warning
    assert result.stdout.count("warning: identity id-flux-") == 2
    assert (
        "clusters share this key; if one cluster must not read another's Secrets, give each its own "
        "(clusters[].sops.keyVault)" in result.stdout
    )
    assert run_cli("lint", str(SAMPLE_REPO), "--strict").exit_code == 1


def test_lint_names_a_tenant_without_its_own_key(tmp_path: Path, run_cli: Any) -> None:
    text = SAMPLE.replace(TEAM_KEY, "")
    result = _lint(tmp_path, run_cli, text)
    assert result.exit_code == 1
    lines = text.splitlines()
    fix = "give tenant team-a a Key Vault key of its own (clusters[0].kustomizations[2].tenant.sops.keyVault)"
    # the tenant identity reads every platform folder of both clusters (they share the key) ...
    assert (
        f"fluxforge.yaml:{lines.index('          identity:') + 1}: error: identity id-team-a-staging (tenant team-a "
        "of cluster staging) can decrypt Key Vault key kv-contoso-fleet/sops-flux, which .sops.yaml also uses for "
        "clusters/staging/, infrastructure/staging/, apps/staging/, clusters/production/, infrastructure/production/, "
        f"apps/production/ (not its folders): it can read those Secrets from Git; {fix}\n"
    ) in result.stdout
    # ... and both platform identities read the tenant's folder: the same fix, at their own lines
    for name in ("staging", "production"):
        line = lines.index(f"      name: id-flux-{name}")  # the line of the cluster's identity: key
        assert (
            f"fluxforge.yaml:{line}: error: identity id-flux-{name} (cluster {name}) can decrypt Key Vault key "
            "kv-contoso-fleet/sops-flux, which .sops.yaml also uses for tenants/team-a/staging/ (not its folders): "
            f"it can read those Secrets from Git; {fix}\n"
        ) in result.stdout
    assert "3 error(s), 2 warning(s)" in result.stderr


def test_lint_names_a_break_glass_key_the_platform_decrypts(tmp_path: Path, run_cli: Any) -> None:
    glass = "  breakGlass:\n    keyVault:\n      - vault: kv-contoso-fleet\n        key: sops-flux\n"
    result = _lint(tmp_path, run_cli, SAMPLE.replace(BREAK_GLASS, glass))
    assert result.exit_code == 1
    assert (
        "identity id-flux-staging (cluster staging) can decrypt Key Vault key kv-contoso-fleet/sops-flux, which "
        ".sops.yaml also uses for tenants/team-a/staging/ (not its folders)" in result.stdout
    )
    assert result.stdout.count("sops.breakGlass names this key") == 2  # production shares the key: it reads it too
    assert (
        "error: identity id-flux-production (cluster production) can decrypt Key Vault key kv-contoso-fleet/"
        "sops-flux, which .sops.yaml also uses for tenants/team-a/staging/" in result.stdout
    )


def test_lint_names_a_tenant_that_takes_the_cluster_key_as_its_own(tmp_path: Path, run_cli: Any) -> None:
    text = SAMPLE.replace(
        "                key: sops-team-a\n                version: 2fd93bbbe588db0b5b7a0eae95b2c602\n",
        "                key: sops-flux\n",
    )
    result = _lint(tmp_path, run_cli, text)
    assert result.exit_code == 1
    assert (
        "identity id-team-a-staging (tenant team-a of cluster staging) can decrypt Key Vault key "
        "kv-contoso-fleet/sops-flux" in result.stdout
    )
    assert "use a key only this identity's folders are encrypted for" in result.stdout


def test_a_base_the_tenant_and_the_platform_both_build_is_theirs(tmp_path: Path, run_cli: Any) -> None:
    """A shared folder both builds read lists both keys: each identity reads it, and lint accepts that."""
    for rel, text in {
        "apps/staging/kustomization.yaml": "resources:\n  - ../../shared/base\n",
        "tenants/team-a/staging/kustomization.yaml": "resources:\n  - ../../../shared/base\n",
        "shared/base/cm.yaml": "kind: ConfigMap\n",
    }.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    result = _lint(tmp_path, run_cli, SAMPLE)
    # neither staging identity is named for the base; production, which shares staging's key, is
    assert (
        "id-team-a-staging" not in result.stdout
        and "id-flux-staging (cluster staging) can decrypt Key Vault "
        "key kv-contoso-fleet/sops-flux, which .sops.yaml also uses for shared"
        not in result.stdout
    )
    assert (
        "error: identity id-flux-production (cluster production) can decrypt Key Vault key kv-contoso-fleet/"
        "sops-flux, which .sops.yaml also uses for shared/base/ (not its folders): it can read those Secrets "
        "from Git; clusters share this key, so each reads what the other's tenants read: give each its own "
        "(clusters[].sops.keyVault)" in result.stdout
    )
    assert run_cli("render", str(tmp_path)).exit_code == 0
    rules = {r["path_regex"]: r for r in load_rt((tmp_path / ".sops.yaml").read_text())["creation_rules"]}
    assert rules["^shared/base/"]["azure_keyvault"] == f"{FLEET_URL},{TEAM_URL}"
    assert (
        "# shared/base/ (cluster staging; tenant team-a of cluster staging; pulled in by their kustomize builds)"
        in (tmp_path / ".sops.yaml").read_text()
    )


def test_a_config_that_does_not_load_is_one_lint_warning(tmp_path: Path, run_cli: Any) -> None:
    result = _lint(tmp_path, run_cli, SAMPLE.replace('  version: "2.9.4"', '  version: "9.9.9"'))
    assert result.exit_code == 0
    assert result.stdout.startswith("fluxforge.yaml:1: warning: not checked for tenant isolation: ")
    assert result.stdout.endswith(
        "fluxforge.yaml:4: flux.version: Flux 9.9.9 is not documented here; fluxforge supports 2.0.0 to 2.9.x\n"
    )


@pytest.mark.parametrize(
    "bad",
    [
        (
            "          sops:\n            age: [age1lfc652rhtrfqg2mhuj3edtv38wdrgpk7fwgt2zdexvnj3923nuqqd0g2rh]\n",
            "clusters[0].kustomizations[2].tenant.sops: missing required key 'keyVault'",
        ),
        (
            "          sops:\n            keyVault: []\n",
            "clusters[0].kustomizations[2].tenant.sops.keyVault: must list at least 1",
        ),
    ],
)
def test_a_tenant_sops_block_needs_a_key_vault_key(bad: tuple[str, str], run_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "fluxforge.yaml").write_text(SAMPLE.replace(TEAM_KEY, bad[0]))
    result = run_cli("render", str(tmp_path))
    assert result.exit_code == 1 and bad[1] in result.stderr, result.stderr

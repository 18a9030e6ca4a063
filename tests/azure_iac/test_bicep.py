"""``fluxforge azure bicep``: the Bicep parses with the real Bicep parser (pycep-parser), declares exactly the
strings the rendered tree needs, is byte-stable, and is written under the render's writer rules."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from generator.azure.bicep import digest_ok, render_bicep
from generator.azure.desired import arm_guid, desired_state
from generator.config.load import load_config, parse_config
from generator.flux.federation import federated_credentials
from tests.azure_iac.rich import ISSUER_A, RICH, SUBSCRIPTION

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample-repo"
FIC = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
RA = "Microsoft.Authorization/roleAssignments"
CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"


def _parse(files: dict[str, bytes], tmp: Path) -> dict[str, dict[str, Any]]:
    parser = BicepParser(add_line_numbers=False)
    parsed = {}
    for name, data in files.items():
        (tmp / name).write_bytes(data)
        parsed[name] = parser.parse(file_path=tmp / name)
    return parsed


def _resources(parsed: dict[str, dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for doc in parsed.values() for r in doc.get("resources", {}).values() if r["type"] == kind]


def _literal(value: Any) -> Any:
    return value


def test_sample_repo_bicep_parses_and_declares_the_configured_trust(tmp_path: Path) -> None:
    config = load_config(SAMPLE)
    files = render_bicep(desired_state(config))
    assert sorted(files) == [
        "identities-rg-fleet-production.bicep",
        "identities-rg-fleet-staging.bicep",
        "keyvault-rg-fleet-shared.bicep",
        "keyvault-rg-fleet-staging.bicep",
        "main.bicep",
    ]
    parsed = _parse(files, tmp_path)
    fics = {
        (r["config"]["properties"]["issuer"], r["config"]["properties"]["subject"]): r for r in _resources(parsed, FIC)
    }
    expected = {(c.issuer, c.subject) for cl in config.clusters for c in federated_credentials(config, cl)}
    assert set(fics) == expected and len(expected) == 6  # + the podinfo workload's ServiceAccount
    # the lockdown's default decryption ServiceAccount of each cluster is trusted by the cluster identity
    assert {s for _, s in fics if s.endswith(":flux-decryption")} == {
        "system:serviceaccount:flux-system:flux-decryption"
    }
    assert sum(s == "system:serviceaccount:flux-system:flux-decryption" for _, s in fics) == 2
    for fic in fics.values():
        assert fic["config"]["properties"]["audiences"] == ["api://AzureADTokenExchange"]
    # the issuer is the config's string exactly (trailing slash kept)
    assert all(issuer.endswith("/") for issuer, _ in fics)
    vault = _resources(parsed, "Microsoft.KeyVault/vaults")[0]["config"]["properties"]
    assert vault["enableRbacAuthorization"] is True and vault["enablePurgeProtection"] is True
    for key in _resources(parsed, "Microsoft.KeyVault/vaults/keys"):  # the fleet's key and team-a's own
        assert key["config"]["properties"]["kty"] == "RSA"
        assert key["config"]["properties"]["keyOps"] == ["encrypt", "decrypt"]
    assignments = _resources({"keyvault-rg-fleet-shared.bicep": parsed["keyvault-rg-fleet-shared.bicep"]}, RA)
    keysyms = {
        s
        for s, r in parsed["keyvault-rg-fleet-shared.bicep"]["resources"].items()
        if r["type"] == "Microsoft.KeyVault/vaults/keys"
    }
    assert keysyms == {"keyKvContosoFleetSopsFlux", "keyKvContosoFleetSopsTeamA"}
    assert {str(a["config"]["scope"]) for a in assignments} == keysyms  # the key, never the vault
    roles = [
        (
            str(a["config"]["scope"]),
            str(a["config"]["properties"]["roleDefinitionId"]),
            str(a["config"]["properties"]["principalId"]),
        )
        for a in assignments
    ]
    # the two cluster identities on the fleet key, the tenant on its own key only
    assert sorted((scope, principal) for scope, role, principal in roles if CRYPTO_USER in role) == [
        ("keyKvContosoFleetSopsFlux", "idFluxProductionPrincipalId"),
        ("keyKvContosoFleetSopsFlux", "idFluxStagingPrincipalId"),
        ("keyKvContosoFleetSopsTeamA", "idTeamAStagingPrincipalId"),
    ]
    # the encryptor: Key Vault Reader on each key
    assert sum("21090545-7ca7-4776-b22c-e363652d74d2" in role for _, role, _ in roles) == 2
    outputs = parsed["main.bicep"]["outputs"]
    assert {
        "idFluxStagingClientId",
        "idTeamAStagingClientId",
        "idFluxProductionClientId",
        "keyKvContosoFleetSopsFluxUrl",
        "keyKvContosoFleetSopsTeamAUrl",
        "idPodinfoStagingClientId",
    } <= set(outputs)
    # the workload: Key Vault Secrets User scoped to its one secret, in a vault fluxforge only references
    apps = parsed["keyvault-rg-fleet-staging.bicep"]["resources"]
    vaults = [(r["type"], r["existing"]) for r in apps.values() if r["type"].startswith("Microsoft.KeyVault")]
    assert vaults == [("Microsoft.KeyVault/vaults", True), ("Microsoft.KeyVault/vaults/secrets", True)]
    secret = next(s for s, r in apps.items() if r["type"] == "Microsoft.KeyVault/vaults/secrets")
    (workload,) = [r for r in apps.values() if r["type"] == RA]
    assert str(workload["config"]["scope"]) == secret
    assert SECRETS_USER in str(workload["config"]["properties"]["roleDefinitionId"])
    state = desired_state(config)
    (access,) = state.access
    assert (
        f"'{access.target.name}', 'identity:rg-fleet-staging/id-podinfo-staging', '{SECRETS_USER}')"
        in files["keyvault-rg-fleet-staging.bicep"].decode()
    )


def test_rich_config_parses_with_modules_existing_resources_and_the_custom_role(tmp_path: Path) -> None:
    config = parse_config(RICH)
    state = desired_state(config)
    files = render_bicep(state)
    assert sorted(files) == [
        "identities-rg-fleet.bicep",
        "identities-rg-prod.bicep",
        "identities-rg-team-a.bicep",
        "keyvault-rg-fleet.bicep",
        "keyvault-rg-prod.bicep",
        "main.bicep",
    ]
    parsed = _parse(files, tmp_path)
    # the existing identity and the existing vault/key are referenced, never declared
    prod = parsed["identities-rg-prod.bicep"]["resources"]
    assert [r["existing"] for r in prod.values() if r["type"].endswith("userAssignedIdentities")] == [True]
    legacy = parsed["keyvault-rg-prod.bicep"]["resources"]
    assert all(r["existing"] for r in legacy.values() if r["type"].startswith("Microsoft.KeyVault"))
    # two config clusters on one issuer share the credentials of id-flux-staging: no 409 from a twin
    staging = [r for r in parsed["identities-rg-fleet.bicep"]["resources"].values() if r["type"] == FIC]
    pairs = [(r["config"]["properties"]["issuer"], r["config"]["properties"]["subject"]) for r in staging]
    assert len(pairs) == len(set(pairs)) == 2
    assert ("system:serviceaccount:flux-system:flux-decryptor") in {s for i, s in pairs if i == ISSUER_A}
    # one identity's credentials are created one after the other
    symbols = [s for s, r in parsed["identities-rg-fleet.bicep"]["resources"].items() if r["type"] == FIC]
    second = parsed["identities-rg-fleet.bicep"]["resources"][symbols[1]]
    assert second["config"]["dependsOn"] == [symbols[0]]
    # encryptors that run sops: the custom role with keys/read + keys/encrypt/action only
    roles = _resources(parsed, "Microsoft.Authorization/roleDefinitions")
    assert len(roles) == 2  # one per resource group holding a key
    for role in roles:
        perms = role["config"]["properties"]["permissions"][0]
        assert perms["dataActions"] == [
            "Microsoft.KeyVault/vaults/keys/read",
            "Microsoft.KeyVault/vaults/keys/encrypt/action",
        ]
        assert not any("decrypt" in a for a in perms["dataActions"]) and perms["actions"] == []
    # every assignment to an identity is named as apply names it: guid(subscription, group, vault, key, principal, role)
    for assignment in state.assignments:
        assert assignment.name(SUBSCRIPTION) == arm_guid(
            SUBSCRIPTION,
            assignment.key.resource_group,
            assignment.key.vault,
            assignment.key.key,
            assignment.principal_key,
            assignment.role.resolved(SUBSCRIPTION),
        )
    text = files["keyvault-rg-fleet.bicep"].decode()
    assert (
        "guid(subscription().subscriptionId, 'rg-fleet', 'kv-fleet-main', 'sops-flux', "
        f"'identity:rg-fleet/id-flux-staging', '{CRYPTO_USER}')" in text
    )


def test_bicep_is_byte_stable_and_every_file_carries_its_digest() -> None:
    config = parse_config(RICH)
    first, second = render_bicep(desired_state(config)), render_bicep(desired_state(parse_config(RICH)))
    assert first == second
    for data in first.values():
        assert digest_ok(data)
        assert not digest_ok(data + b"// an edit\n")


def _run(run_cli: Any, *args: str) -> Any:
    return run_cli("azure", "bicep", *args)


def test_writer_rules_no_op_refusals_force_and_orphans(run_cli: Any, chdir_tmp: Path) -> None:
    (chdir_tmp / "fluxforge.yaml").write_text(RICH)
    out = chdir_tmp / "infra" / "azure"
    first = _run(run_cli)
    assert first.exit_code == 0, first.output
    assert "6 written" in first.stderr and "az deployment group create -g rg-fleet" in first.stderr
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    os.utime(out / "main.bicep", ns=(1, 1))
    again = _run(run_cli)
    assert again.exit_code == 0 and "0 written, 6 unchanged" in again.stderr
    assert (out / "main.bicep").stat().st_mtime_ns == 1  # a no-op writes nothing
    assert _run(run_cli, "--check").exit_code == 0
    # an edited generated file and a foreign file are refused, one line each, nothing written
    (out / "main.bicep").write_bytes((out / "main.bicep").read_bytes() + b"// mine\n")
    (chdir_tmp / "fluxforge.yaml").write_text(RICH.replace("id-team-a\n", "id-team-alpha\n"))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    refused = _run(run_cli)
    assert refused.exit_code == 1
    assert refused.stderr.splitlines() == [
        (
            f"{Path('infra/azure/main.bicep')}: edited since fluxforge wrote it (its digest no longer matches); "
            "move your changes into fluxforge.yaml or a separate .bicep file, or rerun with --force to replace it"
        ),
        "nothing was written",
    ]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    check = _run(run_cli, "--check")
    assert (
        check.exit_code == 1
        and "identities-rg-team-a.bicep: stale" in check.stderr
        and "+    name: 'id-team-alpha'" in check.stderr.replace("+  name", "+    name")
    )
    forced = _run(run_cli, "--force")
    assert forced.exit_code == 0 and "forced:" in forced.stderr and "main.bicep" in forced.stdout
    assert all(digest_ok(p.read_bytes()) for p in out.iterdir())
    # a module no longer generated (its group left the config) is removed; a foreign .bicep stays
    (out / "network.bicep").write_text("param x string\n")
    (chdir_tmp / "fluxforge.yaml").write_text(RICH.replace("            resourceGroup: rg-team-a\n", ""))
    moved = _run(run_cli)
    assert moved.exit_code == 0, moved.output
    assert "removed infra/azure/identities-rg-team-a.bicep (no longer generated)" in moved.stdout
    assert (out / "network.bicep").read_text() == "param x string\n"
    assert sorted(stamps) != sorted(p.name for p in out.iterdir())


def test_a_foreign_file_in_the_way_is_refused(run_cli: Any, chdir_tmp: Path) -> None:
    (chdir_tmp / "fluxforge.yaml").write_text(RICH)
    out = chdir_tmp / "deploy"
    out.mkdir()
    (out / "main.bicep").write_text("targetScope = 'subscription'\n")
    result = _run(run_cli, "--out", "deploy")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"{Path('deploy/main.bicep')}: exists and was not written by fluxforge; "
        "move it away, or rerun with --force to replace it"
    )
    assert sorted(p.name for p in out.iterdir()) == ["main.bicep"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            (
                "    identity:\n      name: id-flux-staging          # created by fluxforge azure apply\n",
                "    identity:\n      clientId: c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772\n",
            ),
            (
                "fluxforge.yaml:26: clusters[0].identity.name: missing: fluxforge azure finds and creates identities "
                "by name (az identity list --query \"[?clientId=='c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772'].name\" -o tsv)"
            ),
        ),
        (
            ("  resourceGroup: rg-fleet\n", ""),
            (
                "fluxforge.yaml:20: sops.keyVault[0].resourceGroup: missing: set it here or azure.resourceGroup "
                "(the default for every Azure resource)"
            ),
        ),
    ],
)
def test_what_the_azure_side_needs_is_named_with_its_line(
    run_cli: Any, chdir_tmp: Path, edit: tuple[str, str], expected: str
) -> None:
    (chdir_tmp / "fluxforge.yaml").write_text(RICH.replace(*edit))
    result = _run(run_cli)
    assert result.exit_code == 1
    assert expected in result.stderr.splitlines()
    assert sorted(p.name for p in chdir_tmp.iterdir()) == ["fluxforge.yaml"]


def test_the_sample_repo_holds_its_bicep_up_to_date(run_cli: Any) -> None:
    """sample-repo shows what Git holds: infra/azure/ as `fluxforge azure bicep` writes it."""
    result = run_cli("azure", "bicep", str(SAMPLE), "--check")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (SAMPLE / "infra" / "azure").iterdir()) == [
        "identities-rg-fleet-production.bicep",
        "identities-rg-fleet-staging.bicep",
        "keyvault-rg-fleet-shared.bicep",
        "keyvault-rg-fleet-staging.bicep",
        "main.bicep",
    ]


def test_plan_and_apply_need_the_subscription_and_say_where(run_cli: Any, chdir_tmp: Path) -> None:
    (chdir_tmp / "fluxforge.yaml").write_text(
        RICH.replace("  subscriptionId: 3f1c1a4e-5b7e-4d51-9a63-0b6f0c2f8d11\n", "")
    )
    for command in ("plan", "apply"):
        result = run_cli("azure", command)
        assert result.exit_code == 1
        assert result.stderr.splitlines() == [
            (
                "fluxforge.yaml:7: azure: subscriptionId missing: fluxforge azure plan/apply read and write this "
                "subscription (az account show --query id -o tsv)"
            )
        ]
    assert run_cli("azure", "bicep").exit_code == 0  # Bicep deploys into the subscription it is given

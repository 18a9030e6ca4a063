"""The Azure side of workloads (issue 13, item 3): federated credentials for their ServiceAccounts and the least
role on each object they mount, scoped as narrowly as ARM allows (a secret: Key Vault Secrets User on the
secret; a key: Key Vault Reader on the key; a certificate: Key Vault Reader on the vault), in the desired state,
the Bicep (parsed by pycep) and the plan (pure: desired vs an actual ARM state)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pycep import BicepParser

from generator.azure.bicep import render_bicep
from generator.azure.desired import desired_state
from generator.azure.facts import RoleFacts
from generator.azure.plan import (
    ActualAssignment,
    ActualKey,
    ActualObject,
    ActualState,
    make_plan,
)
from generator.config.load import parse_config
from tests.helpers import arm_facts

SUBSCRIPTION = "3f1c1a4e-5b7e-4d51-9a63-0b6f0c2f8d11"
ISSUER = "https://westeurope.oic.prod-aks.azure.com/95513a0e-a568-46f4-8d76-53e5279cb558/5cd99ca1-6fd3-48b4-85d7-728bebc84d67/"
SECRETS_USER, READER = "4633458b-17de-408a-b874-0445c86b69e6", "21090545-7ca7-4776-b22c-e363652d74d2"
RA = "Microsoft.Authorization/roleAssignments"

CONFIG = f"""\
git:
  url: ssh://git@github.com/contoso/fleet
azure:
  tenantId: 95513a0e-a568-46f4-8d76-53e5279cb558
  subscriptionId: {SUBSCRIPTION}
  resourceGroup: rg-fleet
sops:
  keyVault:
    - vault: kv-fleet
      key: sops-flux
clusters:
  - name: staging
    oidcIssuer: {ISSUER}
    identity: {{name: id-flux, clientId: c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772}}
    kustomizations:
      - name: apps
        path: apps/staging
    workloads:
      - name: web
        namespace: web
        path: apps/staging
        identity: {{name: id-web, clientId: 4f0c2b7e-93d1-4c5a-8e6f-1a2b3c4d5e6f}}
        keyVault: {{name: kv-fleet}}
        objects:
          - name: web-token
          - name: sops-flux
            type: key
          - name: web-tls
            type: cert
      - name: api
        namespace: api
        path: apps/staging
        identity: {{name: id-api, clientId: 0d4e6f1a-2b3c-4d5e-8f9a-0b1c2d3e4f5a, resourceGroup: rg-apps}}
        keyVault: {{name: kv-apps, resourceGroup: rg-apps}}
        objects:
          - name: api-db
            syncAs: {{secret: api-db, key: password}}
"""
STATE = desired_state(parse_config(CONFIG))


def test_each_object_gets_the_least_role_on_the_narrowest_scope() -> None:
    found = [(a.identity.name, a.role.name, a.target.scope_id(SUBSCRIPTION)) for a in STATE.access]
    fleet = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-fleet/providers/Microsoft.KeyVault/vaults/kv-fleet"
    apps = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-apps/providers/Microsoft.KeyVault/vaults/kv-apps"
    assert found == [
        ("id-web", "Key Vault Secrets User", f"{fleet}/secrets/web-token"),
        ("id-web", "Key Vault Reader", f"{fleet}/keys/sops-flux"),
        ("id-web", "Key Vault Reader", fleet),  # a certificate: ARM has no certificate scope
        ("id-api", "Key Vault Secrets User", f"{apps}/secrets/api-db"),
    ]
    assert [t.managed for t in STATE.vault_objects] == [True, True, True, False]  # kv-fleet is fluxforge's SOPS vault
    subjects = {(c.identity.name, c.subject) for c in STATE.credentials}
    assert {("id-web", "system:serviceaccount:web:web"), ("id-api", "system:serviceaccount:api:api")} <= subjects
    assert "rg-apps" in STATE.resource_groups
    # a workload's identity never decrypts SOPS files
    assert not [a for a in STATE.assignments if a.identity is not None and a.identity.name in ("id-web", "id-api")]


def test_bicep_scopes_each_role_to_its_object(tmp_path: Path) -> None:
    files = render_bicep(STATE)
    assert sorted(files) == [
        "identities-rg-apps.bicep",
        "identities-rg-fleet.bicep",
        "keyvault-rg-apps.bicep",
        "keyvault-rg-fleet.bicep",
        "main.bicep",
    ]
    parser = BicepParser(add_line_numbers=False)
    parsed: dict[str, Any] = {}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        parsed[name] = parser.parse(file_path=tmp_path / name)
    fleet = parsed["keyvault-rg-fleet.bicep"]["resources"]
    by_type = {r["type"]: s for s, r in fleet.items() if r["type"] != RA}
    secret = by_type["Microsoft.KeyVault/vaults/secrets"]
    assert (
        fleet[secret]["existing"] is True and fleet[secret]["config"]["parent"] == by_type["Microsoft.KeyVault/vaults"]
    )
    web = {
        str(r["config"]["scope"]): str(r["config"]["properties"]["roleDefinitionId"])
        for r in fleet.values()
        if r["type"] == RA and "idWeb" in str(r["config"]["properties"]["principalId"])
    }
    assert set(web) == {secret, by_type["Microsoft.KeyVault/vaults/keys"], by_type["Microsoft.KeyVault/vaults"]}
    assert SECRETS_USER in web[secret] and READER in web[by_type["Microsoft.KeyVault/vaults"]]
    # the application vault is referenced, never declared
    apps = parsed["keyvault-rg-apps.bicep"]["resources"]
    assert all(r["existing"] for r in apps.values() if r["type"].startswith("Microsoft.KeyVault"))
    (api,) = [r for r in apps.values() if r["type"] == RA]
    assert api["config"]["properties"]["principalType"] == "ServicePrincipal"
    assert list(parsed["main.bicep"]["modules"]["keyvaultRgApps"]["config"]["params"]) == ["idApiPrincipalId"]
    assert "idApiPrincipalId: identitiesRgApps.outputs.idApiPrincipalId" in files["main.bicep"].decode()


def _everything_there() -> ActualState:
    actual = ActualState(SUBSCRIPTION)
    for group in STATE.resource_groups:
        actual.groups[group.lower()] = "westeurope"
    for n, ident in enumerate(STATE.identities):
        actual.identities[ident.key] = arm_facts.identity(
            ident, str(ident.client_id), f"10000000-0000-0000-0000-00000000000{n}"
        )
        actual.credentials[ident.key] = arm_facts.credentials_of(STATE, ident)
    for vault in ("kv-fleet", "kv-apps"):
        actual.vaults[vault] = arm_facts.vault(vault, STATE.tenant_id)
    actual.keys[("kv-fleet", "sops-flux")] = ActualKey("RSA", ("encrypt", "decrypt"), "https://x")
    for a in STATE.assignments:
        assert a.identity is not None
        actual.assignments.setdefault((a.key.vault.lower(), a.key.key.lower()), []).append(
            ActualAssignment("n", a.role.resolved(SUBSCRIPTION), actual.identities[a.identity.key].principal_id)
        )
        actual.roles[a.role.resolved(SUBSCRIPTION)] = RoleFacts(a.role.name, ())
    for a in STATE.access:
        actual.objects[a.target.key] = ActualObject(True)
        actual.scoped.setdefault(a.target.scope_id(SUBSCRIPTION).lower(), []).append(
            ActualAssignment("n", a.role.resolved(SUBSCRIPTION), actual.identities[a.identity.key].principal_id)
        )
    return actual


def test_plan_compares_the_workload_roles_and_waits_for_missing_or_disabled_objects() -> None:
    actual = _everything_there()
    plan = make_plan(STATE, actual)
    assert plan.problems == () and plan.waiting == () and plan.pending == () and plan.exit_code == 0
    assert "= key vault rg-apps/kv-apps" in plan.lines()
    assert "= role assignment Key Vault Secrets User on secret kv-apps/api-db for identity id-api" in plan.lines()
    # the role exists at the vault instead of the secret: the narrow one is still to add
    actual.scoped[STATE.access[3].target.scope_id(SUBSCRIPTION).lower()] = []
    assert [c.label for c in make_plan(STATE, actual).pending] == [
        "role assignment Key Vault Secrets User on secret kv-apps/api-db for identity id-api"
    ]
    # a secret not created yet, another disabled: both wait, no role is planned on the missing one
    actual = _everything_there()
    actual.objects[STATE.access[0].target.key] = None
    actual.objects[STATE.access[3].target.key] = ActualObject(False)
    plan = make_plan(STATE, actual)
    assert plan.waiting == (
        (
            "secret kv-fleet/web-token does not exist yet: create it (az keyvault secret set --vault-name kv-fleet -n "
            "web-token --file FILE), then run fluxforge azure apply again (the role on it waits for it)"
        ),
        (
            "secret kv-apps/api-db is disabled: the CSI driver cannot read it (az keyvault secret set-attributes "
            "--vault-name kv-apps -n api-db --enabled true)"
        ),
    )
    assert not any("web-token" in c.label for c in plan.changes)
    assert plan.exit_code == 2 and plan.lines()[-1] == "Plan: 0 to add, 0 to change, 13 unchanged; 2 waiting"


def test_an_application_vault_missing_or_in_access_policy_mode_is_a_problem() -> None:
    actual = _everything_there()
    actual.vaults["kv-apps"] = arm_facts.vault("kv-apps", STATE.tenant_id, rbac=False)
    plan = make_plan(STATE, actual)
    assert plan.exit_code == 1
    assert plan.problems == (
        (
            "key vault rg-apps/kv-apps (clusters[0].workloads[1].keyVault) uses access policies: "
            "role assignments have no effect there; switch it to Azure RBAC "
            "(az keyvault update -g rg-apps -n kv-apps --enable-rbac-authorization true) "
            "after granting the same access as roles"
        ),
    )
    actual.vaults["kv-apps"] = None
    assert (
        make_plan(STATE, actual)
        .problems[0]
        .startswith(
            "key vault rg-apps/kv-apps (clusters[0].workloads[1].keyVault) does not exist: "
            "fluxforge creates only the SOPS vaults (sops.keyVault)"
        )
    )

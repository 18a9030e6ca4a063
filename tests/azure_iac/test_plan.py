"""The pure half of ``fluxforge azure plan``: desired vs actual -> ``+ ~ =`` lines and ``!`` problems, field by
field; the ARM AuthorizationFailed wording; the client-ID write-back keeping comments and layout."""

from __future__ import annotations

import difflib

from generator.azure.arm import missing_permission
from generator.azure.desired import desired_state
from generator.azure.facts import CredentialFacts, RoleFacts
from generator.azure.plan import (
    ActualAks,
    ActualAssignment,
    ActualKey,
    ActualState,
    make_plan,
)
from generator.azure.writeback import with_client_ids
from generator.config.load import parse_config
from tests.azure_iac.rich import ISSUER_A, ISSUER_B, RICH, SUBSCRIPTION
from tests.helpers import arm_facts

STATE = desired_state(parse_config(RICH))
FLUX = "system:serviceaccount:flux-system:kustomize-controller"


def _everything_there() -> ActualState:
    """An Azure that holds exactly the rich config's state."""
    actual = ActualState(SUBSCRIPTION)
    for group in STATE.resource_groups:
        actual.groups[group.lower()] = "westeurope"
    for n, ident in enumerate(STATE.identities):
        client = ident.client_id or f"00000000-0000-0000-0000-00000000000{n}"
        actual.identities[ident.key] = arm_facts.identity(ident, client, f"10000000-0000-0000-0000-00000000000{n}")
        actual.credentials[ident.key] = arm_facts.credentials_of(STATE, ident)
    for key in STATE.keys:
        actual.vaults[key.vault.lower()] = arm_facts.vault(key.vault.lower(), STATE.tenant_id)
        actual.keys[(key.vault.lower(), key.key.lower())] = ActualKey("RSA", ("encrypt", "decrypt"), "https://x")
    for a in STATE.assignments:
        principal = a.encryptor.object_id if a.encryptor else actual.identities[a.identity.key].principal_id  # type: ignore[union-attr]
        actual.assignments.setdefault((a.key.vault.lower(), a.key.key.lower()), []).append(
            ActualAssignment("n", a.role.resolved(SUBSCRIPTION), principal)
        )
        actual.roles[a.role.resolved(SUBSCRIPTION)] = RoleFacts(a.role.name, a.role.data_actions)
    for aks in STATE.clusters:
        actual.clusters[(aks.resource_group.lower(), aks.name.lower())] = ActualAks(True, aks.issuer, True)
    return actual


def test_an_azure_that_matches_plans_nothing_but_the_client_id_write_back() -> None:
    plan = make_plan(STATE, _everything_there())
    assert plan.problems == ()
    assert [c.label for c in plan.pending] == [
        "fluxforge.yaml clusters[0].identity.clientId",
        "fluxforge.yaml clusters[0].kustomizations[1].tenant.identity.clientId",
    ]
    assert plan.exit_code == 2


def test_federated_credential_fields_are_compared_one_by_one() -> None:
    actual = _everything_there()
    key = STATE.identities[0].key
    first = actual.credentials[key][0]
    actual.credentials[key][0] = CredentialFacts(
        first.name, ISSUER_A.rstrip("/"), "system:serviceaccount:apps:kustomize-controller", ("api://other",)
    )
    lines = make_plan(STATE, actual).lines()
    at = lines.index("~ federated credential id-flux-staging/staging-flux-system-kustomize-controller")
    assert lines[at + 1 : at + 4] == [
        (
            f"      issuer: '{ISSUER_A.rstrip('/')}' -> '{ISSUER_A}' (only the trailing slash differs: "
            "Entra ID compares issuers exactly)"
        ),
        (
            f"      subject: 'system:serviceaccount:apps:kustomize-controller' -> '{FLUX}' "
            "(the namespace differs: 'apps' in Azure, 'flux-system' in the config)"
        ),
        "      audiences: ['api://other'] -> ['api://AzureADTokenExchange']",
    ]


def test_a_credential_made_by_hand_under_another_name_is_not_created_twice() -> None:
    actual = _everything_there()
    key = STATE.identities[2].key
    actual.credentials[key] = [
        CredentialFacts("kustomize-controller", ISSUER_B, FLUX, ("api://AzureADTokenExchange",)),
        *actual.credentials[key][1:],
    ]
    plan = make_plan(STATE, actual)
    assert (
        "= federated credential id-flux-prod/production-flux-system-kustomize-controller (exists as "
        "'kustomize-controller')"
    ) in plan.lines()


def test_problems_apply_cannot_fix() -> None:
    actual = _everything_there()
    prod, staging = STATE.identities[2], STATE.identities[0]
    actual.identities[prod.key] = arm_facts.identity(prod, "99999999-0000-0000-0000-000000000000", "p")
    actual.credentials[staging.key] += [CredentialFacts(f"other-{n}", ISSUER_B, f"s{n}", ("a",)) for n in range(19)]
    actual.vaults["kv-prod-legacy"] = arm_facts.vault("kv-prod-legacy", STATE.tenant_id, rbac=False)
    actual.keys[("kv-fleet-main", "sops-flux")] = ActualKey("EC", ("sign",), "https://x")
    actual.groups["rg-team-a"] = None
    actual.clusters[("rg-prod", "aks-prod")] = ActualAks(False, None, False)
    guid = "12338af0-0e69-4776-bea7-57ae8d297424"
    actual.roles[guid] = RoleFacts("Something Else", ())
    plan = make_plan(STATE, actual)
    assert plan.exit_code == 1
    problems = "\n".join(plan.problems)
    assert (
        f"resource group rg-team-a does not exist in subscription {SUBSCRIPTION}: az group create -n rg-team-a -l "
        "westeurope" in problems
    )
    assert (
        "clusters[2].identity.clientId: 076209d5-a8fa-459c-8632-6a041c3b87e1 is not the client ID of identity "
        "rg-prod/id-flux-prod (99999999-0000-0000-0000-000000000000)"
    ) in problems
    assert (
        "identity id-flux-staging would have 21 federated credentials (21 in Azure, 0 to add); Azure allows at most "
        "20" in problems
    )
    assert "key vault rg-prod/kv-prod-legacy uses access policies" in problems
    assert "key kv-fleet-main/sops-flux is EC with operations sign" in problems
    assert (
        "AKS rg-prod/aks-prod (cluster production): the OIDC issuer is disabled, so Entra ID cannot verify its "
        "tokens: az aks update -g rg-prod -n aks-prod --enable-oidc-issuer" in problems
    )
    assert f"role definition {guid} is 'Something Else', expected built-in role 'Key Vault Crypto User'" in problems


def test_authorization_failed_names_the_missing_permission_and_the_roles_that_grant_it() -> None:
    message = (
        "The client 'x' with object id 'x' does not have authorization to perform action "
        "'Microsoft.Authorization/roleDefinitions/write' over scope '/subscriptions/s/resourceGroups/g/providers/"
        "Microsoft.Authorization/roleDefinitions/r' or the scope is invalid. If access was recently granted, "
        "please refresh your credentials."
    )
    assert missing_permission(message) == (
        "AuthorizationFailed: your identity may not Microsoft.Authorization/roleDefinitions/write on /subscriptions/s/"
        "resourceGroups/g/providers/Microsoft.Authorization/roleDefinitions/r; that needs Owner or User Access "
        "Administrator on the scope (or a parent)"
    )


def test_write_back_adds_client_id_lines_only() -> None:
    text = RICH.replace("    aks: {name: aks-staging}\n", "    aks: {name: aks-staging}\n")
    paths = {
        ("clusters", 0, "identity"): "c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772",
        ("clusters", 1, "identity"): "c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772",
        ("clusters", 0, "kustomizations", 1, "tenant", "identity"): "74c187ab-dd8a-4a75-ba9a-ede2fddb872b",
    }
    out = with_client_ids(text, paths)
    changed = [line for line in difflib.ndiff(text.splitlines(), out.splitlines()) if line[:1] in "+-"]
    assert changed == [
        "+       clientId: c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772",
        "+             clientId: 74c187ab-dd8a-4a75-ba9a-ede2fddb872b",
        "+       clientId: c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772",
    ]
    assert "      name: id-flux-staging          # created by fluxforge azure apply\n      clientId: c5e0" in out
    assert with_client_ids(out, paths) == out


def test_what_only_the_bicep_deploys_is_a_note_with_the_command() -> None:
    from pathlib import Path

    from generator.config.load import load_config

    config = load_config(Path(__file__).resolve().parents[2] / "examples" / "aks-extension")
    state = desired_state(config)
    actual = ActualState(SUBSCRIPTION)
    ident = state.identities[0]
    actual.identities[ident.key] = arm_facts.identity(
        ident, ident.client_id or "", "20000000-0000-0000-0000-000000000001"
    )
    plan = make_plan(state, actual)
    registry = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-fleet-ext/providers/Microsoft.ContainerRegistry/"
        "registries/acrcontosoext"
    )
    assert plan.notes == (
        (
            "AcrPull on registry rg-fleet-ext/acrcontosoext for identity id-flux-ext-staging: deployed by the Bicep "
            '(fluxforge azure bicep), not by apply; or: az role assignment create --role "AcrPull" '
            "--assignee-object-id 20000000-0000-0000-0000-000000000001 --assignee-principal-type ServicePrincipal "
            f"--scope {registry}"
        ),
        (
            "cluster staging: the AKS Flux extension (workloadIdentity.azureClientId of id-flux-ext-staging) "
            "and its Flux configuration flux-system on rg-fleet-ext/aks-ext-staging are deployed by the Bicep "
            "(fluxforge azure bicep), not by apply"
        ),
    )
    assert plan.lines()[-3:-1] == [f"note: {note}" for note in plan.notes]
    assert make_plan(STATE, _everything_there()).notes == ()

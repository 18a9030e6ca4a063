"""The Azure keys of fluxforge.yaml: defaults (declared once, in the schema), the model, and render's
refusal while an identity has no clientId yet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generator.azure.desired import (
    MAX_CREDENTIALS,
    DesiredCredential,
    DesiredIdentity,
    credential_problems,
    desired_state,
    resolve_role,
)
from generator.config.load import parse_config
from generator.errors import ConfigError, RenderError
from generator.render.files import render_tree
from generator.resources import load_schema
from tests.azure_iac.rich import ISSUER_A, ISSUER_B, RICH


def test_defaults_come_from_the_schema_and_resource_groups_default_to_azure_resource_group() -> None:
    schema = load_schema("config.schema.json")
    assert schema["$defs"]["identity"]["properties"]["existing"]["default"] is False
    assert schema["$defs"]["keyVaultKey"]["properties"]["existing"]["default"] is False
    assert schema["properties"]["azure"]["properties"]["encryptorsRunSops"]["default"] is False
    config = parse_config(RICH)
    staging = config.cluster("staging")
    assert (staging.identity.name, staging.identity.resource_group, staging.identity.existing) == (
        "id-flux-staging",
        "rg-fleet",
        False,
    )
    assert staging.identity.client_id is None and staging.identity.where == ("clusters", 0, "identity")
    assert staging.kustomization("team-a").tenant.identity.resource_group == "rg-team-a"  # type: ignore[union-attr]
    assert staging.aks is not None and (staging.aks.name, staging.aks.resource_group) == ("aks-staging", "rg-fleet")
    prod = config.cluster("production")
    assert [(k.vault_name, k.resource_group, k.existing) for k in prod.sops.key_vault] == [
        ("kv-prod-legacy", "rg-prod", True),
        ("kv-fleet-main", "rg-fleet", False),
    ]
    assert config.azure.encryptors_run_sops is True and len(config.azure.encryptors) == 2
    assert config.azure.subscription_id == "3f1c1a4e-5b7e-4d51-9a63-0b6f0c2f8d11"


def test_render_refuses_while_an_identity_has_no_client_id() -> None:
    with pytest.raises(RenderError) as info:
        render_tree(parse_config(RICH))
    assert info.value.problems == [
        (
            "fluxforge.yaml: clusters[0].identity.clientId: missing, and the ServiceAccount annotations need it; run "
            "`fluxforge azure apply` (it creates identity id-flux-staging and writes its clientId here), or set it "
            "(az identity show -g rg-fleet -n id-flux-staging --query clientId -o tsv)"
        ),
        (
            "fluxforge.yaml: clusters[0].kustomizations[1].tenant.identity.clientId: missing, and the ServiceAccount "
            "annotations need it; run `fluxforge azure apply` (it creates identity id-team-a and writes its clientId "
            "here), or set it (az identity show -g rg-team-a -n id-team-a --query clientId -o tsv)"
        ),
        (
            "fluxforge.yaml: clusters[1].identity.clientId: missing, and the ServiceAccount annotations need it; run "
            "`fluxforge azure apply` (it creates identity id-flux-staging and writes its clientId here), or set it "
            "(az identity show -g rg-fleet -n id-flux-staging --query clientId -o tsv)"
        ),
    ]


def test_the_desired_state_of_the_rich_config() -> None:
    state = desired_state(parse_config(RICH))
    assert [(i.resource_group, i.name, i.existing) for i in state.identities] == [
        ("rg-fleet", "id-flux-staging", False),
        ("rg-team-a", "id-team-a", False),
        ("rg-prod", "id-flux-prod", True),
    ]
    subjects = [(c.identity.name, c.subject.rsplit(":", 2)[-2:], c.issuer == ISSUER_A) for c in state.credentials]
    assert subjects == [
        ("id-flux-staging", ["flux-system", "kustomize-controller"], True),
        ("id-flux-staging", ["flux-system", "flux-decryptor"], True),
        ("id-team-a", ["team-a", "team-a-sops"], True),
        ("id-flux-prod", ["flux-system", "kustomize-controller"], False),
        ("id-flux-prod", ["flux-system", "flux-decryptor"], False),
        ("id-flux-prod", ["apps", "flux-decryptor"], False),
    ]
    roles = sorted((a.role.name, a.key.label, a.principal_key) for a in state.assignments)
    assert ("Key Vault Crypto User", "kv-prod-legacy/sops", "identity:rg-prod/id-flux-prod") in roles
    assert ("Key Vault Crypto User", "kv-fleet-main/sops-flux", "identity:rg-team-a/id-team-a") in roles
    # no decrypting role for encryptors, and the custom one (keys/read + encrypt) on every key
    encryptors = [a for a in state.assignments if a.encryptor is not None]
    assert len(encryptors) == 2 * 3 and {a.role.name for a in encryptors} == {
        "fluxforge SOPS encryptor (rg-fleet)",
        "fluxforge SOPS encryptor (rg-prod)",
    }
    assert [r.custom_group for r in state.custom_roles] == ["rg-fleet", "rg-prod"]


def _credentials(count: int, *, name: Any = None, pair: Any = None) -> list[DesiredCredential]:
    ident = DesiredIdentity("id-busy", "rg", False, None, ("clusters", 0, "identity"), ())
    return [
        DesiredCredential(
            ident,
            name or f"cred-{n}",
            pair[0] if pair else ISSUER_A,
            pair[1] if pair else f"system:serviceaccount:ns{n}:sa",
            "c",
        )
        for n in range(count)
    ]


def test_limits_are_checked_before_anything_is_sent() -> None:
    assert credential_problems(_credentials(MAX_CREDENTIALS)) == []
    assert credential_problems(_credentials(MAX_CREDENTIALS + 1)) == [
        (
            ("clusters", 0, "identity"),
            (
                "identity id-busy needs 21 federated credentials; Azure allows at most 20 per identity: "
                "give some tenants or clusters their own identity"
            ),
        )
    ]
    assert [m for _, m in credential_problems(_credentials(2, name="same"))] == [
        "federated credential name 'same' is used twice on identity id-busy"
    ]
    assert [m for _, m in credential_problems(_credentials(1, name="-x"))] == [
        "federated credential name '-x' is invalid: 3-120 letters, digits, '-' or '_', starting with a letter or digit"
    ]
    assert [m for _, m in credential_problems(_credentials(2, pair=(ISSUER_A, "system:serviceaccount:a:b")))][-1] == (
        f"issuer {ISSUER_A} and subject system:serviceaccount:a:b twice on identity id-busy "
        "(Azure answers 409 Conflict)"
    )


def test_twenty_one_tenants_on_one_identity_are_refused_naming_the_identity_and_the_count() -> None:
    tenants = "".join(
        f"""
      - name: t{n}
        namespace: t{n}
        tenant:
          serviceAccount: sops
          identity: {{name: id-tenants}}"""
        for n in range(21)
    )
    text = RICH.replace(
        """    kustomizations:
      - name: canary""",
        f"""    kustomizations:{tenants}
      - name: canary""",
    )
    with pytest.raises(ConfigError) as info:
        desired_state(parse_config(text))
    assert info.value.problems == [
        (
            "fluxforge.yaml: clusters[1].kustomizations[0].tenant.identity: identity id-tenants needs 21 federated "
            "credentials; Azure allows at most 20 per identity: give some tenants or clusters their own identity"
        )
    ]


def test_role_names_resolve_to_their_published_guids() -> None:
    assert resolve_role("Key Vault Crypto User").guid == "12338af0-0e69-4776-bea7-57ae8d297424"
    assert resolve_role("Key Vault Reader").guid == "21090545-7ca7-4776-b22c-e363652d74d2"
    with pytest.raises(
        ConfigError, match="unknown built-in role; known: AcrPull, Key Vault Crypto User, Key Vault Reader"
    ):
        resolve_role("Key Vault Crypto Service Encryption User")


def test_long_subjects_get_distinct_valid_credential_names() -> None:
    long_sa = "a" * 200
    text = RICH.replace("serviceAccount: team-a-sops", f"serviceAccount: {long_sa}")
    cred = next(c for c in desired_state(parse_config(text)).credentials if long_sa in c.subject)
    assert len(cred.name) == 120 and credential_problems([cred]) == []


def test_sample_repo_config_still_renders(tmp_path: Path) -> None:
    from generator.config.load import load_config

    repo = Path(__file__).resolve().parents[2] / "sample-repo"
    assert render_tree(load_config(repo))


def test_a_credential_name_two_subjects_share_gets_a_suffix() -> None:
    """Cluster x, namespace y-team and cluster x-y, namespace team both give 'x-y-team-s' on one identity."""
    text = f"""\
git:
  url: ssh://git@github.com/contoso/fleet
azure: {{tenantId: 95513a0e-a568-46f4-8d76-53e5279cb558, resourceGroup: rg}}
sops: {{keyVault: [{{vault: kv-a, key: k}}]}}
clusters:
  - name: x
    oidcIssuer: {ISSUER_A}
    identity: {{name: id-x}}
    kustomizations:
      - {{name: a, path: a/x, namespace: y-team, tenant: {{serviceAccount: s, identity: {{name: id-shared}}}}}}
  - name: x-y
    oidcIssuer: {ISSUER_B}
    identity: {{name: id-xy}}
    kustomizations:
      - {{name: a, path: a/xy, namespace: team, tenant: {{serviceAccount: s, identity: {{name: id-shared}}}}}}
"""
    shared = [c for c in desired_state(parse_config(text)).credentials if c.identity.name == "id-shared"]
    assert [(c.name, c.issuer) for c in shared] == [("x-y-team-s", ISSUER_A), ("x-y-team-s-2", ISSUER_B)]
    assert credential_problems(shared) == []

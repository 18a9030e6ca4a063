"""``fluxforge azure plan`` / ``apply`` end to end against the emulator with the real ARM SDK clients: plan,
apply, plan again (nothing left); what one broken thing in ARM looks like in the plan; AuthorizationFailed
half-way; the AKS checks; and, after ``azure apply`` + ``render``, the real sops decrypts, as
kustomize-controller (its token from the emulated cluster through kubectl), a file fluxforge encrypted —
the whole chain set up by fluxforge alone."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.msi.models import FederatedIdentityCredential
from azworld import ADMIN_SECRET, Mgmt, World, base_env, kubectl, mgmt_as

from tests.emulator import AUTHORITY, DEFAULT_RESOURCE_GROUP, WI_AUDIENCE, Principal, Runner

RG = DEFAULT_RESOURCE_GROUP
VAULT = "kv-ff-apply"
SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\n    namespace: apps\n"
    "stringData:\n    password: apply-hunter2\n"
)
ENCRYPTOR_SECRET = "encryptor-secret-value"


def _config(w: World, issuer: str, encryptor: Principal, *, identity: str = "id-flux-staging") -> str:
    return f"""\
# fluxforge.yaml for the apply test: comments and layout must survive the client-ID write-back
flux:
  version: "2.9.4"

git:
  url: ssh://git@github.com/contoso/fleet

azure:
  tenantId: {w.emu.tenant_id}
  subscriptionId: {w.emu.arm.subscription}
  location: westeurope
  resourceGroup: {RG}          # everything lives here
  encryptors:
    - objectId: {encryptor.object_id}
      principalType: ServicePrincipal
      description: CI pipeline

sops:
  keyVault:
    - vault: {VAULT}
      key: sops-flux

clusters:
  - name: staging
    oidcIssuer: {issuer}
    identity:
      name: {identity}     # created by fluxforge azure apply
    aks: {{name: staging}}
    kustomizations:
      - name: apps
        path: apps/staging
        namespace: apps
"""


@pytest.fixture
def fleet(in_process: World, tmp_path: Path) -> dict[str, Any]:
    w = in_process
    cluster = w.emu.add_cluster("staging")
    admin = mgmt_as(w, "platform-admin")
    encryptor = w.emu.add_identity("ci-encryptor", secret=ENCRYPTOR_SECRET)
    repo = tmp_path / "fleet"
    repo.mkdir()
    (repo / "fluxforge.yaml").write_text(_config(w, cluster.issuer.url, encryptor))
    return {"w": w, "cluster": cluster, "admin": admin, "encryptor": encryptor, "repo": repo}


def _azure(run_cli: Any, principal_env: dict[str, str], *args: str) -> Any:
    return run_cli("azure", *args, env=principal_env)


def _admin_env(f: dict[str, Any]) -> dict[str, str]:
    return f["w"].emu.secret_env(f["admin"].principal)


def _puts(w: World) -> int:
    """ARM requests that change something (checkNameAvailability is a POST that only reads)."""
    return sum(
        1
        for e in w.emu.log.entries("arm")
        if e.method in ("PUT", "PATCH", "POST", "DELETE") and not e.path.lower().endswith("/checknameavailability")
    )


def test_plan_apply_plan_then_break_one_thing_in_arm(fleet: dict[str, Any], run_cli: Any) -> None:
    w, repo, env = fleet["w"], fleet["repo"], _admin_env(fleet)
    before = (repo / "fluxforge.yaml").read_text()
    plan = _azure(run_cli, env, "plan", str(repo))
    assert plan.exit_code == 2, plan.output
    lines = plan.stdout.splitlines()
    assert f"+ identity {RG}/id-flux-staging" in lines
    assert "+ federated credential id-flux-staging/staging-flux-system-kustomize-controller" in lines
    assert f"+ key vault {RG}/{VAULT}" in lines and f"+ key {VAULT}/sops-flux" in lines
    assert f"+ role assignment Key Vault Crypto User on key {VAULT}/sops-flux for identity id-flux-staging" in lines
    assert any(
        line.startswith(f"+ role assignment Key Vault Reader on key {VAULT}/sops-flux for serviceprincipal")
        for line in lines
    )
    assert (
        f"= AKS {RG}/staging: OIDC issuer and workload identity enabled, issuer {fleet['cluster'].issuer.url}" in lines
    )
    assert lines[-1] == "Plan: 6 to add, 1 to change, 0 unchanged"
    assert _puts(w) == 0  # plan never writes
    # apply: everything, in order, reported as it is done
    applied = _azure(run_cli, env, "apply", str(repo))
    assert applied.exit_code == 0, applied.output
    assert re.search(
        rf"^created identity {RG}/id-flux-staging \(client ID [0-9a-f-]{{36}}\)$", applied.stdout, re.MULTILINE
    )
    assert "next: fluxforge render" in applied.stderr
    after = (repo / "fluxforge.yaml").read_text()
    client_id = re.search(r"clientId: ([0-9a-f-]{36})", after).group(1)  # type: ignore[union-attr]
    ident = w.emu.entra.by_object_id(
        next(p.object_id for p in w.emu.entra.principals.values() if p.name == "id-flux-staging")
    )
    assert ident is not None and ident.client_id == client_id
    # the write-back adds one line and keeps every comment and the layout
    added = [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"]
    assert added == [f"+       clientId: {client_id}"]
    # second apply: nothing to do, nothing sent
    sent = _puts(w)
    again = _azure(run_cli, env, "apply", str(repo))
    assert again.exit_code == 0 and "0 change(s) applied" in again.stderr and _puts(w) == sent
    assert _azure(run_cli, env, "plan", str(repo)).exit_code == 0
    # break one thing in ARM: the credential's issuer loses its trailing slash
    admin: Mgmt = fleet["admin"]
    issuer = fleet["cluster"].issuer.url
    admin.msi().federated_identity_credentials.create_or_update(  # type: ignore[attr-defined]
        RG,
        "id-flux-staging",
        "staging-flux-system-kustomize-controller",
        FederatedIdentityCredential(
            issuer=issuer.rstrip("/"),
            subject="system:serviceaccount:flux-system:kustomize-controller",
            audiences=[WI_AUDIENCE],
        ),
    )
    broken = _azure(run_cli, env, "plan", str(repo))
    assert broken.exit_code == 2
    assert (
        "~ federated credential id-flux-staging/staging-flux-system-kustomize-controller\n"
        f"      issuer: '{issuer.rstrip('/')}' -> '{issuer}' (only the trailing slash differs: Entra ID compares "
        "issuers exactly)\n"
    ) in broken.stdout
    assert broken.stdout.splitlines()[-1] == "Plan: 0 to add, 1 to change, 5 unchanged"
    # and deleted altogether
    admin.msi().federated_identity_credentials.delete(
        RG,
        "id-flux-staging",  # type: ignore[attr-defined]
        "staging-flux-system-kustomize-controller",
    )
    gone = _azure(run_cli, env, "plan", str(repo))
    assert gone.exit_code == 2
    assert "+ federated credential id-flux-staging/staging-flux-system-kustomize-controller" in gone.stdout.splitlines()
    fixed = _azure(run_cli, env, "apply", str(repo))
    assert (
        fixed.exit_code == 0
        and "created federated credential id-flux-staging/staging-flux-system-kustomize-controller" in fixed.stdout
    )
    assert _azure(run_cli, env, "plan", str(repo)).exit_code == 0


def test_aks_without_workload_identity_or_with_another_issuer_is_named_and_apply_sends_nothing(
    fleet: dict[str, Any], run_cli: Any
) -> None:
    w, repo, env, cluster = fleet["w"], fleet["repo"], _admin_env(fleet), fleet["cluster"]
    cluster.workload_identity = False
    plan = _azure(run_cli, env, "plan", str(repo))
    assert plan.exit_code == 1
    assert (
        f"! AKS {RG}/staging (cluster staging): workload identity is disabled, so no pod gets "
        f"AZURE_FEDERATED_TOKEN_FILE: az aks update -g {RG} -n staging --enable-workload-identity"
    ) in plan.stdout.splitlines()
    applied = _azure(run_cli, env, "apply", str(repo))
    assert applied.exit_code == 1 and _puts(w) == 0
    assert applied.stderr.splitlines()[-1] == "nothing was sent: fix the 1 problem(s) above and rerun"
    cluster.workload_identity = True
    config = repo / "fluxforge.yaml"
    config.write_text(config.read_text().replace(cluster.issuer.url, cluster.issuer.url.rstrip("/")))
    other = _azure(run_cli, env, "plan", str(repo))
    assert other.exit_code == 1
    assert (
        f"! AKS {RG}/staging (cluster staging): its issuer is '{cluster.issuer.url}' but the config says "
        f"'{cluster.issuer.url.rstrip('/')}' (only the trailing slash differs: Entra ID compares issuers exactly); "
        f"set clusters[].oidcIssuer to the cluster's (az aks show -g {RG} -n staging --query "
        "oidcIssuerProfile.issuerUrl -o tsv)"
    ) in other.stdout.splitlines()


def test_authorization_failed_half_way_names_the_permission_and_what_was_done(
    fleet: dict[str, Any], run_cli: Any
) -> None:
    w, repo = fleet["w"], fleet["repo"]
    contributor = mgmt_as(w, "contributor-only", role="Contributor", secret=ADMIN_SECRET)
    env = w.emu.secret_env(contributor.principal)
    failed = _azure(run_cli, env, "apply", str(repo))
    assert failed.exit_code == 1
    err = failed.stderr.splitlines()
    scope = (
        f"/subscriptions/{w.emu.arm.subscription}/resourceGroups/{RG}/providers/Microsoft.KeyVault/vaults/"
        f"{VAULT}/keys/sops-flux"
    )
    assert err[0].startswith(
        f"assign Key Vault Crypto User on key {VAULT}/sops-flux to identity id-flux-staging: "
        "AuthorizationFailed: your identity may not Microsoft.Authorization/roleAssignments/write "
        f"on {scope}/providers/Microsoft.Authorization/roleAssignments/"
    )
    assert err[0].endswith(
        "that needs Owner, User Access Administrator or Role Based Access Control Administrator on "
        "the scope (or a parent)"
    )
    assert err[1] == "done before the failure (4 step(s)):"
    assert err[2].startswith(f"  created identity {RG}/id-flux-staging (client ID ")
    assert f"  created key vault {RG}/{VAULT}" in err and "Traceback" not in failed.output
    assert any(line.startswith("client IDs of the identities created so far are written to") for line in err)
    assert "clientId: " in (repo / "fluxforge.yaml").read_text()
    # an owner reruns: apply continues where it stopped
    resumed = _azure(run_cli, _admin_env(fleet), "apply", str(repo))
    assert resumed.exit_code == 0, resumed.output
    assert [line.split(" on key")[0] for line in resumed.stdout.splitlines() if line.startswith("created")] == [
        "created role assignment Key Vault Crypto User",
        "created role assignment Key Vault Reader",
    ]


def test_after_apply_and_render_the_real_sops_decrypts_as_kustomize_controller(
    fleet: dict[str, Any], run_cli: Any, sandbox: Runner, production_names: None
) -> None:
    w, repo = fleet["w"], fleet["repo"]
    assert _azure(run_cli, _admin_env(fleet), "apply", str(repo)).exit_code == 0
    rendered = run_cli("render", str(repo))
    assert rendered.exit_code == 0, rendered.output
    client_id = re.search(r"clientId: ([0-9a-f-]{36})", (repo / "fluxforge.yaml").read_text()).group(1)  # type: ignore[union-attr]
    patch = (repo / "clusters/staging/flux-system/kustomization.yaml").read_text()
    assert f"azure.workload.identity/client-id: {client_id}" in patch
    # the encryptor (Key Vault Reader on the key) encrypts with fluxforge; the file is ciphertext
    secret = repo / "apps/staging/db.yaml"
    secret.parent.mkdir(parents=True)
    secret.write_text(SECRET)
    encryptor_env = w.emu.secret_env(fleet["encryptor"])
    encrypted = run_cli("encrypt", "-i", str(secret), "--sops-config", str(repo / ".sops.yaml"), env=encryptor_env)
    assert encrypted.exit_code == 0, encrypted.output
    assert "apply-hunter2" not in secret.read_text() and f"{VAULT}.vault.azure.net" in secret.read_text()
    # kustomize-controller's token, from the emulated cluster through the real kubectl
    kubeconfig = w.emu.kubeconfig(fleet["cluster"], w.tmp / "kubeconfig")
    manifest = (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n---\napiVersion: v1\n"
        "kind: ServiceAccount\nmetadata:\n  name: kustomize-controller\n  namespace: flux-system\n"
        f"  annotations:\n    azure.workload.identity/client-id: {client_id}\n"
    )
    applied = kubectl(kubeconfig, "apply", "-f", "-", stdin=manifest)
    assert applied.returncode == 0, applied.stderr
    token = kubectl(
        kubeconfig, "create", "token", "kustomize-controller", "-n", "flux-system", "--audience", WI_AUDIENCE
    )
    assert token.returncode == 0, token.stderr
    token_file = w.tmp / "kustomize-controller.token"
    token_file.write_text(token.stdout.strip())
    flux_env = {
        "AZURE_CLIENT_ID": client_id,
        "AZURE_TENANT_ID": w.emu.tenant_id,
        "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
        "AZURE_AUTHORITY_HOST": AUTHORITY,
        **w.emu.tls_env(),
    }
    done = sandbox.run(["sops", "decrypt", str(secret)], env=flux_env, base_env=base_env(w), cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stdout == SECRET
    # and the encryptor, who may encrypt, may not decrypt
    denied = sandbox.run(["sops", "decrypt", str(secret)], env=encryptor_env, base_env=base_env(w), cwd=repo)
    assert denied.returncode != 0 and "ForbiddenByRbac" in denied.stderr and "apply-hunter2" not in denied.stdout


def test_a_vault_name_taken_elsewhere_is_a_problem_before_anything_is_sent(fleet: dict[str, Any], run_cli: Any) -> None:
    w, repo, env = fleet["w"], fleet["repo"], _admin_env(fleet)
    w.emu.arm.add_resource_group("rg-someone-else")
    fleet["admin"].keyvault().vaults.begin_create_or_update(
        "rg-someone-else",
        VAULT,
        {  # type: ignore[attr-defined]
            "location": "westeurope",
            "properties": {"tenantId": w.emu.tenant_id, "sku": {"family": "A", "name": "standard"}},
        },
    ).result()
    sent = _puts(w)
    plan = _azure(run_cli, env, "plan", str(repo))
    assert plan.exit_code == 1
    assert (
        f"! key vault {RG}/{VAULT} cannot be created: The vault name '{VAULT}' is already in use. (vault names "
        "are global); if it is yours, give its resource group in sops.keyVault[].resourceGroup "
        "(sops.keyVault[0]), or choose another name; a soft-deleted vault must be recovered or purged first"
    ) in plan.stdout.splitlines()
    applied = _azure(run_cli, env, "apply", str(repo))
    assert applied.exit_code == 1 and _puts(w) == sent


def test_encryptors_who_run_sops_get_the_custom_role_and_encrypt_with_the_real_sops_but_never_decrypt(
    fleet: dict[str, Any], run_cli: Any, sandbox: Runner, production_names: None
) -> None:
    from generator.azure.desired import arm_guid

    w, repo, env = fleet["w"], fleet["repo"], _admin_env(fleet)
    config = repo / "fluxforge.yaml"
    config.write_text(config.read_text().replace("  encryptors:\n", "  encryptorsRunSops: true\n  encryptors:\n"))
    guid = arm_guid(f"/subscriptions/{w.emu.arm.subscription}", RG, "fluxforge-sops-encryptor")
    plan = _azure(run_cli, env, "plan", str(repo))
    assert plan.exit_code == 2 and f"+ role 'fluxforge SOPS encryptor ({RG})' ({guid})" in plan.stdout.splitlines()
    applied = _azure(run_cli, env, "apply", str(repo))
    assert applied.exit_code == 0, applied.output
    assert f"created role 'fluxforge SOPS encryptor ({RG})' ({guid})" in applied.stdout.splitlines()
    assert _azure(run_cli, env, "plan", str(repo)).exit_code == 0
    role = (
        fleet["admin"]
        .authz()
        .role_definitions.get(f"/subscriptions/{w.emu.arm.subscription}/resourceGroups/{RG}", guid)
    )  # type: ignore[attr-defined]
    assert [p.data_actions for p in role.permissions] == [
        ["Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/encrypt/action"]
    ]
    # the Go sops encrypts remotely (keys/encrypt/action); decrypting stays refused
    version = w.emu.vault(VAULT).keys["sops-flux"][-1].version
    plain = w.tmp / "db.yaml"
    plain.write_text(SECRET)
    encryptor_env = w.emu.secret_env(fleet["encryptor"])
    done = sandbox.run(
        ["sops", "encrypt", "--azure-kv", w.emu.vault(VAULT).key_url("sops-flux", version), str(plain)],
        env=encryptor_env,
        base_env=base_env(w),
        cwd=w.tmp,
    )
    assert done.returncode == 0, done.stderr
    (w.tmp / "db.enc.yaml").write_text(done.stdout)
    denied = sandbox.run(
        ["sops", "decrypt", str(w.tmp / "db.enc.yaml")], env=encryptor_env, base_env=base_env(w), cwd=w.tmp
    )
    assert denied.returncode != 0 and "ForbiddenByRbac" in denied.stderr and "apply-hunter2" not in denied.stdout

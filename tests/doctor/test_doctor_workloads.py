"""fluxforge doctor walks the application chain of each workload (issue 13, item 3): the kustomize build of its
folder (static), its federated credential, role and Key Vault object (Azure, through ARM with the real SDK
against the emulator), and the live ServiceAccount, workload and pods (the real kubectl against the emulated
API server). Healthy on sample-repo's podinfo, then broken one gate at a time as a user would break it: doctor
names exactly that gate first, with a fix that repairs it."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from doctorworld import DoctorWorld

from generator.doctor import DoctorOptions, Report, run_doctor
from generator.doctor.model import BROKEN, OK, SKIPPED, WARN
from generator.doctor.output import as_text
from tests.emulator import WI_AUDIENCE
from tests.helpers import SAMPLE_REPO
from tests.test_az_hints import problems as az_problems

RG = "rg-fluxforge"  # where rehearse() puts the identities
APP_VAULT = "kv-contoso-staging"
SECRET = "podinfo-api-key"
IDENTITY = "id-podinfo-staging"
CLIENT_ID = "4f0c2b7e-93d1-4c5a-8e6f-1a2b3c4d5e6f"
FIC = "staging-podinfo-podinfo"
ISSUER = "https://westeurope.oic.prod-aks.azure.com/95513a0e-a568-46f4-8d76-53e5279cb558/5cd99ca1-6fd3-48b4-85d7-728bebc84d67/"
WORKLOAD_GATES = [
    "static.workloads",
    "azure.workload-fic",
    "azure.workload-role",
    "azure.workload-object",
    "cluster.workload",
]


# -- static: the kustomize build of the workload's folder ----------------------------------------------------
@pytest.fixture
def repo(tmp_path: Path) -> Path:
    copy = tmp_path / "fleet"
    shutil.copytree(SAMPLE_REPO, copy)
    return copy


def _static(repo: Path) -> Report:
    return run_doctor(DoctorOptions(repo / "fluxforge.yaml", static=True))


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_sample_repo_workload_builds_with_every_cluster_side_gate(repo: Path) -> None:
    report = _static(repo)
    (found,) = [f for f in report.findings if f.gate == "static.workloads"]
    assert (found.status, found.subject) == (OK, "staging: podinfo"), as_text(report, "fluxforge.yaml")
    assert (
        "Deployment podinfo/podinfo has the pod label, runs as podinfo and mounts SecretProviderClass podinfo"
        in found.reason
    )
    gates = [g.id for g in report.gates]
    assert gates.index("static.federation") < gates.index("static.workloads") < gates.index("azure.identity")
    assert gates.index("azure.key") < gates.index("azure.workload-fic") < gates.index("cluster.issuer")
    assert gates.index("cluster.tenant-sa") < gates.index("cluster.workload") < gates.index("status.kustomizations")


def test_component_not_listed_names_the_missing_label_account_and_volume(repo: Path) -> None:
    _edit(repo / "apps/staging/kustomization.yaml", "components:\n  - workload-identity/podinfo", "components: []")
    first = _static(repo).first_broken
    assert first is not None and first.gate == "static.workloads", first
    assert (
        'Deployment podinfo/podinfo: the pod template lacks the label azure.workload.identity/use: "true"'
        in first.reason
    )
    assert "pods run as ServiceAccount 'default', not 'podinfo'" in first.reason
    assert "no secrets-store.csi.k8s.io volume with secretProviderClass 'podinfo'" in first.reason
    assert "list workload-identity/podinfo under components: in apps/staging/kustomization.yaml" in first.fix


def test_a_namespace_moved_by_the_folder_names_the_subject(repo: Path) -> None:
    _edit(repo / "apps/staging/kustomization.yaml", "namespace: podinfo", "namespace: web")
    first = _static(repo).first_broken
    assert first is not None and first.gate == "static.workloads", first
    assert "the build puts it in namespace 'web'" in first.reason
    assert "subject system:serviceaccount:web:podinfo, which no credential federates" in first.reason


def test_a_renamed_deployment_fails_the_build_and_says_so(repo: Path) -> None:
    _edit(repo / "apps/staging/deployment.yaml", "  name: podinfo\n", "  name: podinfo-web\n")
    first = _static(repo).first_broken
    assert first is not None and first.gate == "static.workloads", first
    assert first.reason.startswith("kubectl kustomize apps/staging fails: "), first.reason
    assert "fluxforge render, then fix apps/staging/" in first.fix


def test_a_config_without_workloads_skips_the_workload_gates(repo: Path) -> None:
    config = repo / "fluxforge.yaml"
    text = config.read_text()
    start, end = text.index("    workloads:"), text.index("  - name: production")
    config.write_text(text[:start] + text[end:])
    from generator.commands.render import run_render

    run_render(config)
    report = run_doctor(DoctorOptions(config, static=True))
    (found,) = [f for f in report.findings if f.gate == "static.workloads"]
    assert (found.status, found.reason) == (SKIPPED, "no cluster declares workloads[]")


# -- live: Azure and the cluster -------------------------------------------------------------------------------


class Admin:
    """An Owner's ARM clients (the real SDK): how the Azure breaks are made."""

    def __init__(self, world: DoctorWorld) -> None:
        from azure.identity import ClientSecretCredential
        from azure.mgmt.authorization import AuthorizationManagementClient
        from azure.mgmt.msi import ManagedServiceIdentityClient

        emu = world.emu
        owner = emu.add_identity(
            f"wl-owner-{uuid.uuid4().hex[:6]}", secret="wl-owner-secret", roles=["Owner"], scope=emu.arm.subscription_id
        )
        credential = ClientSecretCredential(emu.tenant_id, owner.client_id, "wl-owner-secret")
        self.msi: Any = ManagedServiceIdentityClient(credential, emu.arm.subscription)
        self.authz: Any = AuthorizationManagementClient(credential, emu.arm.subscription)

    def principal(self) -> str:
        return str(self.msi.user_assigned_identities.get(RG, IDENTITY).principal_id)

    def delete_roles(self) -> None:
        for assignment in self.authz.role_assignments.list_for_subscription(
            filter=f"principalId eq '{self.principal()}'"
        ):
            self.authz.role_assignments.delete_by_id(assignment.id)


def fic_other_namespace(w: DoctorWorld) -> None:
    from azure.mgmt.msi.models import FederatedIdentityCredential

    Admin(w).msi.federated_identity_credentials.create_or_update(
        RG,
        IDENTITY,
        FIC,
        FederatedIdentityCredential(
            issuer=ISSUER, subject="system:serviceaccount:default:podinfo", audiences=[WI_AUDIENCE]
        ),
    )


def role_removed(w: DoctorWorld) -> None:
    Admin(w).delete_roles()


def role_on_the_vault_of_another_secret(w: DoctorWorld) -> None:
    from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

    admin = Admin(w)
    admin.delete_roles()
    vault = w.emu.vaults[APP_VAULT]
    vault.set_secret("other-app-secret", "not-podinfo's")
    scope = vault.secret_scope("other-app-secret")
    definition = next(iter(admin.authz.role_definitions.list(scope, filter="roleName eq 'Key Vault Secrets User'")))
    admin.authz.role_assignments.create(
        scope,
        str(uuid.uuid4()),
        RoleAssignmentCreateParameters(
            role_definition_id=definition.id, principal_id=admin.principal(), principal_type="ServicePrincipal"
        ),
    )


def secret_disabled(w: DoctorWorld) -> None:
    for version in w.emu.vaults[APP_VAULT].secrets[SECRET]:
        version.enabled = False


def secret_deleted(w: DoctorWorld) -> None:
    del w.emu.vaults[APP_VAULT].secrets[SECRET]


def sa_annotation_missing(w: DoctorWorld) -> None:
    w.kubectl("-n", "podinfo", "annotate", "serviceaccount", "podinfo", "azure.workload.identity/client-id-")


def pod_label_on_the_service_account(w: DoctorWorld) -> None:
    """The recurring mistake: the label taken off the pod template and put on the ServiceAccount."""
    w.kubectl(
        "-n",
        "podinfo",
        "patch",
        "deployment",
        "podinfo",
        "--type",
        "json",
        "-p",
        '[{"op":"remove","path":"/spec/template/metadata/labels/azure.workload.identity~1use"}]',
    )
    w.kubectl("-n", "podinfo", "label", "serviceaccount", "podinfo", "azure.workload.identity/use=true")


# name -> (break, the gate doctor must name first, a piece of its reason, a piece of the fix)
BREAKS: dict[str, tuple[Callable[[DoctorWorld], None], str, str, str]] = {
    "credential for another namespace": (
        fic_other_namespace,
        "azure.workload-fic",
        "subject namespace 'default': the workload runs in 'podinfo' (needs 'system:serviceaccount:podinfo:podinfo')",
        f"az identity federated-credential update --name {FIC} --identity-name {IDENTITY}",
    ),
    "role removed": (
        role_removed,
        "azure.workload-role",
        f"{IDENTITY} may not read secret {APP_VAULT}/{SECRET}: it has no role with getSecret",
        'az role assignment create --role "Key Vault Secrets User"',
    ),
    "role on another secret": (
        role_on_the_vault_of_another_secret,
        "azure.workload-role",
        "/secrets/other-app-secret), which does not cover",
        f"/vaults/{APP_VAULT}/secrets/{SECRET}",
    ),
    "secret disabled": (
        secret_disabled,
        "azure.workload-object",
        "it is disabled: Key Vault refuses to return it",
        f"az keyvault secret set-attributes --vault-name {APP_VAULT} -n {SECRET} --enabled true",
    ),
    "secret deleted": (
        secret_deleted,
        "azure.workload-object",
        "it does not exist: the CSI driver fails",
        f"az keyvault secret set --vault-name {APP_VAULT} -n {SECRET} --file FILE",
    ),
    "ServiceAccount annotation missing": (
        sa_annotation_missing,
        "cluster.workload",
        "annotation azure.workload.identity/client-id is missing",
        "flux reconcile kustomization apps -n flux-system --with-source",
    ),
    "pod label on the ServiceAccount": (
        pod_label_on_the_service_account,
        "cluster.workload",
        "has the label azure.workload.identity/use: it belongs on the pod template",
        "kubectl -n podinfo rollout restart deployment/podinfo",
    ),
}


@pytest.mark.interop
def test_the_healthy_world_holds_every_workload_gate(world: DoctorWorld) -> None:
    report = world.doctor(probe=False)
    text = as_text(report, "fluxforge.yaml")
    assert report.ok, text
    found = {f.gate: f for f in report.findings if f.gate in WORKLOAD_GATES}
    assert list(found) == WORKLOAD_GATES, text
    assert all(f.status == OK for f in found.values()), text
    assert found["azure.workload-fic"].reason == f"credential {FIC}: issuer, subject and audience match"
    assert found["azure.workload-role"].reason.startswith("Key Vault Secrets User at /subscriptions/")
    assert found["azure.workload-role"].reason.endswith(f"/vaults/{APP_VAULT}/secrets/{SECRET}")
    assert f"annotated with {CLIENT_ID}" in found["cluster.workload"].reason
    assert {f.status for f in report.findings} <= {OK, WARN, SKIPPED}


@pytest.mark.interop
@pytest.mark.parametrize("name", list(BREAKS))
def test_workload_drill(world: DoctorWorld, name: str) -> None:
    breaker, gate, why, fix = BREAKS[name]
    breaker(world)
    report = world.doctor(probe=False)
    text = as_text(report, "fluxforge.yaml")
    first = report.first_broken
    assert first is not None, text
    assert (first.gate, first.subject.split(":")[0]) == (gate, "staging"), text
    assert why in first.reason, text
    assert fix in first.fix, text
    assert az_problems(first.fix) == []
    index = report.findings.index(first)
    assert all(f.status in (OK, WARN) for f in report.findings[:index]), text
    assert "rehearsal-" + SECRET not in text  # the secret's value never shows


@pytest.mark.interop
def test_the_printed_fix_repairs_a_lost_annotation(world: DoctorWorld) -> None:
    """The cluster fix as printed: reconcile (here: apply the committed build again), then restart the pods."""
    import shlex

    sa_annotation_missing(world)
    first = world.doctor(probe=False).first_broken
    assert first is not None and first.gate == "cluster.workload"
    docs = world.kubectl("kustomize", str(world.repo / "apps/staging"))
    assert "azure.workload.identity/client-id: " + CLIENT_ID in docs
    world.kubectl("apply", "-f", str(world.repo / "apps/staging/workload-identity/podinfo/service-account.yaml"))
    restart = first.fix.split(", then ", 1)[1].split(" (", 1)[0]
    assert restart.startswith("kubectl "), first.fix
    world.kubectl(*shlex.split(restart)[1:])
    after = world.doctor(probe=False)
    assert after.ok, as_text(after, "fluxforge.yaml")


@pytest.mark.interop
def test_without_azure_access_the_workload_gates_are_skipped_not_passed(world: DoctorWorld) -> None:
    nobody = world.emu.add_identity("wl-no-arm", secret="wl-no-arm-secret")
    report = world.doctor(azure=world.azure_reader(nobody, "wl-no-arm-secret"), probe=False)
    azure = [f for f in report.findings if f.gate.startswith("azure.workload-")]
    assert azure and all(f.status == SKIPPED for f in azure), as_text(report, "fluxforge.yaml")
    assert all("cannot read Azure (gate azure.identity says why)" in f.reason for f in azure)
    assert BROKEN not in {f.status for f in report.findings}

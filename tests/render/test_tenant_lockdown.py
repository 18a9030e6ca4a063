"""Tenants applied by impersonation and Flux's multi-tenancy lockdown (issue 14, items 2 and 3).

* a tenant Kustomization applies as a ServiceAccount of its namespace (``spec.serviceAccountName``), bound
  by a RoleBinding to the configured role (default ClusterRole ``admin``), in that namespace only;
* ``flux.lockdown: true`` appends the lockdown flags per Flux version with name-targeted JSON patches, the
  platform's Kustomizations apply as kustomize-controller, each tenant reads its own GitRepository in its
  namespace, and the config is refused (line and reason) where the lockdown would reject it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generator.config.load import parse_config
from generator.errors import ConfigError
from generator.flux.lint import lint_text, lockdown_findings
from generator.flux.lockdown import LOCKDOWN_FLAGS, flag_problem, lockdown_flags
from generator.flux.versions import parse_version
from generator.render.files import render_tree
from generator.yamlio import load_all_rt, load_rt
from tests.helpers import SAMPLE_LOCKDOWN, SAMPLE_REPO, SAMPLE_TENANT_TARGET, unlocked

SAMPLE = (SAMPLE_REPO / "fluxforge.yaml").read_text(encoding="utf-8")  # locked down (issue 14, item 4)
PLAIN = unlocked(SAMPLE)  # the same fleet without flux.lockdown
TENANT_DEPENDS = "        targetNamespace: team-a\n        dependsOn: [infrastructure]\n"


def locked(text: str = SAMPLE, version: str | None = None) -> str:
    """The sample's ``flux.lockdown: true`` as one plain line (tests add keys after it), the tenant's
    targetNamespace line without its comment."""
    assert SAMPLE_LOCKDOWN in text
    text = text.replace(SAMPLE_LOCKDOWN, "  lockdown: true\n", 1).replace(
        SAMPLE_TENANT_TARGET, "        targetNamespace: team-a\n"
    )
    if version is not None:
        text = text.replace('  version: "2.9.4"', f'  version: "{version}"')
    return text


def objects(files: dict[str, bytes], name: str) -> dict[tuple[str, str], Any]:
    docs = [d for d in load_all_rt(files[name].decode()) if d is not None]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return list(caught.value.problems)


def line_of(text: str, needle: str, start: str = "") -> int:
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if start in line) if start else 0
    return next(i for i, line in enumerate(lines) if i >= first and needle in line) + 1


# --- item 2: impersonation ----------------------------------------------------------------------------


def test_a_tenant_applies_as_its_service_account_bound_to_admin_in_its_namespace() -> None:
    files = render_tree(parse_config(PLAIN))
    team = objects(files, "clusters/staging/team-a.yaml")
    ks = team[("Kustomization", "team-a")]
    assert ks["spec"]["serviceAccountName"] == "team-a-sops" == ks["spec"]["decryption"]["serviceAccountName"]
    binding = team[("RoleBinding", "team-a-sops-reconciler")]
    assert binding["metadata"]["namespace"] == "team-a"
    assert dict(binding["roleRef"]) == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"}
    assert [dict(s) for s in binding["subjects"]] == [
        {"kind": "ServiceAccount", "name": "team-a-sops", "namespace": "team-a"}
    ]
    # one ServiceAccount decrypts and applies: it is written once, with the workload-identity annotations
    assert [k for k in team if k[0] == "ServiceAccount"] == [("ServiceAccount", "team-a-sops")]
    # without lockdown the platform's Kustomizations apply as kustomize-controller itself (no field), and
    # nothing but the tenant file binds a role
    for name in ("apps", "infrastructure"):
        assert (
            "serviceAccountName" not in objects(files, f"clusters/staging/{name}.yaml")[("Kustomization", name)]["spec"]
        )
    assert [p for p, data in files.items() if b"kind: RoleBinding" in data] == ["clusters/staging/team-a.yaml"]


RECONCILER = "          serviceAccount: team-a-sops\n"


def test_the_reconciler_may_be_a_separate_service_account_with_a_role_the_config_names() -> None:
    text = SAMPLE.replace(
        RECONCILER, RECONCILER + "          reconciler:\n            serviceAccount: team-a\n            role: edit\n"
    )
    team = objects(render_tree(parse_config(text)), "clusters/staging/team-a.yaml")
    ks = team[("Kustomization", "team-a")]
    assert ks["spec"]["serviceAccountName"] == "team-a"
    assert ks["spec"]["decryption"]["serviceAccountName"] == "team-a-sops"
    reconciler = team[("ServiceAccount", "team-a")]
    assert "annotations" not in reconciler["metadata"]  # no workload identity: it only applies
    assert reconciler["metadata"]["namespace"] == "team-a"
    assert "azure.workload.identity/client-id" in team[("ServiceAccount", "team-a-sops")]["metadata"]["annotations"]
    binding = team[("RoleBinding", "team-a-reconciler")]
    assert binding["roleRef"]["kind"] == "ClusterRole" and binding["roleRef"]["name"] == "edit"
    assert binding["subjects"][0]["name"] == "team-a"
    text = text.replace("            role: edit\n", "            role: team-a-deployer\n            roleKind: Role\n")
    binding = objects(render_tree(parse_config(text)), "clusters/staging/team-a.yaml")[
        ("RoleBinding", "team-a-reconciler")
    ]
    assert binding["roleRef"]["kind"] == "Role" and binding["roleRef"]["name"] == "team-a-deployer"


def test_two_tenant_kustomizations_sharing_a_reconciler_get_one_binding() -> None:
    second = (
        "      - name: team-a-jobs\n        path: tenants/team-a/jobs\n        namespace: team-a\n"
        "        tenant:\n          serviceAccount: team-a-sops\n          identity:\n"
        "            name: id-team-a-staging\n            clientId: 74c187ab-dd8a-4a75-ba9a-ede2fddb872b\n"
        "            resourceGroup: rg-fleet-staging\n"
    )
    text = SAMPLE.replace("\n    workloads:", "\n" + second + "    workloads:", 1)
    assert "team-a-jobs" in text
    files = render_tree(parse_config(text))
    assert ("RoleBinding", "team-a-sops-reconciler") in objects(files, "clusters/staging/team-a.yaml")
    jobs = objects(files, "clusters/staging/team-a-jobs.yaml")
    assert list(jobs) == [("GitRepository", "team-a-jobs"), ("Kustomization", "team-a-jobs")]  # its own source
    assert jobs[("Kustomization", "team-a-jobs")]["spec"]["serviceAccountName"] == "team-a-sops"
    # the same ServiceAccount with another role is refused at the second tenant's reconciler
    clash = text.replace(
        "          serviceAccount: team-a-sops\n          identity:\n            name: id-team-a-staging\n"
        "            clientId: 74c187ab-dd8a-4a75-ba9a-ede2fddb872b\n            resourceGroup: "
        "rg-fleet-staging\n",
        "          serviceAccount: team-a-sops\n          reconciler: {role: edit}\n"
        "          identity:\n            name: id-team-a-staging\n            clientId: "
        "74c187ab-dd8a-4a75-ba9a-ede2fddb872b\n            resourceGroup: rg-fleet-staging\n",
        2,
    )
    clash = clash.replace("          reconciler: {role: edit}\n", "", 1)
    line = line_of(clash, "reconciler: {role: edit}")
    assert problems(clash) == [
        (
            f"fluxforge.yaml:{line}: clusters[0].kustomizations[3].tenant.reconciler: ServiceAccount 'team-a-sops' in "
            "namespace 'team-a' is bound to ClusterRole/admin by clusters[0].kustomizations[2]; one ServiceAccount has "
            "one role: use the same role or another reconciler.serviceAccount"
        )
    ]


def test_a_tenant_in_the_flux_namespace_is_refused_under_lockdown() -> None:
    text = locked().replace(
        "        namespace: team-a\n        targetNamespace", "        namespace: flux-system\n        targetNamespace"
    )
    line = line_of(text, "namespace: flux-system", "- name: team-a")
    assert problems(text) == [
        (
            f"fluxforge.yaml:{line}: clusters[0].kustomizations[2].namespace: flux.lockdown: a tenant applies as a "
            "ServiceAccount bound to a role in its namespace, and 'flux-system' is the Flux namespace "
            "(the tenant would administer Flux itself); give the Kustomization a namespace of its own "
            "(namespace: <tenant>)"
        )
    ]


# --- item 3: lockdown ---------------------------------------------------------------------------------


def _args(files: dict[str, bytes], cluster: str = "staging") -> dict[str, list[str]]:
    """The arguments each Deployment patch of the sync kustomization.yaml appends, by controller."""
    kustomization = load_rt(files[f"clusters/{cluster}/flux-system/kustomization.yaml"].decode())
    found: dict[str, list[str]] = {}
    for patch in kustomization["patches"]:
        body = load_rt(patch["patch"])
        if patch["target"]["kind"] == "Deployment" and isinstance(body, list):
            assert all(op["op"] == "add" and op["path"] == "/spec/template/spec/containers/0/args/-" for op in body)
            found.setdefault(patch["target"]["name"], []).extend(op["value"] for op in body)
    return found


COMPONENTS = "  components: [source-controller, kustomize-controller, helm-controller, notification-controller{}]\n"
LOCK = ["--no-cross-namespace-refs=true", "--no-remote-bases=true", "--default-service-account=default"]
GATE = "--feature-gates=ObjectLevelWorkloadIdentity=true"


def _without_tenant(text: str) -> str:
    start = text.index("      - name: team-a\n")
    return text[:start] + text[text.index("\n\n", start) + 2 :]


@pytest.mark.parametrize("minor", range(10))
def test_lockdown_flags_per_flux_version(minor: int) -> None:
    text = locked(version=f"2.{minor}.0")
    if minor < 6:
        text = _without_tenant(text)  # object-level workload identity (the tenant) needs 2.6
    text = text.replace(
        "  lockdown: true\n",
        "  lockdown: true\n" + COMPONENTS.format(", image-reflector-controller, image-automation-controller"),
    )
    config = parse_config(text)
    args = _args(render_tree(config))
    kustomize = (
        [GATE, "--default-decryption-service-account=flux-decryption"] if minor >= 7 else ([GATE] if minor >= 6 else [])
    )
    assert args == {
        "kustomize-controller": [*kustomize, *LOCK],
        "helm-controller": ["--no-cross-namespace-refs=true", "--default-service-account=default"],
        "notification-controller": ["--no-cross-namespace-refs=true"],
        "image-reflector-controller": ["--no-cross-namespace-refs=true"],
        "image-automation-controller": ["--no-cross-namespace-refs=true"],
    }
    assert config.flux.default_decryption_service_account == ("flux-decryption" if minor >= 7 else None)
    # source-controller has no such flag: never patched
    assert "source-controller" not in args


def test_lockdown_patches_only_the_configured_components() -> None:
    text = locked().replace(
        "  lockdown: true\n", "  lockdown: true\n  components: [source-controller, kustomize-controller]\n"
    )
    assert set(_args(render_tree(parse_config(text)))) == {"kustomize-controller"}


def test_the_flag_table_refuses_what_a_version_lacks() -> None:
    assert [f.name for f in lockdown_flags(6, "kustomize-controller")] == [
        "--no-cross-namespace-refs",
        "--no-remote-bases",
        "--default-service-account",
    ]
    assert [f.name for f in lockdown_flags(7, "kustomize-controller")][-1] == "--default-decryption-service-account"
    assert flag_problem("--default-decryption-service-account", "kustomize-controller", 6) == (
        "--default-decryption-service-account exists from Flux 2.7 on "
        "(kustomize-controller of Flux 2.6 would not start)"
    )
    assert flag_problem("--no-remote-bases", "helm-controller", 9) == (
        "helm-controller has no --no-remote-bases flag (only kustomize-controller)"
    )
    assert flag_problem("--no-cross-namespace-refs", "source-controller", 9) is not None
    assert all(flag_problem(f.name, c, 9) is None for f in LOCKDOWN_FLAGS for c in f.controllers)


def test_an_explicit_default_decryption_service_account_before_2_7_is_refused() -> None:
    text = locked(version="2.6.0").replace(
        "  lockdown: true\n", "  lockdown: true\n  defaultDecryptionServiceAccount: sops\n"
    )
    assert problems(text) == [
        (
            f"fluxforge.yaml:{line_of(text, 'defaultDecryptionServiceAccount')}: "
            "flux.defaultDecryptionServiceAccount: needs Flux >= 2.7 (set flux.version)"
        )
    ]


def test_locked_down_tree() -> None:
    files = render_tree(parse_config(locked()))
    team = objects(files, "clusters/staging/team-a.yaml")
    source = team[("GitRepository", "team-a")]
    assert source["metadata"]["namespace"] == "team-a"
    assert (
        dict(source["spec"]["ref"]) == {"branch": "main"}
        and source["spec"]["url"] == "ssh://git@github.com/contoso/fleet"
    )
    assert source["spec"]["secretRef"]["name"] == "flux-system" and source["spec"]["interval"] == "1m0s"
    ks = team[("Kustomization", "team-a")]["spec"]
    assert dict(ks["sourceRef"]) == {"kind": "GitRepository", "name": "team-a"}  # same namespace: no namespace key
    assert "dependsOn" not in ks and ks["serviceAccountName"] == "team-a-sops"
    for cluster in ("staging", "production"):
        for name in ("apps", "infrastructure"):
            spec = objects(files, f"clusters/{cluster}/{name}.yaml")[("Kustomization", name)]["spec"]
            assert spec["serviceAccountName"] == "kustomize-controller", (cluster, name)
            assert "namespace" not in spec["sourceRef"]
        sync = load_rt(files[f"clusters/{cluster}/flux-system/kustomization.yaml"].decode())["patches"][-1]
        assert sync["target"] == {"kind": "Kustomization", "name": "flux-system"}
        assert load_rt(sync["patch"])["spec"]["serviceAccountName"] == "kustomize-controller"
    # the default decryption ServiceAccount lockdown sets on 2.7+ is rendered with the cluster identity
    assert b"name: flux-decryption" in files["clusters/staging/flux-system/decryption-service-account.yaml"]


def test_a_tenant_source_of_its_own() -> None:
    own = (
        RECONCILER + "          source:\n            url: https://github.com/contoso/team-a\n"
        "            branch: release\n            secretRef: team-a-git\n            interval: 5m\n"
    )
    for text in (PLAIN.replace(RECONCILER, own), locked().replace(RECONCILER, own)):
        team = objects(render_tree(parse_config(text)), "clusters/staging/team-a.yaml")
        spec = team[("GitRepository", "team-a")]["spec"]
        assert (spec["url"], spec["ref"]["branch"], spec["secretRef"]["name"], spec["interval"]) == (
            "https://github.com/contoso/team-a",
            "release",
            "team-a-git",
            "5m0s",
        )
        assert dict(team[("Kustomization", "team-a")]["spec"]["sourceRef"]) == {
            "kind": "GitRepository",
            "name": "team-a",
        }
    # without lockdown and without tenant.source the tenant keeps the sync GitRepository
    sref = objects(render_tree(parse_config(PLAIN)), "clusters/staging/team-a.yaml")[("Kustomization", "team-a")]
    assert dict(sref["spec"]["sourceRef"]) == {
        "kind": "GitRepository",
        "name": "flux-system",
        "namespace": "flux-system",
    }


def test_lockdown_refuses_a_cross_namespace_depends_on() -> None:
    text = locked().replace("        targetNamespace: team-a\n", TENANT_DEPENDS)
    line = line_of(text, "dependsOn: [infrastructure]", "- name: team-a")
    assert problems(text) == [
        (
            f"fluxforge.yaml:{line}: clusters[0].kustomizations[2].dependsOn[0]: flux.lockdown: 'infrastructure' is in "
            "namespace 'flux-system', this Kustomization in 'team-a': --no-cross-namespace-refs=true rejects a "
            "cross-namespace dependsOn; remove it (the tenant's Kustomization waits for nothing outside its namespace)"
        )
    ]


def test_lockdown_refuses_a_platform_kustomization_outside_the_flux_namespace() -> None:
    text = locked().replace(
        "      - name: apps\n        path: apps/staging\n",
        "      - name: apps\n        path: apps/staging\n        namespace: apps\n",
    )
    line = line_of(text, "namespace: apps")
    found = problems(text)
    assert found[0] == (
        f"fluxforge.yaml:{line}: clusters[0].kustomizations[1].namespace: flux.lockdown: Kustomization 'apps' in "
        "namespace 'apps' has no tenant, so its sourceRef is GitRepository flux-system/flux-system in another "
        "namespace, which --no-cross-namespace-refs=true rejects; make it a tenant (tenant: with its own source) or "
        "move it to namespace flux-system"
    )
    # and its dependsOn on infrastructure (flux-system) is cross-namespace too: every problem at once
    assert found[1].startswith(
        f"fluxforge.yaml:{line + 1}: clusters[0].kustomizations[1].dependsOn[0]: flux.lockdown: "
        "'infrastructure' is in namespace 'flux-system'"
    )
    assert len(found) == 2
    # the same config without lockdown is accepted
    parse_config(text.replace("  lockdown: true\n", ""))


def test_rendering_twice_gives_the_same_bytes() -> None:
    assert render_tree(parse_config(locked())) == render_tree(parse_config(locked()))


# --- lint: what the lockdown refuses in files the config does not write ---------------------------------


def test_lint_names_a_remote_base_under_lockdown(tmp_path: Path) -> None:
    (tmp_path / "fluxforge.yaml").write_text(locked())
    folder = tmp_path / "tenants" / "team-a" / "staging"
    folder.mkdir(parents=True)
    (folder / "kustomization.yaml").write_text(
        "resources:\n  - deployment.yaml\n  - https://github.com/contoso/bases//podinfo?ref=v1\n"
    )
    found = [str(f) for f in lockdown_findings(tmp_path)]
    assert found == [
        (
            "tenants/team-a/staging/kustomization.yaml:3: error: remote base https://github.com/contoso/"
            "bases//podinfo?ref=v1: flux.lockdown runs kustomize-controller with --no-remote-bases=true, "
            "which refuses it; vendor it into the repository"
        )
    ]
    (tmp_path / "fluxforge.yaml").write_text(PLAIN)  # without lockdown the remote base is fine
    assert lockdown_findings(tmp_path) == []


def test_lint_refuses_a_lockdown_flag_the_target_version_lacks() -> None:
    files = render_tree(parse_config(locked()))
    text = files["clusters/staging/flux-system/kustomization.yaml"].decode()
    line = line_of(text, "value: --default-decryption-service-account=flux-decryption")
    found = [str(f) for f in lint_text("k.yaml", text, parse_version("2.6.0")) if f.level == "error"]
    assert found == [
        (
            f"k.yaml:{line}: error: --default-decryption-service-account exists from Flux 2.7 on; "
            "kustomize-controller of Flux 2.6.0 would not start with it: remove it, or upgrade to 2.7"
        )
    ]
    assert [f for f in lint_text("k.yaml", text, parse_version("2.7.0")) if f.level == "error"] == []

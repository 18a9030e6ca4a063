"""Workload gates: the application chain of each ``clusters[].workloads[]`` entry (issue 13), beside the Flux chain.

An application pod reads a Key Vault object through the Secrets Store CSI driver: the pod template carries the
label ``azure.workload.identity/use: "true"`` and runs as the workload's ServiceAccount, which carries the
client-id annotation; the identity federates ``system:serviceaccount:<namespace>:<serviceAccount>`` with the
cluster's issuer; it holds the least role on each mounted object; each object exists and is enabled. Gates, in
chain order, one layer each:

* ``static.workloads``: ``kubectl kustomize <path>`` of the workload's folder (as Flux builds it), checked with
  :func:`generator.render.workloads.built_workload_problems` (label on the pod template, serviceAccountName,
  CSI volume and mounts, the ServiceAccount's namespace and annotation, the SecretProviderClass);
* ``azure.workload-fic``: the identity exists with the configured client ID and has a federated credential with
  exactly the issuer, the subject (the workload's namespace) and the audience;
* ``azure.workload-role``: a role whose data actions allow the read the provider makes, at the object, its vault
  or above;
* ``azure.workload-object``: the secret (or key) exists and is enabled, not expired, valid now;
* ``cluster.workload``: the live ServiceAccount, the live workload's pod template, the SecretProviderClass, and
  the running pods (labelled, with ``AZURE_CLIENT_ID`` injected).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from generator import az_hints
from generator.azure.facts import CredentialFacts, IdentityFacts, VaultFacts
from generator.config.model import Cluster, Config, VaultObject, Workload
from generator.doctor.context import Context
from generator.doctor.declared import DeclaredCredential, declared_credentials
from generator.doctor.live_azure import allows, covers, identity_facts
from generator.doctor.live_cluster import kube_reader, live_cluster
from generator.doctor.model import BROKEN, OK, SKIPPED, Finding, Gate, Skip, cluster_finding
from generator.doctor.readers import AzureReader, KubeReader
from generator.doctor.repo import CLIENT_ID
from generator.render.workloads import (
    POD_LABEL,
    built_workload_problems,
    create_hint,
    enable_hint,
    object_role,
    pod_template_problems,
)

__all__ = [
    "READ_ACTIONS",
    "WORKLOAD_AZURE_GATES",
    "WORKLOAD_CLUSTER_GATES",
    "WORKLOAD_STATIC_GATES",
    "kustomize_build",
]

READ_ACTIONS = {
    "secret": "Microsoft.KeyVault/vaults/secrets/getSecret/action",
    "key": "Microsoft.KeyVault/vaults/keys/read",
    "cert": "Microsoft.KeyVault/vaults/certificates/read",
}
"""The data action the CSI driver's Azure provider needs per objectType (GetSecret, GetKey, GetCertificate)."""

_BUILD_TIMEOUT = 120


def _finding(
    gate: str,
    cluster: Cluster,
    workload: Workload,
    subject: str,
    status: str,
    reason: str,
    fix: str = "",
    **detail: object,
) -> Finding:
    named = f"{workload.name}: {subject}" if subject else workload.name
    return cluster_finding(gate, cluster.name, named, status, reason, fix, **detail)


def _workloads(clusters: tuple[Cluster, ...]) -> Iterator[tuple[Cluster, Workload]]:
    for cluster in clusters:
        for workload in cluster.workloads:
            yield cluster, workload


def _none(gate: str, ctx: Context) -> Finding | None:
    if any(c.workloads for c in ctx.cfg().clusters):
        return None
    return Finding(gate, "workloads", SKIPPED, "no cluster declares workloads[]")


# -- static.workloads --------------------------------------------------------------------------------------
def kustomize_build(ctx: Context, folder: str) -> tuple[list[Any], str]:
    """The objects ``kubectl kustomize <folder>`` yields (as Flux's kustomize-controller builds the folder), or
    ``([], why)`` when it fails; raises :class:`Skip` when kubectl is not on PATH. Made once per folder."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise Skip("kubectl is not on PATH (it builds the workload folders as Flux does)")
    return ctx.memo(("kustomize-build", folder), lambda: _build(kubectl, ctx, folder))


def _build(kubectl: str, ctx: Context, folder: str) -> tuple[list[Any], str]:
    from generator.yamlio import load_all_plain

    try:
        done = subprocess.run(
            [kubectl, "kustomize", str(ctx.root / folder)],
            capture_output=True,
            text=True,
            timeout=_BUILD_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return [], f"kubectl kustomize {folder}: {err}"
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        return [], f"kubectl kustomize {folder} fails: {lines[-1] if lines else 'no message'}"
    try:
        return [d for d in load_all_plain(done.stdout) if d], ""
    except ValueError as err:
        return [], f"kubectl kustomize {folder}: unreadable output ({err})"


def check_built(ctx: Context) -> Iterator[Finding]:
    config = ctx.cfg()
    none = _none("static.workloads", ctx)
    if none is not None:
        yield none
        return
    for cluster, w in _workloads(config.clusters):
        docs, failed = kustomize_build(ctx, w.path)
        if failed:
            yield _finding(
                "static.workloads",
                cluster,
                w,
                "",
                BROKEN,
                failed,
                f"fluxforge render, then fix {w.path}/ until `kubectl kustomize {w.path}` builds (a wrong "
                f"workload or container name fails the check Component of {w.component_ref})",
            )
            continue
        problems = built_workload_problems(w, docs, config.tenant_id)
        if problems:
            yield _finding(
                "static.workloads",
                cluster,
                w,
                "",
                BROKEN,
                "; ".join(problems),
                f"list {w.component_ref} under components: in {w.path}/kustomization.yaml (it adds the "
                "label, the ServiceAccount and the volume), keep namespace: "
                f"{w.namespace}, and run fluxforge render",
                problems=problems,
            )
            continue
        yield _finding(
            "static.workloads",
            cluster,
            w,
            "",
            OK,
            f"kustomize build of {w.path}: {w.kind} {w.namespace}/{w.name} has the pod label, runs as "
            f"{w.service_account} and mounts SecretProviderClass {w.name}",
        )


# -- azure.workload-fic ------------------------------------------------------------------------------------
def _reader(ctx: Context) -> AzureReader:
    if ctx.azure is None:
        raise Skip(ctx.azure_skip or "no Azure reader")
    return ctx.azure


def _identity(ctx: Context, w: Workload) -> IdentityFacts | None:
    return identity_facts(ctx, w.identity) if w.identity.client_id else None


def _declared(config: Config, cluster: Cluster, w: Workload) -> DeclaredCredential:
    return next(
        c
        for c in declared_credentials(config, cluster, workloads=True)
        if (c.namespace, c.service_account) == (w.namespace, w.service_account)
    )


def _differs(want: DeclaredCredential, have: CredentialFacts) -> list[str]:
    found = []
    if have.issuer != want.issuer:
        found.append(f"issuer {have.issuer!r}, needs {want.issuer!r}")
    if have.subject != want.subject:
        _, _, rest = have.subject.partition("system:serviceaccount:")
        namespace, _, account = rest.partition(":")
        if account == want.service_account and namespace != want.namespace:
            found.append(
                f"subject namespace {namespace!r}: the workload runs in {want.namespace!r} (needs {want.subject!r})"
            )
        else:
            found.append(f"subject {have.subject!r}, needs {want.subject!r}")
    if tuple(have.audiences) != (az_hints.WI_AUDIENCE,):
        found.append(f"audiences {list(have.audiences)!r}, needs [{az_hints.WI_AUDIENCE!r}]")
    return found


def check_fic(ctx: Context) -> Iterator[Finding]:
    config = ctx.cfg()
    none = _none("azure.workload-fic", ctx)
    if none is not None:
        yield none
        return
    reader = _reader(ctx)
    for cluster, w in _workloads(ctx.clusters()):
        want = _declared(config, cluster, w)
        facts = _identity(ctx, w)
        label = w.identity.name or w.identity.client_id or "?"
        if facts is None:
            what = f"client ID {w.identity.client_id}" if w.identity.client_id else "no clientId in fluxforge.yaml"
            yield _finding(
                "azure.workload-fic",
                cluster,
                w,
                f"identity {label}",
                BROKEN,
                f"no managed identity with {what} in subscription {reader.subscription_id}",
                "fluxforge azure apply (creates the identity and its credential, writes clientId into "
                "fluxforge.yaml), then fluxforge render",
            )
            continue
        creds = ctx.read(("fics", facts.id), lambda f=facts: reader.federated_credentials(f))  # type: ignore[misc]
        yield _fic_finding(cluster, w, want, facts, creds)


def _fic_finding(
    cluster: Cluster, w: Workload, want: DeclaredCredential, facts: IdentityFacts, creds: list[CredentialFacts]
) -> Finding:
    subject = f"{facts.name} trusts {w.namespace}/{w.service_account}"
    exact = next((c for c in creds if not _differs(want, c)), None)
    if exact is not None:
        return _finding(
            "azure.workload-fic",
            cluster,
            w,
            subject,
            OK,
            f"credential {exact.name}: issuer, subject and audience match",
        )
    nearest = max(
        creds, key=lambda c: (c.subject.endswith(":" + w.service_account), c.issuer == want.issuer), default=None
    )
    head = f"no federated credential on {facts.name} for {want.subject} with issuer {want.issuer!r}"
    if nearest is None:
        return _finding(
            "azure.workload-fic", cluster, w, subject, BROKEN, f"{head}; the identity has none", want.az_create()
        )
    fields = _differs(want, nearest)
    return _finding(
        "azure.workload-fic",
        cluster,
        w,
        subject,
        BROKEN,
        f"{head}; nearest: {nearest.name}: {'; '.join(fields)}",
        az_hints.federated_credential_update(
            name=nearest.name,
            identity_name=facts.name,
            resource_group=facts.resource_group,
            issuer=want.issuer,
            subject=want.subject,
        ),
        nearest=nearest.name,
        differs=fields,
    )


# -- azure.workload-role -----------------------------------------------------------------------------------
def _vault(ctx: Context, w: Workload) -> VaultFacts:
    reader = _reader(ctx)
    name = w.key_vault.name
    vault = ctx.read(("vault", name), lambda: reader.vault(name))
    if vault is None:
        raise Skip(f"vault {name} not found (gate azure.workload-object)")
    return vault


def _scope(vault: VaultFacts, obj: VaultObject) -> str:
    _, kind = object_role(obj)
    return vault.id if kind == "vault" else f"{vault.id}/{kind}/{obj.name}"


def check_role(ctx: Context) -> Iterator[Finding]:
    none = _none("azure.workload-role", ctx)
    if none is not None:
        yield none
        return
    for cluster, w in _workloads(ctx.clusters()):
        for obj in w.objects:
            subject = f"{w.identity.name or w.identity.client_id} on {obj.type} {w.key_vault.name}/{obj.name}"
            try:
                yield _role_finding(ctx, cluster, w, obj, subject)
            except Skip as skip:
                yield _finding("azure.workload-role", cluster, w, subject, SKIPPED, skip.reason)


def _role_finding(ctx: Context, cluster: Cluster, w: Workload, obj: VaultObject, subject: str) -> Finding:
    vault = _vault(ctx, w)
    role_name, _ = object_role(obj)
    if not vault.rbac:
        return _finding(
            "azure.workload-role",
            cluster,
            w,
            subject,
            BROKEN,
            f"vault {vault.name} uses access policies: fluxforge grants the least role per object only with Azure RBAC",
            f"{az_hints.keyvault_enable_rbac(vault.name)}, then fluxforge azure apply",
        )
    facts = _identity(ctx, w)
    if facts is None:
        raise Skip(f"identity {w.identity.name or w.identity.client_id} not found (gate azure.workload-fic)")
    reader = _reader(ctx)
    scope, action = _scope(vault, obj), READ_ACTIONS[obj.type]
    assignments = ctx.read(("assignments", facts.principal_id), lambda: reader.role_assignments(facts.principal_id))
    elsewhere = []
    for assignment in assignments:
        role = ctx.read(
            ("role", assignment.role_definition_id.lower()),
            lambda a=assignment: reader.role_definition(a.role_definition_id),  # type: ignore[misc]
        )
        if role is None or not allows(role.data_actions, role.not_data_actions, action):
            continue
        if covers(assignment.scope, scope):
            return _finding(
                "azure.workload-role",
                cluster,
                w,
                subject,
                OK,
                f"{role.name} at {assignment.scope}",
                role=role.name,
                scope=assignment.scope,
            )
        elsewhere.append(f"{role.name} at {assignment.scope}")
    where = (
        f"a role allowing it is assigned elsewhere ({'; '.join(elsewhere)}), which does not cover {scope}"
        if elsewhere
        else f"it has no role with {action.rsplit('/', 2)[-2]} at the {obj.type}, the vault or above"
    )
    return _finding(
        "azure.workload-role",
        cluster,
        w,
        subject,
        BROKEN,
        f"{facts.name} may not read {obj.type} {vault.name}/{obj.name}: {where}",
        f"fluxforge azure apply (assigns {role_name} there), or now: "
        f"{az_hints.role_assignment_create(role_name, facts.principal_id, scope)}",
        elsewhere=elsewhere,
    )


# -- azure.workload-object ---------------------------------------------------------------------------------
def check_object(ctx: Context) -> Iterator[Finding]:
    config = ctx.cfg()
    none = _none("azure.workload-object", ctx)
    if none is not None:
        yield none
        return
    reader = _reader(ctx)
    for cluster, w in _workloads(ctx.clusters()):
        name = w.key_vault.name
        vault = ctx.read(("vault", name), lambda n=name: reader.vault(n))  # type: ignore[misc]
        if vault is None:
            group = w.key_vault.resource_group or config.azure.resource_group or "<resource group>"
            yield _finding(
                "azure.workload-object",
                cluster,
                w,
                f"vault {name}",
                BROKEN,
                f"no Key Vault {name} in subscription {reader.subscription_id} (fluxforge creates only the "
                "SOPS vaults)",
                f"az keyvault create -g {group} -n {name} --enable-rbac-authorization true, "
                "then create the objects the workload mounts",
            )
            continue
        for obj in w.objects:
            yield _object_finding(ctx, reader, cluster, w, vault, obj)


@dataclass(frozen=True)
class _State:
    exists: bool
    enabled: bool = True
    expires: int | None = None
    not_before: int | None = None


def _state(ctx: Context, reader: AzureReader, vault: VaultFacts, obj: VaultObject) -> _State:
    if obj.type == "secret":
        secret = ctx.read(("secret", vault.id, obj.name), lambda: reader.secret(vault, obj.name))
        return _State(False) if secret is None else _State(True, secret.enabled, secret.expires, secret.not_before)
    key = ctx.read(("key", vault.id, obj.name, obj.version or ""), lambda: reader.key(vault, obj.name, obj.version))
    return _State(False) if key is None else _State(True, key.enabled, key.expires, key.not_before)


def _object_finding(
    ctx: Context, reader: AzureReader, cluster: Cluster, w: Workload, vault: VaultFacts, obj: VaultObject
) -> Finding:
    subject = f"{obj.type} {vault.name}/{obj.name}"
    if obj.type == "cert":
        return _finding(
            "azure.workload-object",
            cluster,
            w,
            subject,
            SKIPPED,
            "ARM does not list certificates (the data plane would need access the reader does not have)",
        )
    state = _state(ctx, reader, vault, obj)
    hint = create_hint(obj.type, vault.name, obj.name)
    if not state.exists:
        return _finding(
            "azure.workload-object",
            cluster,
            w,
            subject,
            BROKEN,
            "it does not exist: the CSI driver fails the pod's volume mount (the pod stays ContainerCreating)",
            f"{hint}, then fluxforge azure apply (the role on it waits for it)",
        )
    now = int(time.time())
    problems = []
    if not state.enabled:
        problems.append("it is disabled: Key Vault refuses to return it")
    if state.expires is not None and state.expires <= now:
        problems.append(f"it expired at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(state.expires))}")
    if state.not_before is not None and state.not_before > now:
        problems.append(f"it is not valid before {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(state.not_before))}")
    if problems:
        return _finding(
            "azure.workload-object",
            cluster,
            w,
            subject,
            BROKEN,
            "; ".join(problems),
            f"{enable_hint(obj.type, vault.name, obj.name)} (with a later --expires or an earlier "
            "--not-before where named)",
            problems=problems,
        )
    return _finding("azure.workload-object", cluster, w, subject, OK, "exists and is enabled")


# -- cluster.workload --------------------------------------------------------------------------------------
def _meta(obj: Mapping[str, Any] | None, field: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in (((obj or {}).get("metadata") or {}).get(field) or {}).items()}


def check_live(ctx: Context) -> Iterator[Finding]:
    config = ctx.cfg()
    cluster = live_cluster(ctx)
    if not cluster.workloads:
        yield Finding(
            "cluster.workload",
            f"{cluster.name}: workloads",
            SKIPPED,
            f"cluster {cluster.name} declares no workloads[]",
            cluster=cluster.name,
        )
        return
    for w in cluster.workloads:
        problems = _live_problems(ctx, cluster, w)
        reconcile = (
            f"flux reconcile kustomization {_applier(config, cluster, w)} -n {config.flux.namespace} --with-source"
        )
        if problems:
            yield _finding(
                "cluster.workload",
                cluster,
                w,
                "",
                BROKEN,
                "; ".join(problems),
                f"{reconcile} (the committed {w.path}/ applies them as rendered), then kubectl -n "
                f"{w.namespace} rollout restart {w.kind.lower()}/{w.name} (the webhook injects only when a "
                "pod is created)",
                problems=problems,
            )
        else:
            yield _finding(
                "cluster.workload",
                cluster,
                w,
                "",
                OK,
                f"ServiceAccount {w.namespace}/{w.service_account} annotated with {w.identity.client_id}; "
                f"{w.kind} {w.name}'s pods labelled, with AZURE_CLIENT_ID injected",
            )


def _applier(config: Config, cluster: Cluster, w: Workload) -> str:
    return next((ks.name for ks in cluster.kustomizations if ks.path == w.path), config.sync_name)


def _live_problems(ctx: Context, cluster: Cluster, w: Workload) -> list[str]:
    kube = kube_reader(ctx)
    ns = w.namespace
    problems = _live_sa_problems(ctx, kube, w) + _live_spc_problems(ctx, kube, cluster, w)
    obj = ctx.read(("get", w.kind.lower(), ns, w.name), lambda: kube.get(w.kind.lower(), w.name, ns))
    where = f"{w.kind} {ns}/{w.name}"
    if obj is None:
        return [*problems, f"{where} does not exist"]
    template = ((obj.get("spec") or {}).get("template")) or {}
    problems += pod_template_problems(w, template, where)
    return problems + _pod_problems(ctx, w, obj)


def _live_sa_problems(ctx: Context, kube: KubeReader, w: Workload) -> list[str]:
    """The workload's ServiceAccount in the cluster: it exists, with the client-ID annotation and no pod label."""
    ns = w.namespace
    sa = ctx.read(("get", "sa", ns, w.service_account), lambda: kube.get("serviceaccount", w.service_account, ns))
    if sa is None:
        return [f"ServiceAccount {ns}/{w.service_account} does not exist"]
    problems = []
    have = _meta(sa, "annotations").get(CLIENT_ID)
    if have != w.identity.client_id:
        problems.append(
            f"ServiceAccount {ns}/{w.service_account}: annotation {CLIENT_ID} is {have or 'missing'} "
            f"(config: {w.identity.client_id})"
        )
    if POD_LABEL in _meta(sa, "labels"):
        problems.append(
            f"ServiceAccount {ns}/{w.service_account} has the label {POD_LABEL}: it belongs on the pod template"
        )
    return problems


def _live_spc_problems(ctx: Context, kube: KubeReader, cluster: Cluster, w: Workload) -> list[str]:
    """The workload's SecretProviderClass exists (and the cluster knows the resource: the CSI driver is there)."""
    ns = w.namespace
    try:
        spc = ctx.read(("get", "secretproviderclass", ns, w.name), lambda: kube.get("secretproviderclass", w.name, ns))
    except Skip as skip:
        if "resource type" not in skip.reason:
            raise
        group, aks = (
            (cluster.aks.resource_group or "<resource group>", cluster.aks.name)
            if cluster.aks
            else ("<resource group>", "<aks>")
        )
        return [
            (
                "the cluster has no SecretProviderClass resource: the Secrets Store CSI driver is not installed "
                f"(az aks enable-addons --addons azure-keyvault-secrets-provider -g {group} -n {aks})"
            )
        ]
    return [f"SecretProviderClass {ns}/{w.name} does not exist"] if spc is None else []


def _pod_problems(ctx: Context, w: Workload, obj: Mapping[str, Any]) -> list[str]:
    kube = kube_reader(ctx)
    match = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if not match:
        return []
    selector = ",".join(f"{k}={v}" for k, v in sorted(match.items()))
    pods = ctx.read(("list", "pods", w.namespace, selector), lambda: kube.list("pods", w.namespace, selector))
    return [problem for pod in pods if (problem := _running_pod_problem(pod, w)) is not None]


def _running_pod_problem(pod: Mapping[str, Any], w: Workload) -> str | None:
    """A running pod of the workload created before its template had the label or its ServiceAccount the
    annotation (the webhook injects only at creation)."""
    if ((pod.get("status") or {}).get("phase")) != "Running":
        return None
    name = (pod.get("metadata") or {}).get("name", "?")
    if _meta(pod, "labels").get(POD_LABEL) != "true":
        return f"pod {name} lacks the label {POD_LABEL} (created before the template had it)"
    client = _pod_env(pod).get("AZURE_CLIENT_ID")
    if client != w.identity.client_id:
        return (
            f"pod {name} has AZURE_CLIENT_ID {client or 'unset'}, not "
            f"{w.identity.client_id} (created before the ServiceAccount's annotation)"
        )
    return None


def _pod_env(pod: Mapping[str, Any]) -> dict[str, str]:
    """The literal env values of the pod's containers (a later container's value wins)."""
    containers = (pod.get("spec") or {}).get("containers") or []
    return {
        str(e.get("name")): str(e.get("value", ""))
        for c in containers
        for e in c.get("env") or []
        if isinstance(e, Mapping)
    }


WORKLOAD_STATIC_GATES: tuple[Gate, ...] = (
    Gate(
        "static.workloads",
        "static",
        "workload manifests: pod label, ServiceAccount, CSI volume (kustomize build)",
        check_built,
    ),
)
WORKLOAD_AZURE_GATES: tuple[Gate, ...] = (
    Gate(
        "azure.workload-fic",
        "azure",
        "workload identity trusts its ServiceAccount (issuer, subject namespace)",
        check_fic,
    ),
    Gate(
        "azure.workload-role", "azure", "workload identity may read each mounted object (least role, scope)", check_role
    ),
    Gate("azure.workload-object", "azure", "each mounted secret or key exists and is enabled", check_object),
)
WORKLOAD_CLUSTER_GATES: tuple[Gate, ...] = (
    Gate(
        "cluster.workload",
        "cluster",
        "workload ServiceAccount annotated, pod template labelled, pods injected",
        check_live,
    ),
)

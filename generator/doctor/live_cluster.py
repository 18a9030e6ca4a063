"""Live cluster gates, read-only through ``kubectl``: the cluster's OIDC issuer, the workload identity
webhook, kustomize-controller's ServiceAccount and pods, the feature gate, the tenant ServiceAccounts.

The gates look at the cluster the kube context points at: ``--cluster`` names it, otherwise the one
cluster of the config, otherwise the config cluster whose ``oidcIssuer`` the context's issuer is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from generator import az_hints
from generator.config.model import Cluster, Config
from generator.doctor.context import Context
from generator.doctor.declared import client_id_of
from generator.doctor.model import BROKEN, OK, SKIPPED, Finding, Gate, Skip, cluster_finding
from generator.doctor.readers import KubeReader
from generator.doctor.repo import CLIENT_ID, TENANT_ID, WI_LABEL
from generator.doctor.static import feature_gate_on, needs_feature_gate
from generator.flux.versions import FEATURE_GATE_ARG

__all__ = ["CLUSTER_GATES", "WEBHOOK", "kube_reader", "live_cluster", "restart_command"]

WEBHOOK = "azure-wi-webhook-mutating-webhook-configuration"
WEBHOOK_DEPLOYMENT = "azure-wi-webhook-controller-manager"
CONTROLLER = "kustomize-controller"
ENV_NEEDED = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST")


def _finding(
    gate: str, cluster: Cluster | None, subject: str, status: str, reason: str, fix: str = "", **detail: object
) -> Finding:
    return cluster_finding(gate, cluster.name if cluster is not None else "", subject, status, reason, fix, **detail)


def kube_reader(ctx: Context) -> KubeReader:
    if ctx.kube is None:
        raise Skip(ctx.kube_skip or "no cluster access")
    return ctx.kube


def live_cluster(ctx: Context) -> Cluster:
    if ctx.live_cluster is None:
        raise Skip("the kube context's cluster is not identified (gate cluster.issuer)")
    return ctx.live_cluster


def restart_command(namespace: str) -> str:
    return f"kubectl -n {namespace} rollout restart deployment/{CONTROLLER}"


def _reconcile(config: Config) -> str:
    ns = config.flux.namespace
    return f"flux reconcile kustomization {config.sync_name} -n {ns} --with-source"


def _aks(config: Config, cluster: Cluster) -> tuple[str, str]:
    """(resource group, AKS name) for the fix commands, from the config's ``aks`` reference when it has one."""
    if cluster.aks is None:
        return config.azure.resource_group or "<resource group>", "<aks-name>"
    return cluster.aks.resource_group or config.azure.resource_group or "<resource group>", cluster.aks.name


# -- cluster.issuer ------------------------------------------------------------------------------------------
def check_issuer(ctx: Context) -> Iterator[Finding]:
    config = ctx.cfg()
    kube = kube_reader(ctx)
    issuer = ctx.read("kube-issuer", kube.discovery_issuer)
    chosen = _choose(ctx, config, issuer)
    if chosen is None:
        known = ", ".join(f"{c.name} {c.oidc_issuer}" for c in config.clusters)
        yield _finding(
            "cluster.issuer",
            None,
            f"context {kube.label}",
            BROKEN,
            f"the cluster's OIDC issuer {issuer!r} is no cluster's oidcIssuer in the config ({known})",
            "name the cluster with --cluster, or point --context at a cluster of the config",
        )
        return
    ctx.live_cluster = chosen
    index = config.clusters.index(chosen)
    if issuer == chosen.oidc_issuer:
        yield _finding(
            "cluster.issuer", chosen, f"context {kube.label}", OK, f"issuer {issuer} = the config's", issuer=issuer
        )
        return
    slash = (
        " (only the trailing '/' differs: it matters)" if issuer.rstrip("/") == chosen.oidc_issuer.rstrip("/") else ""
    )
    group, name = _aks(config, chosen)
    yield _finding(
        "cluster.issuer",
        chosen,
        f"context {kube.label}",
        BROKEN,
        f"the cluster's OIDC issuer is {issuer!r}, the config says {chosen.oidc_issuer!r}{slash}",
        f"set clusters[{index}].oidcIssuer: {issuer} in fluxforge.yaml (as {az_hints.aks_issuer_url(group, name)} "
        "prints it), then fluxforge render and update the federated credentials (fluxforge azure apply)",
        issuer=issuer,
    )


def _choose(ctx: Context, config: Config, issuer: str) -> Cluster | None:
    if ctx.cluster_name is not None:
        return config.cluster(ctx.cluster_name)
    if len(config.clusters) == 1:
        return config.clusters[0]
    return next((c for c in config.clusters if c.oidc_issuer == issuer), None) or next(
        (c for c in config.clusters if c.oidc_issuer.rstrip("/") == issuer.rstrip("/")), None
    )


# -- cluster.webhook -----------------------------------------------------------------------------------------
def _wi_cluster(ctx: Context) -> Cluster:
    cluster = live_cluster(ctx)
    if not cluster.sops.key_vault:
        raise Skip(f"cluster {cluster.name} is age only: no workload identity")
    return cluster


def check_webhook(ctx: Context) -> Iterator[Finding]:
    cluster = _wi_cluster(ctx)
    kube = kube_reader(ctx)
    group, name = _aks(ctx.cfg(), cluster)
    fix = az_hints.aks_enable_workload_identity(group, name)
    config = ctx.read(("get", "mwc", WEBHOOK), lambda: kube.get("mutatingwebhookconfiguration", WEBHOOK))
    if config is None:
        yield _finding(
            "cluster.webhook",
            cluster,
            "workload identity webhook",
            BROKEN,
            f"MutatingWebhookConfiguration {WEBHOOK} is missing: no pod gets AZURE_* or the token",
            fix,
        )
        return
    deploy = ctx.read(
        ("get", "deploy", "kube-system", WEBHOOK_DEPLOYMENT),
        lambda: kube.get("deployment", WEBHOOK_DEPLOYMENT, "kube-system"),
    )
    ready = int(((deploy or {}).get("status") or {}).get("readyReplicas") or 0)
    if deploy is not None and ready == 0:
        yield _finding(
            "cluster.webhook",
            cluster,
            "workload identity webhook",
            BROKEN,
            f"kube-system/{WEBHOOK_DEPLOYMENT} has no ready replica: pods cannot be admitted",
            f"kubectl -n kube-system rollout status deployment/{WEBHOOK_DEPLOYMENT}; if it stays down: {fix}",
        )
        return
    running = f", {ready} replica(s) ready" if deploy is not None else ""
    yield _finding("cluster.webhook", cluster, "workload identity webhook", OK, f"{WEBHOOK} present{running}")


# -- cluster.sa ------------------------------------------------------------------------------------------------
def _annotations(obj: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (((obj or {}).get("metadata") or {}).get("annotations") or {}).items()}


def _labels(obj: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (((obj or {}).get("metadata") or {}).get("labels") or {}).items()}


def _sa_problems(sa: Mapping[str, Any], client_id: str, tenant_id: str, *, tenant_required: bool) -> list[str]:
    notes = _annotations(sa)
    problems = []
    if notes.get(CLIENT_ID) != client_id:
        problems.append(f"annotation {CLIENT_ID} is {notes.get(CLIENT_ID) or 'missing'} (config: {client_id})")
    if notes.get(TENANT_ID, "" if tenant_required else tenant_id) != tenant_id:
        problems.append(f"annotation {TENANT_ID} is {notes.get(TENANT_ID) or 'missing'} (config: {tenant_id})")
    wrong = [k for k in _labels(sa) if k in (CLIENT_ID, TENANT_ID)]
    problems += [f"{k} is a label here; it must be an annotation" for k in wrong]
    return problems


def _annotate(namespace: str, sa: str, client_id: str, tenant_id: str, obj: Mapping[str, Any] | None = None) -> str:
    """The kubectl commands that put the annotations on (and take a client-id/tenant-id *label* off)."""
    annotate = (
        f"kubectl -n {namespace} annotate serviceaccount {sa} --overwrite {CLIENT_ID}={client_id} "
        f"{TENANT_ID}={tenant_id}"
    )
    wrong = [k for k in _labels(obj) if k in (CLIENT_ID, TENANT_ID)]
    if not wrong:
        return annotate
    return f"kubectl -n {namespace} label serviceaccount {sa} {' '.join(k + '-' for k in wrong)} && {annotate}"


def check_sa(ctx: Context) -> Iterator[Finding]:
    cluster = _wi_cluster(ctx)
    config = ctx.cfg()
    kube = kube_reader(ctx)
    ns = config.flux.namespace
    sa = ctx.read(("get", "sa", ns, CONTROLLER), lambda: kube.get("serviceaccount", CONTROLLER, ns))
    subject = f"ServiceAccount {ns}/{CONTROLLER}"
    if sa is None:
        yield _finding(
            "cluster.sa",
            cluster,
            subject,
            BROKEN,
            "it does not exist: Flux is not installed in this namespace",
            f"flux bootstrap (or {_reconcile(config)})",
        )
        return
    client = client_id_of(cluster.identity)
    problems = _sa_problems(sa, client, config.tenant_id, tenant_required=False)
    if problems:
        yield _finding(
            "cluster.sa",
            cluster,
            subject,
            BROKEN,
            "; ".join(problems),
            f"{_reconcile(config)} (the rendered patch sets them), or now: "
            f"{_annotate(ns, CONTROLLER, client, config.tenant_id, sa)} && {restart_command(ns)}",
            problems=problems,
        )
        return
    yield _finding("cluster.sa", cluster, subject, OK, f"annotated with client ID {client}")


# -- cluster.pod ---------------------------------------------------------------------------------------------
def _time(text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


def annotated_at(sa: Mapping[str, Any], key: str = CLIENT_ID) -> dt.datetime | None:
    """When ``key`` was last written on the object (its managedFields entries that own the annotation)."""
    times = []
    for entry in (sa.get("metadata") or {}).get("managedFields") or []:
        owned = ((entry.get("fieldsV1") or {}).get("f:metadata") or {}).get("f:annotations") or {}
        if f"f:{key}" in owned and (when := _time(entry.get("time"))) is not None:
            times.append(when)
    return max(times) if times else None


def _manager(pod_spec: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``manager`` container of a pod spec (else its first container; {} when it has none)."""
    containers = pod_spec.get("containers") or []
    return next((c for c in containers if c.get("name") == "manager"), containers[0] if containers else {})


def _env(pod: Mapping[str, Any]) -> dict[str, str]:
    manager = _manager(pod.get("spec") or {})
    return {str(e.get("name")): str(e.get("value", "")) for e in manager.get("env") or [] if isinstance(e, Mapping)}


def _started(pod: Mapping[str, Any]) -> dt.datetime | None:
    return _time((pod.get("status") or {}).get("startTime")) or _time(
        (pod.get("metadata") or {}).get("creationTimestamp")
    )


def _pod_problem(pod: Mapping[str, Any], client_id: str, since: dt.datetime | None) -> str:
    name = (pod.get("metadata") or {}).get("name", "?")
    env = _env(pod)
    missing = [v for v in ENV_NEEDED if v not in env]
    if _labels(pod).get(WI_LABEL) != "true":
        where = " (it is an annotation here; it must be a label)" if WI_LABEL in _annotations(pod) else ""
        return f'pod {name} lacks the label {WI_LABEL}: "true"{where}, so the webhook injected nothing'
    if not missing and env.get("AZURE_CLIENT_ID") == client_id:
        return ""
    what = (
        f"lacks {', '.join(missing)}"
        if missing
        else f"has AZURE_CLIENT_ID {env.get('AZURE_CLIENT_ID')}, the ServiceAccount says {client_id}"
    )
    return _not_injected(name, what, _started(pod), since)


def _not_injected(name: str, what: str, started: dt.datetime | None, since: dt.datetime | None) -> str:
    """Why the pod lacks what the webhook injects: it started before the annotation, or the webhook did not."""
    if started is not None and since is not None and started <= since:
        return (
            f"pod {name} {what}: it started at {started:%Y-%m-%dT%H:%M:%SZ}, before the ServiceAccount was "
            f"annotated ({since:%Y-%m-%dT%H:%M:%SZ}); the webhook injects only when a pod is created"
        )
    return f"pod {name} {what}: the webhook did not inject them when it was created"


def _label_fix(config: Config, ns: str) -> str:
    patch = '{"spec":{"template":{"metadata":{"labels":{"' + WI_LABEL + '":"true"}}}}}'
    return (
        f"{_reconcile(config)} (the rendered patch adds the label), or now: kubectl -n {ns} patch deployment "
        f"{CONTROLLER} --type merge -p '{patch}'"
    )


def check_pod(ctx: Context) -> Iterator[Finding]:
    cluster = _wi_cluster(ctx)
    config = ctx.cfg()
    kube = kube_reader(ctx)
    ns = config.flux.namespace
    deploy = ctx.read(("get", "deploy", ns, CONTROLLER), lambda: kube.get("deployment", CONTROLLER, ns))
    subject = f"{ns}/{CONTROLLER} pods"
    if deploy is None:
        yield _finding(
            "cluster.pod",
            cluster,
            subject,
            BROKEN,
            f"Deployment {ns}/{CONTROLLER} does not exist",
            f"flux bootstrap (or {_reconcile(config)})",
        )
        return
    template = (deploy.get("spec") or {}).get("template") or {}
    if _labels(template).get(WI_LABEL) != "true":
        yield _finding(
            "cluster.pod",
            cluster,
            subject,
            BROKEN,
            f'the Deployment\'s pod template lacks the label {WI_LABEL}: "true"',
            _label_fix(config, ns),
        )
        return
    yield _pods_finding(ctx, cluster, kube, deploy, subject)


def _pods_finding(ctx: Context, cluster: Cluster, kube: KubeReader, deploy: Mapping[str, Any], subject: str) -> Finding:
    ns = ctx.cfg().flux.namespace
    selector, running = _running_pods(ctx, kube, ns, deploy)
    if not running:
        return _finding(
            "cluster.pod",
            cluster,
            subject,
            BROKEN,
            f"no running pod matches {selector}",
            f"kubectl -n {ns} describe deployment {CONTROLLER}",
        )
    sa = ctx.read(("get", "sa", ns, CONTROLLER), lambda: kube.get("serviceaccount", CONTROLLER, ns)) or {}
    client_id = _annotations(sa).get(CLIENT_ID, client_id_of(cluster.identity))
    since = annotated_at(sa)
    problems = [p for p in (_pod_problem(pod, client_id, since) for pod in running) if p]
    if problems:
        return _finding(
            "cluster.pod", cluster, subject, BROKEN, "; ".join(problems), restart_command(ns), problems=problems
        )
    return _finding(
        "cluster.pod",
        cluster,
        subject,
        OK,
        f"{len(running)} pod(s) labelled, with AZURE_CLIENT_ID {client_id} and the projected token",
    )


def _running_pods(
    ctx: Context, kube: KubeReader, ns: str, deploy: Mapping[str, Any]
) -> tuple[str, list[dict[str, Any]]]:
    """The Deployment's label selector (as text) and the running pods it matches."""
    match = ((deploy.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    selector = ",".join(f"{k}={v}" for k, v in sorted(match.items()))
    pods = ctx.read(("list", "pods", ns, selector), lambda: kube.list("pods", ns, selector))
    return selector, [p for p in pods if ((p.get("status") or {}).get("phase")) == "Running"]


# -- cluster.feature-gate ---------------------------------------------------------------------------------
def check_feature_gate(ctx: Context) -> Iterator[Finding]:
    cluster = live_cluster(ctx)
    config = ctx.cfg()
    if not needs_feature_gate(config, cluster):
        yield _finding(
            "cluster.feature-gate",
            cluster,
            "ObjectLevelWorkloadIdentity",
            SKIPPED,
            "no tenant identity and no default decryption ServiceAccount: not needed",
        )
        return
    kube = kube_reader(ctx)
    ns = config.flux.namespace
    deploy = ctx.read(("get", "deploy", ns, CONTROLLER), lambda: kube.get("deployment", CONTROLLER, ns))
    if deploy is None:
        raise Skip(f"Deployment {ns}/{CONTROLLER} does not exist (gate cluster.pod)")
    manager = _manager(((deploy.get("spec") or {}).get("template") or {}).get("spec") or {})
    if feature_gate_on(manager.get("args") or []):
        yield _finding(
            "cluster.feature-gate",
            cluster,
            "ObjectLevelWorkloadIdentity",
            OK,
            f"kustomize-controller runs with {FEATURE_GATE_ARG}",
        )
        return
    op = '[{"op":"add","path":"/spec/template/spec/containers/0/args/-","value":"' + FEATURE_GATE_ARG + '"}]'
    yield _finding(
        "cluster.feature-gate",
        cluster,
        "ObjectLevelWorkloadIdentity",
        BROKEN,
        f"kustomize-controller runs without {FEATURE_GATE_ARG}: Kustomizations with "
        "decryption.serviceAccountName stall (FeatureGateDisabled)",
        f"{_reconcile(config)} (the rendered patch adds it), or now: kubectl -n {ns} patch deployment "
        f"{CONTROLLER} --type json -p '{op}'",
    )


# -- cluster.tenant-sa ---------------------------------------------------------------------------------------
def check_tenant_sa(ctx: Context) -> Iterator[Finding]:
    cluster = live_cluster(ctx)
    config = ctx.cfg()
    if not cluster.tenants:
        yield _finding("cluster.tenant-sa", cluster, "tenant ServiceAccounts", SKIPPED, "no tenant identity")
        return
    kube = kube_reader(ctx)
    for ks in cluster.tenants:
        assert ks.tenant is not None
        ns, name, client = ks.namespace, ks.tenant.service_account, client_id_of(ks.tenant.identity)
        subject = f"ServiceAccount {ns}/{name}"
        sa = ctx.read(("get", "sa", ns, name), lambda n=ns, s=name: kube.get("serviceaccount", s, n))  # type: ignore[misc]
        if sa is None:
            yield _finding(
                "cluster.tenant-sa",
                cluster,
                subject,
                BROKEN,
                f"it does not exist: Kustomization {ks.namespace}/{ks.name} cannot get a token for it",
                f"{_reconcile(config)} (clusters/{cluster.name} holds it as rendered)",
            )
            continue
        problems = _sa_problems(sa, client, config.tenant_id, tenant_required=True)
        if problems:
            yield _finding(
                "cluster.tenant-sa",
                cluster,
                subject,
                BROKEN,
                "; ".join(problems),
                f"{_reconcile(config)}, or now: {_annotate(ns, name, client, config.tenant_id, sa)}",
                problems=problems,
            )
        else:
            yield _finding(
                "cluster.tenant-sa", cluster, subject, OK, f"annotated with client ID {client} and the tenant"
            )


CLUSTER_GATES: tuple[Gate, ...] = (
    Gate("cluster.issuer", "cluster", "cluster OIDC issuer equals the config's (exactly)", check_issuer),
    Gate("cluster.webhook", "cluster", "AKS workload identity webhook is installed and running", check_webhook),
    Gate("cluster.sa", "cluster", "kustomize-controller ServiceAccount annotations as rendered", check_sa),
    Gate(
        "cluster.pod",
        "cluster",
        "kustomize-controller pods: label, injected AZURE_* env, started after the annotation",
        check_pod,
    ),
    Gate(
        "cluster.feature-gate",
        "cluster",
        "ObjectLevelWorkloadIdentity feature gate where tenants decrypt",
        check_feature_gate,
    ),
    Gate("cluster.tenant-sa", "cluster", "tenant ServiceAccounts exist with client-id and tenant-id", check_tenant_sa),
)

"""Applications reading Key Vault objects with workload identity (Secrets Store CSI driver, Azure provider).

For each ``clusters[].workloads[]`` entry, a kustomize Component in ``<path>/workload-identity/<name>/``:

* ``service-account.yaml``: the ServiceAccount with the ``client-id`` and ``tenant-id`` annotations (the label
  belongs on the pod template, not here);
* ``secret-provider-class.yaml``: ``secrets-store.csi.x-k8s.io/v1`` with provider ``azure``, ``usePodIdentity:
  "false"``, ``clientID``, ``keyvaultName``, ``tenantID`` (the provider's current spelling; ``tenantId`` is
  deprecated), ``objects`` as the provider's YAML-in-a-string array, and ``secretObjects`` for ``syncAs``;
* ``kustomization.yaml`` (``kind: Component``): both files, a strategic-merge patch of the Deployment
  (StatefulSet, DaemonSet) found by kind and name that adds the pod label, ``serviceAccountName``, the CSI
  volume and a read-only mount in each named container;
* ``check/kustomization.yaml``, a Component the one above includes (so it runs before the patch): replacements
  that copy each container's name from the workload, so a wrong name fails ``kustomize build`` instead of
  patching nothing (or adding a container without image).

:func:`workload_files` is pure (the strict Jinja environment); :func:`workload_notes` reads the folder's
``kustomization.yaml`` to say when the Component is not referenced yet (render does not edit the user's file).
The Azure side (federated credentials, role assignments) is :mod:`generator.azure.desired`; the gates doctor
walks are :func:`workload_gates`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from generator.config.model import Cluster, Config, VaultObject, Workload
from generator.flux.federation import FederatedCredential, federated_credentials
from generator.flux.versions import ANNOTATION_CLIENT_ID, LABEL_USE

__all__ = [
    "CONTAINERS_ANNOTATION",
    "CSI_DRIVER",
    "POD_LABEL",
    "VOLUME",
    "SyncedSecret",
    "WorkloadGate",
    "built_workload_problems",
    "create_hint",
    "enable_hint",
    "grants",
    "object_role",
    "pod_template_problems",
    "synced_secrets",
    "workload_files",
    "workload_gates",
    "workload_notes",
]

CSI_DRIVER: Final = "secrets-store.csi.k8s.io"
POD_LABEL: Final = LABEL_USE
VOLUME: Final = "fluxforge-secrets-store"
"""The CSI volume's name in the pod (distinct enough not to merge into a volume the user already has)."""
CONTAINERS_ANNOTATION: Final = "fluxforge.io/containers"
"""On the SecretProviderClass: the containers that mount it; the Component's replacements rewrite each entry
from the workload object, so a missing workload or container fails the build."""

_MAX_KUSTOMIZATION: Final = 1 << 20

SECRETS_USER: Final = "Key Vault Secrets User"
READER: Final = "Key Vault Reader"


@dataclass(frozen=True)
class SyncedSecret:
    """One ``secretObjects`` entry: a Kubernetes Secret fed from mounted files."""

    name: str
    type: str
    data: tuple[tuple[str, str], ...]
    """(objectName = the mounted file, key in the Secret)."""


def synced_secrets(workload: Workload) -> list[SyncedSecret]:
    """The Secrets ``syncAs`` asks for, in first-mention order, each with its keys in config order."""
    order: dict[str, list[VaultObject]] = {}
    for obj in workload.objects:
        if obj.sync_secret and obj.sync_key:
            order.setdefault(obj.sync_secret, []).append(obj)
    return [
        SyncedSecret(name, objs[0].sync_type, tuple((o.file_name, str(o.sync_key)) for o in objs))
        for name, objs in order.items()
    ]


def object_role(obj: VaultObject) -> tuple[str, str]:
    """(built-in role, scope kind) an object needs: a secret's value needs Key Vault Secrets User on the secret;
    a key's public part (GetKey: keys/read) Key Vault Reader on the key; a certificate (GetCertificate:
    certificates/read) Key Vault Reader on the vault, as ARM has no certificate resource to scope a role to."""
    if obj.type == "secret":
        return SECRETS_USER, "secrets"
    if obj.type == "key":
        return READER, "keys"
    return READER, "vault"


def grants(workload: Workload) -> list[str]:
    """Human lines: which role on which object (as ``fluxforge azure bicep/apply`` assign them)."""
    found: dict[tuple[str, str], list[str]] = {}
    for obj in workload.objects:
        role, scope = object_role(obj)
        found.setdefault((role, scope), []).append(obj.name)
    vault = workload.key_vault.name
    lines = []
    for (role, scope), names in found.items():
        where = (
            f"on vault {vault}" if scope == "vault" else f"on {scope[:-1]} " + ", ".join(f"{vault}/{n}" for n in names)
        )
        lines.append(f"{role} {where} (fluxforge azure bicep / apply assign it)")
    return lines


def _credential(config: Config, cluster: Cluster, workload: Workload) -> FederatedCredential:
    for cred in federated_credentials(config, cluster):
        if (cred.namespace, cred.service_account) == (workload.namespace, workload.service_account):
            return cred
    raise KeyError(workload.service_account)  # federated_credentials lists every workload's ServiceAccount


def workload_files(
    config: Config, cluster: Cluster, render: Callable[..., bytes], base: dict[str, Any]
) -> dict[str, bytes]:
    """The Component files of every workload of ``cluster``, keyed by path from the repository root."""
    files: dict[str, bytes] = {}
    for workload in cluster.workloads:
        context = {
            **base,
            "config": config,
            "cluster": cluster,
            "w": workload,
            "credential": _credential(config, cluster, workload),
            "grants": grants(workload),
            "synced": synced_secrets(workload),
            "volume": VOLUME,
            "containers_annotation": CONTAINERS_ANNOTATION,
        }
        folder = workload.component_dir
        files[f"{folder}/kustomization.yaml"] = render("workloads/kustomization.yaml.j2", **context)
        files[f"{folder}/check/kustomization.yaml"] = render("workloads/check.yaml.j2", **context)
        files[f"{folder}/service-account.yaml"] = render("workloads/service-account.yaml.j2", **context)
        files[f"{folder}/secret-provider-class.yaml"] = render("workloads/secret-provider-class.yaml.j2", **context)
    return files


@dataclass(frozen=True)
class WorkloadGate:
    """One gate of the application chain, as data for ``fluxforge doctor`` (and the docs)."""

    cluster: str
    workload: str
    gate: str
    """``pod-label``, ``sa-annotation``, ``fic-subject``, ``role`` or ``object``."""
    expect: str
    fix: str


def workload_gates(config: Config) -> list[WorkloadGate]:
    """Every gate each workload's chain needs, in chain order: the pod-template label, the ServiceAccount's
    client-id annotation, the federated credential (issuer, subject namespace), the role per object and the
    object itself (exists, enabled)."""
    gates: list[WorkloadGate] = []
    for cluster in config.clusters:
        for w in cluster.workloads:
            ident = w.identity.name or w.identity.client_id or "?"
            cred = _credential(config, cluster, w)
            gates += [
                WorkloadGate(
                    cluster.name,
                    w.name,
                    "pod-label",
                    f'{w.kind} {w.namespace}/{w.name}: pod template label {POD_LABEL}: "true"',
                    f"add {w.component_ref} to {w.path}/kustomization.yaml components",
                ),
                WorkloadGate(
                    cluster.name,
                    w.name,
                    "sa-annotation",
                    f"ServiceAccount {w.namespace}/{w.service_account}: {ANNOTATION_CLIENT_ID} {w.identity.client_id}",
                    "fluxforge render",
                ),
                WorkloadGate(
                    cluster.name,
                    w.name,
                    "fic-subject",
                    f"identity {ident}: federated credential issuer {cred.issuer} subject {cred.subject}",
                    cred.az_create(),
                ),
            ]
            for obj in w.objects:
                role, scope = object_role(obj)
                target = (
                    f"vault {w.key_vault.name}" if scope == "vault" else f"{scope[:-1]} {w.key_vault.name}/{obj.name}"
                )
                gates.append(
                    WorkloadGate(
                        cluster.name, w.name, "role", f"identity {ident}: {role} on {target}", "fluxforge azure apply"
                    )
                )
                gates.append(
                    WorkloadGate(
                        cluster.name,
                        w.name,
                        "object",
                        f"{obj.type} {w.key_vault.name}/{obj.name} exists and is enabled",
                        _set_hint(w, obj),
                    )
                )
    return gates


def _find(docs: list[Any], kind: str, name: str) -> list[Any]:
    return [
        d
        for d in docs
        if isinstance(d, dict)
        and d.get("kind") == kind
        and isinstance(d.get("metadata"), dict)
        and d["metadata"].get("name") == name
    ]


def pod_template_problems(workload: Workload, pod: dict[str, Any], where: str) -> list[str]:
    """The pod template (built, or live in the cluster) carries the label, runs as the workload's ServiceAccount and
    mounts the CSI volume of its SecretProviderClass in each named container."""
    spec = pod.get("spec") or {}
    volumes = _secrets_volumes(workload, spec)
    found = [*_label_problem(pod, where), *_account_problem(workload, spec, where)]
    if not volumes:
        found.append(f"{where}: no {CSI_DRIVER} volume with secretProviderClass {workload.name!r}")
    return found + _mount_problems(workload, spec, {v.get("name") for v in volumes}, where)


def _label_problem(pod: dict[str, Any], where: str) -> list[str]:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    if labels.get(POD_LABEL) == "true":
        return []
    return [
        (
            f'{where}: the pod template lacks the label {POD_LABEL}: "true" (the webhook matches pods, '
            "not ServiceAccounts or Deployments)"
        )
    ]


def _account_problem(workload: Workload, spec: dict[str, Any], where: str) -> list[str]:
    if spec.get("serviceAccountName") == workload.service_account:
        return []
    return [
        (
            f"{where}: pods run as ServiceAccount {spec.get('serviceAccountName') or 'default'!r}, not "
            f"{workload.service_account!r} (the federated subject)"
        )
    ]


def _secrets_volumes(workload: Workload, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod's CSI volumes of this driver that name the workload's SecretProviderClass."""

    def ours(volume: Any) -> bool:
        csi = (volume.get("csi") or {}) if isinstance(volume, dict) else {}
        return bool(
            csi.get("driver") == CSI_DRIVER
            and (csi.get("volumeAttributes") or {}).get("secretProviderClass") == workload.name
        )

    return [v for v in spec.get("volumes") or [] if ours(v)]


def _mount_problems(workload: Workload, spec: dict[str, Any], names: set[Any], where: str) -> list[str]:
    """Each named container mounts one of the secrets volumes."""
    return [
        f"{where}: container {c.get('name')!r} does not mount the secrets volume"
        for c in spec.get("containers") or []
        if c.get("name") in workload.containers and not any(m.get("name") in names for m in c.get("volumeMounts") or [])
    ]


def built_workload_problems(workload: Workload, docs: list[Any], tenant_id: str) -> list[str]:
    """The cluster-side gates of a workload, checked on what ``kustomize build <path>`` yields (``docs``: the
    built objects as plain data): the workload's pod template carries the label, runs as the ServiceAccount and
    mounts the CSI volume of its SecretProviderClass; the ServiceAccount sits in the workload's namespace with
    the client-id annotation (and no leftover label); the SecretProviderClass uses workload identity. Empty when
    every gate holds; each problem names the gate."""
    where = f"{workload.kind} {workload.namespace}/{workload.name}"
    objects = _find(docs, workload.kind, workload.name)
    if not objects:
        return [f"{where}: not in the build of {workload.path} (is {workload.component_ref} listed under components?)"]
    pod = ((objects[0].get("spec") or {}).get("template")) or {}
    return [
        *_namespace_problem(workload, objects[0], where),
        *pod_template_problems(workload, pod, where),
        *_built_account_problems(workload, docs),
        *(
            line
            for spc in _find(docs, "SecretProviderClass", workload.name)
            for line in _class_problems(workload, spc, tenant_id)
        ),
    ]


def _namespace_problem(workload: Workload, obj: dict[str, Any], where: str) -> list[str]:
    namespace = obj["metadata"].get("namespace")
    if not namespace or namespace == workload.namespace:
        return []
    return [
        (
            f"{where}: the build puts it in namespace {namespace!r}; its pods' token then carries subject "
            f"system:serviceaccount:{namespace}:{workload.service_account}, which no credential federates"
        )
    ]


def _built_account_problems(workload: Workload, docs: list[Any]) -> list[str]:
    """The workload's ServiceAccount is in the build, in its namespace, with the client-id annotation."""
    name = f"ServiceAccount {workload.namespace}/{workload.service_account}"
    accounts = [
        a
        for a in _find(docs, "ServiceAccount", workload.service_account)
        if (a["metadata"].get("namespace") or workload.namespace) == workload.namespace
    ]
    if not accounts:
        return [
            (
                f"{name}: not in the build (a kustomization namespace: would move it out of the federated "
                "subject's namespace)"
            )
        ]
    annotations = accounts[0]["metadata"].get("annotations") or {}
    if annotations.get(ANNOTATION_CLIENT_ID) != workload.identity.client_id:
        return [f"{name}: annotation {ANNOTATION_CLIENT_ID} is not {workload.identity.client_id}"]
    return []


def _class_problems(workload: Workload, spc: dict[str, Any], tenant_id: str) -> list[str]:
    """A SecretProviderClass of the workload uses workload identity with the workload's client and tenant."""
    name = f"SecretProviderClass {workload.namespace}/{workload.name}"
    params = (spc.get("spec") or {}).get("parameters") or {}
    found = []
    pod_identity = str(params.get("usePodIdentity", "false")).lower() == "true"
    if pod_identity or params.get("clientID") != workload.identity.client_id:
        found.append(
            f"{name}: not workload identity (usePodIdentity {params.get('usePodIdentity')!r}, "
            f"clientID {params.get('clientID')!r})"
        )
    if params.get("tenantID") != tenant_id:
        found.append(f"{name}: tenantID is not {tenant_id}")
    return found


def create_hint(obj_type: str, vault: str, name: str) -> str:
    """The ``az`` command that creates a mounted object (``secret``, ``key`` or ``cert``): fluxforge never
    writes a value into Key Vault."""
    if obj_type == "secret":
        return f"az keyvault secret set --vault-name {vault} -n {name} --file FILE"
    if obj_type == "key":
        return f"az keyvault key create --vault-name {vault} -n {name}"
    return f"az keyvault certificate import --vault-name {vault} -n {name} --file FILE"


def enable_hint(obj_type: str, vault: str, name: str) -> str:
    """The ``az`` command that enables a disabled secret or key."""
    if obj_type == "secret":
        return f"az keyvault secret set-attributes --vault-name {vault} -n {name} --enabled true"
    return f"az keyvault key set-attributes --vault-name {vault} -n {name} --enabled true"


def _set_hint(workload: Workload, obj: VaultObject) -> str:
    return create_hint(obj.type, workload.key_vault.name, obj.name)


def _component_refs(text: str) -> tuple[list[str], str | None] | None:
    """``components`` entries and ``namespace`` of a kustomization.yaml (None: not a mapping / unreadable)."""
    from ruamel.yaml.error import YAMLError

    from generator.yamlio import load_plain

    try:
        data = load_plain(text)
    except (YAMLError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    components = data.get("components")
    refs = [str(c).strip().removeprefix("./").rstrip("/") for c in components] if isinstance(components, list) else []
    namespace = data.get("namespace")
    return refs, namespace if isinstance(namespace, str) else None


def workload_notes(config: Config, root: Path) -> list[str]:
    """What the user must do by hand in their own ``kustomization.yaml`` (render never edits it): reference the
    Component, and not set another ``namespace`` on the folder (the ServiceAccount would move out of the
    federated subject's namespace)."""
    from generator.errors import FluxforgeError
    from generator.fsio import read_optional

    notes: list[str] = []
    for cluster in config.clusters:
        for w in cluster.workloads:
            file = root / w.path / "kustomization.yaml"
            add = f"components: [{w.component_ref}]"
            if file.exists() and not file.is_file():
                continue  # a folder or a FIFO there: never opened (kustomize reports it)
            try:
                data = read_optional(
                    file, writer="kustomize reads", below="kustomize reads files below it", limit=_MAX_KUSTOMIZATION
                )
            except FluxforgeError:
                continue
            if data is None:
                notes.append(
                    f"workload {w.name} (cluster {cluster.name}): {w.path}/kustomization.yaml does not exist; "
                    f"create it with its resources and `{add}` (Flux's generated kustomization cannot use a "
                    "Component)"
                )
                continue
            found = _component_refs(data.decode("utf-8", errors="replace"))
            if found is None:
                continue
            refs, namespace = found
            if w.component_ref not in refs:
                notes.append(
                    f"workload {w.name} (cluster {cluster.name}): add `{add}` to {w.path}/kustomization.yaml, "
                    "or the pods get no label, ServiceAccount or secrets volume"
                )
            if namespace and namespace != w.namespace:
                notes.append(
                    f"workload {w.name} (cluster {cluster.name}): {w.path}/kustomization.yaml sets namespace "
                    f"{namespace!r}, which moves the ServiceAccount out of {w.namespace!r} (the federated "
                    f"subject's namespace); set workloads[].namespace: {namespace} or change the file"
                )
    return notes

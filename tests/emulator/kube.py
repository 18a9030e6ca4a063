"""A small Kubernetes API server for one emulated AKS cluster, spoken to by the real ``kubectl``.

Served over the emulator's HTTPS front (host ``<cluster>-dns-<hash>.hcp.<location>.azmk8s.io``, or
``https://127.0.0.1:<port>/k8s/<cluster>`` in loopback mode), with a bearer token from the kubeconfig:

* legacy discovery (``/api``, ``/apis``, ``/api/v1``, ``/apis/<group>/<version>``), ``/version``, and an
  OpenAPI v3 index that names no group versions (kubectl then validates client-side with what it knows);
* namespaces, ServiceAccounts, Pods, ConfigMaps, Secrets, Deployments, RBAC, MutatingWebhookConfigurations,
  CRDs and the Flux (``kustomize.toolkit.fluxcd.io/v1`` Kustomization, ``source.toolkit.fluxcd.io/v1``
  GitRepository) and CSI (SecretProviderClass) custom resources with their ``status`` subresource;
  create, get/list (server-side ``Table`` for ``kubectl get``), replace, the three patch types kubectl sends
  (so ``kubectl apply`` works, client- and server-side), delete; ``managedFields`` with timestamps;
* ``TokenRequest`` (``kubectl create token SA --audience ...``) signed by the cluster's OIDC issuer key, the
  token Entra exchanges; ``/.well-known/openid-configuration`` and ``/openid/v1/jwks`` as the API server
  serves them;
* the controllers a doctor looks at: a namespace gets its ``default`` ServiceAccount, a Deployment runs
  pods from its template (a template change rolls them), and the AKS workload-identity webhook (present
  while its MutatingWebhookConfiguration exists) injects ``AZURE_*`` env and the projected token into pods
  labelled ``azure.workload.identity/use: "true"`` *when they are created*, from their ServiceAccount's
  annotations — so a pod started before the annotation keeps running without them, as on AKS.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import itertools
import json
import threading
import time
import uuid
from typing import Any

from . import kube_types as kt
from .oidc import WI_AUDIENCE, ClusterIssuer
from .wire import Request, Response

WEBHOOK_NAME = "azure-wi-webhook-mutating-webhook-configuration"
WI_LABEL = "azure.workload.identity/use"
CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
TENANT_ID_ANNOTATION = "azure.workload.identity/tenant-id"
TOKEN_DIR = "/var/run/secrets/azure/tokens"
TOKEN_PATH = f"{TOKEN_DIR}/azure-identity-token"
KUBE_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4",
    "gitCommit": "emulated",
    "gitTreeState": "clean",
    "buildDate": "2025-04-22T00:00:00Z",
    "goVersion": "go1.23.8",
    "compiler": "gc",
    "platform": "linux/amd64",
}
Key = tuple[str, str, str]  # plural (group-qualified), namespace, name


def now_rfc3339(at: float | None = None) -> str:
    moment = dt.datetime.fromtimestamp(time.time() if at is None else at, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class KubeError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def response(self) -> Response:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return Response(self.code, body, note={"error": self.reason})


def _not_found(t: kt.ResourceType, name: str) -> KubeError:
    qualified = f"{t.plural}.{t.group}" if t.group else t.plural
    return KubeError(
        404, "NotFound", f'{qualified} "{name}" not found', {"name": name, "group": t.group, "kind": t.plural}
    )


def _fields(value: Any) -> Any:
    """A ``fieldsV1`` set for ``value`` (every key path; lists as leaves)."""
    if isinstance(value, dict):
        return {f"f:{k}": _fields(v) for k, v in value.items()}
    return {}


def _proto_string(field: int, value: bytes) -> bytes:
    assert len(value) < 128
    return bytes([field << 3 | 2, len(value)]) + value


# gnostic openapi_v2.Document{swagger: "2.0", info: {title, version}}: a valid document with no definitions
OPENAPI_V2 = _proto_string(1, b"2.0") + _proto_string(2, _proto_string(1, b"Kubernetes") + _proto_string(2, b"v1.32.4"))


_VOLATILE = ("resourceVersion", "managedFields", "generation")


def _same(new: dict[str, Any], current: dict[str, Any]) -> bool:
    def strip(obj: dict[str, Any]) -> dict[str, Any]:
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _VOLATILE}
        return {**{k: v for k, v in obj.items() if k != "metadata"}, "metadata": meta}

    return strip(new) == strip(current)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16].upper()


def _item_path(t: kt.ResourceType) -> str:
    base = f"/apis/{t.group_version}" if t.group else f"/api/{t.version}"
    return f"{base}/namespaces/{{namespace}}/{t.plural}/{{name}}" if t.namespaced else f"{base}/{t.plural}/{{name}}"


def _patch_op(t: kt.ResourceType) -> dict[str, Any]:
    return {
        "operationId": f"patch{t.kind}",
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": {"group": t.group, "version": t.version, "kind": t.kind},
        "parameters": [
            {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
            for name in ("dryRun", "fieldManager", "fieldValidation", "force")
        ],
        "requestBody": {
            "content": {
                media: {"schema": {"type": "object"}}
                for media in (
                    "application/json-patch+json",
                    "application/merge-patch+json",
                    "application/apply-patch+yaml",
                )
            }
        },
        "responses": {"200": {"description": "OK"}},
    }


class KubeCluster:
    """The API server of one cluster. ``issuer`` signs service-account tokens; ``token`` authenticates callers."""

    def __init__(
        self, name: str, issuer: ClusterIssuer, *, host: str, tenant_id: str, workload_identity: bool = True
    ) -> None:
        self.name, self.issuer, self.host, self.tenant_id = name, issuer, host, tenant_id
        self.token = f"kube-{uuid.uuid4().hex}"
        self.server_url = f"https://{host}"  # what listClusterUserCredential hands out
        self.direct_url = ""  # https://127.0.0.1:<port> of this cluster's own listener, once served
        self.objects: dict[Key, dict[str, Any]] = {}
        self.types: list[kt.ResourceType] = list(kt.TYPES)  # + what applied CRDs add
        self._rv = itertools.count(1000)
        self._lock = threading.RLock()
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for t in kt.TYPES:
            if t.crd:
                self.apply(kt.crd_object(t))
        if workload_identity:
            self.install_workload_identity_webhook()

    # -- in-process API (test setup) ------------------------------------------------------------------
    def apply(self, obj: dict[str, Any], manager: str = "emulator") -> dict[str, Any]:
        """Create ``obj``, or replace its spec/metadata (status kept); runs the controllers like a write would."""
        t = self._type_of(obj)
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace", "default") if t.namespaced else ""
        with self._lock:
            current = self.objects.get(self._key(t, ns, meta.get("name", "")))
            if current is None:
                return self._create(t, ns, copy.deepcopy(obj), manager, "Update")
            merged = copy.deepcopy(obj)
            merged.setdefault("status", current.get("status"))
            return self._store(t, ns, merged, current, manager, "Update")

    def get(self, kind: str, name: str, namespace: str = "", api_version: str = "") -> dict[str, Any] | None:
        t = next((x for x in self.types if x.kind == kind and (not api_version or x.api_version == api_version)), None)
        assert t is not None, f"unknown kind {kind}"
        return self.objects.get(self._key(t, namespace if t.namespaced else "", name))

    def delete(self, kind: str, name: str, namespace: str = "") -> bool:
        t = next(x for x in self.types if x.kind == kind)
        with self._lock:
            return self.objects.pop(self._key(t, namespace if t.namespaced else "", name), None) is not None

    def set_condition(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        type: str = "Ready",
        status: str = "True",
        reason: str = "ReconciliationSucceeded",
        message: str = "",
    ) -> dict[str, Any]:
        """Set a status condition the way a controller would (e.g. a Kustomization failing to decrypt)."""
        obj = self.get(kind, name, namespace)
        assert obj is not None, f"{kind} {namespace}/{name} does not exist"
        with self._lock:
            conditions = [c for c in obj.setdefault("status", {}).get("conditions", []) if c.get("type") != type]
            conditions.append(
                {
                    "type": type,
                    "status": status,
                    "reason": reason,
                    "message": message,
                    "lastTransitionTime": now_rfc3339(),
                    "observedGeneration": obj["metadata"].get("generation", 1),
                }
            )
            obj["status"]["conditions"] = conditions
            obj["status"]["observedGeneration"] = obj["metadata"].get("generation", 1)
            obj["metadata"]["resourceVersion"] = str(next(self._rv))
        return obj

    def install_workload_identity_webhook(self) -> None:
        """What AKS installs with ``--enable-workload-identity``: the webhook Deployment and its configuration."""
        labels = {"azure-workload-identity.io/system": "true"}
        self.apply(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "azure-wi-webhook-controller-manager", "namespace": "kube-system"},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [
                                {
                                    "name": "manager",
                                    "image": "mcr.microsoft.com/oss/azure/workload-identity/webhook:v1.5.1",
                                }
                            ]
                        },
                    },
                },
            }
        )
        self.apply(
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "MutatingWebhookConfiguration",
                "metadata": {"name": WEBHOOK_NAME, "labels": labels},
                "webhooks": [
                    {
                        "name": "mutation.azure-workload-identity.io",
                        "admissionReviewVersions": ["v1"],
                        "sideEffects": "None",
                        "failurePolicy": "Fail",
                        "matchPolicy": "Equivalent",
                        "objectSelector": {"matchLabels": {WI_LABEL: "true"}},
                        "clientConfig": {
                            "service": {
                                "name": "azure-wi-webhook-webhook-service",
                                "namespace": "kube-system",
                                "path": "/mutate-v1-pod",
                            }
                        },
                        "rules": [
                            {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}
                        ],
                    }
                ],
            }
        )

    def kubeconfig(self, ca_pem: bytes, *, user: str = "emulator-admin", server: str | None = None) -> str:
        import base64

        ca = base64.b64encode(ca_pem).decode()
        return (
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": self.name,
                    "preferences": {},
                    "clusters": [
                        {
                            "name": self.name,
                            "cluster": {"server": server or self.server_url, "certificate-authority-data": ca},
                        }
                    ],
                    "users": [{"name": user, "user": {"token": self.token}}],
                    "contexts": [{"name": self.name, "context": {"cluster": self.name, "user": user}}],
                },
                indent=2,
            )
            + "\n"
        )

    # -- storage ---------------------------------------------------------------------------------------
    @staticmethod
    def _key(t: kt.ResourceType, namespace: str, name: str) -> Key:
        return (f"{t.plural}.{t.group}", namespace, name)

    def _type_of(self, obj: dict[str, Any]) -> kt.ResourceType:
        t = kt.by_kind(self.types, str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if t is None:
            raise KubeError(
                400, "BadRequest", f'no matches for kind "{obj.get("kind")}" in version "{obj.get("apiVersion")}"'
            )
        return t

    def _create(
        self, t: kt.ResourceType, ns: str, obj: dict[str, Any], manager: str, operation: str, dry_run: bool = False
    ) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        name = meta.get("name") or (
            meta.get("generateName", "") + uuid.uuid4().hex[:5] if meta.get("generateName") else ""
        )
        if not name:
            raise KubeError(
                422,
                "Invalid",
                f'{t.kind} "" is invalid: metadata.name: Required value: name or generateName is required',
            )
        if t.namespaced and self.objects.get(self._key(kt.by_plural(self.types, "", "namespaces"), "", ns)) is None:
            raise KubeError(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})
        if self._key(t, ns, name) in self.objects:
            qualified = f"{t.plural}.{t.group}" if t.group else t.plural
            raise KubeError(
                409,
                "AlreadyExists",
                f'{qualified} "{name}" already exists',
                {"name": name, "group": t.group, "kind": t.plural},
            )
        obj["apiVersion"], obj["kind"] = t.api_version, t.kind
        meta.update(name=name, uid=str(uuid.uuid4()), creationTimestamp=now_rfc3339())
        if t.namespaced:
            meta["namespace"] = ns
        meta.pop("generateName", None)
        if t.kind == "Pod":
            self._admit_pod(obj)
        return self._store(t, ns, obj, None, manager, operation, dry_run)

    def _store(
        self,
        t: kt.ResourceType,
        ns: str,
        obj: dict[str, Any],
        current: dict[str, Any] | None,
        manager: str,
        operation: str,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        if current is not None:
            given = copy.deepcopy(meta.get("managedFields"))
            for kept in ("uid", "creationTimestamp", "generation", "managedFields"):
                if kept in current["metadata"]:
                    meta[kept] = copy.deepcopy(current["metadata"][kept])
            meta["name"] = current["metadata"]["name"]
            if given is not None:
                meta["managedFields"] = given
            if t.namespaced:
                meta["namespace"] = ns
        obj["apiVersion"], obj["kind"] = t.api_version, t.kind
        if current is not None and _same(obj, current):
            return current  # a no-op write changes nothing: no new resourceVersion, no managedFields time
        if {k: v for k, v in obj.items() if k not in ("metadata", "status")} != (
            {k: v for k, v in (current or {}).items() if k not in ("metadata", "status")}
        ) or current is None:
            meta["generation"] = int(meta.get("generation", 0)) + 1
        meta["resourceVersion"] = str(next(self._rv))
        given = obj["metadata"].get("managedFields")
        if current is None or given is None or given == current["metadata"].get("managedFields"):
            self._manage(meta, obj, manager, operation)  # a request that rewrites managedFields keeps its own
        if dry_run:
            return obj
        self.objects[self._key(t, ns, meta["name"])] = obj
        self._after_write(t, obj, current)
        return obj

    @staticmethod
    def _manage(meta: dict[str, Any], obj: dict[str, Any], manager: str, operation: str) -> None:
        entries = [
            e
            for e in meta.get("managedFields") or []
            if not (e.get("manager") == manager and e.get("operation") == operation)
        ]
        owned = _fields({k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "status")})
        owned.get("f:metadata", {}).pop("f:managedFields", None)
        for auto in ("f:uid", "f:resourceVersion", "f:creationTimestamp", "f:generation", "f:name", "f:namespace"):
            owned.get("f:metadata", {}).pop(auto, None)
        entries.append(
            {
                "manager": manager,
                "operation": operation,
                "apiVersion": obj["apiVersion"],
                "time": now_rfc3339(),
                "fieldsType": "FieldsV1",
                "fieldsV1": owned,
            }
        )
        meta["managedFields"] = entries

    # -- controllers ------------------------------------------------------------------------------------
    def _after_write(self, t: kt.ResourceType, obj: dict[str, Any], current: dict[str, Any] | None) -> None:
        if t.kind == "Namespace" and current is None:
            obj.setdefault("status", {"phase": "Active"})
            sa_key = self._key(kt.by_plural(self.types, "", "serviceaccounts"), obj["metadata"]["name"], "default")
            if sa_key not in self.objects:
                self.apply(
                    {
                        "apiVersion": "v1",
                        "kind": "ServiceAccount",
                        "metadata": {"name": "default", "namespace": obj["metadata"]["name"]},
                    },
                    manager="kube-controller-manager",
                )
        if t.kind == "Deployment":
            self._reconcile_deployment(obj, current)
        if t.kind == "CustomResourceDefinition":
            known = {(x.group, x.version, x.plural) for x in self.types}
            self.types.extend(x for x in kt.from_crd(obj) if (x.group, x.version, x.plural) not in known)

    @staticmethod
    def _template_hash(deploy: dict[str, Any]) -> str:
        template = deploy.get("spec", {}).get("template", {})
        return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]

    def _pods_of(self, deploy: dict[str, Any]) -> list[Key]:
        uid = deploy["metadata"]["uid"]
        return [
            k
            for k, o in self.objects.items()
            if k[0] == "pods." and any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences", []))
        ]

    def _reconcile_deployment(self, deploy: dict[str, Any], current: dict[str, Any] | None) -> None:
        spec = deploy.get("spec", {})
        replicas = int(spec.get("replicas", 1))
        unchanged = (
            current is not None
            and self._template_hash(current) == self._template_hash(deploy)
            and (int(current.get("spec", {}).get("replicas", 1)) == replicas)
        )
        if unchanged:
            return
        for key in self._pods_of(deploy):
            self.objects.pop(key, None)
        failures = [f for f in (self._spawn_pod(deploy) for _ in range(replicas)) if f]
        running, stamp = replicas - len(failures), now_rfc3339()
        conditions = [
            {
                "type": "Available",
                "status": "True" if running else "False",
                "reason": "MinimumReplicasAvailable" if running else "MinimumReplicasUnavailable",
                "lastUpdateTime": stamp,
                "lastTransitionTime": stamp,
            }
        ]
        if failures:  # what the ReplicaSet controller reports when it cannot create pods
            conditions.append(
                {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "reason": "FailedCreate",
                    "message": failures[0],
                    "lastUpdateTime": stamp,
                    "lastTransitionTime": stamp,
                }
            )
        deploy["status"] = {
            "observedGeneration": deploy["metadata"]["generation"],
            "replicas": running,
            "updatedReplicas": running,
            "readyReplicas": running,
            "availableReplicas": running,
            "unavailableReplicas": len(failures),
            "conditions": conditions,
        }

    def _spawn_pod(self, deploy: dict[str, Any]) -> str:
        """One pod from the Deployment's template (what its ReplicaSet creates); the refusal, if any."""
        digest = self._template_hash(deploy)[:9]
        template = copy.deepcopy(deploy.get("spec", {}).get("template", {}))
        meta, name = template.get("metadata", {}), deploy["metadata"]["name"]
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{name}-{digest}-{uuid.uuid4().hex[:5]}",
                "namespace": deploy["metadata"]["namespace"],
                "labels": {**meta.get("labels", {}), "pod-template-hash": digest},
                "annotations": dict(meta.get("annotations", {})),
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": f"{name}-{digest}",
                        "uid": deploy["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": template.get("spec", {}),
        }
        pods = kt.by_plural(self.types, "", "pods")
        try:
            self._create(pods, deploy["metadata"]["namespace"], pod, "kube-controller-manager", "Update")
        except KubeError as exc:  # the ReplicaSet controller records it; the Deployment write itself succeeds
            return exc.message
        return ""

    def replace_owned_pod(self, pod: dict[str, Any]) -> None:
        """A deleted pod of a Deployment is replaced by a new one (new start time, webhook applied again)."""
        owners = {r.get("uid") for r in pod["metadata"].get("ownerReferences", [])}
        for (plural, _, _), obj in list(self.objects.items()):
            if plural == "deployments.apps" and obj["metadata"]["uid"] in owners:
                self._spawn_pod(obj)

    def _admit_pod(self, pod: dict[str, Any]) -> None:
        """Defaults, the workload-identity webhook (if configured), then a running status."""
        spec = pod.setdefault("spec", {})
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("nodeName", "aks-nodepool1-00000000-vmss000000")
        ns = pod["metadata"]["namespace"]
        if (
            spec["serviceAccountName"] != "default"
            and self.get("ServiceAccount", spec["serviceAccountName"], ns) is None
        ):
            raise KubeError(
                403,
                "Forbidden",
                f'pods "{pod["metadata"]["name"]}" is forbidden: error looking up service '
                f'account {ns}/{spec["serviceAccountName"]}: serviceaccount "{spec["serviceAccountName"]}" '
                "not found",
            )
        labels = pod["metadata"].get("labels") or {}
        if labels.get(WI_LABEL) == "true" and self.get("MutatingWebhookConfiguration", WEBHOOK_NAME) is not None:
            self._inject_workload_identity(pod)
        started = now_rfc3339()
        pod["status"] = {
            "phase": "Running",
            "startTime": started,
            "podIP": "10.244.0.10",
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": started}
                for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ],
            "containerStatuses": [
                {
                    "name": c.get("name"),
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "image": c.get("image", ""),
                    "state": {"running": {"startedAt": started}},
                }
                for c in spec.get("containers", [])
            ],
        }

    def _inject_workload_identity(self, pod: dict[str, Any]) -> None:
        spec = pod["spec"]
        sa = self.get("ServiceAccount", spec["serviceAccountName"], pod["metadata"]["namespace"]) or {}
        annotations = sa.get("metadata", {}).get("annotations") or {}
        env = [
            {"name": "AZURE_TENANT_ID", "value": annotations.get(TENANT_ID_ANNOTATION, self.tenant_id)},
            {"name": "AZURE_FEDERATED_TOKEN_FILE", "value": TOKEN_PATH},
            {"name": "AZURE_AUTHORITY_HOST", "value": "https://login.microsoftonline.com/"},
        ]
        if annotations.get(CLIENT_ID_ANNOTATION):
            env.insert(0, {"name": "AZURE_CLIENT_ID", "value": annotations[CLIENT_ID_ANNOTATION]})
        for container in spec.get("containers", []):
            names = {e.get("name") for e in container.get("env", [])}
            container.setdefault("env", []).extend(e for e in env if e["name"] not in names)
            container.setdefault("volumeMounts", []).append(
                {"name": "azure-identity-token", "mountPath": TOKEN_DIR, "readOnly": True}
            )
        spec.setdefault("volumes", []).append(
            {
                "name": "azure-identity-token",
                "projected": {
                    "defaultMode": 420,
                    "sources": [
                        {
                            "serviceAccountToken": {
                                "audience": WI_AUDIENCE,
                                "expirationSeconds": 3600,
                                "path": "azure-identity-token",
                            }
                        }
                    ],
                },
            }
        )

    # -- tokens ----------------------------------------------------------------------------------------
    def token_request(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        sa = self.get("ServiceAccount", name, namespace)
        if sa is None:
            raise _not_found(kt.by_plural(self.types, "", "serviceaccounts"), name)
        spec = body.get("spec") or {}
        audiences = list(spec.get("audiences") or [self.issuer.url])
        seconds = int(spec.get("expirationSeconds") or 3600)
        if seconds < 600:
            raise KubeError(
                422,
                "Invalid",
                'TokenRequest.authentication.k8s.io "" is invalid: '
                f"spec.expirationSeconds: Invalid value: {seconds}: may not specify a duration less than "
                "10 minutes",
            )
        token = self.issuer.mint(namespace, name, audience=audiences, ttl=seconds, uid=sa["metadata"]["uid"])
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
            "spec": {"audiences": audiences, "expirationSeconds": seconds, "boundObjectRef": None},
            "status": {"token": token, "expirationTimestamp": now_rfc3339(time.time() + seconds)},
        }

    # -- HTTP ------------------------------------------------------------------------------------------
    def handle(self, req: Request, path: str) -> Response:
        try:
            if req.bearer() != self.token:
                raise KubeError(401, "Unauthorized", "Unauthorized")
            with self._lock:
                return self._route(req, path)
        except KubeError as exc:
            return exc.response()
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            return KubeError(
                400, "BadRequest", f"the emulated API server cannot handle this request: {exc!r}"
            ).response()

    def _route(self, req: Request, path: str) -> Response:
        parts = [p for p in path.split("/") if p]
        if path == "/version":
            return Response(200, KUBE_VERSION)
        if parts[:2] == [".well-known", "openid-configuration"]:
            return Response(200, self.issuer.discovery())
        if parts == ["openid", "v1", "jwks"]:
            return Response(200, self.issuer.jwks())
        if parts[:1] == ["openapi"]:
            return self._openapi(parts[1:])
        if parts == ["api"]:
            return Response(
                200,
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self.host}:443"}],
                },
            )
        if parts == ["apis"]:
            return Response(200, self._group_list())
        if parts[:1] == ["api"] and len(parts) >= 2:
            return self._resources(req, "", parts[1], parts[2:])
        if parts[:1] == ["apis"] and len(parts) >= 3:
            return self._resources(req, parts[1], parts[2], parts[3:])
        if parts[:1] == ["apis"] and len(parts) == 2:
            return Response(200, self._group(parts[1]))
        raise KubeError(404, "NotFound", "the server could not find the requested resource")

    def _openapi(self, rest: list[str]) -> Response:
        """OpenAPI v3: an index of every group version, and per group version the PATCH operations with the
        ``fieldValidation`` parameter (kubectl then leaves validation to the server) and without strategic merge
        (kubectl then computes apply patches from its compiled-in types, or JSON merge patches for CRDs).
        The v2 document (protobuf, what kubectl's client-side validation reads) defines no kinds: kubectl then
        skips client-side validation, and an unknown kind fails where a real cluster fails it (no mapping)."""
        if rest == ["v2"]:
            return Response(200, OPENAPI_V2, content_type="application/octet-stream")
        if rest == ["v3"]:
            return Response(
                200,
                {
                    "paths": {
                        (f"apis/{gv}" if "/" in gv else f"api/{gv}"): {
                            "serverRelativeURL": f"/openapi/v3/{'apis' if '/' in gv else 'api'}/{gv}?hash={_digest(gv)}"
                        }
                        for gv in kt.groups(self.types)
                    }
                },
            )
        gv = (
            "/".join(rest[2:])
            if rest[:2] == ["v3", "apis"]
            else rest[2]
            if rest[:2] == ["v3", "api"] and len(rest) == 3
            else ""
        )
        served = kt.groups(self.types).get(gv)
        if served is None:
            raise KubeError(404, "NotFound", "the server could not find the requested resource")
        return Response(
            200,
            {
                "openapi": "3.0.0",
                "info": {"title": "Kubernetes (emulated)", "version": "v1.32.4"},
                "paths": {_item_path(t): {"patch": _patch_op(t)} for t in served},
                "components": {"schemas": {}},
            },
        )

    def _group(self, group: str) -> dict[str, Any]:
        versions = sorted({t.version for t in self.types if t.group == group})
        if not versions:
            raise KubeError(404, "NotFound", "the server could not find the requested resource")
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": entries,
            "preferredVersion": entries[0],
        }

    def _group_list(self) -> dict[str, Any]:
        names = list(dict.fromkeys(t.group for t in self.types if t.group))
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {"name": g, **{k: v for k, v in self._group(g).items() if k in ("versions", "preferredVersion")}}
                for g in names
            ],
        }

    def _resources(self, req: Request, group: str, version: str, rest: list[str]) -> Response:
        gv = f"{group}/{version}" if group else version
        served = kt.groups(self.types).get(gv)
        if served is None:
            raise KubeError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            if req.method != "GET":
                raise KubeError(
                    405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                )
            return Response(
                200,
                {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": gv,
                    "resources": [e for t in served for e in t.discovery()],
                },
            )
        namespace = ""
        if rest[0] == "namespaces" and len(rest) == 3 and rest[2] in ("status", "finalize"):
            rest = ["namespaces", rest[1], "status"]
        elif rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        t = next((x for x in served if x.plural == rest[0]), None)
        if t is None:
            raise KubeError(404, "NotFound", "the server could not find the requested resource")
        from .kube_http import dispatch

        return dispatch(self, req, t, namespace, rest[1:])

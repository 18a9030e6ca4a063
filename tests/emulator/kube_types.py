"""The Kubernetes resource types the emulated API server knows: discovery entries and ``kubectl get`` columns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
Column = tuple[str, str, Callable[[dict[str, Any]], Any]]  # name, type, cell


def age(obj: dict[str, Any]) -> str:
    """``kubectl``'s short age (``42s``, ``5m``, ``3h``, ``2d``) of the object's creationTimestamp."""
    stamp = obj.get("metadata", {}).get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    seconds = int((dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(stamp)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "d" else 1):
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _condition(obj: dict[str, Any], kind: str, field_name: str) -> str:
    for cond in obj.get("status", {}).get("conditions", []) or []:
        if cond.get("type") == kind:
            return str(cond.get(field_name, ""))
    return "Unknown" if field_name == "status" else ""


def _pod_ready(obj: dict[str, Any]) -> str:
    statuses = obj.get("status", {}).get("containerStatuses") or []
    return f"{sum(1 for s in statuses if s.get('ready'))}/{len(obj.get('spec', {}).get('containers') or [])}"


def _deploy_ready(obj: dict[str, Any]) -> str:
    status = obj.get("status", {})
    return f"{status.get('readyReplicas', 0)}/{obj.get('spec', {}).get('replicas', 1)}"


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()
    crd: bool = False  # served through a CustomResourceDefinition

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    def discovery(self) -> list[dict[str, Any]]:
        entry = {
            "name": self.plural,
            "singularName": self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": VERBS,
            "storageVersionHash": self.kind[:12],
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.crd:
            entry["categories"] = ["all"] if self.group.endswith("fluxcd.io") else []
        entries = [entry]
        for sub in self.subresources:
            if sub == "token":
                entries.append(
                    {
                        "name": f"{self.plural}/token",
                        "singularName": "",
                        "namespaced": True,
                        "group": "authentication.k8s.io",
                        "version": "v1",
                        "kind": "TokenRequest",
                        "verbs": ["create"],
                    }
                )
            else:
                entries.append(
                    {
                        "name": f"{self.plural}/{sub}",
                        "singularName": "",
                        "namespaced": self.namespaced,
                        "kind": self.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
        return entries


AGE: Column = ("Age", "date", age)
TYPES: tuple[ResourceType, ...] = (
    ResourceType(
        "",
        "v1",
        "Namespace",
        "namespaces",
        False,
        ("ns",),
        ("status",),
        (("Status", "string", lambda o: o.get("status", {}).get("phase", "Active")), AGE),
    ),
    ResourceType(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        True,
        ("sa",),
        ("token",),
        (("Secrets", "integer", lambda o: len(o.get("secrets") or [])), AGE),
    ),
    ResourceType(
        "",
        "v1",
        "Pod",
        "pods",
        True,
        ("po",),
        ("status",),
        (
            ("Ready", "string", _pod_ready),
            ("Status", "string", lambda o: o.get("status", {}).get("phase", "")),
            ("Restarts", "string", lambda o: "0"),
            AGE,
        ),
    ),
    ResourceType(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        True,
        ("cm",),
        (),
        (("Data", "string", lambda o: len(o.get("data") or {})), AGE),
    ),
    ResourceType(
        "",
        "v1",
        "Secret",
        "secrets",
        True,
        (),
        (),
        (
            ("Type", "string", lambda o: o.get("type", "Opaque")),
            ("Data", "string", lambda o: len(o.get("data") or {})),
            AGE,
        ),
    ),
    ResourceType(
        "",
        "v1",
        "Service",
        "services",
        True,
        ("svc",),
        ("status",),
        (("Type", "string", lambda o: o.get("spec", {}).get("type", "ClusterIP")), AGE),
    ),
    ResourceType("", "v1", "ResourceQuota", "resourcequotas", True, ("quota",), ("status",), (AGE,)),
    ResourceType("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, ("netpol",), (), (AGE,)),
    ResourceType(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        True,
        ("deploy",),
        ("status", "scale"),
        (
            ("Ready", "string", _deploy_ready),
            ("Up-to-date", "string", lambda o: o.get("status", {}).get("updatedReplicas", 0)),
            ("Available", "string", lambda o: o.get("status", {}).get("availableReplicas", 0)),
            AGE,
        ),
    ),
    ResourceType(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        False,
        (),
        (),
        (("Webhooks", "integer", lambda o: len(o.get("webhooks") or [])), AGE),
    ),
    ResourceType(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
        ("status",),
        (("Created At", "date", lambda o: o["metadata"]["creationTimestamp"]),),
    ),
    ResourceType("rbac.authorization.k8s.io", "v1", "Role", "roles", True, (), (), (AGE,)),
    ResourceType(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        True,
        (),
        (),
        (("Role", "string", lambda o: f"{o.get('roleRef', {}).get('kind')}/{o.get('roleRef', {}).get('name')}"), AGE),
    ),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, (), (), (AGE,)),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False, (), (), (AGE,)),
    ResourceType(
        "kustomize.toolkit.fluxcd.io",
        "v1",
        "Kustomization",
        "kustomizations",
        True,
        ("ks",),
        ("status",),
        (
            AGE,
            ("Ready", "string", lambda o: _condition(o, "Ready", "status")),
            ("Status", "string", lambda o: _condition(o, "Ready", "message")),
        ),
        crd=True,
    ),
    ResourceType(
        "source.toolkit.fluxcd.io",
        "v1",
        "GitRepository",
        "gitrepositories",
        True,
        ("gitrepo",),
        ("status",),
        (
            ("URL", "string", lambda o: o.get("spec", {}).get("url", "")),
            AGE,
            ("Ready", "string", lambda o: _condition(o, "Ready", "status")),
            ("Status", "string", lambda o: _condition(o, "Ready", "message")),
        ),
        crd=True,
    ),
    ResourceType(
        "secrets-store.csi.x-k8s.io",
        "v1",
        "SecretProviderClass",
        "secretproviderclasses",
        True,
        (),
        ("status",),
        (AGE,),
        crd=True,
    ),
)


def by_plural(types: list[ResourceType], group: str, plural: str) -> ResourceType:
    found = next((t for t in types if t.group == group and t.plural == plural), None)
    assert found is not None, f"unknown resource {plural}.{group}"
    return found


def by_kind(types: list[ResourceType], api_version: str, kind: str) -> ResourceType | None:
    return next((t for t in types if t.api_version == api_version and t.kind == kind), None)


def groups(types: list[ResourceType]) -> dict[str, list[ResourceType]]:
    """Types by group version (``v1``, ``apps/v1``, ...), in declaration order."""
    out: dict[str, list[ResourceType]] = {}
    for t in types:
        out.setdefault(t.group_version, []).append(t)
    return out


def from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """The types a CustomResourceDefinition serves (one per served version), as the API server adds them."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    if not (spec.get("group") and names.get("kind") and names.get("plural")):
        return []
    subresources = (
        ("status",)
        if any((v.get("subresources") or {}).get("status") is not None for v in spec.get("versions") or [])
        else ()
    )
    return [
        ResourceType(
            str(spec["group"]),
            str(v["name"]),
            str(names["kind"]),
            str(names["plural"]),
            spec.get("scope", "Namespaced") == "Namespaced",
            tuple(names.get("shortNames") or ()),
            subresources,
            (AGE,),
            crd=True,
        )
        for v in spec.get("versions") or []
        if v.get("served", True) and v.get("name")
    ]


def crd_object(t: ResourceType) -> dict[str, Any]:
    """The CustomResourceDefinition a Flux/CSI install would have created for ``t``."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{t.plural}.{t.group}"},
        "spec": {
            "group": t.group,
            "scope": "Namespaced" if t.namespaced else "Cluster",
            "names": {
                "kind": t.kind,
                "plural": t.plural,
                "singular": t.kind.lower(),
                "shortNames": list(t.short_names),
                "listKind": f"{t.kind}List",
            },
            "versions": [
                {
                    "name": t.version,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                    "subresources": {"status": {}},
                }
            ],
        },
        "status": {
            "conditions": [{"type": "Established", "status": "True"}],
            "acceptedNames": {"kind": t.kind, "plural": t.plural},
            "storedVersions": [t.version],
        },
    }

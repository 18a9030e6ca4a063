"""Schema validation of rendered Kubernetes objects, against schemas fluxforge does not write itself.

* core kinds (Namespace, ServiceAccount, RoleBinding, Deployment...): the Kubernetes OpenAPI schemas that
  ``kubernetes-validate`` ships, strict (an unknown field is an error);
* Flux kinds (Kustomization, GitRepository...): the models ``cloudcoil-models-fluxcd`` generates from
  Flux's CRDs (its newest release for Python 3.11 has the Flux 2.5 APIs): the types and required fields
  of each known field, and any field the model lacks is an error too, except :data:`NEWER_THAN_MODELS`.
"""

from __future__ import annotations

import importlib
from typing import Any

import kubernetes_validate
from pydantic import BaseModel, ValidationError

KUBERNETES = "1.33.0"
"""The Kubernetes minor validated against (AKS supports it)."""

NEWER_THAN_MODELS = {("Kustomization", "spec.decryption.serviceAccountName")}
"""Fields Flux added after 2.5: object-level workload identity (Flux 2.6, kustomize-controller 1.6)."""

_FLUX = {  # kind -> (module under cloudcoil.models.fluxcd, the API group prefix)
    "Kustomization": ("kustomize.v1", "kustomize.toolkit.fluxcd.io/v1"),
    "GitRepository": ("source.v1", "source.toolkit.fluxcd.io/v1"),
    "HelmRelease": ("helm.v2", "helm.toolkit.fluxcd.io/v2"),
}


def _unknown(data: Any, value: Any, path: str) -> list[str]:
    """Keys of ``data`` the validated model ``value`` has no field for (recursively)."""
    if isinstance(value, BaseModel) and isinstance(data, dict):
        fields = {f.alias or name: name for name, f in type(value).model_fields.items()}
        found = []
        for key, item in data.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in fields:
                found.append(where)
            else:
                found += _unknown(item, getattr(value, fields[key]), where)
        return found
    if isinstance(value, list) and isinstance(data, list):
        return [u for i, (d, v) in enumerate(zip(data, value, strict=False)) for u in _unknown(d, v, f"{path}[{i}]")]
    return []


def _flux_problems(obj: dict[str, Any]) -> list[str]:
    module, api = _FLUX[obj["kind"]]
    if obj.get("apiVersion") != api:
        return [f"apiVersion {obj.get('apiVersion')} (the models know {api})"]
    model = getattr(importlib.import_module(f"cloudcoil.models.fluxcd.{module}"), obj["kind"])
    try:
        value = model.model_validate(obj)
    except ValidationError as err:
        return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()]
    return [
        f"{u}: unknown field"
        for u in _unknown(obj, value, "")
        if (obj["kind"], u) not in NEWER_THAN_MODELS and not u.startswith(("metadata.", "status"))
    ]


def schema_problems(obj: dict[str, Any]) -> list[str]:
    """What the schema of ``obj``'s kind refuses in it (empty: valid)."""
    if obj.get("kind") in _FLUX:
        return _flux_problems(obj)
    try:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)
    except kubernetes_validate.ValidationError as err:
        return [f"{'.'.join(map(str, err.path))}: {err.message}"]
    return []

"""Say when a write changes kustomize-controller's workload identity: the pod must be restarted.

The AKS workload identity webhook injects ``AZURE_CLIENT_ID``/``AZURE_TENANT_ID`` only when a pod is
created (Azure/azure-workload-identity#109), and a ServiceAccount annotation does not roll the
Deployment: after a new client ID reaches the cluster the running controller keeps the old one until
it is restarted (Flux docs, integrations/azure: "restart (delete) the controller"). Pure: compares the
old and new text of each sync folder's ``kustomization.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from generator.config.model import Config
from generator.flux.versions import ANNOTATION_CLIENT_ID, ANNOTATION_TENANT_ID
from generator.yamlio import YamlError, load_plain

__all__ = ["controller_identity", "restart_notes"]

_CONTROLLER = "kustomize-controller"


def _targets_controller(patch: dict[str, Any]) -> bool:
    target = patch.get("target")
    return (
        isinstance(target, dict)
        and target.get("kind") == "ServiceAccount"
        and _CONTROLLER in str(target.get("name", ""))
    )


def controller_identity(text: str | None) -> dict[str, str]:
    """The client-id/tenant-id annotations a flux-system ``kustomization.yaml`` patches onto
    kustomize-controller's ServiceAccount (empty when none, or the text does not parse)."""
    if not text:
        return {}
    try:
        data = load_plain(text)
    except YamlError:  # a file that does not parse patches nothing we can read
        return {}
    found: dict[str, str] = {}
    patches = data.get("patches") if isinstance(data, dict) else None
    for patch in patches if isinstance(patches, list) else []:
        if isinstance(patch, dict) and _targets_controller(patch) and isinstance(patch.get("patch"), str):
            found.update(_annotations(patch["patch"]))
    return found


def _annotations(body: str) -> dict[str, str]:
    try:
        doc = load_plain(body)
    except YamlError:  # see above
        return {}
    annotations = ((doc or {}).get("metadata") or {}).get("annotations") if isinstance(doc, dict) else None
    if not isinstance(annotations, dict):
        return {}
    return {k: str(v) for k, v in annotations.items() if k in (ANNOTATION_CLIENT_ID, ANNOTATION_TENANT_ID)}


def restart_notes(config: Config, old: Mapping[str, str | None], new: Mapping[str, str | None]) -> list[str]:
    """One note per cluster whose kustomize-controller client ID (or tenant ID) the write changes."""
    notes: list[str] = []
    for cluster in config.clusters:
        path = f"{config.sync_dir(cluster)}/kustomization.yaml"
        if path not in new:
            continue
        before = controller_identity(old.get(path))
        if not before:  # a new file (or one without the annotations) changes no running identity
            continue
        after = controller_identity(new[path])
        changed = [
            f"{label} {before[key]} -> {after[key]}"
            for key, label in ((ANNOTATION_CLIENT_ID, "client ID"), (ANNOTATION_TENANT_ID, "tenant ID"))
            if before.get(key) and after.get(key) and before[key] != after[key]
        ]
        if changed:
            notes.append(
                f"{cluster.name}: kustomize-controller's identity changes ({', '.join(changed)}): once Flux has "
                f"applied {path}, restart the controller, since the workload identity webhook sets AZURE_CLIENT_ID "
                f"and AZURE_TENANT_ID only when a pod is created: kubectl -n {config.flux.namespace} rollout restart "
                f"deployment/{_CONTROLLER}"
            )
    return notes

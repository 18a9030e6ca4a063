"""Checks of ``flux.install: extension`` (the AKS Flux extension, ``microsoft.flux``) and of
``clusters[].sourceIdentity``, on the parsed data (before the model is built).

The extension installs and runs Flux itself: ``flux-system/kustomization.yaml`` cannot be patched, so
whatever needs a controller flag or a patch cannot be rendered for it. Each refusal names the reason:

* tenants (object-level workload identity) need the ``ObjectLevelWorkloadIdentity`` feature gate on
  kustomize-controller; the extension documents no setting for it (Azure/AKS#5714, open; microsoft.flux
  1.20.4's release note claims support without saying how) and its controllers cannot be patched;
* ``flux.defaultDecryptionServiceAccount`` is a kustomize-controller flag plus that feature gate;
* ``flux.lockdown`` is controller flags added by patches (the extension's own ``multiTenancy.enforce``
  already refuses cross-namespace references);
* the extension enforces multi-tenancy by default (``multiTenancy.enforce``: no cross-namespace references),
  so every Kustomization must live in the Flux namespace, next to the configuration's GitRepository;
* the extension and its ``fluxConfigurations`` are resources of the AKS cluster: ``clusters[].aks`` is needed;
* every controller the extension federates uses its one ``workloadIdentity.azureClientId`` (the cluster
  identity), so a ``sourceIdentity`` must be that identity.

Sources: learn.microsoft.com/azure/azure-arc/kubernetes/conceptual-gitops-flux2 (multiTenancy.enforce,
flux-applier) and tutorial-use-gitops-flux2 ("Workload identity in AKS clusters").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.config.problems import ConfigProblem, KeyPath

__all__ = ["flavour_problems"]

_BOOTSTRAP = "or use flux.install: bootstrap"


def _mappings(items: Any, base: KeyPath) -> Iterator[tuple[KeyPath, dict[str, Any]]]:
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield (*base, index), item


def _flux(data: dict[str, Any]) -> dict[str, Any]:
    flux = data.get("flux")
    return flux if isinstance(flux, dict) else {}


def _same_identity(source: dict[str, Any], identity: Any) -> bool:
    if not isinstance(identity, dict):
        return True  # the schema reports it
    keys = [k for k in ("name", "clientId") if k in source or k in identity]
    return all(str(source.get(k, "")).lower() == str(identity.get(k, "")).lower() for k in keys)


def _kustomization_problems(cpath: KeyPath, cluster: dict[str, Any], flux_ns: str) -> Iterator[ConfigProblem]:
    for kpath, ks in _mappings(cluster.get("kustomizations"), (*cpath, "kustomizations")):
        if "tenant" in ks:
            yield ConfigProblem(
                (*kpath, "tenant"),
                "object-level workload identity is not possible with flux.install: "
                "extension: it needs the ObjectLevelWorkloadIdentity feature gate on kustomize-controller, "
                "which the AKS Flux extension documents no setting for (Azure/AKS#5714) and whose "
                "controllers cannot be patched; remove the tenant (the Kustomization then decrypts as the "
                f"cluster identity), {_BOOTSTRAP}",
            )
        namespace = ks.get("namespace", flux_ns)
        if isinstance(namespace, str) and namespace != flux_ns:
            yield ConfigProblem(
                (*kpath, "namespace"),
                f"{namespace!r}: with flux.install: extension every Kustomization "
                f"lives in {flux_ns!r}: the extension enforces multi-tenancy (multiTenancy.enforce, no "
                "cross-namespace references), so it could not use the configuration's GitRepository; "
                "remove namespace (targetNamespace places its objects)",
            )


def _cluster_problems(cpath: KeyPath, cluster: dict[str, Any], flux_ns: str) -> Iterator[ConfigProblem]:
    if not isinstance(cluster.get("aks"), dict):
        yield ConfigProblem(
            (*cpath, "aks"),
            "missing: with flux.install: extension the Flux extension and its "
            "fluxConfigurations are resources of the AKS cluster; set aks.name (and aks.resourceGroup)",
        )
    source = cluster.get("sourceIdentity")
    if isinstance(source, dict) and not _same_identity(source, cluster.get("identity")):
        yield ConfigProblem(
            (*cpath, "sourceIdentity"),
            "with flux.install: extension every Flux controller runs with the "
            "extension's one workloadIdentity.azureClientId, the cluster identity's; give sourceIdentity "
            f"the name and clientId of identity (it then gets AcrPull too), {_BOOTSTRAP}",
        )
    yield from _kustomization_problems(cpath, cluster, flux_ns)


def flavour_problems(data: dict[str, Any]) -> list[ConfigProblem]:
    """What ``flux.install: extension`` cannot do in ``data`` (empty for the bootstrap flavour)."""
    flux = _flux(data)
    if flux.get("install") != "extension":
        return []
    problems: list[ConfigProblem] = []
    if "defaultDecryptionServiceAccount" in flux:
        problems.append(
            ConfigProblem(
                ("flux", "defaultDecryptionServiceAccount"),
                "not possible with flux.install: "
                "extension: the lockdown is kustomize-controller's --default-decryption-service-account "
                "flag plus the ObjectLevelWorkloadIdentity feature gate, which the AKS Flux extension "
                f"has no documented setting for (Azure/AKS#5714); remove it, {_BOOTSTRAP}",
            )
        )
    if flux.get("lockdown") is True:
        problems.append(
            ConfigProblem(
                ("flux", "lockdown"),
                "not possible with flux.install: extension: the lockdown is "
                "flags and patches on the Flux controllers, which the AKS Flux extension installs and "
                "fluxforge cannot patch; the extension enforces no cross-namespace references itself "
                f"(multiTenancy.enforce); remove it, {_BOOTSTRAP}",
            )
        )
    namespace = flux.get("namespace", "flux-system")
    flux_ns = namespace if isinstance(namespace, str) else "flux-system"
    for cpath, cluster in _mappings(data.get("clusters"), ("clusters",)):
        problems.extend(_cluster_problems(cpath, cluster, flux_ns))
    return problems

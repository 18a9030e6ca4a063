"""Folders ``.sops.yaml`` must cover beyond those the config names: what the decrypting Kustomizations'
builds pull in with kustomize references (a shared ``apps/base`` named by ``apps/staging/kustomization.yaml``
and ``apps/production/kustomization.yaml``).

A Secret there is decrypted by each cluster whose build reads it, so its rule lists the recipients of
all of them; without a rule, ``fluxforge encrypt`` and the hook refuse the file. Reads the repository's
kustomization files (:mod:`generator.flux.kustomize_refs`); the render itself stays pure and gets the result.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from generator.config.model import Cluster, Config
from generator.flux.kustomize_refs import build_inputs

__all__ = ["shared_folders"]


def _decrypting_paths(cluster: Cluster) -> list[str]:
    return [cluster.path, *(ks.path for ks in cluster.kustomizations if ks.decryption)]


def _within(folder: str, parent: str) -> bool:
    return folder == parent or folder.startswith(parent + "/")


def _reached(root: Path, cluster: Cluster) -> set[str]:
    """Folders (and the folders of single files) the cluster's decrypting builds read."""
    found: set[str] = set()
    for path in _decrypting_paths(cluster):
        inputs = build_inputs(root, path)
        found |= inputs.folders | {posixpath.dirname(file) for file in inputs.files}
    found.discard("")  # a rule for the repository root would match every file
    return found


def shared_folders(root: Path, config: Config) -> dict[str, frozenset[str]]:
    """Folder -> the clusters that read it, for every folder a decrypting build reads that no rule
    for one of those clusters covers yet; a folder whose parent is already listed for the same
    clusters is left out (the parent's rule matches it)."""
    covering: dict[str, set[str]] = {}
    for cluster in config.clusters:
        for path in _decrypting_paths(cluster):
            covering.setdefault(path, set()).add(cluster.name)
    readers: dict[str, set[str]] = {}
    for cluster in config.clusters:
        for folder in _reached(root, cluster):
            if not any(_within(folder, path) and cluster.name in names for path, names in covering.items()):
                readers.setdefault(folder, set()).add(cluster.name)
    shared: dict[str, frozenset[str]] = {}
    for folder in sorted(readers, key=lambda f: (f.count("/"), f)):
        names = readers[folder]
        if any(_within(folder, parent) and names <= found for parent, found in shared.items()):
            continue
        shared[folder] = frozenset(names)
    return shared

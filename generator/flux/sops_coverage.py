"""Folders ``.sops.yaml`` must cover beyond those the config names: what the decrypting Kustomizations'
builds pull in with kustomize references (a shared ``apps/base`` named by ``apps/staging/kustomization.yaml``
and ``apps/production/kustomization.yaml``).

A Secret there is decrypted by each cluster (or tenant) whose build reads it, so its rule lists the
recipients of all of them; without a rule, ``fluxforge encrypt`` and the hook refuse the file. Reads the repository's
kustomization files (:mod:`generator.flux.kustomize_refs`); the render itself stays pure and gets the result.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from generator.config.model import Config
from generator.flux.kustomize_refs import BuildInputs, RealPaths, build_inputs
from generator.flux.tenancy import Decryptor, decryptors

__all__ = ["shared_folders"]


def _self_and_parents(folder: str) -> list[str]:
    """``a/b/c`` -> ``a/b/c``, ``a/b``, ``a``: the folders whose rule would match a file in ``folder``."""
    parts = folder.split("/")
    return ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]


def _reached(root: Path, paths: tuple[str, ...], real: RealPaths, builds: dict[str, BuildInputs]) -> set[str]:
    """Folders (and the folders of single files) the builds of ``paths`` read (each built once per pass)."""
    found: set[str] = set()
    for path in paths:
        inputs = builds.get(path)
        if inputs is None:
            inputs = builds[path] = build_inputs(root, path, real)
        found |= inputs.folders | {posixpath.dirname(file) for file in inputs.files}
    found.discard("")  # a rule for the repository root would match every file
    return found


def _uncovered(
    root: Path, readers: list[Decryptor], real: RealPaths, builds: dict[str, BuildInputs]
) -> dict[str, set[str]]:
    """Folder -> the ids of the decryptors whose builds read it and no rule of theirs covers."""
    covering: dict[str, set[str]] = {}
    for reader in readers:
        for path in reader.paths:
            covering.setdefault(path, set()).add(reader.id)
    found: dict[str, set[str]] = {}
    for reader in readers:  # one walk for every build: the resolved folders are shared
        for folder in _reached(root, reader.paths, real, builds):
            # lookups of the folder and its parents, not a scan of every rule: linear in the fleet
            if not any(reader.id in covering.get(path, ()) for path in _self_and_parents(folder)):
                found.setdefault(folder, set()).add(reader.id)
    return found


def shared_folders(
    root: Path, config: Config, real: RealPaths | None = None, builds: dict[str, BuildInputs] | None = None
) -> dict[str, frozenset[str]]:
    """Folder -> the ids of the decryptors (:func:`generator.flux.tenancy.decryptors`: ``staging`` for a
    cluster's platform, ``staging/team-a`` for a tenant) that read it, for every folder a decrypting build
    reads that no rule for one of those decryptors covers yet; a folder whose parent is already listed for
    the same decryptors is left out (the parent's rule matches it). ``real``: the walk's paths (its ``see``
    hears of every path read). ``builds``: folder -> its build, filled in by this pass; a build already there
    is taken as it is (the caller keeps only those that nothing changed since could alter)."""
    walked = builds if builds is not None else {}
    found = _uncovered(root, decryptors(config), real if real is not None else RealPaths(root), walked)
    shared: dict[str, frozenset[str]] = {}
    for folder in sorted(found, key=lambda f: (f.count("/"), f)):
        ids = found[folder]
        if any(ids <= shared.get(parent, frozenset(())) for parent in _self_and_parents(folder)):
            continue
        shared[folder] = frozenset(ids)
    return shared

"""Read the header of ``gotk-components.yaml`` (written by ``flux install --export``, not by us).

``flux`` starts the file with ``# Flux Version: vX.Y.Z`` and ``# Components: a,b,c`` comment lines
(fluxcd/flux2 pkg/manifestgen/install/install.go); we compare them with the config.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from generator.config.model import Config
from generator.flux.versions import FluxVersion, parse_version
from generator.fsio import read_optional

__all__ = ["COMPONENTS_FILE", "GotkHeader", "header_mismatches", "missing_components", "parse_header", "read_header"]

COMPONENTS_FILE = "gotk-components.yaml"
_VERSION = re.compile(r"^#\s*Flux Version:\s*(\S+)\s*$", re.MULTILINE)
_COMPONENTS = re.compile(r"^#\s*Components:\s*(.*?)\s*$", re.MULTILINE)
_HEAD_BYTES = 4096


@dataclass(frozen=True)
class GotkHeader:
    """What the header says; a field is None when its line is missing or unreadable."""

    version: FluxVersion | None
    components: tuple[str, ...] | None


def parse_header(text: str) -> GotkHeader:
    """Parse the comment header (only the first few KiB are looked at)."""
    head = text[:_HEAD_BYTES]
    version: FluxVersion | None = None
    if (match := _VERSION.search(head)) is not None:
        try:
            version = parse_version(match.group(1))
        except ValueError:
            version = None
    components: tuple[str, ...] | None = None
    if (match := _COMPONENTS.search(head)) is not None:
        components = tuple(part.strip() for part in match.group(1).split(",") if part.strip())
    return GotkHeader(version, components)


def read_header(path: Path) -> GotkHeader | None:
    """The header of ``path``, or None when the file does not exist. RenderError (naming the path)
    when it cannot be read: a folder in its place, a file where one of its folders belongs, no permission."""
    head = read_optional(
        path, writer="`flux install --export` writes", below="this file belongs below it", limit=_HEAD_BYTES
    )
    if head is None:
        return None
    return parse_header(head.decode("utf-8", errors="replace"))


def header_mismatches(config: Config, root: Path) -> list[str]:
    """One line per cluster whose gotk-components.yaml disagrees with the config (absent files are fine)."""
    found: list[str] = []
    for cluster in config.clusters:
        rel = f"{config.sync_dir(cluster)}/{COMPONENTS_FILE}"
        header = read_header(root / rel)
        if header is not None:
            found.extend(f"{rel}: {problem}" for problem in _header_problems(config, header, rel))
    return found


def _header_problems(config: Config, header: GotkHeader, rel: str) -> Iterator[str]:
    if header.version is None:
        yield "no '# Flux Version:' header; regenerate it with `flux install --export`"
    elif header.version != config.flux.version:
        yield (
            f"Flux {header.version.tag} but flux.version is {config.flux.version}; "
            f"run `flux install --export > {rel}` with Flux {config.flux.version} or set flux.version"
        )
    want = set(config.flux.components)
    if header.components is not None and set(header.components) != want:
        missing, extra = sorted(want - set(header.components)), sorted(set(header.components) - want)
        parts = (
            f"missing {', '.join(missing)}" if missing else "",
            f"not in flux.components: {', '.join(extra)}" if extra else "",
        )
        yield f"components differ from flux.components ({'; '.join(part for part in parts if part)})"


def missing_components(config: Config, root: Path) -> list[str]:
    """One note per cluster without gotk-components.yaml: not an error (``flux bootstrap`` or ``flux install
    --export`` writes it), but ``kubectl kustomize`` of the sync folder fails until it exists."""
    notes: list[str] = []
    if config.flux.extension:
        return notes  # the AKS Flux extension installs Flux: there is no gotk-components.yaml
    for cluster in config.clusters:
        folder = config.sync_dir(cluster)
        if read_header(root / folder / COMPONENTS_FILE) is None:
            notes.append(
                f"{folder}/{COMPONENTS_FILE} does not exist yet: `flux bootstrap` writes it, or "
                f"`flux install --export > {folder}/{COMPONENTS_FILE}`; until then `kubectl kustomize "
                f"{folder}` fails (its kustomization.yaml lists it)"
            )
    return notes

"""``${var}`` under strict post-build substitution (Flux 2.9+): where it applies, and what is set.

kustomize-controller substitutes variables only in what a Kustomization *with* ``spec.postBuild``
builds (kustomization_controller.go: ``if obj.Spec.PostBuild != nil``), and skips every object
labelled or annotated ``kustomize.toolkit.fluxcd.io/substitute: disabled`` (fluxcd/pkg kustomize
``SubstituteVariables``). With ``StrictPostBuildSubstitutions`` (on by default from 2.9) a ``${var}``
without a default that the Kustomization does not set fails its build. So a file is checked against
each Kustomization with ``postBuild`` whose build reads it (:mod:`generator.flux.kustomize_refs`), with the
variables that one sets (``postBuild.substitute``, and the data keys of the ConfigMaps/Secrets its
``substituteFrom`` names, when they are in the repository).

Pure except :func:`postbuild_scopes`, which asks :mod:`generator.flux.kustomize_refs` what each build reads.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.flux.kustomize_refs import build_inputs
from generator.merge.text import split_documents
from generator.yamlio import YamlError, load_plain

__all__ = ["PostBuild", "postbuild_kustomizations", "postbuild_scopes", "unset_variables"]

SUBSTITUTE_KEY = "kustomize.toolkit.fluxcd.io/substitute"
_VAR = re.compile(r"(\$+)\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}")
_DEFAULTED = ("=", ":=", "-", ":-")
_DISABLED = re.compile(
    rf"""^\s*["']?{re.escape(SUBSTITUTE_KEY)}["']?\s*:\s*["']?disabled["']?\s*(#.*)?$""", re.MULTILINE
)


@dataclass(frozen=True)
class PostBuild:
    """A Flux Kustomization with ``spec.postBuild``: where it is, the folder it builds, what it sets."""

    name: str
    file: str
    path: str  # repository-relative folder ("" = the root)
    variables: frozenset[str]


def _docs(text: str) -> list[dict[Any, Any]]:
    if "{{" in text:
        return []
    try:
        docs = [load_plain(body) for _, body in split_documents(text)]
    except YamlError:  # an unparseable file defines nothing
        return []
    return [doc for doc in docs if isinstance(doc, dict)]


def _folder(spec: dict[Any, Any]) -> str:
    folder = posixpath.normpath(str(spec.get("path") or ".").removeprefix("./"))
    return "" if folder in (".", "/") else folder.strip("/")


def _sources(post: dict[Any, Any]) -> set[tuple[str, str]]:
    refs = post.get("substituteFrom") or []
    return {(str(r.get("kind")), str(r.get("name"))) for r in refs if isinstance(r, dict)}


def _source_keys(texts: Mapping[str, str], wanted: set[tuple[str, str]]) -> dict[tuple[str, str], set[str]]:
    keys: dict[tuple[str, str], set[str]] = {}
    names = {name for _, name in wanted}
    for text in texts.values():
        if any(name in text for name in names):
            for doc in _docs(text):
                ref = (str(doc.get("kind")), str((doc.get("metadata") or {}).get("name")))
                if ref in wanted:
                    keys.setdefault(ref, set()).update(_data_keys(doc))
    return keys


def _data_keys(doc: dict[Any, Any]) -> set[str]:
    """The keys of a ConfigMap's or Secret's ``data`` and ``stringData``."""
    return {str(k) for field in ("data", "stringData") for k in (doc.get(field) or {})}


def postbuild_kustomizations(texts: Mapping[str, str]) -> list[PostBuild]:
    """Every Flux Kustomization with ``spec.postBuild`` among ``texts`` (relative path -> text)."""
    found = [
        (file, doc, post) for file, text in texts.items() if "postBuild" in text for doc, post in _with_postbuild(text)
    ]
    keys = _source_keys(texts, set().union(*(_sources(post) for _, _, post in found)))
    result = []
    for file, doc, post in found:
        names = {str(k) for k in (post.get("substitute") or {})}
        names.update(*(keys.get(ref, set()) for ref in _sources(post)))
        name = str((doc.get("metadata") or {}).get("name", "?"))
        result.append(PostBuild(name, file, _folder(doc["spec"]), frozenset(names)))
    return result


def _with_postbuild(text: str) -> Iterator[tuple[dict[Any, Any], dict[Any, Any]]]:
    """(document, its ``spec.postBuild``) for each Flux Kustomization in ``text`` that has one."""
    for doc in _docs(text):
        spec = doc.get("spec")
        post = spec.get("postBuild") if isinstance(spec, dict) else None
        if str(doc.get("apiVersion", "")).startswith("kustomize.toolkit.fluxcd.io/") and isinstance(post, dict):
            yield doc, post


def postbuild_scopes(root: Path, texts: Mapping[str, str]) -> dict[str, tuple[PostBuild, ...]]:
    """For each file, the Kustomizations with ``postBuild`` whose build reads it."""
    scopes: dict[str, list[PostBuild]] = {}
    for ks in postbuild_kustomizations(texts):
        for file in sorted(build_inputs(root, ks.path).files):
            scopes.setdefault(file, []).append(ks)
    return {file: tuple(found) for file, found in scopes.items()}


def _documents(text: str) -> Iterator[tuple[int, str]]:
    """(0-based line of the first body line, body) per document."""
    line = 0
    for header, body in split_documents(text):
        line += header.count("\n")
        yield line, body
        line += body.count("\n")


def unset_variables(text: str, scope: tuple[PostBuild, ...]) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    """(1-based line, variable, Kustomizations that do not set it) for each ``${var}`` without a default
    in an object substitution applies to (``$${var}`` is an escape; comment lines are skipped)."""
    for start, body in _documents(text):
        if _DISABLED.search(body):
            continue
        for num, line in enumerate(body.splitlines(), start):
            if not line.lstrip().startswith("#"):
                yield from ((num + 1, name, missing) for name, missing in _unset_on_line(line, scope))


def _unset_on_line(line: str, scope: tuple[PostBuild, ...]) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Each ``${var}`` of one line without a default (``$${var}`` escapes it), with the Kustomizations
    that do not set it."""
    for match in _VAR.finditer(line):
        dollars, name, rest = match.groups()
        if len(dollars) % 2 == 0 or rest.startswith(_DEFAULTED):
            continue
        missing = tuple(ks.name for ks in scope if name not in ks.variables)
        if missing:
            yield name, missing

"""The one configured ruamel.yaml factory. Nothing else in the package constructs ``YAML()``."""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML


def make_yaml(*, typ: str = "rt") -> YAML:
    """Return a fresh YAML instance with the project's formatting (round-trip by default)."""
    yaml = YAML(typ=typ, pure=True)
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    yaml.allow_duplicate_keys = False
    return yaml


def guard(text: str | bytes) -> None:
    """Refuse a stream with excessive aliasing or nesting deeper than ``yamlguard.MAX_DEPTH`` before a
    loader expands or recurses over it (``yamlguard.TooComplex``). Costs a compose only when the text
    has an alias or may be that deep."""
    from generator import yamlguard

    if isinstance(text, bytes):  # ruamel reads bytes too (some callers pass them)
        text = text.decode("utf-8", "replace")
    if "*" in text or yamlguard.depth_bound(text) > yamlguard.MAX_DEPTH:
        compose_all(text)


def load_rt(text: str) -> Any:
    """Parse one YAML document, keeping comments, order and line numbers (``guard`` applied)."""
    guard(text)
    return make_yaml().load(text)


def load_all_rt(text: str) -> list[Any]:
    """Parse every document of a multi-document YAML stream (``guard`` applied)."""
    guard(text)
    return list(make_yaml().load_all(text))


def dump_rt(data: Any, *, indent: tuple[int, int, int] | None = None) -> str:
    """Serialise one document with the project's formatting, or with ``indent`` = (mapping,
    sequence, offset) to keep the layout of a user's file (the three-way merge, issue 6)."""
    buf = io.StringIO()
    yaml = make_yaml()
    if indent is not None:
        yaml.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
    yaml.dump(data, buf)
    return buf.getvalue()


def load_plain(text: str) -> Any:
    """Parse one document into plain dicts/lists/scalars, fast (libyaml through ruamel.yaml.clib when
    installed), YAML 1.2 like ``load_rt`` but without comments or line numbers."""
    guard(text)
    yaml = YAML(typ="safe", pure=False)
    yaml.allow_duplicate_keys = False
    return yaml.load(text)


def load_all_plain(text: str) -> list[Any]:
    """Every document of a stream as plain data, fast (libyaml when installed; ``guard`` applied)."""
    guard(text)
    yaml = YAML(typ="safe", pure=False)
    yaml.allow_duplicate_keys = False
    return list(yaml.load_all(text))


def compose_all(text: str) -> list[Any]:
    """Parse a YAML stream into ruamel representation nodes (one per document), with marks and
    scalar styles, tags unresolved by us: for readers that resolve scalars themselves (the sops
    store resolves plain scalars as go-yaml v3 does). Uses libyaml (ruamel.yaml.clib) when installed:
    plain scalars then have style ``""`` instead of ``None``.

    The alias and depth bounds of ``yamlguard`` are applied (``yamlguard.TooComplex``); a text that may
    nest deeper than libyaml's C stack allows is composed by the pure-Python parser instead."""
    from generator import yamlguard

    global _COMPOSER  # one reusable parser per process (compose_all keeps no state between calls)
    if _COMPOSER is None:
        _COMPOSER = YAML(typ="safe", pure=False)
    composer = _COMPOSER if yamlguard.depth_bound(text) <= _C_SAFE_DEPTH else YAML(typ="safe", pure=True)
    try:
        roots = list(composer.compose_all(io.StringIO(text)))
    except RecursionError:
        raise yamlguard.too_deep() from None
    yamlguard.check_nodes(roots)
    return roots


def compose_first(text: str) -> Any:
    """The node of the first document only (None for an empty stream); later documents are not
    parsed, as go-yaml's ``Unmarshal`` reads one document."""
    from generator import yamlguard

    global _COMPOSER
    if _COMPOSER is None:
        _COMPOSER = YAML(typ="safe", pure=False)
    composer = _COMPOSER if yamlguard.depth_bound(text) <= _C_SAFE_DEPTH else YAML(typ="safe", pure=True)
    try:
        root = next(iter(composer.compose_all(io.StringIO(text))), None)
    except RecursionError:
        raise yamlguard.too_deep() from None
    if root is not None:
        yamlguard.check_nodes([root])
    return root


_COMPOSER: YAML | None = None
_C_SAFE_DEPTH = 5000  # libyaml's composer recursed 10,000 levels fine and crashed (SIGSEGV) at 100,000

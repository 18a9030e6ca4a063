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


def load_rt(text: str) -> Any:
    """Parse one YAML document, keeping comments, order and line numbers."""
    return make_yaml().load(text)


def load_all_rt(text: str) -> list[Any]:
    """Parse every document of a multi-document YAML stream."""
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
    yaml = YAML(typ="safe", pure=False)
    yaml.allow_duplicate_keys = False
    return yaml.load(text)


def compose_all(text: str) -> list[Any]:
    """Parse a YAML stream into ruamel representation nodes (one per document), with marks and
    scalar styles, tags unresolved by us: for readers that resolve scalars themselves (the sops
    store resolves plain scalars as go-yaml v3 does). Uses libyaml (ruamel.yaml.clib) when installed:
    plain scalars then have style ``""`` instead of ``None``."""
    global _COMPOSER  # one reusable parser per process (compose_all keeps no state between calls)
    if _COMPOSER is None:
        _COMPOSER = YAML(typ="safe", pure=False)
    return list(_COMPOSER.compose_all(io.StringIO(text)))


def compose_first(text: str) -> Any:
    """The node of the first document only (None for an empty stream); later documents are not
    parsed, as go-yaml's ``Unmarshal`` reads one document."""
    global _COMPOSER
    if _COMPOSER is None:
        _COMPOSER = YAML(typ="safe", pure=False)
    return next(iter(_COMPOSER.compose_all(io.StringIO(text))), None)


_COMPOSER: YAML | None = None

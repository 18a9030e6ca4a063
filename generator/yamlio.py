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


def dump_rt(data: Any) -> str:
    """Serialise one document with the project's formatting."""
    buf = io.StringIO()
    make_yaml().dump(data, buf)
    return buf.getvalue()

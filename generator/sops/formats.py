"""Store selection by file name (sops's ``FormatForPath``); the encrypted check is ``detect``."""

from __future__ import annotations

from pathlib import Path

STORES = ("yaml", "json", "dotenv", "ini", "binary")
"""sops's stores, by the names its ``--input-type``/``--output-type`` take."""

_BY_SUFFIX = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".env": "dotenv", ".ini": "ini"}


def store_of(path: Path | str) -> str:
    """The sops store a file name selects: yaml / json / dotenv / ini by extension, else binary.

    The extension is Go's ``filepath.Ext``: everything from the last dot of the base name, so a file
    named ``.env`` is dotenv (Python's ``Path.suffix`` would say it has none).
    """
    if isinstance(path, Path):
        name = path.name
    else:  # the last component as Path(path).name gives it, without building a Path for a plain name
        name = path.rpartition("/")[2] if not path.endswith(("/", "/.")) else Path(path).name
    dot = name.rfind(".")
    return _BY_SUFFIX.get(name[dot:].lower(), "binary") if dot >= 0 else "binary"


def detect_format(path: Path | str) -> str:
    """The store fluxforge uses for ``path``, as sops picks it."""
    return store_of(path)

"""Locate the packaged ``templates/`` and ``schemas/`` folders.

In a built wheel they live inside the package (hatchling ``force-include``); in a source checkout
or an editable install they are the top-level folders of the repository.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any


def data_dir(name: str) -> Path:
    """Return the folder ``name`` (``templates`` or ``schemas``), wherever it was installed."""
    packaged = Path(str(resources.files("generator"))) / name
    if packaged.is_dir():
        return packaged
    source = Path(__file__).resolve().parent.parent / name
    if source.is_dir():
        return source
    raise FileNotFoundError(f"fluxforge installation is incomplete: no {name}/ folder found")


@cache
def load_schema(filename: str) -> dict[str, Any]:
    """Load one JSON Schema from ``schemas/`` (cached for the process)."""
    data: dict[str, Any] = json.loads((data_dir("schemas") / filename).read_text(encoding="utf-8"))
    return data

"""The report seam: every problem a command finds as one record (:class:`Diagnostic`), rendered as text,
JSON (``schemas/report.schema.json``), GitHub Actions or Azure Pipelines annotations, or SARIF 2.1.0.

Importing the package is cheap (the CLI does, for ``--format``'s choices at start-up): the renderers and
the record types are loaded on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from generator.report.formats import render
    from generator.report.model import Change, Diagnostic, Report

__all__ = ["FORMATS", "Change", "Diagnostic", "Report", "default_format", "render"]

FORMATS: Final = ("text", "json", "github", "azure", "sarif")

_LAZY: Final = {
    "render": "generator.report.formats",
    "Change": "generator.report.model",
    "Diagnostic": "generator.report.model",
    "Report": "generator.report.model",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def default_format(environ: Mapping[str, str]) -> str:
    """``github`` under GitHub Actions (``GITHUB_ACTIONS=true``), ``azure`` under Azure Pipelines
    (``TF_BUILD=True``), else ``text``."""
    if environ.get("GITHUB_ACTIONS", "").lower() == "true":
        return "github"
    if environ.get("TF_BUILD", "").lower() == "true":
        return "azure"
    return "text"

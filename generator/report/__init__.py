"""The report seam: every problem a command finds as one record (:class:`Diagnostic`), rendered as text,
JSON (``schemas/report.schema.json``), GitHub Actions or Azure Pipelines annotations, or SARIF 2.1.0."""

from __future__ import annotations

from collections.abc import Mapping

from generator.report.formats import FORMATS, render
from generator.report.model import Change, Diagnostic, Report

__all__ = ["FORMATS", "Change", "Diagnostic", "Report", "default_format", "render"]


def default_format(environ: Mapping[str, str]) -> str:
    """``github`` under GitHub Actions (``GITHUB_ACTIONS=true``), ``azure`` under Azure Pipelines
    (``TF_BUILD=True``), else ``text``."""
    if environ.get("GITHUB_ACTIONS", "").lower() == "true":
        return "github"
    if environ.get("TF_BUILD", "").lower() == "true":
        return "azure"
    return "text"

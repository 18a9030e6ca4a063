"""The report as text (one line per finding in chain order, then the first broken gate and its fix) or as
JSON (``schemas/doctor.schema.json``, versioned by ``schemaVersion``)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Final

from generator.doctor.model import BROKEN, OK, SKIPPED, SYMBOLS, WARN, Finding, Report

__all__ = ["SCHEMA_VERSION", "as_json", "as_text", "to_data"]

SCHEMA_VERSION: Final = 1
_WIDTH = 24


def _line(finding: Finding) -> str:
    text = f"{finding.subject}: {finding.reason}" if finding.subject else finding.reason
    if finding.status == SKIPPED:
        text = f"{finding.subject}: skipped: {finding.reason}" if finding.subject else f"skipped: {finding.reason}"
    return f"{SYMBOLS[finding.status]} {finding.gate:<{_WIDTH}} {text}"


def _counts(report: Report) -> Counter[str]:
    return Counter(f.status for f in report.findings)


def _summary(report: Report) -> str:
    counts = _counts(report)
    return (
        f"{counts[OK]} hold, {counts[BROKEN]} broken, {counts[WARN]} warning(s), {counts[SKIPPED]} skipped "
        f"({len(report.findings)} checks over {len({f.gate for f in report.findings})} gates)"
    )


def as_text(report: Report, config: str) -> str:
    lines = [f"fluxforge doctor: {config}"]
    lines += [_line(f) for f in report.findings]
    lines.append("")
    first = report.first_broken
    lines += [_all_hold(report)] if first is None else _first_broken(report, first)
    lines.append(_summary(report))
    return "\n".join(lines) + "\n"


def _all_hold(report: Report) -> str:
    warned = [f for f in report.findings if f.status == WARN]
    skipped = {f.gate for f in report.findings if f.status == SKIPPED}
    head = "every checked gate holds" + (
        f" ({len(warned)} warning(s): see ! above; --strict fails on them)" if warned else ""
    )
    return head + (f"; {len(skipped)} gate(s) not checked (– above says why)" if skipped else "")


def _first_broken(report: Report, first: Finding) -> list[str]:
    lines = [f"first broken gate: {first.gate} ({report.title_of(first.gate)})"]
    if first.subject:
        lines.append(f"  where: {first.subject}")
    lines.append(f"  why:   {first.reason}")
    if first.means:
        lines.append(f"  means: gate {first.means} ({report.title_of(first.means)})")
    if first.fix:
        lines.append(f"  fix:   {first.fix}")
    return lines


def _finding_data(report: Report, finding: Finding) -> dict[str, Any]:
    gate = next((g for g in report.gates if g.id == finding.gate), None)
    return {
        "gate": finding.gate,
        "layer": gate.layer if gate else "",
        "title": report.title_of(finding.gate),
        "subject": finding.subject,
        "cluster": finding.cluster,
        "status": finding.status,
        "reason": finding.reason,
        "fix": finding.fix,
        "means": finding.means,
        "detail": finding.detail,
    }


def to_data(report: Report, config: str) -> dict[str, Any]:
    counts = _counts(report)
    first = report.first_broken
    return {
        "schemaVersion": SCHEMA_VERSION,
        "config": config,
        "ok": report.ok,
        "exitCode": report.exit_code,
        "strict": report.strict,
        "summary": {status: counts[status] for status in (OK, BROKEN, WARN, SKIPPED)},
        "firstBroken": _finding_data(report, first) if first is not None else None,
        "gates": [{"id": g.id, "layer": g.layer, "title": g.title} for g in report.gates],
        "findings": [_finding_data(report, f) for f in report.findings],
    }


def as_json(report: Report, config: str) -> str:
    return json.dumps(to_data(report, config), indent=2, ensure_ascii=False) + "\n"

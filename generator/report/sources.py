"""Reports from what the commands return or raise: the one place that knows each command's result type.

Paths become relative to the working directory (where CI runs and annotations resolve them); a problem
line a command raised as text (``file:line[:col]: message``, ``warning: …``) is read back into a
:class:`~generator.report.model.Diagnostic` by :func:`from_lines`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.report.model import Change, Diagnostic, Report, Rule, Severity, rule_for, rule_name

if TYPE_CHECKING:
    from generator.check.scan import CheckReport
    from generator.commands.render import FileChange, RenderReport
    from generator.commands.upgrade import UpgradeReport
    from generator.doctor.model import Finding as DoctorFinding
    from generator.doctor.model import Report as DoctorReport
    from generator.errors import FluxforgeError
    from generator.flux.lint import LintReport

__all__ = [
    "display_path",
    "from_check",
    "from_doctor",
    "from_error",
    "from_lines",
    "from_lint",
    "from_render",
    "from_upgrade",
    "hunk_line",
]

_LOCATED = re.compile(r"^(?P<file>[^\s:][^:]*?):(?P<line>\d+)(?::(?P<col>\d+))?: (?P<message>.+)$", re.DOTALL)
_FILE_FIRST = re.compile(r"^(?P<file>[\w./@+-]+\.(?:ya?ml|json|lock|env|ini|bicep)): (?P<message>.+)$", re.DOTALL)
_LABEL = re.compile(r"^(?P<label>warning|note|forced): (?P<rest>.+)$", re.DOTALL)
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@", re.MULTILINE)

_ERROR_RULES = {
    "ConfigError": "config.invalid",
    "RenderConflict": "render.conflict",
    "UpgradeConflict": "upgrade.conflict",
    "UpgradeRefused": "upgrade.refused",
}


def display_path(path: str | Path, base: Path | None = None) -> str:
    """``path`` (relative to ``base`` when given) relative to the working directory, ``/``-separated."""
    full = base / path if base is not None else Path(path)
    try:
        rel = os.path.relpath(full)
    except ValueError:  # another drive (Windows)
        rel = str(full)
    return Path(rel).as_posix()


def _with_fix(diagnostic: Diagnostic) -> Diagnostic:
    if diagnostic.fix:
        return diagnostic
    fix = rule_for(diagnostic.rule).fix.replace("FILE", diagnostic.file or "FILE")
    if not fix:
        return diagnostic
    return Diagnostic(
        diagnostic.rule,
        diagnostic.severity,
        diagnostic.message,
        diagnostic.file,
        diagnostic.line,
        diagnostic.column,
        fix,
    )


def from_lines(lines: Iterable[str], rule: str, severity: Severity = "error") -> Iterator[Diagnostic]:
    """Problem lines as commands print them, read back: ``file:line[:col]: message``, ``file.yaml: message``,
    ``warning: …``/``note: …`` (that severity) or a line that names no file."""
    for raw in lines:
        line, level, line_rule = raw, severity, rule
        label = _LABEL.match(line)
        if label is not None:
            line = label.group("rest")
            level = "note" if label.group("label") == "note" else "warning"
            line_rule = f"fluxforge.{level}" if label.group("label") != "forced" else rule
        located = _LOCATED.match(line)
        if located is not None:
            yield _with_fix(
                Diagnostic(
                    line_rule,
                    level,
                    located.group("message"),
                    display_path(located.group("file")),
                    int(located.group("line")),
                    int(located.group("col") or 0),
                )
            )
            continue
        first = _FILE_FIRST.match(line)
        if first is not None:
            yield _with_fix(Diagnostic(line_rule, level, first.group("message"), display_path(first.group("file"))))
        else:
            yield _with_fix(Diagnostic(line_rule, level, line))


def from_error(command: str, err: FluxforgeError) -> Report:
    """A command that raised: its problem lines as diagnostics (a structured error keeps its structure)."""
    structured = getattr(err, "report", None)
    if isinstance(structured, Report):
        return structured
    rule = _ERROR_RULES.get(type(err).__name__, "fluxforge.error")
    diagnostics = tuple(from_lines(err.problems, rule))
    summary = f"{command}: {sum(d.severity == 'error' for d in diagnostics)} problem(s)"
    return Report(command, diagnostics, summary, err.exit_code)


# --- check ------------------------------------------------------------------------------------------


def from_check(report: CheckReport) -> Report:
    diagnostics = tuple(_with_fix(d) for d in report.diagnostics)
    anchor = display_path(report.config) if report.config is not None else ".sops.yaml"
    return Report("check", diagnostics, report.summary(), 1 if report.problems else 0, anchor=anchor)


# --- lint -------------------------------------------------------------------------------------------


def from_lint(report: LintReport, root: Path, *, strict: bool) -> Report:
    diagnostics = tuple(
        _with_fix(
            Diagnostic(
                f.rule, "error" if f.level == "error" else "warning", f.message, display_path(f.file, root), f.line
            )
        )
        for f in report.findings
    )
    return Report(
        "lint",
        diagnostics,
        report.summary(),
        1 if report.failed(strict=strict) else 0,
        anchor=display_path("fluxforge.yaml", root),
    )


# --- render --check / upgrade --dry-run ----------------------------------------------------------------


def hunk_line(diff: str) -> int:
    """The first changed line of a unified diff, in the file on disk (1 for a new or emptied file)."""
    match = _HUNK.search(diff)
    if match is None:
        return 1
    line = int(match.group(1))
    for text in diff[match.end() :].split("\n")[1:]:
        if not text.startswith(" "):
            break
        line += 1
    return max(line, 1)


def _render_change(change: FileChange, root: Path) -> tuple[Diagnostic, Change]:
    file = display_path(change.path, root)
    verb = "delete" if change.status == "orphaned" else "update"
    what = {
        "missing": "is missing",
        "stale": "is not what the config renders",
        "orphaned": "is no longer in the config",
    }[change.status]
    diagnostic = _with_fix(
        Diagnostic(
            f"render.{change.status}",
            "error",
            f"{file} {what} (run `fluxforge render` to {verb} it)",
            file,
            hunk_line(change.diff) if change.status == "stale" else 1,
        )
    )
    return diagnostic, Change(file, change.status, change.diff)


def render_check_report(
    root: Path, changes: Sequence[FileChange], lock_state: str | None, others: Sequence[str], lock_name: str
) -> Report:
    """``render --check`` that found the tree out of date (the pieces of its ``CheckFailed``)."""
    pairs = [_render_change(change, root) for change in changes]
    diagnostics = [d for d, _ in pairs]
    if lock_state is not None:
        lock = display_path(lock_name, root)
        diagnostics.append(
            _with_fix(
                Diagnostic(
                    "render.lock",
                    "error",
                    f"{lock_name} is {lock_state} (it is the merge base; run `fluxforge render` to update it)",
                    lock,
                    1,
                )
            )
        )
    diagnostics.extend(from_lines(others, "render.stale"))
    errors = sum(d.severity == "error" for d in diagnostics)
    return Report(
        "render",
        tuple(diagnostics),
        f"render --check: {errors} problem(s); the tree is not up to date",
        1,
        tuple(c for _, c in pairs),
    )


def from_render(report: RenderReport) -> Report:
    """``render --check`` that passed: its warnings and notes only."""
    diagnostics = (
        *from_lines(report.warnings, "fluxforge.warning", "warning"),
        *from_lines(report.notes, "fluxforge.note", "note"),
    )
    return Report("render", diagnostics, f"{report.total} generated files are up to date", 0)


def from_upgrade(report: UpgradeReport) -> Report:
    diagnostics = (
        *from_lines(report.forced, "upgrade.conflict", "warning"),
        *from_lines(report.notes, "fluxforge.note", "note"),
    )
    changes = tuple(_upgrade_changes(report))
    verb = "would change" if report.dry_run else "written"
    summary = f"upgrade to Flux {report.target}: {len(report.changed)} file(s) {verb}" + (
        f", {len(report.removed)} removed" if report.removed else ""
    )
    return Report("upgrade", diagnostics, summary, 0, changes)


def _diff_target(diff: str) -> tuple[str, bool]:
    """The file a ``diff -u`` patch is about and whether it deletes it."""
    old = new = ""
    for line in diff.split("\n", 2)[:2]:
        if line.startswith("--- "):
            old = line[4:].removeprefix("a/")
        elif line.startswith("+++ "):
            new = line[4:].removeprefix("b/")
    return (old, True) if new == "/dev/null" else (new, False)


def _upgrade_changes(report: UpgradeReport) -> Iterator[Change]:
    seen: set[str] = set()
    for diff in report.diffs:
        path, removed = _diff_target(diff)
        seen.add(path)
        yield Change(display_path(path, report.root), "removed" if removed else "changed", diff)
    for path in [*report.changed, *report.removed]:  # the lock: no diff (its bytes are not for reading)
        if path not in seen:
            yield Change(display_path(path, report.root), "removed" if path in report.removed else "changed", "")


# --- doctor -----------------------------------------------------------------------------------------


def _doctor_file(subject: str, base: Path) -> tuple[str, int]:
    """A subject that names a file (``apps/db.yaml``, ``.sops.yaml``) locates the finding."""
    for candidate in (Path(subject), base / subject):
        if subject and candidate.is_file():
            return display_path(candidate), 1
    return "", 0


def _doctor_diagnostic(report: DoctorReport, finding: DoctorFinding, base: Path) -> Diagnostic:
    file, line = _doctor_file(finding.subject, base)
    where = f"{finding.subject}: " if finding.subject and not file else ""
    means = f" (means: gate {finding.means}, {report.title_of(finding.means)})" if finding.means else ""
    severity: Severity = "error" if finding.status == "broken" else "warning"
    return Diagnostic(
        f"doctor.{finding.gate}",
        severity,
        f"{report.title_of(finding.gate)}: {where}{finding.reason}{means}",
        file,
        line,
        0,
        finding.fix,
    )


def from_doctor(report: DoctorReport, base: Path) -> Report:
    """Broken gates as errors, warnings as warnings (what holds or was skipped is not a problem)."""
    diagnostics = tuple(_doctor_diagnostic(report, f, base) for f in report.findings if f.status in ("broken", "warn"))
    counts: dict[str, Any] = {s: sum(f.status == s for f in report.findings) for s in ("ok", "broken", "warn")}
    summary = (
        f"doctor: {counts['ok']} hold, {counts['broken']} broken, {counts['warn']} warning(s) "
        f"({len(report.findings)} checks)"
    )
    rules = tuple(
        Rule(f"doctor.{gate.id}", rule_name(f"doctor.{gate.id}"), f"{gate.title} ({gate.layer} gate).", "")
        for gate in report.gates
    )
    return Report(
        "doctor", diagnostics, summary, report.exit_code, rules=rules, anchor=display_path("fluxforge.yaml", base)
    )

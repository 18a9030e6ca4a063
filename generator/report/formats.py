"""A :class:`~generator.report.model.Report` as text, JSON, GitHub or Azure DevOps annotations, or SARIF.

* ``text``: one ``file:line:col: message`` line per problem (what fluxforge always printed), the diffs,
  the summary line.
* ``json``: one object, ``schemas/report.schema.json`` (``schemaVersion`` 1).
* ``github``: GitHub Actions workflow commands, ``::error file=F,line=L,col=C,title=RULE::MESSAGE``
  (``warning``, ``notice`` for the other severities), escaped as the Actions toolkit escapes them: ``%``,
  CR and LF in the message; also ``:`` and ``,`` in property values. Diffs go into a ``::group::``.
* ``azure``: Azure Pipelines logging commands, ``##vso[task.logissue type=error;sourcepath=F;
  linenumber=L;columnnumber=C;code=RULE]MESSAGE`` (``warning`` for warnings; notes are plain lines, Azure
  has no such issue type), escaped as the agent unescapes them: ``%`` as ``%AZP25``, CR, LF; also ``;``
  and ``]`` in property values. Diffs go into a ``##[group]``, with ``##`` broken by a zero-width space
  (the agent runs ``##vso[`` anywhere in a line).
* ``sarif``: SARIF 2.1.0, one run, the rule catalogue as the driver's rules (GitHub code scanning).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any, Final
from urllib.parse import quote

from generator import __version__
from generator.report import FORMATS
from generator.report.model import Diagnostic, Report, Rule, rule_for

__all__ = [
    "FORMATS",
    "JSON_SCHEMA_VERSION",
    "SARIF_SCHEMA",
    "azure_line",
    "github_line",
    "render",
    "text_line",
    "to_data",
    "to_sarif",
]

JSON_SCHEMA_VERSION: Final = 1
SARIF_SCHEMA: Final = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_GITHUB_COMMAND: Final = {"error": "error", "warning": "warning", "note": "notice"}


def render(report: Report, fmt: str) -> str:
    """The whole output of ``report`` in ``fmt`` (one of :data:`FORMATS`), ending with a newline."""
    if fmt == "json":
        return json.dumps(to_data(report), indent=2, ensure_ascii=False) + "\n"
    if fmt == "sarif":
        return json.dumps(to_sarif(report), indent=2, ensure_ascii=False) + "\n"
    lines = {"text": _text, "github": _github, "azure": _azure}[fmt](report)
    return "".join(f"{line}\n" for line in lines)


def annotated_message(diagnostic: Diagnostic) -> str:
    """The message with its fix on a second line (annotations show one text)."""
    return f"{diagnostic.message}\nfix: {diagnostic.fix}" if diagnostic.fix else diagnostic.message


# --- text ------------------------------------------------------------------------------------------


def text_line(diagnostic: Diagnostic) -> str:
    """``file:line:col: message``; warnings and notes say so (``file:line: warning: message``)."""
    if diagnostic.severity == "error":
        return diagnostic.text()
    where, _, _ = diagnostic.text().rpartition(diagnostic.message)
    return f"{where}{diagnostic.severity}: {diagnostic.message}"


def _text(report: Report) -> Iterator[str]:
    yield from (text_line(d) for d in report.diagnostics)
    for change in report.changes:
        yield from change.diff.rstrip("\n").split("\n")
    yield report.summary


# --- GitHub Actions --------------------------------------------------------------------------------


def _github_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github_property(text: str) -> str:
    return _github_data(text).replace(":", "%3A").replace(",", "%2C")


def github_line(diagnostic: Diagnostic) -> str:
    """One workflow command: ``::error file=F,line=L,col=C,title=RULE::MESSAGE``."""
    props: dict[str, str | int] = {}
    if diagnostic.file:
        props["file"] = diagnostic.file
        if diagnostic.line:
            props["line"] = diagnostic.line
            if diagnostic.column:
                props["col"] = diagnostic.column
    props["title"] = diagnostic.rule
    fields = ",".join(f"{name}={_github_property(str(value))}" for name, value in props.items())
    return f"::{_GITHUB_COMMAND[diagnostic.severity]} {fields}::{_github_data(annotated_message(diagnostic))}"


def _github(report: Report) -> Iterator[str]:
    yield from (github_line(d) for d in report.diagnostics)
    if report.changes:
        diffs = "".join(change.diff for change in report.changes)
        token = "fluxforge-" + hashlib.sha256(diffs.encode("utf-8", "surrogateescape")).hexdigest()[:20]
        yield f"::group::diff of {len(report.changes)} file(s)"
        yield f"::stop-commands::{token}"  # no line of a diff runs as a workflow command
        yield from diffs.rstrip("\n").split("\n")
        yield f"::{token}::"
        yield "::endgroup::"
    yield report.summary


# --- Azure Pipelines -------------------------------------------------------------------------------


def _azure_data(text: str) -> str:
    return text.replace("%", "%AZP25").replace("\r", "%0D").replace("\n", "%0A")


def _azure_property(text: str) -> str:
    return _azure_data(text).replace(";", "%3B").replace("]", "%5D")


def azure_line(diagnostic: Diagnostic) -> str:
    """One logging command ``##vso[task.logissue type=error;sourcepath=F;linenumber=L;columnnumber=C;code=RULE]``
    (notes: a plain ``note:`` line, there is no such issue type)."""
    if diagnostic.severity == "note":
        return f"note: {_azure_data(diagnostic.text())}"
    props: dict[str, str | int] = {"type": diagnostic.severity}
    if diagnostic.file:
        props["sourcepath"] = diagnostic.file
        if diagnostic.line:
            props["linenumber"] = diagnostic.line
            if diagnostic.column:
                props["columnnumber"] = diagnostic.column
    props["code"] = diagnostic.rule
    fields = ";".join(f"{name}={_azure_property(str(value))}" for name, value in props.items())
    return f"##vso[task.logissue {fields}]{_azure_data(annotated_message(diagnostic))}"


def _azure(report: Report) -> Iterator[str]:
    yield from (azure_line(d) for d in report.diagnostics)
    if report.changes:
        yield f"##[group]diff of {len(report.changes)} file(s)"
        for change in report.changes:
            # the agent runs `##vso[` anywhere in a line and has no stop-commands: break the marker
            yield from (line.replace("##", "#\u200b#") for line in change.diff.rstrip("\n").split("\n"))
        yield "##[endgroup]"
    yield report.summary


# --- JSON ------------------------------------------------------------------------------------------


def _diagnostic_data(diagnostic: Diagnostic) -> dict[str, Any]:
    return {
        "file": diagnostic.file or None,
        "line": diagnostic.line or None,
        "column": diagnostic.column or None,
        "rule": diagnostic.rule,
        "severity": diagnostic.severity,
        "message": diagnostic.message,
        "fix": diagnostic.fix,
    }


def to_data(report: Report) -> dict[str, Any]:
    """The JSON object (``schemas/report.schema.json``)."""
    return {
        "schemaVersion": JSON_SCHEMA_VERSION,
        "tool": {"name": "fluxforge", "version": __version__},
        "command": report.command,
        "ok": report.exit_code == 0,
        "exitCode": report.exit_code,
        "summary": {
            "errors": report.count("error"),
            "warnings": report.count("warning"),
            "notes": report.count("note"),
            "text": report.summary,
        },
        "problems": [_diagnostic_data(d) for d in report.diagnostics],
        "changes": [{"file": c.file, "status": c.status, "diff": c.diff} for c in report.changes],
    }


# --- SARIF 2.1.0 -----------------------------------------------------------------------------------


def _sarif_rule(rule_id: str, extra: tuple[Rule, ...]) -> dict[str, Any]:
    rule = rule_for(rule_id, extra)
    data: dict[str, Any] = {"id": rule.id, "name": rule.name, "shortDescription": {"text": rule.summary}}
    if rule.fix:
        data["help"] = {"text": f"Fix: {rule.fix}"}
    return data


def _sarif_location(diagnostic: Diagnostic, anchor: str) -> dict[str, Any]:
    """Where the result is; a problem about no one file is shown at ``anchor`` (GitHub code scanning refuses
    a whole log when one result has no physical location)."""
    file = diagnostic.file or anchor
    physical: dict[str, Any] = {"artifactLocation": {"uri": quote(file), "uriBaseId": "%SRCROOT%"}}
    region: dict[str, int] = {"startLine": diagnostic.line if diagnostic.file and diagnostic.line else 1}
    if diagnostic.file and diagnostic.line and diagnostic.column:
        region["startColumn"] = diagnostic.column
    physical["region"] = region
    return {"physicalLocation": physical}


def _sarif_result(diagnostic: Diagnostic, index: Mapping[str, int], anchor: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": diagnostic.rule,
        "ruleIndex": index[diagnostic.rule],
        "level": diagnostic.severity,
        "message": {"text": annotated_message(diagnostic)},
    }
    result["locations"] = [_sarif_location(diagnostic, anchor)]
    if diagnostic.fix:
        result["properties"] = {"fix": diagnostic.fix}
    return result


def to_sarif(report: Report) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run; every rule a result names is in the driver's ``rules``."""
    rule_ids = list(dict.fromkeys(d.rule for d in report.diagnostics))
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "fluxforge",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_sarif_rule(r, report.rules) for r in rule_ids],
            }
        },
        "automationDetails": {"id": f"fluxforge/{report.command}/"},
        "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The working directory of the run."}}},
        "results": [_sarif_result(d, index, report.anchor) for d in report.diagnostics],
        "invocations": [{"executionSuccessful": report.exit_code in (0, 1), "exitCode": report.exit_code}],
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}

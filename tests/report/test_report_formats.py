"""The report seam's formats, byte for byte: GitHub workflow commands and Azure Pipelines logging commands
with their escaping, the JSON object against schemas/report.schema.json, SARIF against the SARIF 2.1.0
schema (vendored in tests/report/sarif/, see its README for the source)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from generator.report import Change, Diagnostic, Report, default_format, render
from generator.report.formats import azure_line, github_line, text_line
from generator.report.sources import from_lines, hunk_line
from tests.helpers import REPO_ROOT

SARIF_SCHEMA = json.loads((REPO_ROOT / "tests/report/sarif/sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
REPORT_SCHEMA = json.loads((REPO_ROOT / "schemas/report.schema.json").read_text(encoding="utf-8"))

NASTY = Diagnostic(
    "check.not-encrypted",
    "error",
    "100% wrong\r\nsecond line, with: punctuation; and ] here",
    "apps/a,b:c;d].yaml",
    3,
    5,
    "run it",
)


def test_github_annotation_escapes_data_and_properties() -> None:
    assert github_line(NASTY) == (
        "::error file=apps/a%2Cb%3Ac;d].yaml,line=3,col=5,title=check.not-encrypted::"
        "100%25 wrong%0D%0Asecond line, with: punctuation; and ] here%0Afix: run it"
    )


def test_github_severities_and_missing_positions() -> None:
    warning = Diagnostic("lint.index-patch", "warning", "index", "k.yaml", 7)
    note = Diagnostic("fluxforge.note", "note", "fyi")
    assert github_line(warning) == "::warning file=k.yaml,line=7,title=lint.index-patch::index"
    assert github_line(note) == "::notice title=fluxforge.note::fyi"
    assert github_line(Diagnostic("x.y", "error", "m", "f.yaml")) == "::error file=f.yaml,title=x.y::m"


def test_azure_logissue_escapes_data_and_properties() -> None:
    assert azure_line(NASTY) == (
        "##vso[task.logissue type=error;sourcepath=apps/a,b:c%3Bd%5D.yaml;linenumber=3;columnnumber=5;"
        "code=check.not-encrypted]100%AZP25 wrong%0D%0Asecond line, with: punctuation; and ] here%0Afix: run it"
    )


def test_azure_severities() -> None:
    warning = Diagnostic("lint.index-patch", "warning", "index", "k.yaml", 7)
    assert (
        azure_line(warning)
        == "##vso[task.logissue type=warning;sourcepath=k.yaml;linenumber=7;code=lint.index-patch]index"
    )
    assert azure_line(Diagnostic("fluxforge.note", "note", "fyi", "a.yaml", 2)) == "note: a.yaml:2: fyi"
    assert azure_line(Diagnostic("x.y", "error", "m")) == "##vso[task.logissue type=error;code=x.y]m"


def test_text_lines() -> None:
    assert text_line(Diagnostic("r.x", "error", "bad", "a.yaml", 3, 4)) == "a.yaml:3:4: bad"
    assert text_line(Diagnostic("r.x", "warning", "meh", "a.yaml", 3)) == "a.yaml:3: warning: meh"
    assert text_line(Diagnostic("r.x", "note", "fyi")) == "note: fyi"


def _report() -> Report:
    return Report(
        "check",
        (
            NASTY,
            Diagnostic("lint.index-patch", "warning", "index", "dir with space/k.yaml", 7),
            Diagnostic("check.no-rules", "error", "no rules"),
        ),
        "checked 3 file(s)",
        1,
        (Change("a.yaml", "stale", "--- a/a.yaml\n+++ b/a.yaml\n@@ -1 +1 @@\n-x\n+y\n"),),
    )


def test_json_is_one_object_of_the_documented_schema() -> None:
    data = json.loads(render(_report(), "json"))
    Draft202012Validator(REPORT_SCHEMA).validate(data)
    assert data["schemaVersion"] == 1 and data["command"] == "check" and data["exitCode"] == 1
    assert data["summary"] == {"errors": 2, "warnings": 1, "notes": 0, "text": "checked 3 file(s)"}
    assert data["problems"][0] == {
        "file": "apps/a,b:c;d].yaml",
        "line": 3,
        "column": 5,
        "rule": "check.not-encrypted",
        "severity": "error",
        "message": NASTY.message,
        "fix": "run it",
    }
    assert data["problems"][2]["file"] is None and data["problems"][2]["fix"] == ""


def test_sarif_validates_against_the_sarif_2_1_0_schema() -> None:
    log = json.loads(render(_report(), "sarif"))
    Draft202012Validator(SARIF_SCHEMA).validate(log)
    run = log["runs"][0]
    assert log["version"] == "2.1.0"
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [
        "check.not-encrypted",
        "lint.index-patch",
        "check.no-rules",
    ]
    first, second, third = run["results"]
    assert first["level"] == "error" and first["ruleIndex"] == 0
    assert first["locations"][0]["physicalLocation"]["region"] == {"startLine": 3, "startColumn": 5}
    assert second["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "dir%20with%20space/k.yaml"
    assert third["locations"][0]["physicalLocation"] == {  # GitHub refuses a log with an unlocated result
        "artifactLocation": {"uri": "fluxforge.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 1},
    }
    # the OASIS text is stricter than the vendored copy here: a region names its startLine
    assert all(
        "startLine" in loc["physicalLocation"].get("region", {"startLine": 1})
        for result in run["results"]
        for loc in result.get("locations", [])
    )


def test_sarif_of_no_problem_is_valid_too() -> None:
    log = json.loads(render(Report("lint", (), "ok", 0), "sarif"))
    Draft202012Validator(SARIF_SCHEMA).validate(log)
    assert log["runs"][0]["results"] == []


def test_github_and_azure_put_diffs_into_a_group_that_runs_no_command() -> None:
    diff = "-::error::x\n+##vso[task.complete result=Failed]\n"
    report = Report("render", (), "1 stale", 1, (Change("a.yaml", "stale", diff),))
    token = "fluxforge-" + hashlib.sha256(diff.encode()).hexdigest()[:20]
    assert render(report, "github") == (
        f"::group::diff of 1 file(s)\n::stop-commands::{token}\n-::error::x\n"
        f"+##vso[task.complete result=Failed]\n::{token}::\n::endgroup::\n1 stale\n"
    )
    assert render(report, "azure") == (
        "##[group]diff of 1 file(s)\n-::error::x\n+#\u200b#vso[task.complete result=Failed]\n##[endgroup]\n1 stale\n"
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "text"),
        ({"GITHUB_ACTIONS": "true"}, "github"),
        ({"TF_BUILD": "True"}, "azure"),
        ({"GITHUB_ACTIONS": "false", "TF_BUILD": "False"}, "text"),
    ],
)
def test_default_format_from_the_ci_environment(env: dict[str, str], expected: str) -> None:
    assert default_format(env) == expected


def test_problem_lines_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    found = list(
        from_lines(
            [
                "fluxforge.yaml:12: clusters[0].name: bad",
                "apps/x.yaml:3:4: worse",
                "warning: .sops.yaml: stale header",
                "note: run flux migrate",
                "no file here",
            ],
            "config.invalid",
        )
    )
    assert [(d.file, d.line, d.column, d.severity, d.rule) for d in found] == [
        ("fluxforge.yaml", 12, 0, "error", "config.invalid"),
        ("apps/x.yaml", 3, 4, "error", "config.invalid"),
        (".sops.yaml", 0, 0, "warning", "fluxforge.warning"),
        ("", 0, 0, "note", "fluxforge.note"),
        ("", 0, 0, "error", "config.invalid"),
    ]
    assert found[0].message == "clusters[0].name: bad" and found[0].fix == "fix the key named"
    assert found[3].fix == ""


def test_hunk_line_is_the_first_changed_line_on_disk() -> None:
    assert hunk_line("--- a/x\n+++ b/x\n@@ -12,3 +12,4 @@\n") == 12
    assert hunk_line("--- a/x\n+++ b/x\n@@ -8,7 +8,7 @@ spec:\n a\n b\n c\n-d\n+e\n f\n") == 11
    assert hunk_line("--- /dev/null\n+++ b/x\n@@ -0,0 +1,2 @@\n") == 1
    assert hunk_line("") == 1

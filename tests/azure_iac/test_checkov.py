"""checkov (``--framework bicep --skip-download``, offline) over the Bicep of a config that uses every
Azure key: no failed check; every skipped one is suppressed inline with its reason. One run: checkov
takes about a minute and a half to start."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.azure.bicep import render_bicep
from generator.azure.desired import desired_state
from generator.config.load import parse_config
from tests.azure_iac.rich import RICH

pytestmark = pytest.mark.slow


def _documents(text: str) -> list[dict[str, object]]:
    """checkov prints one JSON document per framework/file set; read them all."""
    decoder, out, at = json.JSONDecoder(), [], 0
    text = text.strip()
    while at < len(text):
        doc, end = decoder.raw_decode(text, at)
        out.extend(doc if isinstance(doc, list) else [doc])
        at = end
        while at < len(text) and text[at].isspace():
            at += 1
    return out


def test_checkov_finds_no_failed_check_and_every_skip_says_why(tmp_path: Path) -> None:
    files = render_bicep(desired_state(parse_config(RICH)))
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    checkov = shutil.which("checkov", path=str(Path(sys.executable).parent))
    assert checkov, "checkov is a test dependency (pyproject [test])"
    done = subprocess.run(
        [checkov, "-d", str(tmp_path), "--framework", "bicep", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    docs = _documents(done.stdout)
    assert docs and all(d.get("check_type") == "bicep" for d in docs)
    results = [d["results"] for d in docs]  # type: ignore[index]
    failed = [c for r in results for c in r["failed_checks"]]  # type: ignore[index]
    skipped = [c for r in results for c in r["skipped_checks"]]  # type: ignore[index]
    passed = [c for r in results for c in r["passed_checks"]]  # type: ignore[index]
    assert failed == [], [(c["check_id"], c["resource"], c["file_path"]) for c in failed]
    assert done.returncode == 0
    assert {c["check_id"] for c in passed} >= {"CKV_AZURE_110", "CKV_AZURE_42"}  # purge protection, recoverable
    # suppressed on the one vault and key fluxforge manages in each group, each with its reason
    assert sorted({c["check_id"] for c in skipped}) == [
        "CKV_AZURE_109",
        "CKV_AZURE_112",
        "CKV_AZURE_189",
        "CKV_AZURE_40",
    ]
    for check in skipped:
        reason = check.get("check_result", {}).get("suppress_comment", "")
        assert len(reason) > 40, (check["check_id"], reason)

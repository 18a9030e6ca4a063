"""Start-up stays small: `fluxforge --help` (and each command's --help) imports click and fluxforge's
command table only, never the heavy libraries a command loads when it runs (an import boundary, not a
timing: performance is measured in bench/, never asserted in tests)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "jinja2",
    "jsonschema",
    "cryptography",
    "re2",
    "ruamel",
    "pygit2",
    "pyrage",
    "azure",
    "yaml",
    "generator.sops.engine",
    "generator.sops.stores",
    "generator.render",
    "generator.config",
    "generator.check",
    "generator.doctor",
    "generator.commands",
    "generator.gitrepo",
    "generator.yamlio",
    "generator.merge",
    "generator.flux",
    "generator.azure",
    # the report package's own module is light (format names, the CI default); its renderers and
    # records load json, hashlib, urllib and a dozen dataclasses, only when a report is printed
    "generator.report.formats",
    "generator.report.model",
    "generator.report.sources",
)

PROBE = r"""
import json, runpy, sys
sys.argv = ["fluxforge", *json.loads(sys.argv[1])]
try:
    runpy.run_module("generator", run_name="__main__")
except SystemExit as done:
    code = done.code
else:
    code = 0
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _loaded(*args: str) -> tuple[object, set[str]]:
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, check=True)
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert "Usage:" in result.stdout
    return report["code"], set(report["modules"])


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("render", "--help"),
        ("check", "--help"),
        ("encrypt", "--help"),
        ("hook", "--help"),
        ("hook", "run", "--help"),
        ("upgrade", "--help"),
    ],
)
def test_help_imports_no_heavy_module(args: tuple[str, ...]) -> None:
    code, modules = _loaded(*args)
    assert code == 0
    heavy = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == [], f"`fluxforge {' '.join(args)}` imported {heavy}: import them inside the command"
    assert "generator.cli" in modules  # the probe ran the real entry point

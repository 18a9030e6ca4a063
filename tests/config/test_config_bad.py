"""Every ``tests/config/bad_configs/NAME.yaml`` must fail with exactly the lines in ``NAME.expected``.

Add a case by dropping in both files; the CLI variant checks exit code 1 and that nothing is written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.config.load import parse_config
from generator.errors import ConfigError

CASES = sorted((Path(__file__).parent / "bad_configs").glob("*.yaml"))


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    for case in CASES:
        assert case.with_suffix(".expected").is_file(), f"{case.name} has no .expected file"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_bad_config_reports_expected_lines(case: Path) -> None:
    expected = case.with_suffix(".expected").read_text(encoding="utf-8").splitlines()
    with pytest.raises(ConfigError) as info:
        parse_config(case.read_text(encoding="utf-8"), display="fluxforge.yaml")
    assert info.value.problems == expected
    for line in info.value.problems:
        assert line.startswith("fluxforge.yaml:"), line
        assert "Traceback" not in line


@pytest.mark.parametrize("case", CASES[:8], ids=[c.stem for c in CASES[:8]])
def test_bad_config_cli_exit_1_writes_nothing(case: Path, run_cli, chdir_tmp: Path) -> None:
    (chdir_tmp / "fluxforge.yaml").write_bytes(case.read_bytes())
    result = run_cli("render")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == case.with_suffix(".expected").read_text(encoding="utf-8").splitlines()
    assert sorted(p.name for p in chdir_tmp.iterdir()) == ["fluxforge.yaml"]

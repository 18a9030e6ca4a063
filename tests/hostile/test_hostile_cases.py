"""Every attack of issue 18, run against fluxforge as a real process: no exit 3, no hang, no leak, and
the right outcome (the case says which). The same catalogue gives the before/after table
(``python -m tests.hostile.table``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.hostile.cases import CASES, classify
from tests.hostile.world import World

pytestmark = pytest.mark.interop


@pytest.mark.parametrize("name", sorted(CASES), ids=lambda n: f"item{CASES[n].item}-{n}")
def test_hostile_case(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    if case.root and os.geteuid() != 0:
        message = f"{case.what}: needs root (a private mount namespace, mknod, chown or dropped capabilities)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    verdict = case.run(World(tmp_path / "world"))
    result = classify(verdict)
    assert result == "clean", (
        f"{case.what}: {result}: {verdict.leak or verdict.wrong or ''}\n"
        f"exit {verdict.outcome.rc}\n{verdict.outcome.text[-2000:]}"
    )


def test_catalogue_covers_every_must_item() -> None:
    assert {case.item for case in CASES.values()} == set(range(1, 11))
    assert len(CASES) >= 70

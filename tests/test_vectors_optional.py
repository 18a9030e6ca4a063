"""The third-party sops vectors (../shared/vectors) are not part of a clone: tests that need them skip
with a reason naming where they come from, except under CI=true where their absence is a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import helpers


def test_missing_vectors_skip_outside_ci_with_their_origin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(helpers, "VECTORS", tmp_path / "shared" / "vectors")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        helpers.require_vectors()
    reason = str(skipped.value)
    assert str(tmp_path / "shared" / "vectors") in reason
    assert "getsops/sops" in reason and "fluxcd/kustomize-controller" in reason and "../shared/vectors" in reason
    assert "\n" not in reason


def test_missing_vectors_fail_under_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(helpers, "VECTORS", tmp_path / "nowhere")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="nowhere missing"):
        helpers.require_vectors()


def test_present_vectors_are_returned(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(helpers, "VECTORS", tmp_path)
    monkeypatch.setenv("CI", "true")
    assert helpers.require_vectors() == tmp_path

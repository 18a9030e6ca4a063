"""Fixtures for the sops tests: a fresh age key per test, exported as SOPS_AGE_KEY_FILE."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.sops import AgeKey, make_age_key


@pytest.fixture
def age_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AgeKey:
    keydir = tmp_path / "keys"
    keydir.mkdir()
    key = make_age_key(keydir)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.key_file))
    return key


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory that is also the CWD (sops looks up .sops.yaml from the CWD)."""
    path = tmp_path / "work"
    path.mkdir()
    monkeypatch.chdir(path)
    return path

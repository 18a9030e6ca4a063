"""Fixtures for the hook tests: hermetic libgit2 config, real age keys, pygit2-built repositories."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest

from tests.helpers.hooks import pygit2_repo, sops_yaml


@pytest.fixture(autouse=True, scope="session")
def _pygit2_no_user_config(tmp_path_factory: pytest.TempPathFactory) -> None:
    """libgit2 must not read the developer's global, XDG or system git config."""
    empty = tmp_path_factory.mktemp("gitconfig")
    for level in (pygit2.enums.ConfigLevel.GLOBAL, pygit2.enums.ConfigLevel.XDG, pygit2.enums.ConfigLevel.SYSTEM):
        pygit2.settings.search_path[level] = str(empty)


@pytest.fixture
def age_key(tmp_path: Path) -> tuple[Path, str]:
    """A fresh age identity from the real age-keygen: (identity file, public key)."""
    keyfile = tmp_path / "keys" / "age.txt"
    keyfile.parent.mkdir()
    subprocess.run(["age-keygen", "-o", str(keyfile)], check=True, capture_output=True)
    return keyfile, re.search(r"age1[0-9a-z]+", keyfile.read_text()).group(0)


@pytest.fixture
def work_repo(tmp_path: Path, age_key: tuple[Path, str]) -> Iterator[Path]:
    """A pygit2-built repository with a .sops.yaml for a fresh age key and a plain Deployment."""
    root = tmp_path / "repo"
    pygit2_repo(
        root,
        {
            ".sops.yaml": sops_yaml(age_key[1]),
            "apps/web.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n",
        },
    )
    yield root

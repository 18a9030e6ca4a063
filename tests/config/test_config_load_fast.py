"""The plain-data loader behind the config (``yamlio.load_plain``) looks the implicit-tag table up once per
loader instead of once per scalar: it must build exactly what ruamel's own libyaml safe loader builds, for
every scalar form (YAML 1.2 booleans, octals, floats, nulls, timestamps, a ``%YAML 1.1`` directive) and for
every YAML file of the repository."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from generator.yamlio import YamlError, load_all_plain, load_plain
from tests.helpers import REPO_ROOT

SCALARS = [
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "true",
    "True",
    "TRUE",
    "false",
    "~",
    "null",
    "Null",
    "",
    "010",
    "0o10",
    "0x1f",
    "0b101",
    "1_000",
    "+12",
    "-0",
    "1e3",
    "1.5e-3",
    ".5",
    "1.",
    ".inf",
    "-.Inf",
    ".NaN",
    "0.1",
    "12:30:45",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10",
    "=",
    "<<",
    "'010'",
    '"yes"',
    "!!str 10",
    "!!int '7'",
    "!!float 1",
    "1:2",
    "0777",
    "123456789012345678901234567890",
    "a b",
    "'- quoted'",
]


def _stock(text: str, *, every: bool = False) -> Any:
    yaml = YAML(typ="safe", pure=False)
    yaml.allow_duplicate_keys = False
    return list(yaml.load_all(text)) if every else yaml.load(text)


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN included, and of the same types all the way down (True is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _as_ruamel(text: str) -> bool:
    """``load_all_plain`` builds what ruamel's libyaml safe loader builds, or refuses what it refuses; False
    when the text has aliases (yamlguard's bounds may refuse what ruamel expands: not compared)."""
    try:
        expected = _stock(text, every=True)
    except Exception:  # noqa: BLE001 - ruamel raises many types
        with pytest.raises(YamlError):
            load_all_plain(text)
        return True
    if "*" in text:
        return False
    assert _same(load_all_plain(text), expected), text[:200]
    return True


@pytest.mark.parametrize("directive", ["", "%YAML 1.1\n---\n", "%YAML 1.2\n---\n"])
def test_every_scalar_form_as_ruamel_builds_it(directive: str) -> None:
    for value in SCALARS:
        assert _as_ruamel(f"{directive}key: {value}\nlist: [{value}]\n{value}: in a key\n")
    text = directive + "".join(f"k{i}: {value}\n" for i, value in enumerate(SCALARS) if value not in {"=", "<<"})
    assert _same(load_plain(text), _stock(text))
    assert _as_ruamel(text + "---\n" + text)


def _corpus() -> list[Path]:
    skip = {".venv", ".git", "node_modules", "__pycache__"}
    return sorted(
        p
        for p in REPO_ROOT.rglob("*")
        if p.suffix in {".yaml", ".yml"} and p.is_file() and not skip & set(p.relative_to(REPO_ROOT).parts)
    )


def test_every_yaml_file_of_the_repository_as_ruamel_builds_it() -> None:
    files = _corpus()
    compared = sum(_as_ruamel(path.read_text(encoding="utf-8", errors="replace")) for path in files)
    assert len(files) > 50 and compared > 50

"""Where fluxforge refuses hostile input, it refuses what the real sops 3.11 refuses: the go-yaml alias
rule, sops's semver check of ``sops.version``, Go's RE2 syntax for ``.sops.yaml`` patterns. Each test
runs both tools on the same files and compares accept/refuse."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from generator.yamlguard import MAX_DEPTH
from tests.hostile.world import PLAIN, World

pytestmark = pytest.mark.interop


def _sops(w: World, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["sops", *args], cwd=w.root, env=w.env, capture_output=True, check=False)


def _ff(w: World, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "generator", *args], cwd=w.root, env=w.env, capture_output=True, check=False, timeout=120
    )


def _aliases(width: int, levels: int) -> str:
    items = ",".join([f'"{PLAIN}"'] + ['"x"'] * (width - 1))
    lines = [f"a0: &a0 [{items}]"]
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("width", "levels"), [(2, 3), (3, 3), (3, 5), (4, 4), (5, 3), (9, 2), (9, 3), (30, 1), (40, 2), (200, 1)]
)
def test_alias_expansion_refused_exactly_where_sops_refuses(tmp_path: Path, width: int, levels: int) -> None:
    w = World(tmp_path / "w")
    w.rules("age: {age}")
    w.write("doc.yaml", _aliases(width, levels))
    sops, ours = _sops(w, "encrypt", "doc.yaml"), _ff(w, "encrypt", "doc.yaml")
    assert (ours.returncode == 0) == (sops.returncode == 0), (sops.stderr, ours.stderr)
    if sops.returncode != 0:
        assert b"excessive aliasing" in sops.stderr
        assert ours.returncode == 1 and b"doc.yaml" in ours.stderr and b"excessive aliasing" in ours.stderr
    else:  # the expanded values decrypt the same with sops
        w.write("ours.yaml", ours.stdout)
        assert _sops(w, "decrypt", "ours.yaml").stdout.count(PLAIN.encode()) == sum(width**i for i in range(levels + 1))


@pytest.mark.parametrize(
    "version",
    [
        "3.11.0",
        "v3.11.0",
        "3.11.0-rc1",
        "3.11.0+meta",
        "1.0.0",
        "3.11",
        "garbage",
        "03.1.0",
        "3.11.0.1",
        "'3.11.0 '",
        "''",
    ],
)
def test_sops_version_accepted_exactly_where_sops_accepts_it(tmp_path: Path, version: str) -> None:
    w = World(tmp_path / "w")
    w.rules("age: {age}")
    w.write("s.yaml", f"password: {PLAIN}\n")
    w.sops_encrypt("s.yaml")
    text = (w.root / "s.yaml").read_text()
    (w.root / "s.yaml").write_text(text.replace("    version: 3.11.0", f"    version: {version}"))
    sops, ours = _sops(w, "decrypt", "s.yaml"), _ff(w, "decrypt", "s.yaml")
    assert (ours.returncode == 0) == (sops.returncode == 0), (version, sops.stderr, ours.stderr)
    if ours.returncode:
        assert b"sops metadata 'version'" in ours.stderr and PLAIN.encode() not in ours.stdout + ours.stderr
    check = _ff(w, "check", "s.yaml")
    assert (check.returncode == 0) == (sops.returncode == 0), check.stderr


@pytest.mark.parametrize(
    "pattern",
    [
        "(?=x)s",
        "\\.yaml\\Z",
        "\\Q.yaml\\E$",
        "(?P<n>s)\\.yaml",
        "([a-",
        "(?i)S\\.YAML",
        "\\pL\\.yaml",
        "(a)\\1",
        "^(a+)+$|s\\.yaml",
    ],
)
def test_path_regex_syntax_is_go_re2(tmp_path: Path, pattern: str) -> None:
    w = World(tmp_path / "w")
    w.write(".sops.yaml", f"creation_rules:\n  - path_regex: '{pattern}'\n    age: {w.recipient}\n")
    w.write("s.yaml", f"k: {PLAIN}\n")
    sops, ours = _sops(w, "encrypt", "s.yaml"), _ff(w, "encrypt", "s.yaml")
    assert (ours.returncode == 0) == (sops.returncode == 0), (sops.stderr, ours.stderr)
    if ours.returncode:
        assert ours.returncode == 1 and b"RE2" in ours.stderr and b"path_regex" in ours.stderr
    else:
        w.write("ours.yaml", ours.stdout)
        assert PLAIN.encode() in _sops(w, "decrypt", "ours.yaml").stdout


def _nested(depth: int) -> str:
    return "a: " + "[" * (depth - 1) + f'"{PLAIN}"' + "]" * (depth - 1) + "\n"


def test_nesting_up_to_the_limit_round_trips_with_sops(tmp_path: Path) -> None:
    """``MAX_DEPTH`` levels are encrypted (sops decrypts them), one more is refused on every path."""
    w = World(tmp_path / "w")
    w.rules("path_regex: \\.yaml$\nage: {age}")
    w.write("ok.yaml", _nested(MAX_DEPTH))
    w.write("deep.yaml", _nested(MAX_DEPTH + 1))
    assert _ff(w, "encrypt", "-i", "ok.yaml").returncode == 0
    assert PLAIN.encode() in _sops(w, "decrypt", "ok.yaml").stdout
    assert _ff(w, "check", "ok.yaml").returncode == 0
    assert PLAIN.encode() in _ff(w, "decrypt", "ok.yaml").stdout
    for args in (("encrypt", "deep.yaml"), ("check", "deep.yaml")):
        done = _ff(w, *args)
        assert done.returncode == 1 and b"nested deeper than" in done.stderr, (args, done.stderr)
    assert _sops(w, "encrypt", "deep.yaml").returncode == 0  # sops allows 10,000: a documented difference

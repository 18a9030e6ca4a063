"""A one-file decrypt (`fluxforge decrypt FILE`, the per-process call scripts and Flux-style tools make)
loads what that file needs only (issue 19, item 6): the store of its format (not the other four), no
regular-expression engine for the selector sops users write most (``^(data|stringData)$``: a set of
words) or a ``path_regex`` of literal characters (``^clusters/prod/`` as ``fluxforge render`` writes it,
``\\.yaml$`` as sops's examples do), no ``subprocess`` (only ``SOPS_AGE_KEY_CMD`` runs a program), no
``decimal`` (only floats), no ``hashlib`` or ``base64``, not cryptography's cipher package, not the general
YAML reader for a Secret-shaped file, no ``dataclasses`` (nor, below the CLI, ``inspect`` or ``datetime``).
An import boundary, not a timing (bench/decrypt.py measures); the plaintext is what the real sops decrypts. Those
patterns are held equal to RE2 itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import re2  # type: ignore[import-untyped]  # google-re2 ships no type information
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.sops import regex
from tests.helpers.sops import make_age_key
from tests.test_cli_startup import PROBE

SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ntype: Opaque\nstringData:\n  password: pw-{n}\n"
NOT_FOR_YAML = [
    "generator.sops.stores.ini",
    "generator.sops.stores.json",
    "generator.sops.stores.dotenv",
    "generator.sops.stores.binary",
    "re2",
    "subprocess",
    "decimal",
    "hashlib",  # the MAC's SHA-512 comes from cryptography, loaded for AES-GCM anyway
    "base64",  # binascii reads and writes the ENC[…] parts
    "cryptography.hazmat.primitives.ciphers",  # AESGCM from cryptography's binding, not its cipher package
    "generator.sops.stores.yaml_read",  # a Secret-shaped file is read by yaml_fast
    "dataclasses",  # the engine's classes are records (generator/sops/record.py)
]  # json too (detect no longer loads it for YAML), but the probe itself reports through it


def _decrypt(cwd: Path, env: dict[str, str], name: str) -> tuple[str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(["decrypt", name])],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return done.stdout, set(json.loads(done.stderr.strip().splitlines()[-1])["modules"])


def _encrypted_secret(tmp_path: Path, path_regex: str | None) -> tuple[dict[str, str], str]:
    """``secrets/app.yaml`` encrypted by the real sops (through a ``.sops.yaml`` with ``path_regex`` when
    given), the environment holding its key, and what ``sops -d`` prints for it."""
    key = make_age_key(tmp_path)
    if path_regex is not None:
        (tmp_path / ".sops.yaml").write_text(
            f"creation_rules:\n  - path_regex: {path_regex}\n    encrypted_regex: ^(data|stringData)$\n"
            f"    age: {key.recipient}\n"
        )
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(key.key_file)}
    (tmp_path / "secrets").mkdir()
    secret = tmp_path / "secrets" / "app.yaml"
    secret.write_text(SECRET.format(n=1))
    flags = [] if path_regex is not None else ["--age", key.recipient, "--encrypted-regex", "^(data|stringData)$"]
    subprocess.run(["sops", "encrypt", *flags, "--in-place", str(secret)], cwd=tmp_path, env=env, check=True)
    peer = subprocess.run(
        ["sops", "-d", str(secret)], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert "password: pw-1" in peer.stdout
    return env, peer.stdout


# `fluxforge render`'s path_regex shape; the one of sops's own examples
CONFIGS = [None, "^secrets/", "\\.yaml$"]


@pytest.mark.interop
@pytest.mark.parametrize("path_regex", CONFIGS)
def test_a_one_file_decrypt_loads_its_store_only(tmp_path: Path, path_regex: str | None) -> None:
    env, peer = _encrypted_secret(tmp_path, path_regex)
    stdout, modules = _decrypt(tmp_path, env, "secrets/app.yaml")
    assert stdout == peer
    assert "generator.sops.stores.yaml" in modules  # the probe decrypted through the store
    loaded = sorted(m for m in modules if m.split(".")[0] in NOT_FOR_YAML or m in NOT_FOR_YAML)
    assert loaded == [], f"`fluxforge decrypt FILE` loaded {loaded}"


API_PROBE = r"""
import json, sys
from pathlib import Path
from generator.sops.api import decrypt_path
sys.stdout.buffer.write(decrypt_path(Path(sys.argv[1])))
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""
BELOW_THE_CLI = [*NOT_FOR_YAML, "inspect", "ast", "dis", "generator.sops.detect", "datetime"]  # click loads these


@pytest.mark.interop
@pytest.mark.parametrize("path_regex", CONFIGS)
def test_the_decrypt_api_loads_no_dataclasses_inspect_or_hashlib(tmp_path: Path, path_regex: str | None) -> None:
    """Below the CLI (whose click loads ``inspect``): the engine's own imports for one file."""
    env, peer = _encrypted_secret(tmp_path, path_regex)
    done = subprocess.run(
        [sys.executable, "-c", API_PROBE, "secrets/app.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert done.stdout == peer
    modules = json.loads(done.stderr.strip().splitlines()[-1])
    loaded = sorted(m for m in modules if m.split(".")[0] in BELOW_THE_CLI or m in BELOW_THE_CLI)
    assert loaded == [], f"decrypt_path loaded {loaded}"


@pytest.mark.interop
def test_a_json_file_loads_the_json_store_not_the_yaml_one(tmp_path: Path) -> None:
    key = make_age_key(tmp_path)
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(key.key_file)}
    secret = tmp_path / "app.json"
    secret.write_text('{"data": {"password": "pw-2"}, "n": 1.5}')
    subprocess.run(["sops", "encrypt", "--age", key.recipient, "--in-place", str(secret)], env=env, check=True)
    peer = subprocess.run(["sops", "-d", str(secret)], env=env, capture_output=True, text=True, check=True)
    stdout, modules = _decrypt(tmp_path, env, "app.json")
    assert stdout == peer.stdout and "pw-2" in stdout
    assert "generator.sops.stores.json" in modules
    assert not {"generator.sops.stores.yaml", "generator.sops.stores.ini", "generator.sops.stores.dotenv"} & modules


FAST = ["^(data|stringData)$", "^(a)$", "^(a_1|B2|0)$", "^secrets/", "secrets/", "^apps/base\\.v1/", "^a\\-b\\/c"]
FAST += ["", "^", "\\.yaml", "^d\u0430ta/", "\\.yaml$", "^data$", "secrets/$", "$", "^$", "^x\\.yaml$"]
SPANNED = ["secrets/.*\\.yaml$", "^secrets/.*\\.yaml$", "secrets/.*\\.yaml", "^secrets/.*", ".*", "^.*$", ".*\\.yaml$"]
SPANNED += [
    "^a.*b",
    "a.*b",
    "a.*b$",
    "^a.*b$",
    "^.*",
    ".*$",
    "^a\\-.*",
    "x.*x",
    "^x.*x$",
    "a\\..*b",
    "secrets/.*/.*\\.yaml",
]
FAST += SPANNED[:-1]  # two spans: RE2
PATTERNS = [*FAST, "^(data|stringData)", "(data|stringData)$", "^(data|string.Data)$", "^(data|)$"]
PATTERNS += ["^(data|stringData)$x", "^(?i)(data)$", "^(dat\\w)$", "^^a", "\\Aa", "a$$", "\\.yaml\\z"]
PATTERNS += ["\\.yaml$\\n", "(?m)data$", "\\$", "a\\$", "a\n.*b", "a.+b", "a.*?b", "a\\.*b", "(?s)a.*b", "a.*b.*"]
PATTERNS += [p for p in SPANNED if p not in FAST]
TEXTS = ["data", "stringData", "a", "a_1", "B2", "0", "", "Data", "datax", "xdata", "data\n", "\ndata", "data ", "dat"]
TEXTS += ["stringdata", "stringData\n", "d\u0430ta", "_data", "a_1|B2", "^(a)$", "secrets/x.yaml", "a/secrets/x"]
TEXTS += ["\nsecrets/", "Secrets/", "apps/base.v1/x", "apps/baseXv1/x", "a-b/c", "a\\-b/c", "x.yaml", "d\u0430ta/x"]
TEXTS += ["x.yaml\n", "x.yaml.bak", ".yaml", "a/secrets/", "secrets/\n", "$", "a$", "x\nx.yaml"]
TEXTS += ["secrets/a\nb.yaml", "secrets/.yaml", "x/secrets/y/z.yaml", "secrets/x.yaml\n", "secrets.yaml", "ab", "b"]
TEXTS += ["a\nb", "b a", "\n", "x", "xx", "x\nx", "axb\nb", "a\nab", "ba\nb", "secrets/a\nsecrets/b.yaml", "a-b", "a\n"]
TEXTS += [
    "secrets/x\nsecrets/.yaml",
    "secrets/.yaml\nx.yaml",
    "x/secrets/a/b/c.yaml",
    "\u0430.yaml",
    "secrets/\u0430.yaml",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_plain_patterns_match_as_re2_does(pattern: str) -> None:
    """``^(word|…)$``, literal patterns (``^clusters/prod/``) and two literals around ``.*`` (``secrets/.*\\.yaml$``)
    are answered without an engine: the same answers as RE2 for texts near them (a final or leading line
    break, a line break between the literals, other case, a look-alike letter, an escaped character); any
    other pattern goes to RE2."""
    compiled = regex.compile_re2(pattern, "test")
    assert isinstance(compiled, regex._Words | regex._Literal | regex._Spanned) is (pattern in FAST), pattern
    engine = re2.compile(pattern)
    for text in TEXTS:
        assert (compiled.search(text) is not None) is (engine.search(text) is not None), (pattern, text)
        assert regex.search(pattern, text, "test") is (engine.search(text) is not None), (pattern, text)


@settings(max_examples=300, deadline=None)
@given(
    st.booleans(),
    st.text("ab/.\n", max_size=3),
    st.text("ab/.\n", max_size=3),
    st.booleans(),
    st.lists(st.text("ab/.x\n", max_size=10), min_size=1, max_size=6),
)
def test_two_literals_around_dot_star_match_as_re2_does(
    anchored: bool, head: str, tail: str, at_end: bool, texts: list[str]
) -> None:
    """``head.*tail`` (either anchored or not) answered without an engine says what RE2 says, line breaks
    anywhere in the text included; a literal holding a line break goes to RE2."""
    pattern = f"{'^' if anchored else ''}{head.replace('.', chr(92) + '.')}.*{tail.replace('.', chr(92) + '.')}"
    pattern += "$" if at_end else ""
    compiled = regex.compile_re2(pattern, "test")
    assert isinstance(compiled, regex._Spanned) is ("\n" not in head + tail), pattern
    engine = re2.compile(pattern)
    for text in texts:
        assert (compiled.search(text) is not None) is (engine.search(text) is not None), (pattern, text)


@pytest.mark.interop
def test_a_folder_decrypt_of_secret_shaped_files_loads_no_ruamel_or_dataclasses(tmp_path: Path) -> None:
    """`fluxforge decrypt -i FOLDER` asks of every file whether it is encrypted (``detect``) before it decrypts
    it: for Secret-shaped files both readings are the fast readers', so neither ruamel (the general YAML
    parser, about 25 ms to import) nor ``dataclasses`` is loaded before the batch forks. The files hold what
    the real sops decrypts."""
    env, _ = _encrypted_secret(tmp_path, "^secrets/")
    for n in (2, 3):
        secret = tmp_path / "secrets" / f"app-{n}.yaml"
        secret.write_text(SECRET.format(n=n))
        subprocess.run(["sops", "encrypt", "--in-place", str(secret)], cwd=tmp_path, env=env, check=True)
    (tmp_path / "secrets" / "notes.yaml").write_text("kind: ConfigMap\ndata:\n  mode: plain\n")
    peers = {
        path.name: subprocess.run(
            ["sops", "-d", str(path)], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
        ).stdout
        for path in sorted((tmp_path / "secrets").glob("app*.yaml"))
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(["decrypt", "-i", "secrets"])],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr
    assert {name: (tmp_path / "secrets" / name).read_text() for name in peers} == peers
    assert (tmp_path / "secrets" / "notes.yaml").read_text() == "kind: ConfigMap\ndata:\n  mode: plain\n"
    assert "generator.sops.detect" in report["modules"]  # every file found below the folder was asked about
    loaded = sorted(m for m in report["modules"] if m.split(".")[0] in {"ruamel", "dataclasses"})
    assert loaded == [], f"`fluxforge decrypt -i FOLDER` loaded {loaded}"

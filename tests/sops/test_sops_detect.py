"""One rule for "encrypted" (issue 17, item 2), and it is sops's own.

Each case is a real file written by the real sops 3.11.0, then changed in one way. ``is_encrypted``
must say "encrypted" exactly when sops loads the metadata and finds a MAC; the real ``sops decrypt``
is run on every case to show which message it refuses with. Then the commands that ask the question
(encrypt, encrypt -i, check, the hook, lint) are run on plaintext that only *looks* encrypted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.errors import SopsError
from generator.sops import api
from tests.helpers.sops import AgeKey, make_age_key, run_sops, write_rule

pytestmark = pytest.mark.interop

PLAIN = {
    "yaml": b"password: hunter2\nnested:\n    key: v\n",
    "json": b'{\n\t"password": "hunter2"\n}\n',
    "dotenv": b"PASSWORD=hunter2\n",
    "ini": b"[db]\npassword = hunter2\n",
    "binary": b"hunter2\n",
}
NAMES = {"yaml": "f.yaml", "json": "f.json", "dotenv": "f.env", "ini": "f.ini", "binary": "f.bin"}


@pytest.fixture(scope="module")
def sops_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, AgeKey, dict[str, bytes]]:
    work = tmp_path_factory.mktemp("detect")
    key = make_age_key(work)
    write_rule(work, key.recipient)
    out = {}
    for fmt, name in NAMES.items():
        (work / name).write_bytes(PLAIN[fmt])
        out[fmt] = run_sops("encrypt", name, cwd=work, key_file=key.key_file).stdout
    return work, key, out


def _yaml_meta(text: str, edit: Callable[[str], str]) -> str:
    body, meta = text.split("sops:\n", 1)
    return body + "sops:\n" + edit(meta)


# (format, what changed, change, encrypted?, what sops 3.11 says when it refuses (None: it decrypts))
CASES: list[tuple[str, str, Callable[[str], str], bool, str | None]] = [
    ("yaml", "as written", lambda t: t, True, None),
    (
        "yaml",
        "mac emptied",
        lambda t: re.sub(r"(?m)^    mac: .*$", '    mac: ""', t),
        False,
        "MAC mismatch. File has no MAC",
    ),
    ("yaml", "mac removed", lambda t: re.sub(r"(?m)^    mac: .*\n", "", t), False, "File has no MAC"),
    (
        "yaml",
        "lastmodified not a time",
        lambda t: re.sub(r'lastmodified: "[^"]+"', 'lastmodified: "yesterday"', t),
        False,
        "cannot parse",
    ),
    (
        "yaml",
        "no keys",
        lambda t: re.sub(r"(?s)    age:\n.*?(?=    lastmodified)", "", t),
        False,
        "No keys found in file",
    ),
    (
        "yaml",
        "two selectors",
        lambda t: t.replace("    version:", "    encrypted_regex: x\n    version:"),
        False,
        "Cannot use more than one of",
    ),
    (
        "yaml",
        "version not semver",
        lambda t: t.replace("version: 3.11.0", "version: fluxforge"),
        False,
        "No Major.Minor.Patch elements found",
    ),
    (
        "yaml",
        "metadata in the second document only",
        lambda t: "plain: doc\n---\n" + t.replace("password: ENC", "other: ENC"),
        False,
        "sops metadata not found",
    ),
    (
        "yaml",
        "sops is a string",
        lambda t: t.split("sops:\n")[0] + "sops: ENC[AES256_GCM,x]\n",
        False,
        "cannot unmarshal",
    ),
    (
        "yaml",
        "unquoted lastmodified (go-yaml gives the text)",
        lambda t: re.sub(r'lastmodified: "([^"]+)"', r"lastmodified: \1", t),
        True,
        None,
    ),
    ("json", "as written", lambda t: t, True, None),
    (
        "json",
        "sops nested in a value",
        lambda t: json.dumps({"password": "hunter2", "note": json.loads(t)}),
        False,
        "sops metadata not found",
    ),
    ("json", "mac emptied", lambda t: re.sub(r'"mac": "[^"]*"', '"mac": ""', t), False, "File has no MAC"),
    (
        "json",
        "lastmodified is a number",
        lambda t: re.sub(r'"lastmodified": "[^"]*"', '"lastmodified": 5', t),
        False,
        "cannot unmarshal number",
    ),
    ("dotenv", "as written", lambda t: t, True, None),
    ("dotenv", "sops_mac removed", lambda t: re.sub(r"(?m)^sops_mac=.*\n", "", t), False, "File has no MAC"),
    ("ini", "as written", lambda t: t, True, None),
    ("ini", "mac removed", lambda t: re.sub(r"(?m)^mac +=.*\n", "", t), False, "File has no MAC"),
    ("binary", "as written", lambda t: t, True, None),
    (
        "binary",
        "sops nested",
        lambda t: json.dumps({"data": "x", "inner": json.loads(t)}),
        False,
        "sops metadata not found",
    ),
]


@pytest.mark.parametrize(
    ("fmt", "what", "change", "encrypted", "sops_says"), CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES]
)
def test_encrypted_exactly_when_sops_loads_metadata_with_a_mac(
    sops_files: tuple[Path, AgeKey, dict[str, bytes]],
    fmt: str,
    what: str,
    change: Callable[[str], str],
    encrypted: bool,
    sops_says: str | None,
) -> None:
    work, key, files = sops_files
    data = change(files[fmt].decode()).encode()
    assert api.is_encrypted(data, fmt) is encrypted
    state = api.sops_state(data, fmt)
    assert state.encrypted is encrypted
    assert encrypted or not state.present or state.problems
    assert all("hunter2" not in p for p in state.problems)
    target = work / f"case{NAMES[fmt]}"
    target.write_bytes(data)
    done = run_sops("decrypt", target.name, cwd=work, key_file=key.key_file, check=False)
    if sops_says is None:
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode != 0 and sops_says in done.stderr.decode(), done.stderr


def test_no_marker_bytes_heuristics() -> None:
    assert not api.is_encrypted(b"a: 1\nsops:\n    mac: ENC[AES256_GCM,x]\n", "yaml")  # no keys, no time
    assert not api.is_encrypted(b"a: 1\n# mac: ENC[\n", "yaml")
    assert not api.is_encrypted(b"A=1\nsops_mac=ENC[AES256_GCM,x]\n", "dotenv")
    assert not api.is_encrypted(b"{}", "json")
    assert not api.is_encrypted(b"\xff\xfe", "yaml")
    assert not api.is_encrypted(b"a: [\n", "yaml")
    with pytest.raises(ValueError, match="unknown sops format"):
        api.is_encrypted(b"", "toml")


NESTED_JSON = (
    json.dumps(
        {
            "password": "hunter2",
            "about": {"sops": {"mac": "ENC[AES256_GCM,data:x]"}},
            "why": '"mac": "ENC[ and sops: appear in this value',
        },
        indent=2,
    )
    + "\n"
)
LATER_DOC = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: hunter2\n"
    "---\nkind: Note\nsops:\n  mac: ENC[AES256_GCM,data:x]\n  note: 'mac: ENC['\n"
)


def test_encrypt_to_stdout_encrypts_plaintext_that_mentions_the_markers(run_cli, work: Path, age_key: AgeKey) -> None:
    write_rule(work, age_key.recipient)
    (work / "n.json").write_text(NESTED_JSON)
    result = run_cli("encrypt", "n.json")
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.stdout and '"password": "ENC[AES256_GCM,' in result.stdout
    (work / "n.enc.json").write_text(result.stdout)
    out = run_sops("decrypt", "n.enc.json", cwd=work, key_file=age_key.key_file)
    assert json.loads(out.stdout) == json.loads(NESTED_JSON)


def test_encrypt_in_place_check_and_hook_agree(run_cli, work: Path, age_key: AgeKey) -> None:
    write_rule(work, age_key.recipient, path_regex=r"secrets/")
    (work / "secrets").mkdir()
    (work / "secrets/n.json").write_text(NESTED_JSON)
    (work / "secrets/m.yaml").write_text(LATER_DOC)
    check = run_cli("check", "secrets")
    assert check.exit_code == 1
    assert "secrets/n.json:1:1: matched by .sops.yaml creation_rules[0]" in check.stderr
    assert "secrets/m.yaml:1:1: matched by .sops.yaml creation_rules[0]" in check.stderr
    enc = run_cli("encrypt", "-i", "secrets/n.json")
    assert enc.exit_code == 0 and "encrypted 1 file(s), 0 already encrypted" in enc.stderr
    assert "hunter2" not in (work / "secrets/n.json").read_text()
    # sops refuses nothing here and writes a second `sops:` key into document 2 (broken YAML);
    # fluxforge refuses, names the document, and changes nothing
    refused = run_cli("encrypt", "-i", "secrets/m.yaml")
    assert refused.exit_code == 1
    assert "secrets/m.yaml: has a top-level 'sops' key in document 2" in refused.stderr
    assert (work / "secrets/m.yaml").read_text() == LATER_DOC
    hook = run_cli("hook", "encrypt", "secrets/m.yaml")
    assert (work / "secrets/m.yaml").read_text() == LATER_DOC and "hunter2" not in hook.output
    assert run_cli("check", "secrets/n.json").exit_code == 0


def test_lint_treats_only_real_sops_files_as_encrypted(run_cli, work: Path, age_key: AgeKey) -> None:
    """lint skips ${var} checks in sops files (their values are ciphertext); a plaintext file with
    `sops:` and `mac: ENC[` lines is linted like any other."""
    write_rule(work, age_key.recipient)
    text = "apiVersion: v1\nkind: ConfigMap\ndata:\n  url: ${HOST}/x\nsops:\n  mac: ENC[AES256_GCM,data:x]\n"
    (work / "cm.yaml").write_text(text)
    # ${var} is substituted (and linted) only in what a Kustomization with postBuild builds: here, everything
    (work / "ks.yaml").write_text(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n"
        "  name: all\nspec:\n  path: ./\n  postBuild:\n    substitute: {}\n"
    )
    found = run_cli("lint", ".")
    assert "cm.yaml:4" in found.output and "${HOST}" in found.output
    (work / "cm.yaml").write_text(text.replace("sops:\n  mac: ENC[AES256_GCM,data:x]\n", ""))
    assert run_cli("encrypt", "-i", "cm.yaml").exit_code == 0
    assert "cm.yaml" not in run_cli("lint", ".").output


# Edits around a Secret-shaped file's sops block, for the keyless look that composes the block alone
TAIL_EDITS: list[tuple[str, Callable[[str], str]]] = [
    ("as written", lambda t: t),
    ("a control character in a data value", lambda t: t.replace("password: ENC[", "password: \x01ENC[", 1)),
    ("a tab in the data lines", lambda t: t.replace("nested:\n    key:", "nested:\n\tkey:", 1)),
    ("a top-level sops key in the data lines too", lambda t: "sops: x\n" + t),
    ("an anchor and an alias in the data lines", lambda t: "a: &x 1\nb: *x\n" + t),
    ("an asterisk inside a data value", lambda t: "a: x*y\n" + t),
    ("a key after the sops block", lambda t: t + "extra: 1\n"),
    ("a merge key after the sops block", lambda t: t + "<<: 5\n"),
    ("a mergeable merge key after the sops block", lambda t: t + "<<: {a: 1}\n"),
    ("a second document after the sops block", lambda t: t + "---\nx: 1\n"),
    ("a comment in the data lines", lambda t: "# note\n" + t),
    ("a document marker first", lambda t: "---\n" + t),
    ("a YAML 1.2 directive first", lambda t: "%YAML 1.2\n---\n" + t),
    ("a data line the block continues", lambda t: t.replace("\nsops:\n", "\n  more\nsops:\n", 1)),
    ("a data value left open", lambda t: t.replace("\nsops:\n", "\nopen: [\nsops:\n", 1)),
    ("the sops block indented", lambda t: t.replace("\nsops:\n", "\n  sops:\n", 1)),
    ("mac emptied", lambda t: re.sub(r"(?m)^    mac: .*$", '    mac: ""', t)),
    ("the sops block broken", lambda t: t.replace("    lastmodified:", "  lastmodified:", 1)),
    ("a BOM", lambda t: "\ufeff" + t),
    ("a non-BMP character in a data key", lambda t: "\U0001f511: v\n" + t),
]


def test_secret_shaped_files_get_the_whole_file_verdict(
    sops_files: tuple[Path, AgeKey, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keyless look composes only the ``sops:`` block of a Secret-shaped file (the data lines before it
    cannot change the verdict): every edit gets the same state (verdict, problems, metadata) as composing
    the whole file, on the real sops's file and on fluxforge-encrypted Secrets."""
    from generator.sops import detect
    from tests.sops.test_sops_fast import secrets

    _work, key, files = sops_files
    texts = [edit(files["yaml"].decode()) for _, edit in TAIL_EDITS]
    rule = api.CreationRule(key_groups=[[("age", key.recipient)]])
    for name, plain in secrets(40):
        try:
            ciphertext = api.encrypt_bytes(plain.encode(), fmt="yaml", rule=rule, path_for_errors=name).decode()
        except SopsError:
            continue  # an odd value no YAML reader takes (refused by both paths: tests/sops/test_sops_fast.py)
        texts += [edit(ciphertext) for _, edit in TAIL_EDITS]
    tails = 0
    for text in texts:
        tails += detect.secret_shaped(text) is not None
        fast = api.sops_state(text.encode(), "yaml")
        with monkeypatch.context() as m:
            m.setattr(detect, "secret_shaped", lambda _text: None)
            whole = api.sops_state(text.encode(), "yaml")
        assert fast == whole, text
    assert tails >= 20 * 8, tails  # the block alone was composed for most of them
    assert api.is_encrypted(files["yaml"], "yaml") and detect.secret_shaped(files["yaml"].decode())


# keys that read `sops` without the word in the text: a double-quoted scalar's escapes (an escaped line break
# needs the explicit key form: an implicit key is one line)
SPELLED_SOPS = ['"\\x73ops"', '"\\u0073ops"', '? "so\\\n  ps"\n', '"\\x73\\x6f\\x70\\x73"']


def test_a_text_without_the_word_sops_or_a_backslash_is_not_composed(
    sops_files: tuple[Path, AgeKey, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``detect`` answers "no metadata" for a YAML text holding neither ``sops`` nor a backslash without
    composing it; every text of the hook corpus, plaintext Secrets near YAML's edges, and the real sops's
    file with its ``sops`` key spelled by escapes (or otherwise renamed) gets the state the general path
    gives (the shortcut off)."""
    from generator import yamlio
    from generator.sops import detect
    from tests.helpers.hooks import CORPUS
    from tests.sops.test_sops_fast import secrets

    encrypted = sops_files[2]["yaml"].decode()
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(CORPUS.rglob("*.yaml"))]
    texts += [plain for _, plain in secrets(60)]
    texts += [encrypted.replace("\nsops:\n", f"\n{key}:\n", 1) for key in SPELLED_SOPS]
    texts += [encrypted.replace("\nsops:\n", "\nsopz:\n", 1), encrypted.replace("sops", "SOPS")]
    shortcut = 0
    for text in texts:
        with monkeypatch.context() as m:
            if detect._cannot_hold_sops(text):
                shortcut += 1
                m.setattr(yamlio, "compose_first", None)  # any composing would fail
            fast = api.sops_state(text.encode(), "yaml")
        with monkeypatch.context() as m:
            m.setattr(detect, "_cannot_hold_sops", lambda _text: False)
            whole = api.sops_state(text.encode(), "yaml")
        assert fast == whole, text
    assert shortcut >= 40, shortcut
    spelled = [
        api.sops_state(encrypted.replace("\nsops:\n", f"\n{key}:\n", 1).encode(), "yaml") for key in SPELLED_SOPS
    ]
    assert all(state.present for state in spelled)  # the escapes do spell `sops`: read as metadata

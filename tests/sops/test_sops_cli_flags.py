"""sops's CLI flags (issue 17, item 5), each checked against the real sops 3.11.0.

``fluxforge encrypt`` takes the flags of ``sops -e`` (``sops encrypt`` 3.11 lacks the comment
regexes, ``--mac-only-encrypted`` and ``--indent``): the ciphertext must be sops's once the random
parts are masked, and sops must decrypt it. ``decrypt --extract`` prints what ``sops decrypt
--extract`` prints; ``--ignore-mac`` decrypts a changed file with a warning, as sops does.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from generator.errors import UsageError
from generator.sops import api
from tests.helpers.sops import AgeKey, make_age_key, mask, run_sops, write_rule

pytestmark = pytest.mark.interop

DOC = (
    "# about data\ndata:\n    password: hunter2\n    port: 5432\nother: clear\nkey_secret: s\n"
    "user_unencrypted: me\n# keep-clear\nnote: visible\n"
)

FLAGS = [
    ("--encrypted-regex", "^data$"),
    ("--unencrypted-regex", "^other$"),
    ("--encrypted-suffix", "_secret"),
    ("--unencrypted-suffix", "_unencrypted"),
    ("--encrypted-comment-regex", "about"),
    ("--unencrypted-comment-regex", "keep-clear"),
]


def _same(ours: str, theirs: str) -> None:
    assert mask(ours) == mask(theirs)


@pytest.mark.parametrize(("flag", "value"), FLAGS, ids=[f for f, _ in FLAGS])
def test_selector_flags_encrypt_as_sops_e(
    work: Path, age_key: AgeKey, run_cli: Callable[..., Result], flag: str, value: str
) -> None:
    write_rule(work, age_key.recipient)
    (work / "d.yaml").write_text(DOC)
    ours = run_cli("encrypt", flag, value, "d.yaml")
    assert ours.exit_code == 0, ours.output
    theirs = run_sops("-e", flag, value, "d.yaml", cwd=work).stdout.decode()
    _same(ours.stdout, theirs)
    (work / "ours.yaml").write_text(ours.stdout)
    assert (
        run_sops("decrypt", "ours.yaml", cwd=work, key_file=age_key.key_file)
        .stdout.decode()
        .startswith("# about data\ndata:\n")
    )


def test_a_flag_replaces_the_same_selector_of_the_rule(
    work: Path, age_key: AgeKey, run_cli: Callable[..., Result]
) -> None:
    write_rule(work, age_key.recipient, "encrypted_regex: ^data$")
    (work / "d.yaml").write_text(DOC)
    ours = run_cli("encrypt", "--encrypted-regex", "^other$", "d.yaml")
    assert ours.exit_code == 0, ours.output
    _same(ours.stdout, run_sops("encrypt", "--encrypted-regex", "^other$", "d.yaml", cwd=work).stdout.decode())
    assert "password: hunter2" in ours.stdout and "other: ENC[" in ours.stdout


def test_a_different_selector_in_the_rule_is_a_conflict(
    work: Path, age_key: AgeKey, run_cli: Callable[..., Result]
) -> None:
    write_rule(work, age_key.recipient, "encrypted_regex: ^data$")
    (work / "d.yaml").write_text(DOC)
    theirs = run_sops("encrypt", "--unencrypted-suffix", "_x", "d.yaml", cwd=work, check=False)
    assert theirs.returncode != 0 and b"cannot use more than one of" in theirs.stderr
    ours = run_cli("encrypt", "--unencrypted-suffix", "_x", "d.yaml")
    assert ours.exit_code == 1  # a conflict with the file's rule: reported with the other per-file problems
    assert "--unencrypted-suffix and encrypted_regex of .sops.yaml creation_rules[0] are two selectors" in ours.stderr
    both = run_cli("encrypt", "--encrypted-regex", "a", "--unencrypted-regex", "b", "d.yaml")
    assert both.exit_code == 2 and "use only one of --unencrypted-regex, --encrypted-regex" in both.stderr
    bad = run_cli("encrypt", "--encrypted-regex", "(?=x)", "d.yaml")
    assert bad.exit_code == 1 and "--encrypted-regex" in bad.stderr
    assert (work / "d.yaml").read_text() == DOC


def test_mac_only_encrypted_flag(work: Path, age_key: AgeKey, run_cli: Callable[..., Result]) -> None:
    write_rule(work, age_key.recipient, "encrypted_regex: ^data$")
    (work / "d.yaml").write_text(DOC)
    ours = run_cli("encrypt", "--mac-only-encrypted", "d.yaml")
    assert ours.exit_code == 0 and "    mac_only_encrypted: true\n" in ours.stdout
    _same(ours.stdout, run_sops("-e", "--mac-only-encrypted", "d.yaml", cwd=work).stdout.decode())
    (work / "ours.yaml").write_text(ours.stdout.replace("other: clear", "other: changed"))
    assert b"other: changed" in run_sops("decrypt", "ours.yaml", cwd=work, key_file=age_key.key_file).stdout


def test_age_flag_replaces_the_rule_keys_and_works_without_a_config(
    work: Path, age_key: AgeKey, run_cli: Callable[..., Result]
) -> None:
    other = make_age_key(work, "other.txt")
    (work / "d.yaml").write_text(DOC)
    alone = run_cli("encrypt", "--age", f" {other.recipient} ,", "d.yaml")
    assert alone.exit_code == 0, alone.output
    assert f"recipient: {other.recipient}" in alone.stdout
    (work / "ours.yaml").write_text(alone.stdout)
    assert b"hunter2" in run_sops("decrypt", "ours.yaml", cwd=work, key_file=other.key_file).stdout
    folder = run_cli("encrypt", "-i", "--age", other.recipient, ".")
    assert folder.exit_code == 1 and "a folder needs .sops.yaml creation rules" in folder.stderr
    write_rule(work, age_key.recipient, path_regex=r"^secrets/")
    unmatched = run_cli("encrypt", "--age", other.recipient, "d.yaml")
    assert unmatched.exit_code == 1 and "no creation rule in .sops.yaml matches this file" in unmatched.stderr
    assert run_sops("encrypt", "--age", other.recipient, "d.yaml", cwd=work, check=False).returncode != 0
    write_rule(work, age_key.recipient)
    replaced = run_cli("encrypt", "--age", other.recipient, "d.yaml")
    assert replaced.exit_code == 0 and age_key.recipient not in replaced.stdout
    _same(replaced.stdout, run_sops("encrypt", "--age", other.recipient, "d.yaml", cwd=work).stdout.decode())


def test_azure_kv_flag_gives_the_key_group() -> None:
    flags = api.encrypt_flags(azure_kv="https://v.vault.azure.net/keys/k/1,", age="age1x")
    rule = flags.rule(api.CreationRule(key_groups=[[("age", "age1y")]]), "rule")
    assert rule.key_groups == [[("azure_kv", "https://v.vault.azure.net/keys/k/1"), ("age", "age1x")]]
    with pytest.raises(UsageError, match="--input-type: 'toml' is not a sops store"):
        api.encrypt_flags(input_type="toml")


def test_input_and_output_types(work: Path, age_key: AgeKey, run_cli: Callable[..., Result]) -> None:
    write_rule(work, age_key.recipient)
    (work / "d.txt").write_text(DOC)
    as_yaml = run_cli("encrypt", "--input-type", "yaml", "--output-type", "yaml", "d.txt")
    assert as_yaml.exit_code == 0, as_yaml.output
    theirs = run_sops("encrypt", "--input-type", "yaml", "--output-type", "yaml", "d.txt", cwd=work).stdout
    _same(as_yaml.stdout, theirs.decode())
    to_json = run_cli("encrypt", "--output-type", "json", "d.yaml" if False else "d.txt", "--input-type", "yaml")
    assert to_json.exit_code == 0 and to_json.stdout.startswith('{\n\t"data": {\n')
    theirs = run_sops("encrypt", "--input-type", "yaml", "--output-type", "json", "d.txt", cwd=work).stdout
    _same(to_json.stdout, theirs.decode())


def test_indent_flag(work: Path, age_key: AgeKey, run_cli: Callable[..., Result]) -> None:
    write_rule(work, age_key.recipient)
    (work / "d.yaml").write_text(DOC)
    ours = run_cli("encrypt", "--indent", "2", "d.yaml")
    assert ours.exit_code == 0 and "\n  password: ENC[" in ours.stdout
    _same(ours.stdout, run_sops("-e", "--indent", "2", "d.yaml", cwd=work).stdout.decode())
    as_json = run_cli("encrypt", "--indent", "3", "--output-type", "json", "d.yaml")
    _same(as_json.stdout, run_sops("-e", "--indent", "3", "--output-type", "json", "d.yaml", cwd=work).stdout.decode())


EXTRACTS = [
    '["data"]["password"]',
    '["data"]["port"]',
    '["data"]',
    "['l'][0]",
    '["l"]',
    '["l"][1]',
    '["n"]',
    '["f"]',
    '["b"]',
    '["z"]',
]


@pytest.mark.parametrize("store", ["yaml", "json"])
def test_extract_prints_what_sops_prints(
    work: Path, age_key: AgeKey, run_cli: Callable[..., Result], store: str
) -> None:
    write_rule(work, age_key.recipient)
    text = (
        '{"data": {"password": "hunter2", "port": 5432}, "l": ["a", {"k": "v"}], "n": 5, "f": 1.5, '
        '"b": true, "z": null}'
    )
    (work / f"p.{store}").write_text(text)
    (work / f"e.{store}").write_bytes(run_sops("encrypt", f"p.{store}", cwd=work).stdout)
    for path in EXTRACTS:
        expected = run_sops("decrypt", "--extract", path, f"e.{store}", cwd=work, key_file=age_key.key_file).stdout
        got = run_cli("decrypt", "--extract", path, f"e.{store}", env={"SOPS_AGE_KEY_FILE": str(age_key.key_file)})
        assert got.exit_code == 0, got.output
        assert got.stdout_bytes == expected, path
    missing = run_cli(
        "decrypt", "--extract", '["nope"]', f"e.{store}", env={"SOPS_AGE_KEY_FILE": str(age_key.key_file)}
    )
    assert missing.exit_code == 1 and "--extract: component ['nope'] not found" in missing.stderr
    bad = run_cli("decrypt", "--extract", "data", f"e.{store}")
    assert bad.exit_code == 2 and "does not end with ']'" in bad.stderr


def test_ignore_mac_decrypts_a_changed_file_with_a_warning(
    work: Path, age_key: AgeKey, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_rule(work, age_key.recipient)
    (work / "d.yaml").write_text(DOC)
    encrypted = run_sops("encrypt", "d.yaml", cwd=work).stdout.decode()
    (work / "t.yaml").write_text(encrypted.replace("user_unencrypted: me", "user_unencrypted: you"))
    env = {"SOPS_AGE_KEY_FILE": str(age_key.key_file)}
    refused = run_cli("decrypt", "t.yaml", env=env)
    assert refused.exit_code == 1 and "MAC mismatch" in refused.stderr
    theirs = run_sops("decrypt", "--ignore-mac", "t.yaml", cwd=work, key_file=age_key.key_file).stdout
    ours = run_cli("decrypt", "--ignore-mac", "t.yaml", env=env)
    assert ours.exit_code == 0 and ours.stdout_bytes == theirs
    assert "warning: --ignore-mac: the MAC is not enforced" in ours.stderr
    assert "warning: t.yaml: MAC mismatch" in ours.stderr and "hunter2" not in ours.stderr
    editor = work / "editor.py"
    editor.write_text(
        "import sys\np = sys.argv[1]\nt = open(p).read()\nopen(p, 'w').write(t.replace('note: "
        "visible', 'note: edited'))\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(age_key.key_file))
    assert run_cli("edit", "t.yaml").exit_code == 1
    edited = run_cli("edit", "--ignore-mac", "t.yaml")
    assert edited.exit_code == 0, edited.output
    out = run_sops("decrypt", "t.yaml", cwd=work, key_file=age_key.key_file).stdout  # a valid MAC again
    assert b"note: edited" in out and b"user_unencrypted: you" in out

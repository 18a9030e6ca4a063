"""fluxforge encrypt → sops decrypt, sops encrypt → fluxforge decrypt, and byte layout vs sops 3.11.

Every case encrypts the same plaintext with both tools under the same .sops.yaml, then checks:
sops decrypts our file to exactly what it decrypts its own file to; we decrypt sops's file to
exactly what sops prints; our ciphertext file equals sops's once random parts are masked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.sops import api
from tests.helpers.sops import AgeKey, mask, run_sops, write_rule

SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: app
  namespace: default
  labels:
    app.kubernetes.io/name: app
type: Opaque
data:
  password: aHVudGVyMg==
  token: dG9rZW4=
stringData:
  user: admin
  config.yaml: |
    url: https://example.com
    retries: 3
"""

MULTI_DOC = (
    SECRET
    + """\
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
data:
  key: value
---
apiVersion: v1
kind: Secret
metadata:
  name: second
stringData:
  other: x
"""
)

COMMENTS = """\
# top comment
apiVersion: v1
kind: Secret
metadata:
  name: s  # inline after a value
stringData:
  # head of user
  user: admin
  nested:
    # deep comment
    deeper: v
    # sops:enc
    marked: secret
  # end of stringData
# trailer
"""

NESTED = """\
db:
  host: db.local
  port: 5432
  replicas:
    - name: r1
      weight: 0.5
    - name: r2
      weight: 1
  matrix:
    - [1, 2]
    - - a
      - b
  empty_map: {}
  empty_list: []
plain_unencrypted:
  keep: me
  list_unencrypted: [1, 2]
"""

SCALARS = """\
int: 42
negative: -7
octal: 017
hex: 0x1F
big_int: 9007199254740993
float_small: 1e-05
float_tenth: 0.1
float_big: 1.0e+22
float_round: 1.50
float_one: 1.0
float_huge_int: 99999999999999999999
bool_true: true
bool_false: False
yes_string: yes
null_value: null
tilde: ~
empty_string: ""
quoted_number: "123"
quoted_bool: "true"
unicode: "héllo wörld ✓ 日本"
emoji: "🎉 party"
tab: "a\\tb"
literal: |
  line1
  line2
literal_strip: |-
  no newline
folded: >
  folded text
  continues
lead_space: "  leading"
trail_space: "trailing "
colon: "a: b"
hash: "a #b"
date: 2024-01-02
timestamp: 2024-01-02T03:04:05Z
long: aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo pppp qqqq rrrr ssss tttt
"""

EDGE = """\
base: &b
  x: 1
use:
  <<: *b
  y: 2
alias: *b
bin: !!binary aGVsbG8=
custom: !custom x
forced_int: !!int "5"
"yes": n
"0": key that looks like a number
---
---
second: document after an empty one
"""

INPUTS = {
    "edge": EDGE,
    "secret": SECRET,
    "multidoc": MULTI_DOC,
    "comments": COMMENTS,
    "nested": NESTED,
    "scalars": SCALARS,
}

SELECTORS = {
    "default": "",
    "encrypted_regex": "encrypted_regex: ^(data|stringData)$",
    "unencrypted_regex": "unencrypted_regex: ^(kind|apiVersion|name|host)$",
    "encrypted_suffix": "encrypted_suffix: word",
    "unencrypted_suffix": "unencrypted_suffix: _unencrypted",
    "encrypted_comment_regex": "encrypted_comment_regex: sops:enc",
    "unencrypted_comment_regex": "unencrypted_comment_regex: sops:clear",
    "mac_only_encrypted": "encrypted_regex: ^(data|stringData|host|replicas)$\nmac_only_encrypted: true",
    "indent2": "encrypted_regex: ^(data|stringData)$",
}

CASES = (
    [(i, s) for i in INPUTS for s in ("default", "encrypted_regex")]
    + [("comments", s) for s in SELECTORS if s not in ("default", "encrypted_regex", "indent2")]
    + [("nested", "unencrypted_suffix"), ("nested", "mac_only_encrypted"), ("scalars", "unencrypted_regex")]
)


def _both(
    work: Path, key: AgeKey, text: str, extra: str, name: str = "file.yaml", stores: str = ""
) -> tuple[bytes, bytes]:
    """(our ciphertext, sops's ciphertext) of the same plaintext under the same rule."""
    config = write_rule(work, key.recipient, extra)
    config.write_text(config.read_text() + stores)
    plain = work / name
    plain.write_text(text)
    rule = api.load_rules(config).rule_for(plain)
    assert rule is not None
    ours = api.encrypt_bytes(plain.read_bytes(), fmt=api.detect_format(plain), rule=rule)
    theirs = run_sops("encrypt", name, cwd=work).stdout
    return ours, theirs


def _check(work: Path, key: AgeKey, ours: bytes, theirs: bytes, name: str) -> None:
    fmt = api.detect_format(name)
    settings = api.load_rules(work / ".sops.yaml")
    indents = {"yaml_indent": settings.yaml_indent, "json_indent": settings.json_indent}
    (work / f"ours.{name}").write_bytes(ours)
    (work / f"theirs.{name}").write_bytes(theirs)
    sops_of_theirs = run_sops("decrypt", f"theirs.{name}", cwd=work, key_file=key.key_file).stdout
    sops_of_ours = run_sops("decrypt", f"ours.{name}", cwd=work, key_file=key.key_file).stdout
    assert sops_of_ours == sops_of_theirs
    assert api.decrypt_bytes(theirs, fmt=fmt, **indents) == sops_of_theirs
    assert api.decrypt_bytes(ours, fmt=fmt, **indents) == sops_of_theirs
    assert mask(ours.decode()) == mask(theirs.decode())


@pytest.mark.interop
@pytest.mark.parametrize(("source", "selector"), CASES)
def test_yaml_interop(work: Path, age_key: AgeKey, source: str, selector: str) -> None:
    ours, theirs = _both(work, age_key, INPUTS[source], SELECTORS[selector])
    _check(work, age_key, ours, theirs, "file.yaml")


@pytest.mark.interop
def test_yaml_indent_from_sops_yaml(work: Path, age_key: AgeKey) -> None:
    ours, theirs = _both(work, age_key, NESTED, "", stores="stores:\n  yaml:\n    indent: 2\n")
    assert b"\n  host:" in ours
    _check(work, age_key, ours, theirs, "file.yaml")


@pytest.mark.interop
def test_kubernetes_secret_keeps_kind_and_metadata_clear(work: Path, age_key: AgeKey) -> None:
    ours, _ = _both(work, age_key, SECRET, SELECTORS["encrypted_regex"])
    text = ours.decode()
    assert "kind: Secret\n" in text and "    name: app\n" in text
    assert "hunter" not in text and "admin" not in text
    assert "\n    mac: ENC[AES256_GCM," in text  # the marker kustomize-controller looks for

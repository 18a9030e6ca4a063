"""An adversarial corpus of real-world-shaped files (fixed seed) for the interop suite (issue 17).

Every file comes in one of the selector variants sops has (default suffix, both suffixes, both key
regexes, both comment regexes, ``mac_only_encrypted``); YAML files carry comments at awkward places
(dedented below their block, after the last item of a list of maps, empty ``#`` lines, inline, on
the ``---`` line, before aliases and merge keys, comment-only documents), strings go-yaml writes in
every style (tabs, U+2028, U+0085, a leading U+FEFF, ``<<``, values that look like numbers), and
the flat stores get their own traps (``=`` and ``#`` in values, repeated keys, spaces around names).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

SEED = 1717

# (name, .sops.yaml rule lines) — the name doubles as a directory name
VARIANTS: list[tuple[str, str]] = [
    ("default", ""),
    ("unencrypted_suffix", "unencrypted_suffix: _unencrypted"),
    ("encrypted_suffix", "encrypted_suffix: _secret"),
    ("unencrypted_regex", "unencrypted_regex: ^(apiVersion|kind|name|namespace|labels|app|PUBLIC.*|public)$"),
    ("encrypted_regex", "encrypted_regex: ^(data|stringData|password|token|PASSWORD|TOKEN|secret)$"),
    ("unencrypted_comment_regex", "unencrypted_comment_regex: keep-clear"),
    ("encrypted_comment_regex", "encrypted_comment_regex: sops:enc"),
    (
        "mac_only_encrypted",
        ("encrypted_regex: ^(data|stringData|password|token|PASSWORD|TOKEN|secret)$\nmac_only_encrypted: true"),
    ),
]


@dataclass(frozen=True)
class Case:
    name: str
    fmt: str  # yaml, json, dotenv, ini, binary
    variant: str
    text: bytes


_WORDS = ["alpha", "beta", "db", "cache", "api", "web", "queue", "auth", "metrics", "backup"]
_VALUES = [
    "hunter2",
    "s3cr3t-value",
    "42",
    "0x1F",
    "017",
    "1.50",
    "true",
    "yes",
    "no",
    "~",
    "null",
    "",
    "2024-01-02",
    "2024-01-02T03:04:05Z",
    "-7",
    "1e3",
    ".inf",
    "a b c",
    "x: y",
    "#not-a-comment",
    "it's",
    '"quoted"',
    "<<",
    "- dash",
    "@at",
    "%pct",
    "key=value",
    "tab\there",
    "trail ",
    " lead",
    "ünïcödé",
    "emoji 😀",
    "a\u2028b",
    "x\x85y",
    "\ufeffbom",
    "multi\nline\n",
    "multi\n\ttab\n",
    "keep\n\n",
    "no-final\nnewline",
]
_KEYS = [
    "password",
    "token",
    "user_unencrypted",
    "api_secret",
    "name",
    "public",
    "data",
    "stringData",
    "note",
    "url",
    "port",
    "enabled",
    "secret",
    "labels",
]
_COMMENTS = [
    "# plain comment",
    "#",
    "# keep-clear: stays readable",
    "# sops:enc below",
    '# DEBUG: "1"',
    "#no space",
    "# trailing   ",
]


def _yaml_scalar(rng: random.Random) -> str:
    value = rng.choice(_VALUES)
    style = rng.random()
    if "\n" in value and style < 0.6:
        return "|" + ("" if value.endswith("\n") else "-")  # block marker; body follows
    if (
        style < 0.4
        and value
        and value.strip() == value
        and value[0] not in "-@%\"'#<\ufeff"
        and ": " not in value
        and not any(ch in value for ch in "\t\u2028\x85\n")
    ):
        return value
    return json.dumps(value, ensure_ascii=False)  # double-quoted YAML is JSON-compatible here


def _yaml_value_lines(rng: random.Random, indent: int, step: int) -> tuple[str, list[str]]:
    """The text after ``key:`` and the lines that follow (block scalar bodies)."""
    scalar = _yaml_scalar(rng)
    if scalar.startswith("|"):
        body = rng.choice([v for v in _VALUES if "\n" in v])
        lines = [(" " * (indent + step) + line) if line else "" for line in body.rstrip("\n").split("\n")]
        chomp = "" if body.endswith("\n") and not body.endswith("\n\n") else "+" if body.endswith("\n") else "-"
        return "|" + chomp, lines
    return scalar, []


def _yaml_mapping(rng: random.Random, indent: int, step: int, depth: int) -> list[str]:
    lines: list[str] = []
    keys = rng.sample(_KEYS, rng.randint(1, 4))
    for key in keys:
        kind = rng.random()
        if depth < 3 and kind < 0.25:
            lines.append(" " * indent + f"{key}:")
            lines.extend(_yaml_mapping(rng, indent + step, step, depth + 1))
        elif depth < 3 and kind < 0.45:
            lines.append(" " * indent + f"{key}:")
            lines.extend(_yaml_list(rng, indent + rng.choice([0, step]), step, depth + 1))
        else:
            text, body = _yaml_value_lines(rng, indent, step)
            lines.append(" " * indent + f"{key}: {text}")
            lines.extend(body)
    return lines


def _yaml_list(rng: random.Random, indent: int, step: int, depth: int) -> list[str]:
    lines: list[str] = []
    for _ in range(rng.randint(1, 3)):
        if depth < 3 and rng.random() < 0.4:
            sub = _yaml_mapping(rng, indent + 2, step, depth + 1)
            lines.append(" " * indent + "- " + sub[0].lstrip())
            lines.extend(sub[1:])
        else:
            text, body = _yaml_value_lines(rng, indent, step)
            lines.append(" " * indent + f"- {text}")
            lines.extend(body)
    return lines


def _with_comments(rng: random.Random, lines: list[str]) -> list[str]:
    """Comments between lines (not inside block scalars), at the line's indentation or dedented."""
    out: list[str] = []
    in_block = -1
    for i, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        if in_block >= 0 and (not line.strip() or indent > in_block):
            out.append(line)
            continue
        in_block = indent if line.rstrip().endswith(("|", "|-", "|+")) else -1
        if rng.random() < 0.18 and i > 0:
            out.append(" " * rng.choice([0, indent, max(indent - 2, 0)]) + rng.choice(_COMMENTS))
        out.append(line + ("  # inline" if rng.random() < 0.08 and in_block < 0 and line.strip() else ""))
    return out


def _k8s_secret(rng: random.Random, step: int) -> list[str]:
    pad = " " * step
    lines = [
        "apiVersion: v1",
        "kind: Secret",
        "metadata:",
        f"{pad}name: {rng.choice(_WORDS)}-secret",
        f"{pad}namespace: {rng.choice(_WORDS)}",
        "type: Opaque",
        "stringData:",
    ]
    for key in rng.sample(_KEYS, 3):
        text, body = _yaml_value_lines(rng, step, step)
        lines.append(f"{pad}{key}: {text}")
        lines.extend(body)
    return lines


_FIXED_YAML = [
    "k11:\n  - m: v5\n  #\nk2: x\n",  # issue 17: trailing empty comment after a list of maps
    'a:\n  b: 1\n# DEBUG: "1"\n  c: 2\n',  # dedented comment between indented keys
    "base: &b\n  # in anchor\n  x: 1\n# before alias\nother: *b\nm:\n  # before merge\n  <<: *b\n  y: 2\n",
    "a: 1\n---\n# only a comment\n---\nb: 2\n",  # comment-only document
    "a: 1\n--- # on the dashes\nb: 2\n",
    "\ufeff# first line after a BOM\na: 1\n",
    'tabs: "a\\tb\\nc\\td\\n"\nls: "a\\u2028b"\nnel: "a\\x85b"\nbom: "\\ufeffhello"\nmerge: "<<"\n',
    "list:\n  # head\n  - a: 1\n    b: 2\n  # between\n  - c\n  # tail\nnext: 1\n",
    "deep:\n  er:\n    est:\n      - - x\n        - y\n      # after nested list\n    k: v\n",
    "empty_map: {}\nempty_list: []\nnull_value:\n# trailing\n",
]


def yaml_cases(rng: random.Random, count: int) -> list[Case]:
    cases = [
        Case(f"fixed{i:02d}", "yaml", VARIANTS[i % len(VARIANTS)][0], text.encode())
        for i, text in enumerate(_FIXED_YAML)
    ]
    for i in range(count - len(cases)):
        step = rng.choice([2, 4])
        body = _k8s_secret(rng, step) if rng.random() < 0.3 else _yaml_mapping(rng, 0, step, 0)
        text = "\n".join(_with_comments(rng, body)) + "\n"
        if rng.random() < 0.15:
            text = "# " + rng.choice(_WORDS) + " settings\n" + text
        cases.append(Case(f"yaml{i:03d}", "yaml", VARIANTS[i % len(VARIANTS)][0], text.encode()))
    return cases


def _json_value(rng: random.Random, depth: int) -> object:
    kind = rng.random()
    if depth < 3 and kind < 0.2:
        return {k: _json_value(rng, depth + 1) for k in rng.sample(_KEYS, rng.randint(1, 3))}
    if depth < 3 and kind < 0.35:
        return [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    choice = rng.random()
    if choice < 0.15:
        return rng.choice([0, -5, 42, 2**53 + 1, 3.25, 1e-7, 1e21, -0.0])
    if choice < 0.2:
        return rng.choice([True, False, None])
    return rng.choice(_VALUES) + ("<>&" if rng.random() < 0.1 else "")


def json_cases(rng: random.Random, count: int) -> list[Case]:
    cases = []
    for i in range(count):
        obj = {k: _json_value(rng, 0) for k in rng.sample(_KEYS, rng.randint(1, 5))}
        if i % 7 == 0:  # plaintext that mentions the sops markers (issue 17, item 2)
            obj["about"] = {"sops": {"mac": "ENC[AES256_GCM,data:x]"}, "why": '"mac": "ENC['}
        cases.append(
            Case(
                f"json{i:03d}",
                "json",
                VARIANTS[i % len(VARIANTS)][0],
                (json.dumps(obj, ensure_ascii=rng.random() < 0.3, indent=rng.choice([None, 2])) + "\n").encode(),
            )
        )
    return cases


_ENV_KEYS = ["PASSWORD", "TOKEN", "PUBLIC_URL", "DB_HOST", "API_SECRET", "USER_unencrypted", "PORT", "NOTE"]
_ENV_VALUES = [
    "hunter2",
    "a=b=c",
    "with spaces",
    "#hash",
    "  lead",
    "trail  ",
    "",
    "x\\ny",
    "ünï",
    "42",
    "'quoted'",
    '"dq"',
]


def dotenv_cases(rng: random.Random, count: int) -> list[Case]:
    cases = []
    for i in range(count):
        lines = []
        for key in rng.sample(_ENV_KEYS, rng.randint(1, 5)):
            if rng.random() < 0.2:
                lines.append(rng.choice(["# comment", "#", "# keep-clear", "# sops:enc"]))
            lines.append(f"{key}{' ' if rng.random() < 0.1 else ''}={rng.choice(_ENV_VALUES)}")
        cases.append(Case(f"env{i:03d}", "dotenv", VARIANTS[i % len(VARIANTS)][0], ("\n".join(lines) + "\n").encode()))
    return cases


_INI_KEYS = ["password", "token", "host", "port", "public", "api_secret", "user_unencrypted", "name"]
_INI_VALUES = ["hunter2", "with spaces", "x;y", "a#b", '"  quoted  "', "'single'", "", "42", "ünï", "a = b", "`tick`"]


def ini_cases(rng: random.Random, count: int) -> list[Case]:
    cases = []
    for i in range(count):
        lines = []
        if rng.random() < 0.3:
            lines.append(f"top = {rng.choice(_INI_VALUES)}")
        for section in rng.sample(_WORDS, rng.randint(1, 3)):
            if rng.random() < 0.3:
                lines.append(rng.choice(["; section note", "# keep-clear", "# sops:enc"]))
            lines.append(f"[{section}]")
            for key in rng.sample(_INI_KEYS, rng.randint(1, 4)):
                if rng.random() < 0.2:
                    lines.append(rng.choice(["; key note", "# another", "# keep-clear"]))
                sep = rng.choice(["=", " = ", ":", " : "])
                lines.append(f"{key}{sep}{rng.choice(_INI_VALUES)}")
            lines.append("")
        cases.append(Case(f"ini{i:03d}", "ini", VARIANTS[i % len(VARIANTS)][0], ("\n".join(lines)).encode()))
    return cases


def binary_cases(rng: random.Random, count: int) -> list[Case]:
    blobs = [
        b"\x00\x01\x02binary\xff",
        b"tls key\n",
        b"",
        "\u2028line sep\r\n".encode(),
        bytes(range(256)),
        b'{"sops": 1}\n',
    ]
    return [
        Case(
            f"bin{i:03d}",
            "binary",
            VARIANTS[i % len(VARIANTS)][0],
            blobs[i % len(blobs)] + bytes([rng.randint(0, 255)]),
        )
        for i in range(count)
    ]


def corpus() -> list[Case]:
    """The whole corpus, the same on every run (``SEED``)."""
    rng = random.Random(SEED)
    return [
        *yaml_cases(rng, 120),
        *json_cases(rng, 48),
        *dotenv_cases(rng, 24),
        *ini_cases(rng, 24),
        *binary_cases(rng, 6),
    ]

"""The JSON store as sops 3.11 writes it: order kept, every number a float64, Go's escaping,
``json.Indent`` with a tab (or ``stores.json.indent`` spaces) and a final newline."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from generator.errors import SopsError
from generator.sops.metadata import to_plain
from generator.sops.stores.base import decode_text, sops_entry_refused
from generator.sops.values import Branch, Comment, GoTime, format_float

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json_float(value: float) -> str:
    """``json.Marshal(float64)``: plain digits, exponent form below 1e-6 and from 1e21."""
    if math.isnan(value) or math.isinf(value):
        raise SopsError(f"JSON cannot hold the float {value}")
    magnitude = abs(value)
    if magnitude == 0 or 1e-6 <= magnitude < 1e21:
        return format_float(value)
    mant, _, exp_text = repr(value).partition("e")
    exp = int(exp_text)
    return f"{mant}e-{-exp}" if exp < 0 else f"{mant}e+{exp:02d}"


def go_json_string(value: str) -> str:
    text = json.dumps(value, ensure_ascii=False)
    for raw, esc in _GO_ESCAPES.items():
        text = text.replace(raw, esc)
    return text.replace("\\u007f", "\x7f")


def encode(value: object) -> str:
    """Compact JSON of a tree value, as sops's ``encodeValue``/``json.Marshal``."""
    if isinstance(value, Branch):
        return (
            "{"
            + ",".join(f"{go_json_string(str(k))}: {encode(v)}" for k, v in value if not isinstance(k, Comment))
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value if not isinstance(v, Comment)) + "]"
    return _encode_scalar(value)


def _encode_scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_json_float(value)
    if isinstance(value, GoTime):
        return go_json_string(value.text)
    if isinstance(value, bytes):
        return go_json_string(value.decode("utf-8", "replace"))
    if isinstance(value, str):
        return go_json_string(value)
    raise SopsError(f"cannot write {type(value).__name__} to JSON")


def indent(compact: str, step: int) -> str:
    """``json.Indent`` of the compact JSON ``encode`` produces (tab when ``step`` < 0)."""
    return _reindent(compact, "\t" if step < 0 else " " * step)


_TOKENS = re.compile(r'"(?:\\.|[^"\\])*"|[{\[][}\]]|[{}\[\],:]|[^"{}\[\],:]+')


def _reindent(compact: str, unit: str) -> str:
    out: list[str] = []
    depth = 0
    for match in _TOKENS.finditer(compact):
        tok = match.group(0)
        if tok in ("{", "["):
            depth += 1
            out.append(tok + "\n" + unit * depth)
        elif tok in ("}", "]"):
            depth -= 1
            out.append("\n" + unit * depth + tok)
        elif tok == ",":
            out.append(",\n" + unit * depth)
        elif tok == ":":
            out.append(": ")
        elif not tok.isspace():
            out.append(tok.strip() if tok[0] != '"' else tok)
    return "".join(out)


def load_branch(data: bytes, name: str) -> Branch:
    text = decode_text(data, name)
    from generator.yamlguard import TooComplex, check_depth, too_deep

    try:
        value = json.loads(text, object_pairs_hook=Branch, parse_int=float, parse_constant=_bad_constant)
        check_depth(value)
    except json.JSONDecodeError as err:
        raise SopsError(f"{name}:{err.lineno}: invalid JSON: {err.msg}") from None
    except RecursionError:
        raise SopsError(f"{name}: invalid JSON: {too_deep()}") from None
    except TooComplex as err:
        raise SopsError(f"{name}: invalid JSON: {err}") from None
    if not isinstance(value, Branch):
        raise SopsError(f"{name}: the top level of a JSON file must be an object for sops")
    return value


def _bad_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"invalid constant {name}", name, 0)


class JsonStore:
    name = "json"

    def __init__(self, indent: int = -1) -> None:
        self.indent = indent

    def load_plain(self, data: bytes, name: str) -> list[Branch]:
        branch = load_branch(data, name)
        if any(k == "sops" for k, _ in branch):
            raise SopsError(sops_entry_refused(name, 'a top-level "sops" key'))
        return [branch]

    def load_encrypted(self, data: bytes, name: str) -> tuple[list[Branch], Any]:
        branch = load_branch(data, name)
        meta = next((to_plain(v) for k, v in branch if k == "sops"), None)
        return [Branch((k, v) for k, v in branch if k != "sops")], meta

    def emit_encrypted(self, docs: list[Branch], meta: Branch) -> bytes:
        return self.emit_plain([Branch([*docs[0], ("sops", meta)])])

    def emit_plain(self, docs: list[Branch]) -> bytes:
        return (indent(encode(docs[0]), self.indent) + "\n").encode("utf-8", "surrogateescape")

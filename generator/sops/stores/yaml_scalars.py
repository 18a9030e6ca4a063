"""Scalars resolved to the Go types sops sees (sops-format.md §1.6): nulls, booleans, ints, floats, times."""

from __future__ import annotations

import math
import re

from generator.sops.regex import lazy
from generator.sops.values import GoTime

_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_SPECIAL_FLOATS = {".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan}
for _s in (".inf", ".Inf", ".INF"):
    _SPECIAL_FLOATS[_s] = _SPECIAL_FLOATS["+" + _s] = math.inf
    _SPECIAL_FLOATS["-" + _s] = -math.inf
_YAML_FLOAT = lazy(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_TS = lazy(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2}))"
    r"|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,9}))?))?"
)
INT64 = (-(2**63), 2**63 - 1)
UINT64_MAX = 2**64 - 1


class Unsupported(Exception):
    """A value sops cannot walk (e.g. an integer above int64)."""


def parse_go_int(text: str) -> int | None:
    """``strconv.ParseInt(s, 0, 64)`` without the range check (None if not an integer)."""
    m = re.fullmatch(r"([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)", text)
    if not m:
        return None
    body = m.group(2)
    if len(body) > 1 and body[0] == "0" and body[1] in "xXoObB":
        value = int(body[2:], {"x": 16, "o": 8, "b": 2}[body[1].lower()])
    elif len(body) > 1 and body[0] == "0":
        value = int(body, 8)
    else:
        value = int(body)
    return -value if m.group(1) == "-" else value


def resolve_plain(text: str) -> object:
    """The Go value of a plain (unquoted, untagged) scalar."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    hint = text[0]
    if hint == ".":
        try:
            return float(text)
        except ValueError:
            return text
    if not (hint.isdigit() and hint.isascii()) and hint not in "+-":
        return text
    return _resolve_number(text)


def _resolve_number(text: str) -> object:
    stamp = parse_timestamp(text)
    if stamp is not None:
        return stamp
    plain = text.replace("_", "")
    value = parse_go_int(plain)
    if value is not None:
        if INT64[0] <= value <= INT64[1]:
            return value
        if 0 <= value <= UINT64_MAX:
            raise Unsupported("integer above the int64 range (sops cannot encrypt uint64 values)")
    if _YAML_FLOAT().fullmatch(plain):
        number = float(plain)
        if not math.isinf(number):
            return number
    return text


def resolve_tagged(tag: str, text: str) -> object:
    """A scalar with an explicit standard tag (``!!str``, ``!!int`` …); other tags give the text."""
    short = tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:") else ""
    if short == "binary":
        import base64
        import binascii

        try:
            return base64.b64decode("".join(text.split()), validate=True).decode("utf-8", "surrogateescape")
        except (binascii.Error, ValueError):
            raise Unsupported("!!binary value is not valid base64 (fix the value or drop the !!binary tag)") from None
    if short in ("", "str"):
        return text
    value = resolve_plain(text)
    if short == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def parse_timestamp(text: str) -> GoTime | None:
    """go-yaml's four timestamp layouts, rendered as Go's ``time.MarshalText``."""
    m = _TS().fullmatch(text)
    if not m:
        return None
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    hour, minute, second, frac, zone = m.group(4), m.group(5), m.group(6), m.group(7), m.group(8)
    if hour is None:
        hour, minute, second, frac, zone = m.group(9), m.group(10), m.group(11), m.group(12), "Z"
    if hour is None:
        hour, minute, second, frac, zone = "0", "0", "0", None, "Z"
    from datetime import datetime

    try:
        datetime(year, month, day, int(hour), int(minute), int(second))
    except ValueError:
        return None
    if len(m.group(2)) > 2 or len(m.group(3)) > 2:
        return None
    out = f"{year:04d}-{month:02d}-{day:02d}T{int(hour):02d}:{int(minute):02d}:{int(second):02d}"
    if frac and frac.rstrip("0"):
        out += "." + frac.rstrip("0")
    return GoTime(out + ("Z" if zone in ("Z", "+00:00") else zone))

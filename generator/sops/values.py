"""Leaf values as the Go sops tree holds them, and their canonical bytes (``ToBytes``)."""

from __future__ import annotations

import math

from generator.sops.record import record


@record(frozen=True)
class Comment:
    """A comment line (text after ``#``, leading space kept)."""

    value: str


@record(frozen=True)
class SeqComment(Comment):
    """An encrypted comment inside a sequence: sops 3.11 writes it as a list item
    ``- ENC[…,type:comment]`` (and reads it back as a comment); ``value`` is the ``ENC[…]`` text."""


@record(frozen=True)
class GoTime:
    """A YAML timestamp, kept as Go's ``time.MarshalText`` form (RFC 3339 with nanoseconds)."""

    text: str


class Branch(list[tuple[object, object]]):
    """An ordered mapping: ``(key, value)`` items; a ``Comment`` key holds a comment line."""


def format_float(value: float) -> str:
    """``strconv.FormatFloat(v, 'f', -1, 64)``: shortest round-trip digits, never an exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    from decimal import Decimal  # here: only files with floats need it (not every decrypt's start-up)

    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_float_g(value: float) -> str:
    """``strconv.FormatFloat(v, 'g', -1, 64)`` (what go-yaml writes for a float)."""
    if math.isnan(value) or math.isinf(value):
        return format_float(value)
    from decimal import Decimal

    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    ds = "".join(map(str, digits)) or "0"
    if ds == "0":
        return "-0" if sign else "0"
    exp = len(ds) + exponent - 1  # decimal exponent of the first digit
    minus = "-" if sign else ""
    if exp < -4 or exp >= 6:
        return minus + _exponent_form(ds, exp)
    return minus + format_float(abs(value))


def _exponent_form(digits: str, exp: int) -> str:
    """``d.ddde±XX`` from the significant digits and the decimal exponent of the first one."""
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def to_bytes(value: object) -> bytes:
    """The canonical plaintext of a leaf: what sops encrypts and feeds into the MAC."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, bool):
        return b"True" if value else b"False"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return format_float(value).encode()
    if isinstance(value, bytes):
        return value
    if isinstance(value, GoTime):
        return value.text.encode()
    if isinstance(value, Comment):
        return value.value.encode("utf-8", "surrogateescape")
    raise TypeError(f"unsupported leaf type {type(value).__name__}")


def type_name(value: object) -> str:
    """The ``type:`` field sops writes for a leaf."""
    if isinstance(value, (str, bytes)):
        return "str"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, GoTime):
        return "time"
    if isinstance(value, Comment):
        return "comment"
    raise TypeError(f"unsupported leaf type {type(value).__name__}")

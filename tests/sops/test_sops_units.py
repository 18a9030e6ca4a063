"""Small pure pieces: canonical plaintexts, go-yaml float output, Shamir, dotenv flattening."""

from __future__ import annotations

import os

import pytest

from generator.sops import shamir
from generator.sops.stores.flat import flatten, unflatten
from generator.sops.stores.json import go_json_float
from generator.sops.stores.yaml_scalars import resolve_plain
from generator.sops.values import Branch, GoTime, format_float, format_float_g, to_bytes


@pytest.mark.parametrize(
    ("value", "canonical", "g"),
    [
        (1.0, "1", "1"),
        (1e-05, "0.00001", "1e-05"),
        (0.1, "0.1", "0.1"),
        (1e22, "10000000000000000000000", "1e+22"),
        (1234568000.0, "1234568000", "1.234568e+09"),
        (-0.0, "-0", "-0"),
        (100000.0, "100000", "100000"),
        (float("inf"), "+Inf", "+Inf"),
        (float("nan"), "NaN", "NaN"),
    ],
)
def test_float_forms(value: float, canonical: str, g: str) -> None:
    assert format_float(value) == canonical
    assert format_float_g(value) == g


def test_to_bytes() -> None:
    assert to_bytes(True) == b"True" and to_bytes(False) == b"False"
    assert to_bytes(-7) == b"-7" and to_bytes(GoTime("2024-01-02T00:00:00Z")) == b"2024-01-02T00:00:00Z"
    assert to_bytes("x\udcff") == b"x\xff"


def test_go_json_float() -> None:
    assert [go_json_float(v) for v in (1e21, 1.5e-7, 5.0, 1e-6)] == ["1e+21", "1.5e-7", "5", "0.000001"]


def test_scalar_resolution_as_sops_reads_it() -> None:
    assert resolve_plain("017") == 15 and resolve_plain("0x1F") == 31 and resolve_plain("08") == 8.0
    assert resolve_plain("yes") == "yes" and resolve_plain("True") is True and resolve_plain("~") is None
    assert resolve_plain("2024-01-02") == GoTime("2024-01-02T00:00:00Z")
    assert resolve_plain("99999999999999999999") == 1e20


def test_shamir_roundtrip() -> None:
    secret = os.urandom(32)
    parts = shamir.split(secret, 5, 3)
    assert all(len(p) == 33 for p in parts)
    assert shamir.combine([parts[4], parts[1], parts[2]]) == secret
    assert shamir.combine(parts[:2]) != secret


def test_flatten_roundtrip() -> None:
    meta = Branch(
        [
            ("age", [Branch([("recipient", "age1x"), ("enc", "a\nb\n")])]),
            ("lastmodified", "t"),
            ("mac_only_encrypted", True),
        ]
    )
    flat = flatten(meta)
    assert flat == {
        "age__list_0__map_recipient": "age1x",
        "age__list_0__map_enc": "a\\nb\\n",
        "lastmodified": "t",
        "mac_only_encrypted": "true",
    }
    assert unflatten(flat) == {
        "age": [{"recipient": "age1x", "enc": "a\nb\n"}],
        "lastmodified": "t",
        "mac_only_encrypted": "true",
    }

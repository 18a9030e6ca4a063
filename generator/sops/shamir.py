"""Shamir secret sharing over GF(2^8) (AES polynomial), parts laid out as HashiCorp Vault / sops do:
``y_1 … y_n ‖ x``."""

from __future__ import annotations

import os


def _mul(a: int, b: int) -> int:
    out = 0
    while b:
        if b & 1:
            out ^= a
        a = (a << 1) ^ (0x11B if a & 0x80 else 0)
        b >>= 1
    return out


def _inv(a: int) -> int:
    result, power, exp = 1, a, 254
    while exp:
        if exp & 1:
            result = _mul(result, power)
        power = _mul(power, power)
        exp >>= 1
    return result


def split(secret: bytes, parts: int, threshold: int) -> list[bytes]:
    """``parts`` shares, any ``threshold`` of which rebuild ``secret``; x coordinates 1..parts."""
    if not 2 <= threshold <= parts <= 255:
        raise ValueError("need 2 <= threshold <= parts <= 255")
    coeffs = [[b, *os.urandom(threshold - 1)] for b in secret]
    out = []
    for x in range(1, parts + 1):
        ys = bytearray()
        for poly in coeffs:
            acc = 0
            for c in reversed(poly):
                acc = _mul(acc, x) ^ c
            ys.append(acc)
        out.append(bytes(ys) + bytes([x]))
    return out


def combine(parts: list[bytes]) -> bytes:
    """Lagrange interpolation at 0 of equally long parts with distinct x (the last byte)."""
    if len(parts) < 2 or len({len(p) for p in parts}) != 1 or len(parts[0]) < 2:
        raise ValueError("need at least two parts of equal length")
    xs = [p[-1] for p in parts]
    if len(set(xs)) != len(xs):
        raise ValueError("duplicate Shamir parts")
    bases = [_lagrange_basis(xs, i) for i in range(len(xs))]
    secret = bytearray()
    for idx in range(len(parts[0]) - 1):
        acc = 0
        for part, basis in zip(parts, bases, strict=True):
            acc ^= _mul(part[idx], basis)
        secret.append(acc)
    return bytes(secret)


def _lagrange_basis(xs: list[int], i: int) -> int:
    """The Lagrange basis polynomial of point ``i`` evaluated at 0, over GF(2^8)."""
    basis = 1
    for j, xj in enumerate(xs):
        if i != j:
            basis = _mul(basis, _mul(xj, _inv(xs[i] ^ xj)))
    return basis

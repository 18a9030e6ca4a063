"""Just enough protobuf to read the one body ``kubectl`` sends that way: ``kubectl create token`` posts a
``TokenRequest`` in Kubernetes' protobuf envelope (``k8s\\0`` + ``runtime.Unknown``). Answers go back as JSON,
which the client accepts (it asks for ``application/vnd.kubernetes.protobuf,application/json``)."""

from __future__ import annotations

from typing import Any

MAGIC = b"k8s\x00"


class ProtoError(ValueError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ProtoError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs of one message: ints for varints, bytes for length-delimited fields."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            size, pos = _varint(data, pos)
            out.append((number, data[pos : pos + size]))
            pos += size
        else:
            raise ProtoError(f"unsupported wire type {wire}")
    return out


def token_request(body: bytes) -> dict[str, Any]:
    """The ``spec`` of a protobuf TokenRequest (audiences, expirationSeconds) as the JSON shape."""
    if not body.startswith(MAGIC):
        raise ProtoError("not a Kubernetes protobuf envelope")
    raw = next((v for n, v in fields(body[len(MAGIC) :]) if n == 2 and isinstance(v, bytes)), b"")
    spec_bytes = next((v for n, v in fields(raw) if n == 2 and isinstance(v, bytes)), b"")
    spec: dict[str, Any] = {"audiences": []}
    for number, value in fields(spec_bytes):
        if number == 1 and isinstance(value, bytes):
            spec["audiences"].append(value.decode("utf-8"))
        elif number == 4 and isinstance(value, int):
            spec["expirationSeconds"] = value
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}

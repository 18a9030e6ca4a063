"""The cheaper forms a one-file decrypt uses instead of heavier imports (issue 19, item 6) give the same
answers as what they replace: cryptography's ``AESGCM`` taken from its binding is the public class,
``binascii`` reads and writes base64 as ``base64.b64decode(validate=True)``/``b64encode`` do, the MAC
(SHA-512 through cryptography) is hashlib's digest, and a lazily compiled pattern is ``re.compile``'s.
No timing here: bench/decrypt.py measures; tests/sops/test_sops_decrypt_startup.py holds the imports."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from generator.errors import SopsError
from generator.sops import aead, metadata, regex, tree
from generator.sops.stores import yaml_emit, yaml_fast
from generator.sops.values import Branch, Comment

GOOD = base64.b64encode(b"0123456789abcdef").decode()
BASE64_TEXTS = [base64.b64encode(os.urandom(n)).decode() for n in range(34)]
BASE64_TEXTS += [t.rstrip("=") for t in BASE64_TEXTS if t.endswith("=")]  # padding missing
BASE64_TEXTS += ["", "=", "==", "A===", "QQ==QQ==", "QQ=", "Q", "QQ", "QUI", "QUJD", "QUJD===", "QU=J"]
BASE64_TEXTS += ["QU JD", "QUJD\n", "\nQUJD", "QUJD\t", "QU-_", "QU+/", "QUJ\u00e9", "QUJD\x00", "ＱＵＪＤ", "QUJD\r\n"]


def _parts(text: str) -> bytes | None:
    """The data part of an ``ENC[…]`` value whose data is ``text`` (None: refused as malformed base64)."""
    try:
        return aead.parse_enc(f"ENC[AES256_GCM,data:{text},iv:{GOOD},tag:{GOOD},type:str]").data
    except aead.MalformedValue as err:
        assert not err.shape
        return None


def _b64decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


@pytest.mark.parametrize("text", BASE64_TEXTS)
def test_enc_parts_are_read_as_strict_b64decode(text: str) -> None:
    if text == "":
        return  # the ENC pattern itself needs one character per part (shape error, not base64)
    assert _parts(text) == _b64decode(text), repr(text)


def test_enc_parts_are_written_as_b64encode() -> None:
    for size in range(70):
        data = os.urandom(size)
        assert aead._b64(data) == base64.b64encode(data).decode(), size
    cipher = aead.Cipher(os.urandom(32))
    sealed = cipher.encrypt("a value\nover two lines", "k:")
    assert cipher.decrypt(sealed, "k:") == "a value\nover two lines"
    b64 = "[A-Za-z0-9+/=]"
    assert re.fullmatch(rf"ENC\[AES256_GCM,data:{b64}+,iv:{b64}{{44}},tag:{b64}{{24}},type:str\]", sealed)


def test_aesgcm_from_the_binding_is_the_public_class() -> None:
    assert aead.aesgcm_class() is AESGCM


def test_mac_prefix_is_sha256_of_sops() -> None:
    assert hashlib.sha256(b"sops").digest() == tree.MAC_ONLY_ENCRYPTED_INIT


@pytest.mark.parametrize("only_encrypted", [False, True])
def test_mac_is_hashlib_sha512(only_encrypted: bool) -> None:
    """The walk's MAC: upper-case hex SHA-512 of the selected leaves' bytes (comments excluded), prefixed
    by SHA-256("sops") when only encrypted values count, as hashlib computes it."""
    doc = Branch([("a", "x"), ("b_unencrypted", "y"), (Comment(" note"), None), ("c", [1, 2.5, True])])
    walker = tree.Walker(tree.Selection(mac_only_encrypted=only_encrypted), lambda v, _a, _c: v, decrypting=False)
    expected = hashlib.sha512(hashlib.sha256(b"sops").digest() if only_encrypted else b"")
    for leaf in [b"x", *([] if only_encrypted else [b"y"]), b"1", b"2.5", b"True"]:
        expected.update(leaf)
    assert walker.run([doc]) == expected.hexdigest().upper()


def test_a_lazy_pattern_is_compiled_once_as_re_compiles_it() -> None:
    get = regex.lazy("[a-z]+", re.IGNORECASE)
    first = get()
    assert first is get()
    eager = re.compile("[a-z]+", re.IGNORECASE)
    assert (first.pattern, first.flags) == (eager.pattern, eager.flags)
    assert first.fullmatch("AbC") is not None


CHAR_CLASSES = {
    "yaml_fast._ODD": yaml_fast._ODD,
    "yaml_fast._META_ODD_CHAR": yaml_fast._META_ODD_CHAR,
    "yaml_emit._ANY_BREAK": yaml_emit._ANY_BREAK,
    "yaml_emit._SPECIAL": yaml_emit._SPECIAL,
}
ASCII = "".join(map(chr, range(128)))
CLASS_TEXTS = ["", "plain", "a#b", "x\ty", "line\r\n", "two\nlines", "caf\u00e9", "\u2028", "a\ufeff", "\x7f", "\\"]
CLASS_TEXTS += [
    "sops:\n    age: []\n",
    "\x85",
    "\ud800",
    "\U0001f600",
    "\x00",
    "tab\t\u00e9",
    "#\u00e9",
    ASCII,
    ASCII[32:127],
]


@pytest.mark.parametrize("name", sorted(CHAR_CLASSES))
def test_a_char_class_answers_as_its_pattern(name: str) -> None:
    """The ASCII members a class is given are the ASCII characters its pattern matches, so an ASCII text
    (answered without the pattern) and any other text (answered by it) get the pattern's answer."""
    found = CHAR_CLASSES[name]
    pattern = found.pattern()
    assert [ch for ch in ASCII if pattern.search(ch)] == [chr(b) for b in sorted(found.ascii_members)]
    for text in [*CLASS_TEXTS, *ASCII, *(ASCII[i : i + 7] for i in range(0, 128, 5))]:
        assert found.found_in(text) is (pattern.search(text) is not None), repr(text)


STAMPS = [
    f"{year:04d}-{month:02d}-{day:02d}T{time}Z"
    for year in (0, 999, 1000, 1582, 1900, 1999, 2000, 2023, 2024, 2100, 2400, 9999)
    for month in range(14)
    for day in (0, 1, 28, 29, 30, 31, 32)
    for time in ("00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60")
]
STAMPS += ["2024-01-02t03:04:05Z", "2024-01-02T03:04:05z", "2024-01-02T03:04:05+00:00", "2024-01-02T03:04:05.5Z"]
STAMPS += [
    "2024-01-02T03:04:05+01:30",
    "2024-01-02 03:04:05Z",
    "2024-01-02T03:04:05",
    "",
    "x" * 20,
    "2024-1-02T03:04:05Z",
]
STAMPS += ["\uff12024-01-02T03:04:05Z", "2024-01-02T03:04:0\u0665Z", "+2024-01-02T03:04:5Z", "2024-01-02T03:04:05ZZ"]


def _aad(stamp: str) -> str:
    try:
        return metadata.mac_aad(stamp, "f.yaml")
    except SopsError as err:
        return f"error: {err}"


def test_the_mac_aad_of_what_sops_writes_is_what_the_datetime_parse_gives() -> None:
    """``sops.lastmodified`` as sops writes it (``YYYY-MM-DDTHH:MM:SSZ``) is its own RFC 3339 form when it
    names a real time: the same answer (or the same error) as parsing and formatting it with ``datetime``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(metadata, "_written_by_sops", lambda _stamp: False)
        expected = [_aad(stamp) for stamp in STAMPS]
    assert [_aad(stamp) for stamp in STAMPS] == expected
    assert sum(metadata._written_by_sops(stamp) for stamp in STAMPS) > 1000  # the fast answer was given

"""The Secret-shaped fast path of the YAML store (issue 19, item 2) gives the general path's bytes.

Every file is encrypted twice with the same data key, IVs and timestamp: once as fluxforge does it
(the fast reader and writer where the file has their shape) and once with the fast path switched
off. The two files must be byte-identical, and so must the trees both readers give and the
plaintext both writers print after decryption. The inputs are the interop corpus (every YAML case
under every selector variant: comments, lists, anchors, odd strings — mostly not Secret-shaped, so
the fast path must step aside) and a seeded set of Kubernetes Secrets with the values that are
close to the edge (numbers, booleans, ``yes``, colons, dots, ``ENC[``-like text, long keys).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from generator.errors import SopsError
from generator.sops import engine
from generator.sops import metadata as md
from generator.sops.keys import KeyOptions
from generator.sops.rules import CreationRule
from generator.sops.stores import yaml as yaml_store
from generator.sops.stores import yaml_fast
from generator.sops.stores.yaml_fast import emit_simple, load_simple, read_metadata
from generator.sops.tree import DEFAULT_SELECTOR
from tests.sops.corpus_gen import VARIANTS, corpus

_KEY = bytes(range(32))
_WORDS = [
    "app",
    "db-main",
    "tls.crt",
    ".dockerconfigjson",
    "user_unencrypted",
    "api_secret",
    "x",
    "a b",
    "password",
    "token",
    "url",
    "data",
    "stringData",
    "sops",
    "labels",
    "release-1.2",
]
_VALUES = [
    "v1",
    "Opaque",
    "hunter2",
    "s3cr3t-value",
    "cDRzc3cwcmQ=",
    "https://db.example.com:5432/app",
    "a:b",
    "a b",
    "42",
    "0x1F",
    "1.50",
    "true",
    "yes",
    "no",
    "~",
    "null",
    "2024-01-02",
    "-7",
    ".inf",
    "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",
    "^(data|stringData)$",
    "é-ü",
    "x#y",
    "it's",
    "a,b",
    "[a]",
    "{b}",
    "@at",
    "%p",
    "k" * 140,
    "trail ",
    "1e3",
    "12:30",
    "kustomize.toolkit.fluxcd.io/v1",
]


def _selector(variant: str) -> tuple[tuple[str, str], bool]:
    lines = dict(variant_rules.split(": ", 1) for variant_rules in dict(VARIANTS)[variant].splitlines())
    mac_only = lines.pop("mac_only_encrypted", "") == "true"
    return (next(iter(lines.items())) if lines else DEFAULT_SELECTOR), mac_only


def secrets(count: int, seed: int = 19) -> list[tuple[str, str]]:
    """Kubernetes Secrets, Secret-shaped except for the odd value (then the general path takes them)."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        pad = " " * rng.choice([2, 4, 3])
        lines = ["apiVersion: v1", "kind: Secret", "metadata:", f"{pad}name: app-{n}", f"{pad}namespace: team-{n % 7}"]
        if rng.random() < 0.3:
            lines += [f"{pad}labels:", f"{pad}{pad}app.kubernetes.io/name: {rng.choice(_WORDS)}"]
        lines.append("type: Opaque")
        for section in rng.sample(["data", "stringData"], rng.randint(1, 2)):
            lines.append(f"{section}:")
            for key in rng.sample(_WORDS, rng.randint(1, 4)):
                value = rng.choice(_VALUES) if rng.random() < 0.08 else f"value-{rng.randrange(10**6)}"
                lines.append(f"{pad}{key}: {value}")
        out.append((f"secret{n:03d}", "\n".join(lines) + "\n"))
    return out


@contextmanager
def general_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with monkeypatch.context() as m:
        m.setattr(yaml_store, "load_simple", lambda text: None)
        m.setattr(yaml_store, "read_encrypted", lambda text, keep=False: None)
        m.setattr(yaml_store, "emit_simple", lambda doc, indent: None)
        yield


def _encrypt(
    text: str, selector: tuple[str, str], mac_only: bool, indent: int, monkeypatch: pytest.MonkeyPatch
) -> bytes:
    """Encrypt with a fixed data key, IV sequence and timestamp (so both paths can be compared)."""
    rng = random.Random(text)
    store = yaml_store.YamlStore(indent)
    meta = md.Metadata(selector=selector, mac_only_encrypted=mac_only)
    meta.groups = [
        [md.KeyEntry("age", {"recipient": "age1test", "enc": "-----BEGIN AGE-----\nQUJD\n-----END AGE-----\n"})]
    ]
    with monkeypatch.context() as m:
        m.setattr("generator.sops.aead.os.urandom", rng.randbytes)
        m.setattr(md, "now_rfc3339", lambda: "2026-11-30T02:00:00Z")
        docs = store.load_plain(text.encode(), "case.yaml")
        return engine.seal(docs, meta, _KEY, store, "case.yaml")


def _both(
    text: str, selector: tuple[str, str], mac_only: bool, indent: int, monkeypatch: pytest.MonkeyPatch
) -> tuple[bytes | str, bytes | str]:
    def one() -> bytes | str:
        try:
            return _encrypt(text, selector, mac_only, indent, monkeypatch)
        except SopsError as err:
            return str(err)

    fast = one()
    with general_only(monkeypatch):
        general = one()
    return fast, general


def _decrypted_both(encrypted: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, bytes]:
    def one() -> bytes:
        opened = engine.open_file(
            encrypted, fmt="yaml", name="case.yaml", cache={}, options=KeyOptions(), data_key=_KEY, rule=CreationRule()
        )
        return opened.store.emit_plain(opened.docs)

    fast = one()
    with general_only(monkeypatch):
        general = one()
    return fast, general


def test_fast_path_is_byte_identical_on_the_interop_corpus_and_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [(c.name, c.text.decode("utf-8", "surrogateescape"), c.variant) for c in corpus() if c.fmt == "yaml"]
    cases += [(name, text, VARIANTS[i % len(VARIANTS)][0]) for i, (name, text) in enumerate(secrets(300))]
    read_fast = written_fast = decrypted = 0
    for name, text, variant in cases:
        selector, mac_only = _selector(variant)
        read_fast += load_simple(text) is not None
        for indent in (4, 2):
            fast, general = _both(text, selector, mac_only, indent, monkeypatch)
            assert fast == general, f"{name} ({variant}, indent {indent}): the fast path wrote other bytes"
            if isinstance(fast, str):
                continue  # refused by both, with the same message
            opened = yaml_store.YamlStore(indent).load_encrypted(fast, name)
            written_fast += (
                emit_simple(
                    yaml_store.Branch([*opened[0][0], ("sops", md.to_branch(md.from_mapping(opened[1], name)))]), indent
                )
                is not None
            )
            plain_fast, plain_general = _decrypted_both(fast, monkeypatch)
            assert plain_fast == plain_general, f"{name}: decrypted text differs between the paths"
            decrypted += 1
    # the proof covers the fast path for real: most Secrets take it, the corpus mostly does not
    assert read_fast >= 200, read_fast
    assert written_fast >= 400, written_fast
    assert decrypted >= 600, decrypted


def test_fast_reader_steps_aside_for_everything_but_its_shape() -> None:
    taken = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  password: hunter2\n"
    assert load_simple(taken) == [
        ("apiVersion", "v1"),
        ("kind", "Secret"),
        ("metadata", [("name", "a")]),
        ("stringData", [("password", "hunter2")]),
    ]
    for text in [
        taken.replace("hunter2", "42"),  # an int
        taken.replace("hunter2", "yes"),  # written quoted
        taken.replace("hunter2", "a #b"),  # a comment
        taken + "# tail\n",
        taken + "---\nb: 1\n",  # two documents
        taken.replace("  name: a\n", "  name: a\n   x: b\n"),  # deeper below a scalar: invalid YAML
        taken.replace("  name: a\n", "  name: a\n x: b\n"),  # at no open column: invalid YAML
        taken.replace("  password: hunter2\n", "  password:\n"),  # null
        taken.replace("kind: Secret", "kind: Secret\nkind: Secret"),  # duplicate key
        taken + "sops: x\n",
        taken.replace("\n", "\r\n"),
        taken.rstrip("\n"),
        taken.replace("hunter2", "hunter2\n    more"),  # a folded plain scalar
        taken.replace("hunter2", "'quoted'"),
        "- a\n- b\n",
        "",
    ]:
        assert load_simple(text) is None, text


_AGE_LINES = ["-----BEGIN AGE ENCRYPTED FILE-----", "YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgy", "NTUxOSBnY2Zz"]
_AGE_ENC = "\n".join([*_AGE_LINES, "-----END AGE ENCRYPTED FILE-----", ""])
_KV = {
    "vault_url": "https://kv-fleet.vault.azure.net",
    "name": "sops",
    "version": "0123456789abcdef0123456789abcdef",
    "created_at": "2026-11-30T02:00:00Z",
    "enc": "c2VjcmV0LWtleQ",
}
# metadata as fluxforge (and sops) write it: key kinds, Shamir groups, every selector, both MAC modes
_METAS = [
    ([[md.KeyEntry("age", {"recipient": "age1one", "enc": _AGE_ENC})]], 0, DEFAULT_SELECTOR, False),
    (
        [[md.KeyEntry("age", {"recipient": "age1one", "enc": _AGE_ENC}), md.KeyEntry("azure_kv", dict(_KV))]],
        0,
        ("encrypted_regex", "^(data|stringData)$"),
        False,
    ),
    ([[md.KeyEntry("azure_kv", dict(_KV))]], 0, ("unencrypted_suffix", "_unencrypted"), True),
    (
        [[md.KeyEntry("age", {"recipient": "age1one", "enc": _AGE_ENC})], [md.KeyEntry("azure_kv", dict(_KV))]],
        2,
        ("encrypted_comment_regex", "^sops:enc"),
        False,
    ),
]
# edits of a sops: block: the shapes the fast metadata reader leaves to the general one, and harmless ones
_META_EDITS: list[tuple[str, str, str]] = [
    ("as written", "", ""),
    ("a comment", "    version:", "    # note\n    version:"),
    ("an empty line", "    version:", "\n    version:"),
    ("trailing spaces", "\n    version:", "  \n    version:"),
    ("single quotes", 'lastmodified: "', "lastmodified: '"),
    ("an escape", 'lastmodified: "', 'lastmodified: "\\u0032'),
    ("text after the closing quote", 'Z"\n', 'Z" x\n'),
    ("a quote inside the quotes", 'lastmodified: "', 'lastmodified: "a"'),
    ("unquoted time", 'lastmodified: "2026-11-30T02:00:00Z"', "lastmodified: 2026-11-30T02:00:00Z"),
    ("a number", "    version:", "    shamir_threshold: 3\n    version:"),
    ("a boolean", "    version:", "    mac_only_encrypted: true\n    version:"),
    ("a duplicate key", "    version:", "    mac: x\n    version:"),
    ("a tab", "    version:", "    version:\t"),
    ("a block kept", "enc: |", "enc: |+"),
    ("a block stripped", "enc: |", "enc: |-"),
    ("a block line dedented", " -----END AGE", "-----END AGE"),
    ("a block line indented further", "-----END AGE", " -----END AGE"),
    ("a list at the key's column", "\n        - ", "\n    - "),
    ("a flow list", "    version:", "    hc_vault: []\n    version:"),
    ("a null", "    version:", "    pgp:\n    version:"),
    ("a line less indented", "    version:", "  version:"),
    ("a key after the block", "", "extra: 1\n"),
    ("a document after the block", "", "---\nx: 1\n"),
    ("an alias", "    version: ", "    version: *"),
    ("a tag", "    version: ", "    version: !!str "),
    ("CRLF", "\n", "\r\n"),
    ("no final line break", "", None),  # type: ignore[list-item]
]


def _edit_meta(text: str, old: str, new: str | None) -> str:
    if new is None:
        return text[:-1]
    if not old:
        return text + new
    head, tail = text.split("\nsops:\n", 1)
    return head + "\nsops:\n" + tail.replace(old, new, 1)


def test_fast_metadata_reader_gives_the_general_readers_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    """An encrypted Secret's ``sops:`` block is read by ``yaml_fast.read_metadata`` when sops wrote it so,
    else by the general reader: the same documents and metadata (or the same error) either way, on
    blocks with every key kind, Shamir groups, selectors, both indentations and odd edits."""
    texts = []
    for index, (groups, threshold, selector, mac_only) in enumerate(_METAS):
        for indent in (4, 2):
            store = yaml_store.YamlStore(indent)
            meta = md.Metadata(selector=selector, mac_only_encrypted=mac_only, shamir_threshold=threshold)
            meta.groups = groups
            for _name, plain in secrets(8, seed=index):
                with monkeypatch.context() as m:
                    m.setattr(md, "now_rfc3339", lambda: "2026-11-30T02:00:00Z")
                    try:
                        texts.append(engine.seal(store.load_plain(plain.encode(), "s.yaml"), meta, _KEY, store, "s"))
                    except SopsError:
                        continue
    fast_taken = 0
    for data in texts:
        for what, old, new in _META_EDITS:
            text = _edit_meta(data.decode(), old, new)
            parts = yaml_store.split_metadata(text)
            fast_taken += parts is not None and read_metadata(parts[1]) is not None

            def read(text: str = text) -> object:
                try:
                    return yaml_store.YamlStore().load_encrypted(text.encode(), "s.yaml")
                except SopsError as err:
                    return str(err)

            fast = read()
            with monkeypatch.context() as m:
                m.setattr(yaml_fast, "read_metadata", lambda _text: None)
                general = read()
            assert fast == general, f"{what}:\n{text}"
    assert fast_taken >= len(texts) * 2, fast_taken  # written blocks (both indents) take the fast reader


def _yaml_printable(ch: str) -> bool:
    """YAML 1.2's c-printable (tab and line breaks aside)."""
    cp = ord(ch)
    return 0x20 <= cp <= 0x7E or cp == 0x85 or 0xA0 <= cp <= 0xD7FF or 0xE000 <= cp <= 0xFFFD or cp >= 0x10000


def test_the_metadata_reader_steps_aside_for_every_odd_character() -> None:
    """Every character the block reader must leave to the general reader (a comment, a tab, CR, an escape,
    an odd line break, a BOM, anything YAML does not allow in a stream) sends the block there, and no
    other character does; so does an empty or blank line."""
    odd = set("#\t\r\\\x85\u2028\u2029\ufeff")
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        expected = ch in odd or (ch != "\n" and not _yaml_printable(ch))
        assert yaml_fast._odd_block(f"a{ch}b") is expected, hex(cp)
    for blank in ("\n\n", "\n \n", "\n\xa0\u3000\n"):
        assert yaml_fast._odd_block(f"sops:\n    a: b{blank}    c: d\n")
    assert not yaml_fast._odd_block("sops:\n    a: b\n    c: d\n")


def test_remembered_string_styles_are_the_styles_themselves() -> None:
    """``yaml_emit.string_style`` remembers its recent answers (the keys and time stamps every file of a
    batch repeats): in any order of asking, each answer is what the function itself gives for that very
    string. (A memory keyed on less than the whole text, say its first characters or its length, fails
    here: ``a,b`` and ``a b``, ``1.50`` and ``1e3``, ``x#y`` and ``x``.)"""
    from generator.sops.stores import yaml_emit

    texts = [*_VALUES, *_WORDS, "2026-11-30T02:00:00Z", "2026-11-30T02:00:00", "a\nb\n", "a\nb ", "a\tb", "\ufeffx"]
    texts += [text[:cut] for text in _VALUES for cut in (1, 2, 3)]
    wanted = {text: yaml_emit.string_style.__wrapped__(text) for text in texts}
    assert len(set(wanted.values())) == 4  # plain, single, double and literal all asked about
    rng = random.Random(19)
    for _ in range(3):
        yaml_emit.string_style.cache_clear()
        order = rng.sample(texts * 2, len(texts) * 2)
        assert {text: yaml_emit.string_style(text) for text in order} == wanted

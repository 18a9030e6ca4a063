"""Pure sops document encryption and decryption: bytes in, bytes out, keys through ``KeySource``s.

``seal`` encrypts documents with a given data key; ``open_file`` recovers the data key and the
plaintext documents (MAC verified). Everything else in the package builds on these two.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from generator.errors import KeySourceError, SopsError
from generator.sops import metadata as md
from generator.sops.aead import Cipher, Stash, UndecryptableValue, is_enc
from generator.sops.keys import KeyOptions, KeySource, source_for
from generator.sops.keys.kinds import BY_NAME
from generator.sops.record import record
from generator.sops.rules import CreationRule, KeyGroup
from generator.sops.stores.base import Store
from generator.sops.tree import DEFAULT_SELECTOR, Selection, Unauthenticated, Walker, WalkError
from generator.sops.values import Branch, Comment


def store_for(fmt: str, *, yaml_indent: int = 4, json_indent: int = -1, binary_indent: int = -1) -> Store:
    """The store of ``fmt``; only its module is imported (a one-file decrypt loads one store)."""
    if fmt == "yaml":
        from generator.sops.stores.yaml import YamlStore

        return YamlStore(yaml_indent)
    if fmt == "json":
        from generator.sops.stores.json import JsonStore

        return JsonStore(json_indent)
    if fmt == "dotenv":
        from generator.sops.stores.dotenv import DotenvStore

        return DotenvStore()
    if fmt == "ini":
        from generator.sops.stores.ini import IniStore

        return IniStore()
    if fmt == "binary":
        from generator.sops.stores.binary import BinaryStore

        return BinaryStore(binary_indent)  # stores.json_binary, not stores.json (as sops)
    raise SopsError(f"unknown sops format {fmt!r} (yaml, json, dotenv, ini, binary)")


@record()
class Opened:
    """A decrypted sops file: plaintext documents, metadata, data key, cipher (with IV stash)."""

    docs: list[Branch]
    meta: md.Metadata
    key: bytes
    cipher: Cipher
    store: Store


def _rule_store(fmt: str, rule: CreationRule | None) -> Store:
    if rule is None:
        return store_for(fmt)
    return store_for(fmt, yaml_indent=rule.yaml_indent, json_indent=rule.json_indent, binary_indent=rule.binary_indent)


def encrypt_document(
    plaintext: bytes,
    *,
    fmt: str,
    rule: CreationRule,
    cache: dict[str, KeySource] | None,
    options: KeyOptions,
    name: str,
    output_fmt: str | None = None,
) -> bytes:
    """Encrypt one plaintext read with the store ``fmt``, written with ``output_fmt`` (default the same)."""
    store = _rule_store(fmt, rule)
    out_store = store if output_fmt in (None, fmt) else _rule_store(str(output_fmt), rule)
    docs = store.load_plain(plaintext, name)
    if not rule.key_groups:
        raise SopsError(f"{name}: the matching creation rule names no keys (add age or azure_keyvault)")
    data_key = os.urandom(32)
    meta = md.Metadata(
        selector=None if fmt == "binary" else (rule.selector or DEFAULT_SELECTOR),
        mac_only_encrypted=rule.mac_only_encrypted and fmt != "binary",
        shamir_threshold=rule.shamir_threshold if len(rule.key_groups) > 1 else 0,
    )
    try:
        meta.groups = wrap_groups(
            rule.key_groups, data_key, meta.shamir_threshold, cache if cache is not None else {}, options
        )
    except KeySourceError as err:
        raise KeySourceError([f"{name}: {line}" for line in err.problems]) from None
    return seal(docs, meta, data_key, out_store, name)


def wrap_groups(
    groups: list[KeyGroup], data_key: bytes, threshold: int, cache: dict[str, KeySource], options: KeyOptions
) -> list[list[md.KeyEntry]]:
    """Wrap the data key for every recipient (Shamir parts when there are several groups)."""
    from generator.sops import shamir

    parts = [data_key] if len(groups) == 1 else shamir.split(data_key, len(groups), threshold or len(groups))
    out = []
    for group, part in zip(groups, parts, strict=True):
        out.append(
            [
                md.KeyEntry(kind, dict(source_for(kind, options, cache).wrap(recipient, part)))
                for kind, recipient in group
            ]
        )
    return out


def seal(
    docs: list[Branch], meta: md.Metadata, key: bytes, store: Store, name: str, stash: Stash | None = None
) -> bytes:
    """Encrypt ``docs`` (in place) with ``key``, set lastmodified/MAC/version, emit the file."""
    cipher = Cipher(key, stash)
    selection = Selection(meta.effective_selector(), meta.mac_only_encrypted)
    walker = Walker(
        selection,
        lambda value, aad, _c: cipher.encrypt(value, aad),
        decrypting=False,
        list_comments_written=store.name == "yaml",
    )
    try:
        mac = walker.run(docs)
    except WalkError as err:
        raise SopsError(f"{name}: {_dotted(err.path)}: {err}") from None
    meta.lastmodified = md.now_rfc3339()
    meta.mac = cipher.encrypt(mac, meta.lastmodified)
    meta.version = md.SOPS_VERSION
    out = store.emit_encrypted(docs, md.to_branch(meta))
    if store.name != "binary":
        from generator.sops.readback import check_readback

        # comments are compared where the store writes them as they are (JSON has none; INI respells them)
        read_back = getattr(store, "read_back", None)
        read = read_back(out, name) if read_back is not None else store.load_encrypted(out, name)[0]
        check_readback(docs, read, name, comments=store.name in ("yaml", "dotenv"))
    return out


def open_file(
    data: bytes,
    *,
    fmt: str,
    name: str,
    cache: dict[str, KeySource] | None,
    options: KeyOptions,
    verify_mac: bool = True,
    rule: CreationRule | None = None,
    data_key: bytes | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> Opened:
    """Parse, recover the data key (unless given), decrypt every value and check the MAC. With
    ``verify_mac`` False (sops's ``--ignore-mac``) a failed check goes to ``on_warning`` instead."""
    store = _rule_store(fmt, rule)
    docs, raw = store.load_encrypted(data, name)
    if raw is None:
        raise SopsError(f"{name}: no sops metadata found: the file is not encrypted")
    meta = md.from_mapping(raw, name)
    key = data_key or recover_key(meta, cache if cache is not None else {}, options, name)
    cipher = Cipher(key)
    mac = _decrypt_tree(docs, meta, cipher, name)
    if verify_mac:
        _check_mac(meta, cipher, mac, name)
    elif on_warning is not None:
        try:
            _check_mac(meta, cipher, mac, name)
        except SopsError as err:
            on_warning(f"{err} (--ignore-mac: decrypted anyway)")
    return Opened(docs, meta, key, cipher, store)


def decrypt_document(
    data: bytes,
    *,
    fmt: str,
    name: str,
    cache: dict[str, KeySource] | None,
    options: KeyOptions,
    verify_mac: bool,
    yaml_indent: int = 4,
    json_indent: int = -1,
    binary_indent: int = -1,
    extract: list[str | int] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> bytes:
    """The plaintext as ``sops decrypt`` prints it; ``extract``: only that value (``--extract``)."""
    rule = CreationRule(yaml_indent=yaml_indent, json_indent=json_indent, binary_indent=binary_indent)
    opened = open_file(
        data, fmt=fmt, name=name, cache=cache, options=options, verify_mac=verify_mac, rule=rule, on_warning=on_warning
    )
    if extract:
        from generator.sops.flags import truncate

        return _value_output(truncate(opened.docs[0] if opened.docs else Branch(), extract, name), opened.store, rule)
    return opened.store.emit_plain(opened.docs)


def _value_output(value: object, store: Store, rule: CreationRule) -> bytes:
    """sops's ``extract``: a mapping as a document, a string as its bytes, anything else in the
    store's own notation (``EmitValue``: YAML as go-yaml marshals it, JSON without a final newline)."""
    if isinstance(value, Branch):
        return store.emit_plain([value])
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, bytes):
        return value
    if store.name == "yaml":
        from generator.sops.stores.yaml_emit import emit_value

        return emit_value(value).encode("utf-8", "surrogateescape")
    if store.name == "dotenv":
        raise SopsError("--extract: the dotenv store prints only strings")
    from generator.sops.stores.json import encode, indent

    return indent(encode(value), rule.binary_indent if store.name == "binary" else rule.json_indent).encode()


def _is_ciphertext(value: object) -> bool:
    return value == "" or is_enc(value)


def _added_here(name: str) -> str:
    return (
        f"a plaintext value where the file's selector requires ciphertext (added by hand?); "
        f"`fluxforge encrypt -i {name}` encrypts it and recomputes the MAC"
    )


def _decrypt_tree(
    docs: list[Branch], meta: md.Metadata, cipher: Cipher, name: str, added: list[str] | None = None
) -> str:
    """Decrypt every selected leaf in place; return the MAC of the plaintext. With ``added`` (a list to
    fill), a plaintext value where ciphertext belongs is kept, named there and left out of the MAC."""

    def on_leaf(value: object, aad: str, is_comment: bool) -> object:
        if is_comment:
            assert isinstance(value, Comment)
            try:
                return cipher.decrypt(value.value, aad)
            except UndecryptableValue:
                return value  # a comment that was never encrypted (older sops), kept as it is
        if not _is_ciphertext(value):
            if added is None:
                raise UndecryptableValue(_added_here(name))
            added.append(aad.rstrip(":").replace(":", "."))
            return Unauthenticated(value)
        assert isinstance(value, str)
        return cipher.decrypt(value, aad)

    walker = Walker(Selection(meta.effective_selector(), meta.mac_only_encrypted), on_leaf, decrypting=True)
    try:
        return walker.run(docs)
    except WalkError as err:
        raise SopsError(f"{name}: {_dotted(err.path)}: cannot decrypt: {err}") from None


def plaintext_leaves(data: bytes, *, fmt: str, name: str) -> list[str]:
    """Keyless: the key paths of plaintext values in an encrypted file where its selector requires
    ciphertext (values added by hand). Empty for a file sops wrote."""
    docs, raw = store_for(fmt).load_encrypted(data, name)
    if raw is None:
        return []
    meta = md.from_mapping(raw, name)
    found: list[str] = []

    def on_leaf(value: object, aad: str, is_comment: bool) -> object:
        if not is_comment and not _is_ciphertext(value):
            found.append(aad.rstrip(":").replace(":", "."))
        return Unauthenticated(value)

    try:
        Walker(Selection(meta.effective_selector(), meta.mac_only_encrypted), on_leaf, decrypting=True).run(docs)
    except WalkError as err:
        raise SopsError(f"{name}: {_dotted(err.path)}: {err}") from None
    return found


def encrypt_added(
    data: bytes,
    *,
    fmt: str,
    name: str,
    cache: dict[str, KeySource] | None,
    options: KeyOptions,
    rule: CreationRule | None = None,
) -> tuple[bytes, list[str]]:
    """Encrypt the plaintext values added by hand to an encrypted file, with its own data key (needs the
    key); every other value keeps its ciphertext. The MAC must hold for everything but the added values
    (proof that nothing else changed outside sops); then a new MAC covers them too. Returns the new
    file and the key paths encrypted."""
    store = _rule_store(fmt, rule)
    docs, raw = store.load_encrypted(data, name)
    if raw is None:
        raise SopsError(f"{name}: no sops metadata found: the file is not encrypted")
    meta = md.from_mapping(raw, name)
    key = recover_key(meta, cache if cache is not None else {}, options, name)
    cipher = Cipher(key)
    added: list[str] = []
    mac = _decrypt_tree(docs, meta, cipher, name, added)
    try:
        _check_mac(meta, cipher, mac, name)
    except SopsError:
        raise SopsError(
            f"{name}: MAC mismatch even without the {len(added)} plaintext value(s) added by hand "
            f"({', '.join(added) or 'none'}): other values or the metadata were changed outside sops "
            "too; refusing to seal them with a new MAC"
        ) from None
    return seal(docs, meta, key, store, name, stash=cipher.stash), added


def _check_mac(meta: md.Metadata, cipher: Cipher, mac: str, name: str) -> None:
    if not meta.mac:
        raise SopsError(f"{name}: the file has no MAC (sops.mac is empty); refusing to trust it")
    aad = md.mac_aad(meta.lastmodified, name)
    try:
        stored = cipher.decrypt(meta.mac, aad)
    except UndecryptableValue as err:
        raise SopsError(
            f"{name}: sops.mac: cannot decrypt the MAC ({err}); sops.lastmodified or sops.mac was altered"
        ) from None
    if stored != mac:
        raise SopsError(
            f"{name}: MAC mismatch: the values or the metadata were changed outside sops; refusing to decrypt"
        )


def recover_key(meta: md.Metadata, cache: dict[str, KeySource], options: KeyOptions, name: str) -> bytes:
    """Unwrap the data key (combining Shamir parts when there are several key groups)."""
    if not meta.groups or not any(meta.groups):
        raise SopsError(f"{name}: sops metadata lists no keys")
    threshold = meta.shamir_threshold or len(meta.groups)
    parts: list[bytes] = []
    problems: list[str] = []
    for gi, group in enumerate(meta.groups):
        where = f"sops.key_groups[{gi}]." if len(meta.groups) > 1 else "sops."
        part = _unwrap_group(group, cache, options, f"{name}: {where}", problems)
        if part is not None:
            parts.append(part)
        if len(parts) >= threshold:
            break
    key = _combined(parts, len(meta.groups), threshold, name, problems)
    if len(key) != 32:
        raise KeySourceError(f"{name}: the recovered data key has {len(key)} bytes, expected 32")
    return key


def _combined(parts: list[bytes], groups: int, threshold: int, name: str, problems: list[str]) -> bytes:
    """The data key from the unwrapped parts: the one part of a single group, else ``threshold`` Shamir parts."""
    from generator.sops import shamir

    if groups == 1 and parts:
        return parts[0]
    if len(parts) >= threshold and len(parts) > 1:
        return shamir.combine(parts[:threshold])
    raise KeySourceError([f"{name}: cannot recover the data key with the available keys", *problems])


def _unwrap_group(
    group: list[md.KeyEntry], cache: dict[str, KeySource], options: KeyOptions, where: str, problems: list[str]
) -> bytes | None:
    """The group's part of the data key from the first of its keys that unwraps (in each kind's unwrap
    order); each refusal goes to ``problems`` as ``NAME: sops[.key_groups[N]].KIND: why``."""
    for entry in sorted(group, key=lambda e: BY_NAME[e.kind].unwrap_rank):
        try:
            return source_for(entry.kind, options, cache).unwrap(entry.fields)
        except SopsError as err:
            problems.extend(f"{where}{entry.kind}: {line}" for line in err.problems)
    return None


def _dotted(path: list[str]) -> str:
    return ".".join(path) if path else "(top level)"

"""The public API of the SOPS engine: the only module other parts of fluxforge import.

Everything here is stable: signatures and semantics do not change. The pure core lives in
``engine`` (documents in memory), the file edge in ``files`` (paths, directories, atomic writes).

Formats are named as sops names its stores: ``"yaml"``, ``"json"``, ``"dotenv"``, ``"binary"``.
Errors are ``generator.errors.SopsError`` (``KeySourceError`` for key sources); their messages name the
file and the key path and never contain plaintext.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.errors import SopsError
from generator.sops.formats import STORES
from generator.sops.keys import KeyOptions, KeySource
from generator.sops.keys.kinds import KINDS, KeyKind, KindOption

if TYPE_CHECKING:
    from generator.sops.aead import TYPES as VALUE_TYPES
    from generator.sops.aead import EncValue, MalformedValue, is_enc, parse_enc
    from generator.sops.batch import in_order
    from generator.sops.detect import (
        SopsState,
        looks_like_metadata,
        metadata_from_flat,
        secret_shaped,
        shaped_state,
    )
    from generator.sops.files import jobs_for
    from generator.sops.flags import EncryptFlags
    from generator.sops.keys.azure_gates import gate_for
    from generator.sops.keys.azure_kv import AzureKeyVaultSource, vault_source
    from generator.sops.metadata import SOPS_VERSION, selector_problem, version_problem
    from generator.sops.regex import compile_re2
    from generator.sops.report import Report
    from generator.sops.rules import SELECTORS, CreationRule, SopsRules, nearby_config_hint
    from generator.sops.stores.yaml_fast import SecretFile
    from generator.sops.tree import DEFAULT_SELECTOR
    from generator.sops.tree import selects_keys as selects
    from generator.sops.usage import FileKeys, KvVersion, file_keys, kv_version
    from generator.sops.usage import scan as scan_recipients
    from generator.sops.values import Branch

# Re-exported on first use, so that importing the API (the CLI does, for the key flags) stays cheap.
_LAZY = {
    "VALUE_TYPES": ("generator.sops.aead", "TYPES"),
    "EncValue": ("generator.sops.aead", "EncValue"),
    "MalformedValue": ("generator.sops.aead", "MalformedValue"),
    "is_enc": ("generator.sops.aead", "is_enc"),
    "parse_enc": ("generator.sops.aead", "parse_enc"),
    "SopsState": ("generator.sops.detect", "SopsState"),
    "looks_like_metadata": ("generator.sops.detect", "looks_like_metadata"),
    "metadata_from_flat": ("generator.sops.detect", "metadata_from_flat"),
    # fluxforge check: an encrypted Secret read by the store's line readers (kept for is_encrypted)
    "secret_shaped": ("generator.sops.detect", "secret_shaped"),
    "shaped_state": ("generator.sops.detect", "shaped_state"),
    "SecretFile": ("generator.sops.stores.yaml_fast", "SecretFile"),
    "Branch": ("generator.sops.values", "Branch"),
    "EncryptFlags": ("generator.sops.flags", "EncryptFlags"),
    # fluxforge check: as many worker processes as a batch of encrypt gets (FLUXFORGE_JOBS)
    "jobs_for": ("generator.sops.files", "jobs_for"),
    # fluxforge check: its batches, by this process and forked copies (as encrypt's), results in order
    "in_order": ("generator.sops.batch", "in_order"),
    "gate_for": ("generator.sops.keys.azure_gates", "gate_for"),
    "SOPS_VERSION": ("generator.sops.metadata", "SOPS_VERSION"),
    "compile_re2": ("generator.sops.regex", "compile_re2"),
    "selector_problem": ("generator.sops.metadata", "selector_problem"),
    "version_problem": ("generator.sops.metadata", "version_problem"),
    "Report": ("generator.sops.report", "Report"),
    "SELECTORS": ("generator.sops.rules", "SELECTORS"),
    "CreationRule": ("generator.sops.rules", "CreationRule"),
    "SopsRules": ("generator.sops.rules", "SopsRules"),
    "nearby_config_hint": ("generator.sops.rules", "nearby_config_hint"),
    "DEFAULT_SELECTOR": ("generator.sops.tree", "DEFAULT_SELECTOR"),
    "selects": ("generator.sops.tree", "selects_keys"),
    # fluxforge rotate-key: Key Vault key versions, and which versions wrap each file's data key
    "AzureKeyVaultSource": ("generator.sops.keys.azure_kv", "AzureKeyVaultSource"),
    "vault_source": ("generator.sops.keys.azure_kv", "vault_source"),
    "FileKeys": ("generator.sops.usage", "FileKeys"),
    "KvVersion": ("generator.sops.usage", "KvVersion"),
    "file_keys": ("generator.sops.usage", "file_keys"),
    "kv_version": ("generator.sops.usage", "kv_version"),
    "scan_recipients": ("generator.sops.usage", "scan"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_SELECTOR",
    "KINDS",
    "SELECTORS",
    "SOPS_VERSION",
    "STORES",
    "VALUE_TYPES",
    "AzureKeyVaultSource",
    "Branch",
    "CreationRule",
    "EncValue",
    "EncryptFlags",
    "FileKeys",
    "KeyKind",
    "KeyOptions",
    "KeySource",
    "KindOption",
    "KvVersion",
    "MalformedValue",
    "Report",
    "SecretFile",
    "SopsRules",
    "SopsState",
    "azure_credential",
    "compile_re2",
    "decrypt_bytes",
    "decrypt_path",
    "decrypt_paths",
    "detect_format",
    "edit_path",
    "encrypt_bytes",
    "encrypt_flags",
    "encrypt_paths",
    "file_keys",
    "find_sops_config",
    "gate_for",
    "in_order",
    "is_enc",
    "is_encrypted",
    "jobs_for",
    "key_vault_source",
    "kv_version",
    "load_rules",
    "looks_like_metadata",
    "metadata_from_flat",
    "nearby_config_hint",
    "parse_enc",
    "retarget_paths",
    "rotate_paths",
    "scan_recipients",
    "secret_shaped",
    "selector_problem",
    "selects",
    "shaped_state",
    "sops_state",
    "updatekeys_paths",
    "vault_source",
    "version_problem",
]


def azure_credential(name: str | None) -> Any:
    """The azure-identity credential ``--credential NAME`` picks (the one Key Vault uses), for the other
    Azure clients of fluxforge."""
    from generator.sops.keys.azure_kv import make_credential

    return make_credential(name)


def key_vault_source(tenant_id: str, client_id: str, token: Callable[[], str]) -> KeySource:
    """The Key Vault key source as kustomize-controller builds it for a ServiceAccount token: ``token()``
    is exchanged at Entra ID for ``client_id`` of ``tenant_id`` (held in memory only); its messages name
    that identity. ``unwrap(entry)`` then decrypts one ``azure_kv`` metadata entry as Flux would."""
    from generator.sops.keys.azure_kv import AzureKeyVaultSource, assertion_credential

    credential = assertion_credential(tenant_id, client_id, token)
    return AzureKeyVaultSource(
        KeyOptions(), credential, identity_env={"AZURE_CLIENT_ID": client_id, "AZURE_TENANT_ID": tenant_id}
    )


def find_sops_config(start: Path | None = None) -> Path | None:
    """Find ``.sops.yaml`` as sops does: from ``start`` (default: the current directory) up through
    the parents, at most 100 levels; ``SOPS_CONFIG`` (if set) wins. ``None`` when there is none."""
    from generator.sops import rules

    return rules.find_sops_config(start)


def load_rules(config_path: Path) -> SopsRules:
    """Parse a ``.sops.yaml``; ``SopsRules.rule_for(file_path)`` then returns the first matching
    ``CreationRule`` (``path_regex`` searched in the path relative to the config directory) or None.
    Raises ``SopsError`` naming the file and the rule index on invalid content."""
    from generator.sops import rules

    return rules.load_rules(config_path)


def detect_format(path: Path | str) -> str:
    """The sops store for a file name: ``.yaml``/``.yml`` → yaml, ``.json`` → json, ``.env`` →
    dotenv, ``.ini`` → ini, anything else → binary."""
    from generator.sops.formats import detect_format as _detect

    return _detect(path)


def is_encrypted(data: bytes, fmt: str) -> bool:
    """Keyless: ``data`` is a sops-encrypted file of store ``fmt`` by sops's own rule — a top-level
    ``sops`` entry (YAML: in the first document) that sops loads as metadata, with a non-empty MAC.
    Marker bytes elsewhere (a nested ``"mac": "ENC[``, a later YAML document) do not count. The one
    test used by encrypt, check, the hook and lint."""
    from generator.sops.detect import is_encrypted as _is_enc

    return _is_enc(data, fmt)


def sops_state(data: bytes, fmt: str) -> SopsState:
    """What ``is_encrypted`` decides from: ``present`` (a top-level ``sops`` entry exists, so sops
    refuses to encrypt the file), ``problems`` (why it is not valid metadata with a MAC; one line
    each, no values quoted) and ``encrypted``."""
    from generator.sops.detect import sops_state as _state

    return _state(data, fmt)


def encrypt_flags(
    *,
    selectors: dict[str, str | None] | None = None,
    mac_only_encrypted: bool = False,
    age: str | None = None,
    azure_kv: str | None = None,
    input_type: str | None = None,
    output_type: str | None = None,
    indent: int | None = None,
) -> EncryptFlags:
    """sops's encrypt flags from their command-line strings (``selectors``: metadata name → value,
    e.g. ``{"encrypted_regex": "^data$"}``; at most one set; regexes compiled with RE2; ``age`` and
    ``azure_kv`` comma separated). ``UsageError`` on a bad combination."""
    from generator.sops import flags as fl

    return fl.EncryptFlags(
        selector=fl.selector_from(selectors or {}),
        mac_only_encrypted=mac_only_encrypted,
        age=fl.split_list(age),
        azure_kv=fl.split_list(azure_kv),
        input_type=fl.valid_store(input_type, "--input-type"),
        output_type=fl.valid_store(output_type, "--output-type"),
        indent=indent,
    )


def encrypt_bytes(
    plaintext: bytes,
    *,
    fmt: str,
    rule: CreationRule,
    sources_cache: dict[str, KeySource] | None = None,
    options: KeyOptions | None = None,
    path_for_errors: str = "<input>",
    output_fmt: str | None = None,
) -> bytes:
    """Encrypt one plaintext document with a fresh data key for the rule's key groups (read with the
    store ``fmt``, written with ``output_fmt``, default the same: sops's --input-type/--output-type).

    Raises ``SopsError`` if ``plaintext`` is already encrypted (callers check ``is_encrypted``
    first to make that a no-op). Pass one ``sources_cache`` dict for a whole run."""
    from generator.sops import engine

    return engine.encrypt_document(
        plaintext,
        fmt=fmt,
        rule=rule,
        cache=sources_cache,
        options=options or KeyOptions(),
        name=path_for_errors,
        output_fmt=output_fmt,
    )


def decrypt_bytes(
    data: bytes,
    *,
    fmt: str,
    path_for_errors: str = "<input>",
    sources_cache: dict[str, KeySource] | None = None,
    options: KeyOptions | None = None,
    verify_mac: bool = True,
    yaml_indent: int = 4,
    json_indent: int = -1,
    binary_indent: int = -1,
) -> bytes:
    """Decrypt a sops document (the MAC is verified unless ``verify_mac`` is False) and return
    the plaintext in the same format, formatted as ``sops decrypt`` formats it (``yaml_indent`` /
    ``json_indent`` / ``binary_indent`` as ``.sops.yaml`` ``stores:`` yaml, json, json_binary;
    ``SopsRules`` carries them)."""
    from generator.sops import engine

    return engine.decrypt_document(
        data,
        fmt=fmt,
        name=path_for_errors,
        cache=sources_cache,
        options=options or KeyOptions(),
        verify_mac=verify_mac,
        yaml_indent=yaml_indent,
        json_indent=json_indent,
        binary_indent=binary_indent,
    )


Progress = Callable[[int, int, Path], None]  # (done, total, path)


def encrypt_paths(
    paths: Sequence[Path],
    *,
    in_place: bool,
    options: KeyOptions | None = None,
    config: Path | None = None,
    progress: Progress | None = None,
    follow_outside: bool = False,
    flags: EncryptFlags | None = None,
) -> Report:
    """Encrypt files and directories (a directory: every file below it that a creation rule
    matches). Already-encrypted files are left alone (``Report.unchanged``). Without ``in_place``
    exactly one file is allowed and its ciphertext is in ``Report.outputs``. In-place writes go
    through symlinks, to a target outside the repository only with ``follow_outside``. ``flags``:
    sops's encrypt flags (selectors, keys, stores, indent), applied over the rule as sops does."""
    from generator.sops import files

    return files.encrypt_paths(
        paths,
        in_place=in_place,
        options=options or KeyOptions(),
        config=config,
        progress=progress,
        follow_outside=follow_outside,
        flags=flags,
    )


def decrypt_path(
    path: Path,
    *,
    in_place: bool = False,
    output: Path | None = None,
    options: KeyOptions | None = None,
    follow_outside: bool = False,
    extract: str | None = None,
    ignore_mac: bool = False,
    on_warning: Callable[[str], None] | None = None,
) -> bytes:
    """Decrypt one file; returns the plaintext, and writes it in place or to ``output`` if asked
    (``output`` may be a device, a FIFO or ``/dev/stdout``: written to, never replaced).
    ``extract``: one value, by sops's path syntax ``["data"]["password"]``. ``ignore_mac``: decrypt
    even when the MAC does not match (recovery); the mismatch goes to ``on_warning``."""
    from generator.sops import files

    return files.decrypt_path(
        path,
        in_place=in_place,
        output=output,
        options=options or KeyOptions(),
        follow_outside=follow_outside,
        extract=extract,
        ignore_mac=ignore_mac,
        on_warning=on_warning,
    )


def edit_path(
    path: Path,
    *,
    options: KeyOptions | None = None,
    editor: str | None = None,
    config: Path | None = None,
    retry: Callable[[SopsError], bool] | None = None,
    follow_outside: bool = False,
    ignore_mac: bool = False,
    on_warning: Callable[[str], None] | None = None,
) -> bool:
    """Open the plaintext in ``$EDITOR`` (a 0600 file in a 0700 temp dir), re-encrypt with the same
    data key (unchanged values keep their ciphertext). A new file is created from the rules.
    Returns False and leaves the file untouched when the content did not change. When the edited text
    cannot be stored, ``retry(error)`` returning True reopens the editor on it."""
    from generator.sops import files

    return files.edit_path(
        path,
        options=options or KeyOptions(),
        editor=editor,
        config=config,
        retry=retry,
        follow_outside=follow_outside,
        ignore_mac=ignore_mac,
        on_warning=on_warning,
    )


def decrypt_paths(
    paths: Sequence[Path],
    *,
    options: KeyOptions | None = None,
    progress: Progress | None = None,
    follow_outside: bool = False,
    ignore_mac: bool = False,
    on_warning: Callable[[str], None] | None = None,
) -> Report:
    """Replace each named file, and every encrypted file below each folder, with its plaintext (``decrypt
    -i`` for many files); failures are reported one line each, the other files are done."""
    from generator.sops import files

    return files.decrypt_paths(
        paths,
        options=options or KeyOptions(),
        progress=progress,
        follow_outside=follow_outside,
        ignore_mac=ignore_mac,
        on_warning=on_warning,
    )


def rotate_paths(
    paths: Sequence[Path],
    *,
    options: KeyOptions | None = None,
    progress: Progress | None = None,
    follow_outside: bool = False,
) -> Report:
    """Re-encrypt every encrypted file below ``paths`` with a new data key (same recipients); a file
    that cannot be read is an error, never skipped."""
    from generator.sops import files

    return files.rotate_paths(paths, options=options or KeyOptions(), progress=progress, follow_outside=follow_outside)


def updatekeys_paths(
    paths: Sequence[Path],
    *,
    dry_run: bool = False,
    options: KeyOptions | None = None,
    config: Path | None = None,
    progress: Progress | None = None,
    follow_outside: bool = False,
) -> Report:
    """Re-wrap the data key of every encrypted file for the recipients its creation rule now names
    (values untouched). ``Report.changes`` describes added/removed recipients per file."""
    from generator.sops import files

    return files.updatekeys_paths(
        paths,
        dry_run=dry_run,
        options=options or KeyOptions(),
        config=config,
        progress=progress,
        follow_outside=follow_outside,
    )


def retarget_paths(
    files: Sequence[Path],
    *,
    replace: Callable[[str, str], str],
    rotate_data_key: bool = False,
    options: KeyOptions | None = None,
    rules: SopsRules | None = None,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> Report:
    """Swap recipients of encrypted files (``replace(kind, recipient)`` -> the new recipient; the same
    string keeps it): the data key is re-wrapped (``updatekeys``), or with ``rotate_data_key`` a new one
    encrypts every value (``rotate``). One transaction per file: MAC verified, written once or not at all.
    ``fluxforge rotate-key`` moves files to a new Key Vault key version with it."""
    from generator.sops import files as _files

    return _files.retarget_paths(
        files,
        replace=replace,
        rotate_data_key=rotate_data_key,
        options=options or KeyOptions(),
        rules=rules,
        progress=progress,
        dry_run=dry_run,
    )

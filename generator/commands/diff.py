"""Decrypted diffs for reviewers: ``fluxforge diff A B``, ``fluxforge diff --rev REV PATH`` and the git
diff driver (``fluxforge git setup`` writes it; git runs ``fluxforge git textconv FILE``).

A sops file is compared by its plaintext structure: every key is shown, every value sops encrypted is
replaced by a marker that changes when the value changes (``<masked:1f2e3d4c>``: the first 32 bits of an
HMAC-SHA256 of the key path and the value under a key that is never printed) unless ``show_values``. The
``sops`` metadata block (MAC, timestamps, wrapped keys) is left out: it changes with every edit. A file
that is not sops-encrypted is shown as it is. Without a key that decrypts it, ``fluxforge diff`` still
shows which keys were added or removed (values as ``<encrypted>``, a warning says so), and the textconv
prints the file unchanged (a diff never fails because of fluxforge).
"""

from __future__ import annotations

import difflib
import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.errors import FluxforgeError, InputError, UsageError

__all__ = ["DiffReport", "Masker", "plaintext_view", "run_diff", "textconv"]

_ENC = re.compile(r"^ENC\[AES256_GCM,")
_LINE_VALUE = re.compile(r"^(\s*[^=#;\s][^=]*?\s*=\s*)(.*)$")  # dotenv KEY=VALUE, INI key = value


@dataclass(frozen=True)
class Masker:
    """Markers for secret values: equal values at the same key path get equal markers under one key."""

    key: bytes | None  # None: no value compared (``<encrypted>``)
    show_values: bool = False

    def __call__(self, where: str, value: Any) -> Any:
        if self.show_values:
            return value
        if self.key is None:
            return "<encrypted>"
        digest = hmac.new(self.key, f"{where}\0{value!r}".encode(), hashlib.sha256).hexdigest()
        return f"<masked:{digest[:8]}>"


def _mask_tree(enc: Any, plain: Any, mask: Masker, where: str) -> Any:
    """``plain`` with every leaf that is ciphertext in ``enc`` (the same tree, encrypted) masked."""
    if isinstance(enc, dict) and isinstance(plain, dict):
        return _mask_mapping(enc, plain, mask, where)
    if isinstance(enc, list) and isinstance(plain, list) and len(enc) == len(plain):
        for index, (e, p) in enumerate(zip(enc, plain, strict=True)):
            plain[index] = _mask_tree(e, p, mask, f"{where}[{index}]")
        return plain
    if isinstance(enc, str) and _ENC.match(enc):
        return mask(where, plain)
    return plain


def _mask_mapping(enc: dict[Any, Any], plain: dict[Any, Any], mask: Masker, where: str) -> dict[Any, Any]:
    for key in list(plain):
        if key in enc:
            plain[key] = _mask_tree(enc[key], plain[key], mask, f"{where}.{key}" if where else str(key))
    return plain


def _yaml_view(data: bytes, plain: bytes | None, mask: Masker) -> str:
    from generator.yamlio import dump_rt, load_all_rt

    encrypted = load_all_rt(data.decode("utf-8"))
    docs = load_all_rt(plain.decode("utf-8")) if plain is not None else [_without_sops(d) for d in encrypted]
    out = [dump_rt(_mask_tree(enc, doc, mask, "")) for enc, doc in zip(encrypted, docs, strict=False)]
    return "---\n".join(out)


def _without_sops(doc: Any) -> Any:
    if isinstance(doc, dict):
        doc.pop("sops", None)
    return doc


def _json_view(data: bytes, plain: bytes | None, mask: Masker) -> str:
    encrypted = json.loads(data)
    doc = json.loads(plain) if plain is not None else _without_sops(json.loads(data))
    return json.dumps(_mask_tree(encrypted, doc, mask, ""), indent=2, ensure_ascii=False) + "\n"


def _lines_view(data: bytes, plain: bytes | None, mask: Masker) -> str:
    """dotenv and INI: ``key=value`` lines in the same order on both sides; the sops lines dropped."""
    enc_lines = [line for line in data.decode("utf-8").splitlines() if not _is_sops_line(line)]
    plain_lines = plain.decode("utf-8").splitlines() if plain is not None else enc_lines
    out = []
    for enc, line in zip(enc_lines, plain_lines, strict=False):
        match, enc_match = _LINE_VALUE.match(line), _LINE_VALUE.match(enc)
        if match and enc_match and _ENC.match(enc_match.group(2).strip()):
            out.append(f"{match.group(1)}{mask(match.group(1).strip(' ='), match.group(2))}")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def _is_sops_line(line: str) -> bool:
    return line.startswith(("sops_", "[sops]")) or line.strip().startswith("sops_")


def plaintext_view(data: bytes, fmt: str, plain: bytes | None, mask: Masker) -> str:
    """The reviewer's view of a sops file: its structure with secret values masked (``plain`` is the
    decrypted document, None when no key decrypted it)."""
    if fmt == "binary":
        value = mask("data", plain) if plain is not None else "<encrypted>"
        return f"{value if isinstance(value, str) else value.decode('utf-8', 'replace')}\n"
    if fmt == "json":
        return _json_view(data, plain, mask)
    if fmt in ("dotenv", "ini"):
        return _lines_view(data, plain, mask)
    return _yaml_view(data, plain, mask)


def _decrypt(data: bytes, fmt: str, name: str) -> bytes:
    from generator.sops import api

    return api.decrypt_bytes(data, fmt=fmt, path_for_errors=name)


def _view(data: bytes, name: str, mask: Masker, warn: Callable[[str], None], label: str) -> str:
    """The text to compare for one side: a sops file's masked view, any other file as it is (``name``
    picks the store, ``label`` names the side in a warning)."""
    from generator.sops import api

    fmt = api.detect_format(name)
    if not api.is_encrypted(data, fmt):
        return data.decode("utf-8", "replace")
    try:
        plain: bytes | None = _decrypt(data, fmt, name)
    except FluxforgeError as err:
        warn(f"{label}: not decrypted ({err.problems[0]}); only keys added or removed are shown")
        plain = None
    return plaintext_view(data, fmt, plain, mask if plain is not None else Masker(None))


@dataclass(frozen=True)
class DiffReport:
    diff: str
    warnings: tuple[str, ...]

    @property
    def same(self) -> bool:
        return not self.diff


def _read(path: Path) -> bytes:
    from generator.fsio import read_input

    try:
        return read_input(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None


def _read_at(rev: str, path: Path) -> tuple[bytes, str]:
    from generator.gitrepo import GitRepo

    repo = GitRepo.discover(path.parent if path.parent.is_dir() else Path())
    rel = Path(os.path.relpath(path.resolve(), repo.workdir)).as_posix()
    return repo.read_at(rev, rel), rel


def run_diff(paths: tuple[Path, ...], *, rev: str | None = None, show_values: bool = False) -> DiffReport:
    """``fluxforge diff A B`` (two files) or ``fluxforge diff --rev REV PATH`` (PATH at REV against the
    work tree): a unified diff of the masked plaintext views."""
    if rev is None and len(paths) != 2:
        raise UsageError("give two files (fluxforge diff A B), or --rev REV and one file")
    if rev is not None and len(paths) != 1:
        raise UsageError("--rev compares one file across revisions: fluxforge diff --rev main PATH")
    warnings: list[str] = []
    mask = Masker(os.urandom(32), show_values)  # one key for both sides, never printed nor kept
    if rev is not None:
        old, rel = _read_at(rev, paths[0])
        sides = [(old, f"{rev}:{rel}", rel), (_read(paths[0]), rel, rel)]
    else:
        sides = [(_read(path), str(path), str(path)) for path in paths]
    views = [_view(data, name, mask, warnings.append, label) for data, label, name in sides]
    diff = "".join(
        difflib.unified_diff(
            views[0].splitlines(keepends=True),
            views[1].splitlines(keepends=True),
            f"a/{sides[0][1]}",
            f"b/{sides[1][1]}",
        )
    )
    return DiffReport(diff, tuple(warnings))


def textconv(path: Path, mask_key: bytes | None) -> bytes:
    """What git shows for one side of a diff (``diff.fluxforge.textconv``): a sops file's masked view when
    a key decrypts it, the bytes unchanged otherwise (no key, not sops, anything unexpected)."""
    try:
        data = path.read_bytes()
    except OSError:
        return b""
    try:
        from generator.sops import api

        name = path.name  # git's temp file keeps the name's ending, so the store is the file's
        fmt = api.detect_format(name)
        if not api.is_encrypted(data, fmt):
            return data
        plain = _decrypt(data, fmt, name)
        return plaintext_view(data, fmt, plain, Masker(mask_key)).encode()
    except Exception:  # noqa: BLE001 - a diff never fails because of the driver: show the ciphertext
        return data

"""``fluxforge.lock``: the text of every file fluxforge generated last, next to the config.

It is the *base* of the three-way merge in ``fluxforge render`` and ``fluxforge upgrade``: what
differs between the lock and a file on disk is the user's edit; what differs between the lock and a
new render is the change of the config or of the Flux version. It always records the render itself
(never the merged file), so the next merge has the right base.

Format (valid YAML, written by hand here so it is byte-stable, fast for thousands of files, and
diffs in git line by line like the files themselves)::

    # fluxforge.lock: ...
    lockVersion: 1
    flux: 2.9.4
    files:
      "clusters/staging/flux-system/kustomization.yaml":
        sha256: 3b1f...
        text: |2
          apiVersion: kustomize.config.k8s.io/v1beta1
          ...

Paths are JSON-quoted, sorted; texts are literal blocks with an explicit indentation indicator
(``|2``, ``|2-`` without a final newline, ``|2+`` with several), or JSON strings when a text holds
characters a literal block cannot (CR, control characters). ``sha256`` guards against hand edits.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from generator.errors import FluxforgeError
from generator.fsio import write_atomic

__all__ = ["LOCK_NAME", "Lock", "LockError", "dumps", "loads", "read_lock", "record", "write_lock"]

LOCK_NAME = "fluxforge.lock"
LOCK_VERSION = 1
_HEADER = (
    "# fluxforge.lock: the files fluxforge generated last; the base of the three-way merge that keeps\n"
    "# your edits in `fluxforge render` and `fluxforge upgrade`. Commit it with the tree. Do not edit it by hand.\n"
)
_PLAIN_SAFE = re.compile(r"^[^\x00-\x08\x0b-\x1f\x7f\r\ufeff\u2028\u2029\x85]*$")
_INDENT = " " * 6
_LINE_START = re.compile(r"^(?=.)", re.MULTILINE)  # the start of a non-empty line (no CR here: _PLAIN_SAFE)


class LockError(FluxforgeError):
    """The lock file is unreadable or was edited by hand."""


@dataclass(frozen=True)
class Lock:
    """Generated texts by repository-relative POSIX path, and the Flux version they were made for."""

    flux: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)


def _literal(text: str) -> str:
    if not text.endswith("\n"):
        chomp, body = "-", text
    else:
        chomp, body = ("+" if text.endswith("\n\n") else ""), text[:-1]
    # every non-empty line indented (one pass: the lock holds every generated file of a fleet); a body
    # without an empty line (most generated files) is indented by a plain replace
    if "\n\n" in body or body.startswith("\n") or body.endswith("\n"):
        return f"|2{chomp}\n" + _LINE_START.sub(_INDENT, body) + "\n"
    return f"|2{chomp}\n{_INDENT}" + body.replace("\n", "\n" + _INDENT) + "\n"


def dumps(lock: Lock) -> bytes:
    """The lock file's bytes: the same lock always gives the same bytes."""
    out = [_HEADER, f"lockVersion: {LOCK_VERSION}\n"]
    if lock.flux is not None:
        out.append(f"flux: {json.dumps(lock.flux)}\n")
    out.append("files:\n" if lock.files else "files: {}\n")
    for path in sorted(lock.files):
        text = lock.files[path]
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        usable = text and _PLAIN_SAFE.match(text) and not text.startswith("\n")
        rendered = _literal(text) if usable else json.dumps(text, ensure_ascii=False) + "\n"
        out.append(f"  {json.dumps(path, ensure_ascii=False)}:\n    sha256: {digest}\n    text: {rendered}")
    return "".join(out).encode("utf-8")


def loads(data: bytes, display: str = LOCK_NAME) -> Lock:
    """Parse bytes written by :func:`dumps`; raise LockError (with the line) for anything else."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise LockError(f"{display}: not UTF-8; {_FIX}") from None
    found = _read_whole(text)
    if found is not None:
        return found
    return _Reader(text.split("\n"), display).read()  # says which line is wrong


# A lock as dumps writes it, read a whole entry at a time (a fleet's lock has 100,000s of lines). Anything
# these patterns do not take goes to _Reader, which reads line by line and names the line that is wrong.
_PROLOGUE = re.compile(r"(?:#.*\n)*lockVersion: 1\n(?:flux: (\".*\")\n)?files:( \{\})?\n")
_ENTRY = re.compile(r'  (".*"):\n    sha256: ([0-9a-f]{64})\n    text: (\|2[-+]?|".*")\n')
_BLOCK_END = re.compile(r"\n(?!      |\n)")  # the line break before a line neither indented nor empty, or the end


def _read_whole(text: str) -> Lock | None:
    """What ``_Reader`` reads from ``text`` when it is well formed, every digest matching; None for anything
    else (``_Reader`` then says what is wrong)."""
    head = _PROLOGUE.match(text)
    if head is None:
        return None
    try:
        flux = json.loads(head.group(1)) if head.group(1) is not None else None
        files = {} if head.group(2) else _entries(text, head.end())
    except ValueError:  # a JSON string that does not parse
        return None
    if files is None or (head.group(2) and text[head.end() :].strip("\n")):
        return None
    return Lock(flux, files)


def _entries(text: str, pos: int) -> dict[str, str] | None:
    """The entries from ``pos`` to the end of ``text`` (nothing but line breaks after them); None when one is
    not as dumps writes it or its digest does not match."""
    files: dict[str, str] = {}
    end = len(text)
    while text.startswith("  ", pos):
        entry = _ENTRY.match(text, pos)
        if entry is None:
            return None
        head = entry.group(3)
        if head.startswith('"'):
            body, pos = json.loads(head), entry.end()
        else:
            stop = _BLOCK_END.search(text, entry.end() - 1)
            last = stop.start() if stop is not None else end
            body = _unindented(head[2:], text[entry.end() : last] if last >= entry.end() else None)
            pos = last + 1
        if hashlib.sha256(body.encode("utf-8")).hexdigest() != entry.group(2):
            return None
        files[_json_string(entry.group(1))] = body
    return files if not text[pos:].strip("\n") else None


def _json_string(quoted: str) -> str:
    """``json.loads`` of a JSON string, without the decoder for the usual path (no escape, no quote or
    control character inside)."""
    inner = quoted[1:-1]
    if "\\" in inner or '"' in inner or not inner.isprintable():
        return str(json.loads(quoted))
    return inner


def _unindented(chomp: str, block: str | None) -> str:
    """``_unliteral`` of a block literal's lines (``block``: they joined, every one indented or empty; None:
    no line), the indent taken off all of them at once."""
    if block is None:
        return _unliteral(chomp, [])
    return _unliteral(chomp, block.removeprefix(_INDENT).replace("\n" + _INDENT, "\n").split("\n"))


_FIX = (
    f"restore it from git (git checkout -- {LOCK_NAME}); if you delete it instead, render refuses to replace "
    "generated files that differ until you review them and pass --force"
)


class _Reader:
    def __init__(self, lines: list[str], display: str) -> None:
        self.lines, self.display, self.pos = lines, display, 0

    def fail(self, what: str) -> LockError:
        return LockError(f"{self.display}:{self.pos + 1}: {what}; {_FIX}")

    def take(self, pattern: str) -> re.Match[str]:
        line = self.lines[self.pos] if self.pos < len(self.lines) else ""
        match = re.fullmatch(pattern, line)
        if match is None:
            raise self.fail(f"expected {pattern!r}")
        self.pos += 1
        return match

    def _at(self, prefix: str) -> bool:
        """The current line exists and starts with ``prefix``."""
        return self.pos < len(self.lines) and self.lines[self.pos].startswith(prefix)

    def read(self) -> Lock:
        while self._at("#"):
            self.pos += 1
        version = self.take(r"lockVersion: (\d+)").group(1)
        if int(version) != LOCK_VERSION:
            self.pos -= 1
            raise self.fail(f"lockVersion {version} is not supported (this fluxforge writes {LOCK_VERSION})")
        flux = None
        if self._at("flux: "):
            flux = json.loads(self.take(r"flux: (\".*\")").group(1))
        files: dict[str, str] = {}
        if self.take(r"files:( \{\})?").group(1) is None:
            while self._at("  "):
                path, text = self.entry()
                files[path] = text
        if any(line for line in self.lines[self.pos :]):
            raise self.fail("unexpected content")
        return Lock(flux, files)

    def entry(self) -> tuple[str, str]:
        path = json.loads(self.take(r"  (\".*\"):").group(1))
        start = self.pos
        digest = self.take(r"    sha256: ([0-9a-f]{64})").group(1)
        head = self.take(r"    text: (\|2[-+]?|\".*\")").group(1)
        if head.startswith('"'):
            text = json.loads(head)
        else:
            body: list[str] = []
            while self.pos < len(self.lines) and (self.lines[self.pos].startswith(_INDENT) or not self.lines[self.pos]):
                if not self.lines[self.pos] and self.pos == len(self.lines) - 1:
                    break  # the file's final newline
                body.append(self.lines[self.pos][len(_INDENT) :])
                self.pos += 1
            text = _unliteral(head[2:], body)
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != digest:
            self.pos = start
            raise self.fail(f"the text recorded for {path} does not match its sha256 (edited by hand?)")
        return path, text


def _unliteral(chomp: str, body: list[str]) -> str:
    if chomp == "+":
        return "\n".join(body) + "\n"
    while body and body[-1] == "":
        body.pop()
    joined = "\n".join(body)
    return joined if chomp == "-" else joined + "\n"


def read_lock(path: Path) -> Lock | None:
    """The recorded lock, or None when there is none yet."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise LockError(f"{path}: cannot read: {err.strerror}") from None
    return loads(data, str(path))


def write_lock(path: Path, lock: Lock, data: bytes | None = None) -> bool:
    """Write the lock atomically; False when it already holds exactly these bytes. ``data``: ``dumps(lock)``
    when the caller has it already (a render compares it with the file on disk first)."""
    return write_atomic(path, data if data is not None else dumps(lock))


def record(lock_file: Path, files: Mapping[str, bytes], flux: str | None) -> bool:
    """For the render writer: remember ``files`` (the complete render) as the new base.

    Call it after writing the files of a full render. Returns True when the lock changed.
    """
    texts = {path: data.decode("utf-8") for path, data in files.items()}
    return write_lock(lock_file, Lock(flux, texts))

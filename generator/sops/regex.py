"""Every regular expression that comes from a user's file goes through here: RE2, as Go's ``regexp``.

sops compiles ``.sops.yaml`` patterns (``path_regex``, ``encrypted_regex`` …) and the selector in a
file's own metadata with Go's RE2 engine: linear time, no backtracking, no lookaround or
backreferences. Python's ``re`` backtracks (``^(a+)+$`` against 40 ``a`` and a ``b`` runs for
minutes), so fluxforge uses the ``google-re2`` bindings with the same syntax and guarantees. A pattern
RE2 cannot compile is a ``SopsError`` naming where it came from; sops rejects the same patterns.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache, lru_cache, partial
from typing import Protocol

from generator.errors import SopsError


class Pattern(Protocol):
    def search(self, text: str) -> object | None: ...


class _Words:
    """``^(word|word|…)$`` (the selector sops users write most: ``^(data|stringData)$``): RE2 finds it in
    a text exactly when the text is one of the words (``$`` without ``(?m)`` is the end of the text in
    Go's syntax), so no engine is loaded for it (a one-file decrypt starts faster)."""

    def __init__(self, words: frozenset[str]) -> None:
        self.words = words

    def search(self, text: str) -> bool | None:
        return True if text in self.words else None


class _Literal:
    """A pattern of literal characters (``\\.``, ``\\-`` and ``\\/`` included), maybe anchored by a leading
    ``^`` and/or a final ``$``: what ``fluxforge render`` writes as ``path_regex`` (``^clusters/prod/``), and
    the ``\\.yaml$`` of sops's own examples. RE2 finds it in a text exactly when the text starts with (``^``),
    ends with (``$``: the end of the text in Go's syntax, not before a final line break), is (both) or
    contains the characters."""

    def __init__(self, anchored: bool, text: str, at_end: bool = False) -> None:
        self.anchored, self.text, self.at_end = anchored, text, at_end

    def search(self, text: str) -> bool | None:
        if self.anchored:
            found = text == self.text if self.at_end else text.startswith(self.text)
        else:
            found = text.endswith(self.text) if self.at_end else self.text in text
        return True if found else None


class _Spanned:
    """Two literals with ``.*`` between them (``secrets/.*\\.yaml$``, the ``path_regex`` of sops's own
    examples), maybe anchored by a leading ``^`` and/or a final ``$``, neither literal holding a line break.
    ``.`` is any character but a line break, so RE2 finds it in a text exactly when some ``head`` is followed
    on the same line by a ``tail`` (the ``head`` starting the text with ``^``, the ``tail`` ending it with
    ``$``). The ``head`` nearest the ``tail`` (``$``), or the ``tail`` nearest the ``head``, leaves the
    fewest characters between them to hold a line break."""

    def __init__(self, anchored: bool, head: str, tail: str, at_end: bool) -> None:
        self.anchored, self.head, self.tail, self.at_end = anchored, head, tail, at_end

    def search(self, text: str) -> bool | None:
        return True if self._found(text) else None

    def _found(self, text: str) -> bool:
        if self.at_end:
            if not text.endswith(self.tail):
                return False
            end = len(text) - len(self.tail)
            if self.anchored:
                start = 0 if text.startswith(self.head) and len(self.head) <= end else -1
            else:
                start = text.rfind(self.head, 0, end)
            return start >= 0 and "\n" not in text[start + len(self.head) : end]
        if self.anchored:
            return text.startswith(self.head) and self._on_line(text.partition("\n")[0])
        return any(self._on_line(line) for line in text.split("\n"))

    def _on_line(self, line: str) -> bool:
        start = line.find(self.head)
        return start >= 0 and line.find(self.tail, start + len(self.head)) >= 0


def lazy(pattern: str, flags: int = 0) -> Callable[[], re.Pattern[str]]:
    """One of fluxforge's own patterns, compiled on its first use instead of at import: a one-file
    decrypt (one process per call) then compiles only the patterns that file needs."""
    return cache(partial(re.compile, pattern, flags))


class CharClass:
    """A one-character class (``[…]``) looked for in a text. ASCII text (``str.isascii`` reads a flag) is
    answered by deleting the class's ASCII members (``ascii_members``, held equal to the pattern's by
    tests/sops/test_sops_lean_imports.py) from its bytes; other text by the pattern, compiled on first
    use: a one-file decrypt of an ASCII file compiles none of these classes."""

    def __init__(self, pattern: str, ascii_members: str) -> None:
        self.pattern = lazy(pattern)
        self.ascii_members = ascii_members.encode("ascii")

    def found_in(self, text: str) -> bool:
        if text.isascii():
            data = text.encode("ascii")
            return len(data.translate(None, self.ascii_members)) != len(data)
        return self.pattern().search(text) is not None


_WORDS = re.compile(r"\^\(([A-Za-z0-9_]+(?:\|[A-Za-z0-9_]+)*)\)\$")
_LITERAL = lazy(r"(\^?)((?:[^\\.+*?()|\[\]{}^$]|\\[./-])*)(\$?)")
_SPANNED = lazy(r"(\^?)((?:[^\\.+*?()|\[\]{}^$]|\\[./-])*)\.\*((?:[^\\.+*?()|\[\]{}^$]|\\[./-])*)(\$?)")


def _plain(pattern: str) -> Pattern | None:
    """The pattern without an engine when it is one of the shapes above; else None (RE2 compiles it)."""
    words = _WORDS.fullmatch(pattern)
    if words is not None:
        return _Words(frozenset(words.group(1).split("|")))
    literal = _LITERAL().fullmatch(pattern)
    if literal is not None:
        return _Literal(bool(literal.group(1)), _unescaped(literal.group(2)), bool(literal.group(3)))
    spanned = _SPANNED().fullmatch(pattern)
    if spanned is not None and "\n" not in pattern:
        head, tail = _unescaped(spanned.group(2)), _unescaped(spanned.group(3))
        return _Spanned(bool(spanned.group(1)), head, tail, bool(spanned.group(4)))
    return None


def _unescaped(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal)


@lru_cache(maxsize=256)
def _compile(pattern: str) -> Pattern | str:
    """The compiled pattern, or RE2's reason for refusing it (cached either way)."""
    plain = _plain(pattern)
    if plain is not None:
        return plain
    import re2  # type: ignore[import-untyped]  # google-re2 ships no type information

    options = re2.Options()
    options.log_errors = False  # RE2 would print its own copy of the reason on stderr
    try:
        compiled: Pattern = re2.compile(pattern, options)
    except re2.error as err:
        reason = err.args[0] if err.args else err
        return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    return compiled


def compile_re2(pattern: str, where: str) -> Pattern:
    """Compile ``pattern`` with RE2 (Go's syntax and semantics); ``where`` names it in the error."""
    compiled = _compile(pattern)
    if isinstance(compiled, str):
        raise SopsError(
            f"{where}: {pattern!r} is not a valid RE2 regular expression (the syntax sops uses; "
            f"no lookaround, backreferences or \\Z): {compiled}"
        )
    return compiled


def search(pattern: str, text: str, where: str) -> bool:
    """True when ``pattern`` (RE2) matches anywhere in ``text`` (answers remembered: the same key
    names come back in every file of a batch)."""
    hit = _HITS.get((pattern, text))
    if hit is None:
        hit = compile_re2(pattern, where).search(text) is not None
        if len(_HITS) < 65536:
            _HITS[(pattern, text)] = hit
    return hit


_HITS: dict[tuple[str, str], bool] = {}

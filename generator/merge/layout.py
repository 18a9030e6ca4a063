"""Guess the indentation layout of a YAML text so a merged file can be written back in the user's
layout instead of the project's (``kustomize edit`` writes unindented lists, for example)."""

from __future__ import annotations

import itertools
import re

from generator.yamlio import YamlError, dump_rt, load_rt

__all__ = ["DEFAULT_INDENT", "layout_of"]

_KEY_ONLY = re.compile(r"^[ ]*(?:- +)?[^\s#'\"-][^:#]*:[ ]*(?:#.*)?$")  # "key:" opening a nested block
DEFAULT_INDENT = (2, 4, 2)  # (mapping, sequence, offset): the project's layout (yamlio.make_yaml)


def layout_of(text: str) -> tuple[int, int, int]:
    """The (mapping, sequence, offset) indentation that reproduces ``text`` when dumped, so a merged
    file keeps the user's layout (``kustomize edit`` writes unindented lists, for example)."""
    guessed = _guess_indent(text)
    for candidate in (guessed, DEFAULT_INDENT):
        try:
            if dump_rt(load_rt(text), indent=candidate) == text:
                return candidate
        except YamlError:  # unparseable text: the caller reports it
            break
    return guessed


def _guess_indent(text: str) -> tuple[int, int, int]:
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    found = [_indents_below(cur, nxt) for cur, nxt in itertools.pairwise(lines) if _KEY_ONLY.match(cur)]
    mapping = next((m for m, _ in found if m is not None), DEFAULT_INDENT[0])
    seq, offset = next((s for _, s in found if s is not None), DEFAULT_INDENT[1:])
    return (mapping, seq, offset)


def _indents_below(key_line: str, nxt: str) -> tuple[int | None, tuple[int, int] | None]:
    """What the line after a ``key:`` line shows: a mapping indent, or a sequence's (indent, offset)."""
    col = len(key_line) - len(key_line.lstrip(" -"))
    body = nxt.lstrip(" ")
    ncol = len(nxt) - len(body)
    if body.startswith("- "):
        offset = ncol - col
        return None, (offset + 1 + len(body[1:]) - len(body[1:].lstrip(" ")), offset)
    if not body.startswith("-") and ncol > col:
        return ncol - col, None
    return None, None

"""Guess the indentation layout of a YAML text so a merged file can be written back in the user's
layout instead of the project's (``kustomize edit`` writes unindented lists, for example)."""

from __future__ import annotations

import itertools
import re

from generator.yamlio import dump_rt, load_rt

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
        except Exception:  # noqa: BLE001 - unparseable text: the caller reports it
            break
    return guessed


def _guess_indent(text: str) -> tuple[int, int, int]:
    mapping = sequence = offset = None
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for cur, nxt in itertools.pairwise(lines):
        if _KEY_ONLY.match(cur) is None:
            continue
        col = len(cur) - len(cur.lstrip(" -"))
        body = nxt.lstrip(" ")
        ncol = len(nxt) - len(body)
        if body.startswith("- ") and sequence is None:
            offset = ncol - col
            sequence = offset + 1 + len(body[1:]) - len(body[1:].lstrip(" "))
        elif not body.startswith("-") and ncol > col and mapping is None:
            mapping = ncol - col
        if mapping is not None and sequence is not None:
            break
    default = DEFAULT_INDENT
    return (mapping or default[0], sequence if sequence is not None else default[1],
            offset if offset is not None else default[2])

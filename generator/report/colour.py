"""Colour for people at a terminal: diffs (``render``, ``upgrade``, ``diff``) and doctor's ✔/✘ marks.

``--color auto`` (the default) colours only when the stream is a terminal and ``NO_COLOR`` is unset or
empty (https://no-color.org); ``always`` and ``never`` say so regardless. ANSI SGR codes only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["CHOICES", "colour_diff", "colour_marks", "wants_colour"]

CHOICES: Final = ("auto", "always", "never")
_RESET: Final = "\x1b[0m"
_RED: Final = "\x1b[31m"
_GREEN: Final = "\x1b[32m"
_YELLOW: Final = "\x1b[33m"
_CYAN: Final = "\x1b[36m"
_BOLD: Final = "\x1b[1m"
_DIM: Final = "\x1b[2m"
_MARKS: Final = {"✔": _GREEN, "✘": _RED, "!": _YELLOW, "–": _DIM}


def wants_colour(choice: str, isatty: bool, environ: Mapping[str, str]) -> bool:
    """Whether to colour: ``always``/``never`` as said; ``auto``: a terminal and no ``NO_COLOR``."""
    if choice == "always":
        return True
    if choice == "never":
        return False
    return isatty and not environ.get("NO_COLOR")


def _paint(code: str, line: str) -> str:
    return f"{code}{line}{_RESET}" if line else line


def _diff_code(line: str) -> str | None:
    if line.startswith(("+++ ", "--- ")):
        return _BOLD
    if line.startswith("@@"):
        return _CYAN
    if line.startswith("+"):
        return _GREEN
    if line.startswith("-"):
        return _RED
    return None


def colour_diff(text: str) -> str:
    """A unified diff with headers bold, hunk markers cyan, added lines green and removed lines red."""
    out = []
    for line in text.split("\n"):
        code = _diff_code(line)
        out.append(_paint(code, line) if code is not None else line)
    return "\n".join(out)


def colour_marks(text: str) -> str:
    """doctor's text report with the leading mark of each gate line coloured (✔ green, ✘ red, ! yellow)."""
    out = []
    for line in text.split("\n"):
        code = _MARKS.get(line[:1]) if line[1:2] == " " else None
        out.append(_paint(code, line[:1]) + line[1:] if code is not None else line)
    return "\n".join(out)

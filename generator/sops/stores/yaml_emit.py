"""go-yaml v3's scalar rules for the YAML writer (``goyaml_emit``): how a string is analysed
(``yaml_emitter_analyze_scalar``), which style it gets, and how quoted and block text is spelled."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from generator.sops.stores.goyaml import Unsupported, resolve_plain
from generator.sops.values import Branch, GoTime, format_float_g

_OLD_BOOLS = frozenset(["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off", "OFF"])
_BASE60 = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
_BREAKS = "\r\n\x85\u2028\u2029"
_ESCAPES = {"\0": "0", "\a": "a", "\b": "b", "\t": "t", "\n": "n", "\v": "v", "\f": "f", "\r": "r",
            "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_", "\u2028": "L", "\u2029": "P"}


def _printable(ch: str) -> bool:
    cp = ord(ch)
    return (cp == 0x0A or 0x20 <= cp <= 0x7E or 0xA0 <= cp <= 0xD7FF
            or (0xE000 <= cp <= 0xFFFD and cp != 0xFEFF))


_BLANKZ = " \t" + _BREAKS


@dataclass(frozen=True)
class _Analysis:
    multiline: bool
    block_plain: bool
    single_quoted: bool
    block: bool


def analyze(value: str) -> _Analysis:
    """libyaml's ``yaml_emitter_analyze_scalar`` as go-yaml v3 has it (a tab only rules out plain and
    single-quoted styles; a literal block may hold tabs)."""
    if not value:
        return _Analysis(multiline=False, block_plain=True, single_quoted=True, block=False)
    block_ind = value.startswith(("---", "..."))
    flags = {"tab": False, "special": False, "breaks": False, "break_space": False, "space_break": False}
    prev_space = prev_break = False
    preceded_ws = True
    for i, ch in enumerate(value):
        followed_ws = i + 1 >= len(value) or value[i + 1] in " \t"
        block_ind = block_ind or _block_indicator(ch, i, followed_ws=followed_ws, preceded_ws=preceded_ws)
        if ch == "\t":
            flags["tab"] = True
        elif not _printable(ch):
            flags["special"] = True
        if ch == " ":
            flags["break_space"] |= prev_break
            prev_space, prev_break = True, False
        elif ch in _BREAKS:
            flags["breaks"] = True
            flags["space_break"] |= prev_space
            prev_space, prev_break = False, True
        else:
            prev_space = prev_break = False
        preceded_ws = ch in _BLANKZ
    edges = value[0] in " " + _BREAKS or value[-1] in " " + _BREAKS
    no_plain = edges or flags["break_space"] or flags["space_break"] or flags["tab"] or flags["special"] or (
        flags["breaks"] or block_ind)
    no_single = flags["break_space"] or flags["space_break"] or flags["tab"] or flags["special"]
    no_block = value[-1] == " " or flags["space_break"] or flags["special"]
    return _Analysis(multiline=flags["breaks"], block_plain=not no_plain, single_quoted=not no_single,
                     block=not no_block)


def _block_indicator(ch: str, i: int, *, followed_ws: bool, preceded_ws: bool) -> bool:
    if i == 0:
        return ch in "#,[]{}&*!|>'\"%@`" or (ch in "?:-" and followed_ws)
    return (ch == ":" and followed_ws) or (ch == "#" and preceded_ws)


def _resolves_to_str(value: str) -> bool:
    try:
        resolved = resolve_plain(value) if value else None
    except Unsupported:
        return False
    return isinstance(resolved, str) and not (_BASE60.fullmatch(value) or value in _OLD_BOOLS)


def _double(value: str) -> str:
    """``yaml_emitter_write_double_quoted_scalar``. go-yaml's BOM test looks at the start of the
    string, not at the character: a string that starts with U+FEFF has every character escaped."""
    escape_all = value.startswith("\ufeff")
    out = ['"']
    for ch in value:
        if not escape_all and _printable(ch) and ch not in _BREAKS and ch not in '"\\':
            out.append(ch)
        elif ch in _ESCAPES:
            out.append("\\" + _ESCAPES[ch])
        else:
            cp = ord(ch)
            out.append(f"\\x{cp:02X}" if cp <= 0xFF else f"\\u{cp:04X}" if cp <= 0xFFFF else f"\\U{cp:08X}")
    out.append('"')
    return "".join(out)


_SAFE_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_./=+,@%()\[\]-]*(?::[A-Za-z0-9_./=+,@%()\[\]-]+)*")
_WORDS = _OLD_BOOLS | {"true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL"}


def string_style(value: str) -> str:
    """The style go-yaml writes a string in (outside a simple key): ``stringv`` picks literal for
    text with ``\\n``, plain when it reads back as a string, else double quotes; the emitter then
    falls back from plain to single and from single (or literal) to double quotes."""
    if _SAFE_PLAIN.fullmatch(value) and value not in _WORDS:
        return "plain"  # fast path: letters first, no spaces, no ': ' or ' #', resolves to a string
    found = analyze(value)
    if "\n" in value:
        return "literal" if found.block else "double"
    style = "plain" if _resolves_to_str(value) else "double"
    if style == "plain" and not found.block_plain:
        style = "single"
    if style == "single" and not found.single_quoted:
        style = "double"
    return style


def double_quoted(value: str) -> str:
    return _double(value)


def single_quoted_lines(value: str) -> list[tuple[str, str]]:
    """``yaml_emitter_write_single_quoted_scalar`` as pieces: ("text", …) and ("break", ch); a
    first ``\\n`` break is doubled (a single one would fold into a space)."""
    parts: list[tuple[str, str]] = []
    text: list[str] = []
    breaks = False
    for ch in value:
        if ch in _BREAKS:
            if text:
                parts.append(("text", "".join(text)))
                text = []
            if not breaks and ch == "\n":
                parts.append(("break", "\n"))
            parts.append(("break", ch))
            breaks = True
        else:
            text.append("''" if ch == "'" else ch)
            breaks = False
    if text:
        parts.append(("text", "".join(text)))
    return parts


def block_hints(value: str, best: int) -> str:
    """``yaml_emitter_write_block_scalar_hints``: an indentation digit when the text starts with a
    space or a break, ``-`` without a final break, ``+`` when it ends with two (or is one)."""
    hints = str(best) if value[:1] in (" ", *_BREAKS) and value else ""
    if not value or value[-1] not in _BREAKS:
        return hints + "-"
    if len(value) == 1 or value[-2] in _BREAKS:
        return hints + "+"
    return hints


def leaf_text(value: object) -> str:
    """A non-string leaf as go-yaml writes it (always plain)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return ".nan" if math.isnan(value) else format_float_g(value)
    if isinstance(value, GoTime):
        return value.text
    raise TypeError(f"cannot write {type(value).__name__} to YAML")


def emit_documents(docs: list[Branch], indent: int = 4) -> str:
    """The text sops 3.11 (go-yaml v3) writes for these documents."""
    from generator.sops.stores.goyaml_emit import emit_documents as _emit

    return _emit(docs, indent)

"""Write sops trees the way go-yaml v3 (sops 3.11, ``SetIndent(n)``) writes them, byte for byte in
the cases sops produces: block style, no line wrapping, go-yaml's scalar quoting and indentation."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from generator.sops.stores.goyaml import Unsupported, resolve_plain
from generator.sops.values import Branch, Comment, GoTime, SeqComment, format_float_g

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
_ANY_BREAK = re.compile(f"[{_BREAKS}]")


@dataclass(frozen=True)
class _Analysis:
    multiline: bool
    block_plain: bool
    single_quoted: bool
    block: bool


def _analyze(value: str) -> _Analysis:
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


def _single(value: str, indent: int) -> str:
    """``yaml_emitter_write_single_quoted_scalar`` without line wrapping: a line break (U+2028/9)
    is written as it is, and the text after it continues at the indentation."""
    out = ["'"]
    breaks = False
    for ch in value:
        if ch == " ":
            out.append(ch)
        elif ch in _BREAKS:
            if not breaks and ch == "\n":
                out.append("\n")
            out.append(ch)
            breaks = True
        else:
            if breaks:
                out.append(" " * indent)
            out.append("''" if ch == "'" else ch)
            breaks = False
    out.append("'")
    return "".join(out)


def _literal(value: str, indent: int, best: int) -> str:
    hints = str(best) if value[0] in " " + _BREAKS else ""
    if value[-1] not in _BREAKS:
        hints += "-"
    elif len(value) == 1 or value[-2] in _BREAKS:
        hints += "+"
    if not _ANY_BREAK.search(value.replace("\n", "")):  # only "\n" breaks: line by line
        pad = " " * indent
        body = "\n".join(pad + line if line else "" for line in value.split("\n"))
        text = "|" + hints + "\n" + body
        return text if text.endswith("\n") else text + "\n"
    out = ["|" + hints + "\n"]
    at_line_start = True
    for ch in value:
        if ch in _BREAKS:
            out.append("\n" if ch in "\r\n" else ch)
            at_line_start = True
        else:
            if at_line_start:
                out.append(" " * indent)
                at_line_start = False
            out.append(ch)
    text = "".join(out)
    return text if text.endswith("\n") else text + "\n"


_SAFE_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_./=+,@%()\[\]-]*(?::[A-Za-z0-9_./=+,@%()\[\]-]+)*")
_WORDS = _OLD_BOOLS | {"true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL"}


def string_scalar(value: str, *, key: bool, indent: int, best: int) -> str:
    """One string scalar as go-yaml's ``stringv`` and ``yaml_emitter_select_scalar_style`` choose
    it (``key``: a simple key); block scalars end with their own newline, others have none."""
    if _SAFE_PLAIN.fullmatch(value) and value not in _WORDS:
        return value  # fast path: letters first, no spaces, no ': ' or ' #', resolves to a string
    if value == "<<":
        return "!!merge <<"  # go-yaml resolves a plain << to the merge tag and writes that tag
    found = _analyze(value)
    if "\n" in value:
        style = "double" if key or not found.block else "literal"
    else:
        style = "plain" if _resolves_to_str(value) else "double"
        if key and found.multiline:
            style = "double"
    if style == "plain" and not found.block_plain:
        style = "single"
    if style == "single" and not found.single_quoted:
        style = "double"
    if style == "literal":
        return _literal(value, indent, best)
    if style == "single":
        return _single(value, indent)
    return value if style == "plain" else _double(value)


def leaf_text(value: object, indent: int, best: int) -> str:
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
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    if isinstance(value, str):
        return string_scalar(value, key=False, indent=indent, best=best)
    raise TypeError(f"cannot write {type(value).__name__} to YAML")


class Emitter:
    """Serialises ``Branch`` documents; ``best`` is the indentation step (sops default 4)."""

    def __init__(self, best: int = 4) -> None:
        self.best = best
        self.out: list[str] = []

    def _next(self, indent: int, in_seq_item: bool) -> int:
        if indent < 0:
            return 0
        return indent + 2 if in_seq_item else self.best * ((indent + self.best) // self.best)

    def documents(self, docs: list[Branch]) -> str:
        for i, doc in enumerate(docs):
            if i:
                self.out.append("---\n")
            if not any(not isinstance(k, Comment) for k, _ in doc):
                self._comments([k for k, _ in doc], 0)  # type: ignore[misc]
                self.out.append("{}\n")
            else:
                self._mapping(doc, 0, first_inline=False)
        return "".join(self.out)

    def _comments(self, comments: list[Comment], indent: int) -> None:
        self.out.extend(" " * indent + "#" + c.value + "\n" for c in comments)

    def _entry_start(self, pending: list[Comment], indent: int, first_inline: bool) -> None:
        """Before a mapping key or ``-``: the pending comments, then the indentation (none when the
        entry goes on the line of the parent's indicator and no comment broke that line)."""
        if pending and first_inline:
            self.out.append("\n")
            first_inline = False
        self._comments(pending, indent)
        if not first_inline:
            self.out.append(" " * indent)

    def _value_after_indicator(self, value: object, indent: int, in_seq_item: bool,
                               *, complex_key: bool = False) -> None:
        """Write a value after ``key:`` or ``-`` (the cursor is right after the indicator)."""
        child = self._next(indent, in_seq_item)
        nonempty = bool(value) and isinstance(value, list)
        if complex_key and nonempty:  # go-yaml keeps the collection on the ":" line, aligned
            self.out.append(" " * (child - indent - 1))
            if isinstance(value, Branch):
                self._mapping(value, child, first_inline=True)
            else:
                self._sequence(value, child, first_inline=True)  # type: ignore[arg-type]
            return
        # a non-empty collection starts on the "-" line of a sequence item, else on the next line
        if isinstance(value, Branch) and any(not isinstance(k, Comment) for k, _ in value):
            self.out.append(" " if in_seq_item else "\n")
            self._mapping(value, child, first_inline=in_seq_item)
        elif isinstance(value, list) and not isinstance(value, Branch) and value:
            self.out.append(" " if in_seq_item else "\n")
            self._sequence(value, child, first_inline=in_seq_item)
        elif isinstance(value, Branch):
            self.out.append(" {}\n")
        elif isinstance(value, list):
            self.out.append(" []\n")
        else:
            text = leaf_text(value, child, self.best)
            self.out.append(" " + text + ("" if text.endswith("\n") else "\n"))

    def _mapping(self, branch: Branch, indent: int, *, first_inline: bool) -> None:
        pending: list[Comment] = []
        for key, value in branch:
            if isinstance(key, Comment):
                pending.append(key)
                continue
            self._entry_start(pending, indent, first_inline)
            pending = []
            first_inline = False
            text = str(key)
            if any(ch in _BREAKS for ch in text) or len(text.encode("utf-8", "surrogateescape")) > 128:
                # not a simple key for go-yaml: the explicit "? key" / ": value" form
                scalar = string_scalar(text, key=False, indent=self._next(indent, False), best=self.best)
                self.out.append("? " + scalar + ("" if scalar.endswith("\n") else "\n") + " " * indent + ":")
                self._value_after_indicator(value, indent, in_seq_item=False, complex_key=True)
                continue
            key_text = string_scalar(text, key=True, indent=indent, best=self.best)
            self.out.append(key_text + ":")
            self._value_after_indicator(value, indent, in_seq_item=False)
        self._comments(pending, indent)

    def _sequence(self, seq: list[object], indent: int, *, first_inline: bool) -> None:
        pending: list[Comment] = []
        for item in seq:
            if isinstance(item, SeqComment):
                item = item.value  # written as sops 3.11 writes it: a list item
            elif isinstance(item, Comment):
                pending.append(item)
                continue
            self._entry_start(pending, indent, first_inline)
            pending = []
            first_inline = False
            self.out.append("-")
            self._value_after_indicator(item, indent, in_seq_item=True)
        self._comments(pending, indent)


def emit_documents(docs: list[Branch], indent: int = 4) -> str:
    return Emitter(indent).documents(docs)

"""Write sops trees as sops 3.11 writes them, byte for byte.

sops hands its tree to go-yaml v3 (block style, ``SetIndent(n)``, no line wrapping). What comes out
follows from a handful of facts, which this writer reproduces for the trees sops has (block
mappings and lists of scalars, ``{}``/``[]`` for empty ones, comments):

* **Scalars**: a string is written plain when it reads back as the same string and nothing in it
  needs quoting, in single quotes when it only has characters single quotes can hold, as a literal
  ``|`` block when it has a ``\\n`` (a block may hold tabs), else in double quotes with escapes;
  ``<<`` is the merge key ``!!merge <<``; a string that starts with U+FEFF has every character
  escaped. Keys over 128 bytes or with line breaks are written as ``? key`` / ``: value``.
* **Indentation**: a nested mapping or list goes to the next multiple of the indent; inside a list
  item it moves two columns (past ``- ``).
* **Comments**: sops turns the comments before the first entry of a mapping or list into the head of
  the collection, those before another entry into that entry's head, and the ones after the last
  entry into its foot. go-yaml keeps at most one pending comment of each kind (head, foot, and
  "tail": a mapping's last-key foot) and writes it at fixed moments: heads before the next entry
  (or, for a mapping, before its first key), a mapping's tail when the mapping ends, feet after the
  next node it writes. After a foot or tail the next line at the same indentation gets an empty
  line before it. Where that puts a comment under another key, the read-back check refuses the
  file (``sops.readback``).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any, cast

from generator.sops.record import record
from generator.sops.regex import CharClass, lazy
from generator.sops.stores.yaml_scalars import Unsupported, resolve_plain
from generator.sops.values import Branch, Comment, GoTime, SeqComment, format_float_g

_OLD_BOOLS = frozenset(
    ["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off", "OFF"]
)
_WORDS = _OLD_BOOLS | {"true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL"}
_BASE60 = lazy(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
_BREAKS = "\r\n\x85\u2028\u2029"
_ANY_BREAK = CharClass(f"[{_BREAKS}]", "\r\n")
_OTHER_BREAK = lazy("[\r\x85\u2028\u2029]")
# outside go-yaml's printable set (tab is tracked on its own: it only rules out plain and single quotes),
# written as the characters it holds: the same class as [^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd]
# (tests/sops/test_sops_charsets.py checks every code point), which takes re ten times longer to compile
_SPECIAL = CharClass(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufeff\ufffe-\U0010ffff]",
    "".join(map(chr, [*range(0x09), *range(0x0B, 0x20), 0x7F])),
)
_SPACE_BREAK = lazy(f" [{_BREAKS}]")
_BREAK_SPACE = lazy(f"[{_BREAKS}] ")
_FIRST_INDICATOR = lazy(f"[#,\\[\\]{{}}&*!|>'\"%@`]|[?:-](?:[ \t{_BREAKS}]|$)|---|\\.\\.\\.")
_INNER_INDICATOR = lazy(f":(?:[ \t{_BREAKS}]|$)|[ \t{_BREAKS}]#")
_SAFE_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_./=+,@%()\[\]-]*(?::[A-Za-z0-9_./=+,@%()\[\]-]+)*")
_ESCAPES = {
    "\0": "0",
    "\a": "a",
    "\b": "b",
    "\t": "t",
    "\n": "n",
    "\v": "v",
    "\f": "f",
    "\r": "r",
    "\x1b": "e",
    '"': '"',
    "\\": "\\",
    "\x85": "N",
    "\xa0": "_",
    "\u2028": "L",
    "\u2029": "P",
}

PLAIN, SINGLE, DOUBLE, LITERAL = "plain", "single", "double", "literal"


# --- scalars -----------------------------------------------------------------------------------


@record(frozen=True)
class Fits:
    """Which styles a string can be written in (outside a simple key)."""

    plain: bool
    single: bool
    block: bool
    multiline: bool


def fits(value: str) -> Fits:
    if not value:
        return Fits(plain=True, single=True, block=False, multiline=False)
    multiline = _ANY_BREAK.found_in(value)
    special = _SPECIAL.found_in(value)
    space_break = bool(_SPACE_BREAK().search(value))
    quoted_ok = not (space_break or _BREAK_SPACE().search(value) or "\t" in value or special)
    return Fits(
        plain=quoted_ok and not (multiline or _plain_unsafe(value)),
        single=quoted_ok,
        block=not (value[-1] == " " or space_break or special),
        multiline=multiline,
    )


def _plain_unsafe(value: str) -> bool:
    """A space or break at either end, or an indicator where a plain scalar cannot have one."""
    edges = value[0] in " " + _BREAKS or value[-1] in " " + _BREAKS
    return edges or bool(_FIRST_INDICATOR().match(value) or _INNER_INDICATOR().search(value, 1))


def _reads_as_string(value: str) -> bool:
    try:
        resolved = resolve_plain(value) if value else None
    except Unsupported:
        return False
    return isinstance(resolved, str) and not (_BASE60().fullmatch(value) or value in _OLD_BOOLS)


@lru_cache(maxsize=4096)
def string_style(value: str) -> str:
    """The style a string value gets: literal for text with ``\\n`` (double quotes when a block
    cannot hold it), plain when it reads back as itself, then the first style its characters fit.
    Remembered for the last strings asked about (a pure function of the text): the keys, names and
    time stamps every file of a batch repeats are decided once."""
    if _SAFE_PLAIN.fullmatch(value) and value not in _WORDS:
        return PLAIN
    can = fits(value)
    if "\n" in value:
        return LITERAL if can.block else DOUBLE
    if not _reads_as_string(value):
        return DOUBLE
    return PLAIN if can.plain else SINGLE if can.single else DOUBLE


def double_quoted(value: str) -> str:
    """Double quotes with go-yaml's escapes. go-yaml decides "this is a byte order mark" by the
    start of the string, not by the character: a string starting with U+FEFF is escaped whole."""
    escape_all = value.startswith("\ufeff")
    out = ['"']
    for ch in value:
        if not escape_all and ch not in _BREAKS and ch not in '"\\' and not _SPECIAL.pattern().match(ch) and ch != "\t":
            out.append(ch)
        elif ch in _ESCAPES:
            out.append("\\" + _ESCAPES[ch])
        else:
            cp = ord(ch)
            out.append(f"\\x{cp:02X}" if cp <= 0xFF else f"\\u{cp:04X}" if cp <= 0xFFFF else f"\\U{cp:08X}")
    out.append('"')
    return "".join(out)


def block_hints(value: str, best: int) -> str:
    """An indentation digit when the text starts with a space or a break; ``-`` without a final
    break, ``+`` when it ends with two (or is one)."""
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


def _scalar(value: object) -> tuple[str, str, str]:
    """(text, tag, style) of a leaf."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    if not isinstance(value, str):
        return leaf_text(value), "", PLAIN
    if value == "<<":
        return value, "!!merge", PLAIN
    return value, "", string_style(value)


# --- sops's tree as collections with comments --------------------------------------------------


class _Box:
    """A mapping or list as sops hands it to go-yaml: the comments before its first entry (or all
    of them when it has none), each other entry's leading comments, the comments after the last."""

    __slots__ = ("entries", "head", "is_map", "trailing")

    def __init__(self, value: list[Any]) -> None:
        self.is_map = isinstance(value, Branch)
        self.entries: list[tuple[str, object]] = []  # (leading comments, key-value pair or item)
        pending: list[str] = []
        head = ""
        for item in value:
            comment = item[0] if self.is_map else item
            if isinstance(comment, Comment) and not isinstance(comment, SeqComment):
                pending.append(comment.value)
                continue
            text = "#" + "\n#".join(pending) if pending else ""
            if self.entries:
                self.entries.append((text, item))
            else:
                head = text
                self.entries.append(("", item))
            pending = []
        text = "#" + "\n#".join(pending) if pending else ""
        if self.entries:
            self.head, self.trailing = head, text
        else:
            self.head, self.trailing = text, ""


def _joined(first: str, second: str) -> str:
    return f"{first}\n{second}" if first and second else first or second


# --- the writer --------------------------------------------------------------------------------


class _Writer:
    """go-yaml's output cursor and its pending comments, driven by a walk over the tree."""

    def __init__(self, best: int) -> None:
        self.best = best if 2 <= best <= 9 else 2
        self.out: list[str] = []
        self.column = 0
        self.space = True  # the last thing written was white space
        self.fresh = True  # nothing but indentation on this line so far
        self.gap_at = -1  # after a foot or tail comment: the indentation that gets an empty line first
        self.indent = -1
        self.indents: list[int] = []
        self.head = self.foot = self.tail = ""

    # cursor
    def put(self, text: str) -> None:
        self.out.append(text)
        self.column += len(text)

    def newline(self) -> None:
        self.out.append("\n")
        self.column = 0
        self.fresh = True

    def line_at(self) -> None:
        """Go to the current indentation, on a new line unless the cursor is already there."""
        indent = max(self.indent, 0)
        if not self.fresh or self.column > indent or (self.column == indent and not self.space):
            self.newline()
        if self.gap_at == indent:
            self.newline()
        if self.column < indent:
            self.put(" " * (indent - self.column))
        self.space = True
        self.gap_at = -1

    def mark(self, text: str, *, space_before: bool, space_after: bool, fresh: bool) -> None:
        if space_before and not self.space:
            self.put(" ")
        self.put(text)
        self.space = space_after
        self.fresh = self.fresh and fresh

    def line_break(self, ch: str) -> None:
        if ch == "\n":
            self.newline()
        else:
            self.out.append(ch)
            self.column = 0
            self.fresh = True

    def deeper(self, *, flow: bool, in_item: bool) -> None:
        self.indents.append(self.indent)
        if self.indent < 0:
            self.indent = self.best if flow else 0
        elif in_item:
            self.indent += 2
        else:
            self.indent = self.best * ((self.indent + self.best) // self.best)

    def shallower(self) -> None:
        self.indent = self.indents.pop()

    # comments
    def carry(self, head: str = "", foot: str = "", tail: str = "") -> None:
        """A node's comments become pending (a node without one keeps what is pending)."""
        if head:
            self.head = head
        if foot:
            self.foot = foot
        if tail:
            self.tail = tail

    def heads(self) -> None:
        if self.tail:
            self.line_at()
            self.comment(self.tail)
            self.tail = ""
            self.gap_at = max(self.indent, 0)
        if self.head:
            self.line_at()
            self.comment(self.head)
            self.head = ""

    def feet(self) -> None:
        if self.foot:
            self.line_at()
            self.comment(self.foot)
            self.foot = ""
            self.gap_at = max(self.indent, 0)

    def comment(self, text: str) -> None:
        """Comment lines at the current indentation; a line not starting with ``#`` gets ``# ``."""
        breaks = pound = False
        for ch in text:
            if ch in _BREAKS:
                self.line_break(ch)
                breaks, pound = True, False
                continue
            if breaks:
                self.line_at()
            if not pound:
                if ch != "#":
                    self.put("# ")
                pound = True
            self.put(ch)
            self.fresh = breaks = False
        if not breaks:
            self.newline()
        self.space = True

    # documents
    def document(self, doc: Branch, *, first: bool) -> None:
        if not first:
            self.line_at()
            self.mark("---", space_before=True, space_after=False, fresh=False)
            self.line_at()
        box = _Box(doc)
        self.carry(head=box.head)
        self.heads()
        self.collection(box, foot="", in_item=False)
        self.gap_at = 0
        self.feet()
        self.gap_at = -1
        self.line_at()

    def finish(self) -> str:
        return "".join(self.out)

    # collections
    def collection(self, box: _Box, *, foot: str, in_item: bool) -> None:
        """Right after the collection's start: go-yaml first settles pending feet, then the entries."""
        self.feet()
        if not box.entries:
            self._empty(box, foot, in_item)
        elif box.is_map:
            self._mapping(box, foot, in_item)
        else:
            self._sequence(box, foot, in_item)

    def _empty(self, box: _Box, foot: str, in_item: bool) -> None:
        self.carry(foot=foot)
        self.mark("{" if box.is_map else "[", space_before=True, space_after=True, fresh=False)
        self.deeper(flow=True, in_item=in_item)
        if box.is_map:
            self.heads()  # a list writes no head here: it stays pending
        self.shallower()
        if not box.is_map and self.column == 0:
            self.line_at()
        self.mark("}" if box.is_map else "]", space_before=False, space_after=False, fresh=False)
        self.feet()

    def _mapping(self, box: _Box, foot: str, in_item: bool) -> None:
        for index, (head, pair) in enumerate(box.entries):
            key, value = cast("tuple[object, object]", pair)
            self.carry(head=head)
            if index == 0:
                self.deeper(flow=False, in_item=in_item)
            self.heads()
            self.line_at()
            text, tag, style = _scalar(str(key))
            if _ANY_BREAK.found_in(text) or len(tag) + _utf8_len(text) > 128:
                self.mark("?", space_before=True, space_after=False, fresh=True)
                self.scalar(text, tag, style, simple_key=False, in_item=False)
                self.line_at()
                self.mark(":", space_before=True, space_after=False, fresh=True)
            else:
                self.scalar(text, tag, style, simple_key=True, in_item=False)
                self.mark(":", space_before=False, space_after=False, fresh=False)
            self.value(value)
        self.carry(tail=box.trailing, foot=foot)
        self.heads()
        self.shallower()

    def _sequence(self, box: _Box, foot: str, in_item: bool) -> None:
        last = len(box.entries) - 1
        for index, (head, item) in enumerate(box.entries):
            self.entry(
                item.value if isinstance(item, SeqComment) else item,
                head=head,
                foot=box.trailing if index == last else "",
                first=index == 0,
                in_item=in_item,
            )
        self.carry(foot=foot)
        self.shallower()

    def entry(self, item: object, *, head: str, foot: str, first: bool, in_item: bool) -> None:
        """A list item: its comments become pending, pending heads are written, then ``-`` and the item."""
        box = _Box(item) if isinstance(item, list) else None
        if box is not None:
            self.carry(head=_joined(head, box.head))
        else:
            self.carry(head=head, foot=foot)
        if first:
            self.deeper(flow=False, in_item=in_item)
        self.heads()
        self.line_at()
        self.mark("-", space_before=True, space_after=False, fresh=True)
        if box is not None:
            self.collection(box, foot=foot, in_item=True)
        else:
            text, tag, style = _scalar(item)
            self.scalar(text, tag, style, simple_key=False, in_item=True)
            self.feet()

    def value(self, value: object) -> None:
        """A mapping value, right after its ``:``."""
        if isinstance(value, list):
            box = _Box(value)
            self.carry(head=box.head)
            self.collection(box, foot="", in_item=False)
        else:
            text, tag, style = _scalar(value)
            self.scalar(text, tag, style, simple_key=False, in_item=False)
            self.feet()

    def scalar(self, text: str, tag: str, style: str, *, simple_key: bool, in_item: bool) -> None:
        if style == PLAIN and not tag and _SAFE_PLAIN.fullmatch(text):
            if not self.space:
                self.put(" ")
            self.put(text)
            self.space = self.fresh = False
            return
        style = _final_style(text, style, simple_key=simple_key)
        if tag:
            if not self.space:
                self.put(" ")
            self.put(tag)
            self.space = self.fresh = False
        self.deeper(flow=True, in_item=in_item)
        if style == PLAIN:
            self._plain(text)
        elif style == DOUBLE:
            self.mark(double_quoted(text), space_before=True, space_after=False, fresh=False)
        elif style == SINGLE:
            self._single(text)
        else:
            self._literal(text)
        self.shallower()

    def _plain(self, text: str) -> None:
        if text and not self.space:
            self.put(" ")
        self.put(text)
        if text:
            self.space = False
        self.fresh = False

    def _single(self, text: str) -> None:
        self.mark("'", space_before=True, space_after=False, fresh=False)
        breaks = False
        for ch in text:
            if ch in _BREAKS:
                if not breaks and ch == "\n":
                    self.newline()
                self.line_break(ch)
                breaks = True
                continue
            if breaks:
                self.line_at()
            self.put("''" if ch == "'" else ch)
            self.fresh = breaks = False
        self.mark("'", space_before=False, space_after=False, fresh=False)
        self.space = self.fresh = False

    def _literal(self, text: str) -> None:
        self.mark("|", space_before=True, space_after=False, fresh=False)
        hints = block_hints(text, self.best)
        self.mark(hints, space_before=False, space_after=False, fresh=False)
        self.newline()  # go.yaml.in/yaml/v3 3.0.4 starts the content on a new line (sops output shows it)
        self.space = True
        if not _OTHER_BREAK().search(text):  # only \n: line by line
            lines = text.split("\n")
            for index, line in enumerate(lines):
                if index:
                    self.newline()
                if line:
                    self.line_at()
                    self.put(line)
                    self.fresh = False
            return
        breaks = True
        for ch in text:
            if ch in _BREAKS:
                self.line_break(ch)
                breaks = True
                continue
            if breaks:
                self.line_at()
            self.put(ch)
            self.fresh = breaks = False


def _final_style(text: str, style: str, *, simple_key: bool) -> str:
    """The style go-yaml's emitter settles on: a simple key is never a block or multi-line, an empty
    simple key is quoted, and a style the characters do not fit falls back to the next one."""
    can = fits(text)
    if simple_key and can.multiline:
        return DOUBLE
    if style == PLAIN and (not can.plain or (not text and simple_key)):
        style = SINGLE
    return _quoted_fallback(style, can, simple_key=simple_key)


def _quoted_fallback(style: str, can: Fits, *, simple_key: bool) -> str:
    """Single quotes, or a literal block, that the characters (or a simple key) do not allow: double quotes."""
    if style == SINGLE and not can.single:
        return DOUBLE
    return DOUBLE if style == LITERAL and (not can.block or simple_key) else style


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


def emit_documents(docs: list[Branch], indent: int = 4) -> str:
    """The text sops 3.11 (go-yaml v3) writes for these documents."""
    writer = _Writer(indent)
    for index, doc in enumerate(docs):
        writer.document(doc, first=index == 0)
    return writer.finish()


def emit_value(value: object, indent: int = 4) -> str:
    """One value as its own document (sops's ``EmitValue``, for ``--extract``)."""
    writer = _Writer(indent)
    if isinstance(value, list):
        box = _Box(value)
        writer.carry(head=box.head)
        writer.heads()
        writer.collection(box, foot="", in_item=False)
    else:
        text, tag, style = _scalar(value)
        writer.scalar(text, tag, style, simple_key=False, in_item=False)
        writer.feet()
    writer.gap_at = 0
    writer.feet()
    writer.gap_at = -1
    writer.line_at()
    return "".join(writer.out)

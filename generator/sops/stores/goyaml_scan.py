"""The YAML scanner of go-yaml v3 (``scannerc.go``, the libyaml port sops 3.11 reads YAML with),
written again in Python, including go-yaml's own comment handling: which comment becomes the head,
line or foot comment of which token. sops turns those comments into tree items, so where a comment
lands decides the path it is encrypted under; only a faithful scanner lands it where sops does.

Positions are characters (go-yaml counts runes). The text is padded with NULs, go-yaml's end marker
(the reader refuses a NUL inside the text, so the padding cannot be confused with content).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class Mark(NamedTuple):
    offset: int  # characters from the start (go-yaml's mark.index)
    line: int
    column: int


ZERO = Mark(0, 0, 0)


class YamlError(Exception):
    """A go-yaml reader, scanner or parser error (``problem``, ``mark``: where, 0-based)."""

    def __init__(self, problem: str, mark: Mark, context: str = "", context_mark: Mark | None = None) -> None:
        super().__init__(problem)
        self.problem, self.mark, self.context, self.context_mark = problem, mark, context, context_mark


# token types
STREAM_START, STREAM_END = "STREAM-START", "STREAM-END"
VERSION_DIRECTIVE, TAG_DIRECTIVE = "VERSION-DIRECTIVE", "TAG-DIRECTIVE"
DOCUMENT_START, DOCUMENT_END = "DOCUMENT-START", "DOCUMENT-END"
BLOCK_SEQUENCE_START, BLOCK_MAPPING_START, BLOCK_END = "BLOCK-SEQUENCE-START", "BLOCK-MAPPING-START", "BLOCK-END"
FLOW_SEQUENCE_START, FLOW_SEQUENCE_END = "FLOW-SEQUENCE-START", "FLOW-SEQUENCE-END"
FLOW_MAPPING_START, FLOW_MAPPING_END = "FLOW-MAPPING-START", "FLOW-MAPPING-END"
BLOCK_ENTRY, FLOW_ENTRY, KEY, VALUE = "BLOCK-ENTRY", "FLOW-ENTRY", "KEY", "VALUE"
ALIAS, ANCHOR, TAG, SCALAR = "ALIAS", "ANCHOR", "TAG", "SCALAR"

# scalar styles
PLAIN, SINGLE_QUOTED, DOUBLE_QUOTED, LITERAL, FOLDED = "plain", "single", "double", "literal", "folded"

BREAKS = "\r\n\x85\u2028\u2029"
_BLANKZ = " \t" + BREAKS + "\0"
_BREAKZ = BREAKS + "\0"
_ALPHA = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-")
_HEX = frozenset("0123456789ABCDEFabcdef")
_URI = _ALPHA | frozenset(";/?:@&=+$,.!~*'()[]%")
_NOT_PLAIN_START = frozenset("-?:,[]{}#&*!|>'\"%@`")
_ANCHOR_END = frozenset("?:,]}%@`")
_ESCAPES = {"0": "\0", "a": "\x07", "b": "\x08", "t": "\t", "\t": "\t", "n": "\n", "v": "\x0b", "f": "\x0c",
            "r": "\r", "e": "\x1b", " ": " ", '"': '"', "'": "'", "\\": "\\", "N": "\x85", "_": "\xa0",
            "L": "\u2028", "P": "\u2029"}
_CODE_LENGTHS = {"x": 2, "u": 4, "U": 8}
_PAD = 1040  # more than the longest lookahead (512 for comments, 1024 for simple keys is by index)


@dataclass
class Token:
    typ: str
    start: Mark
    end: Mark
    value: str = ""
    style: str = ""
    suffix: str = ""  # TAG: the suffix (value is the handle); TAG-DIRECTIVE: value=handle, suffix=prefix
    major: int = 0
    minor: int = 0


@dataclass
class Comment:
    scan_mark: Mark
    token_mark: Mark
    start_mark: Mark
    end_mark: Mark
    head: str = ""
    line: str = ""
    foot: str = ""


@dataclass
class SimpleKey:
    possible: bool
    required: bool
    token_number: int
    mark: Mark


def check_characters(text: str) -> None:
    """go-yaml's reader: only YAML's printable characters (tab, line breaks, NEL included)."""
    for index, ch in enumerate(text):
        cp = ord(ch)
        if not (cp in (0x09, 0x0A, 0x0D, 0x85) or 0x20 <= cp <= 0x7E or 0xA0 <= cp <= 0xD7FF
                or 0xE000 <= cp <= 0xFFFD or 0x10000 <= cp <= 0x10FFFF):
            line = text.count("\n", 0, index)
            column = index - (text.rfind("\n", 0, index) + 1)
            raise YamlError("control characters are not allowed", Mark(index, line, column))


class Scanner:
    """Tokens and comments, as ``yaml_parser_fetch_more_tokens`` produces them."""

    def __init__(self, text: str) -> None:
        check_characters(text)
        self.s = text + "\0" * _PAD
        self.end = len(text)
        self.pos = self.line = self.column = 0
        self.newlines = 0
        self.tokens: list[Token] = []
        self.tokens_head = 0
        self.tokens_parsed = 0
        self.token_available = False
        self.stream_start_produced = self.stream_end_produced = False
        self.indent = -1
        self.indents: list[int] = []
        self.simple_key_allowed = False
        self.simple_keys: list[SimpleKey] = []
        self.simple_keys_by_tok: dict[int, int] = {}
        self.flow_level = 0
        self.comments: list[Comment] = []
        self.comments_head = 0

    # --- characters --------------------------------------------------------------------------

    @property
    def mark(self) -> Mark:
        return Mark(self.pos, self.line, self.column)

    def at(self, offset: int = 0) -> str:
        return self.s[self.pos + offset]

    def is_blank(self, offset: int = 0) -> bool:
        return self.s[self.pos + offset] in " \t"

    def is_break(self, offset: int = 0) -> bool:
        return self.s[self.pos + offset] in BREAKS

    def is_breakz(self, offset: int = 0) -> bool:
        return self.s[self.pos + offset] in _BREAKZ

    def is_blankz(self, offset: int = 0) -> bool:
        return self.s[self.pos + offset] in _BLANKZ

    def skip(self) -> None:
        if not self.is_blank():
            self.newlines = 0
        self.pos += 1
        self.column += 1

    def skip_line(self) -> None:
        if self.s[self.pos] == "\r" and self.s[self.pos + 1] == "\n":
            self.pos += 2
        elif self.is_break():
            self.pos += 1
        else:
            return
        self.column = 0
        self.line += 1
        self.newlines += 1

    def read(self, out: list[str]) -> None:
        if not self.is_blank():
            self.newlines = 0
        out.append(self.s[self.pos])
        self.pos += 1
        self.column += 1

    def read_line(self, out: list[str]) -> None:
        ch = self.s[self.pos]
        if ch == "\r" and self.s[self.pos + 1] == "\n":
            out.append("\n")
            self.pos += 2
        elif ch in "\r\n\x85":
            out.append("\n")
            self.pos += 1
        elif ch in "\u2028\u2029":
            out.append(ch)
            self.pos += 1
        else:
            return
        self.column = 0
        self.line += 1
        self.newlines += 1

    def error(self, context: str, context_mark: Mark | None, problem: str) -> YamlError:
        return YamlError(problem, self.mark, context, context_mark)

    # --- the token queue ----------------------------------------------------------------------

    def insert_token(self, pos: int, token: Token) -> None:
        if pos < 0:
            self.tokens.append(token)
        else:
            self.tokens.insert(self.tokens_head + pos, token)

    def fetch_more_tokens(self) -> None:
        while True:
            if self.tokens_head < len(self.tokens) - 2:
                head = self.simple_keys_by_tok.get(self.tokens_parsed)
                if head is None or not self.simple_key_is_valid(self.simple_keys[head]):
                    break
            self.fetch_next_token()
        self.token_available = True

    def fetch_next_token(self) -> None:
        if not self.stream_start_produced:
            self.fetch_stream_start()
            return
        scan_mark = self.mark
        self.scan_to_next_token()
        self.unroll_indent(self.column, scan_mark)
        if self.at() == "\0" and self.pos >= self.end:
            self.fetch_stream_end()
            return
        if self.column == 0 and self.at() == "%":
            self.fetch_directive()
            return
        if self.column == 0 and self.s[self.pos:self.pos + 3] in ("---", "...") and self.is_blankz(3):
            self.fetch_document_indicator(DOCUMENT_START if self.at() == "-" else DOCUMENT_END)
            return
        comment_mark = self.mark
        if self.tokens and (self.flow_level == 0 and self.at() == ":" or self.flow_level > 0 and self.at() == ","):
            comment_mark = self.tokens[-1].start  # associate following comments with the prior token
        self.fetch_content_token()
        if self.tokens and self.tokens[-1].typ == BLOCK_ENTRY:
            return  # sequence indicators alone have no line comments: a head of what follows
        self.scan_line_comment(comment_mark)

    def fetch_content_token(self) -> None:
        ch, flow = self.at(), self.flow_level > 0
        simple = {"[": (self.fetch_flow_collection_start, FLOW_SEQUENCE_START),
                  "{": (self.fetch_flow_collection_start, FLOW_MAPPING_START),
                  "]": (self.fetch_flow_collection_end, FLOW_SEQUENCE_END),
                  "}": (self.fetch_flow_collection_end, FLOW_MAPPING_END),
                  "*": (self.fetch_anchor, ALIAS), "&": (self.fetch_anchor, ANCHOR)}
        if ch in simple:
            func, typ = simple[ch]
            func(typ)
        elif ch == ",":
            self.fetch_flow_entry()
        elif ch == "-" and self.is_blankz(1):
            self.fetch_block_entry()
        elif ch == "?" and (flow or self.is_blankz(1)):
            self.fetch_key()
        elif ch == ":" and (flow or self.is_blankz(1)):
            self.fetch_value()
        elif ch == "!":
            self.fetch_tag()
        elif ch in "|>" and not flow:
            self.fetch_block_scalar(literal=ch == "|")
        elif ch in "'\"":
            self.fetch_flow_scalar(single=ch == "'")
        elif self.plain_scalar_may_start():
            self.fetch_plain_scalar()
        else:
            raise self.error("while scanning for the next token", self.mark,
                             "found character that cannot start any token")

    def plain_scalar_may_start(self) -> bool:
        ch = self.at()
        if not (self.is_blankz() or ch in _NOT_PLAIN_START):
            return True
        if ch == "-" and not self.is_blank(1):
            return True
        return self.flow_level == 0 and ch in "?:" and not self.is_blankz(1)

    # --- simple keys and indentation ----------------------------------------------------------

    def simple_key_is_valid(self, key: SimpleKey) -> bool:
        if not key.possible:
            return False
        if key.mark.line < self.line or key.mark.offset + 1024 < self.pos:
            if key.required:
                raise YamlError("could not find expected ':'", self.mark, "while scanning a simple key", key.mark)
            key.possible = False
            return False
        return True

    def save_simple_key(self) -> None:
        required = self.flow_level == 0 and self.indent == self.column
        if self.simple_key_allowed:
            key = SimpleKey(True, required, self.tokens_parsed + (len(self.tokens) - self.tokens_head), self.mark)
            self.remove_simple_key()
            self.simple_keys[-1] = key
            self.simple_keys_by_tok[key.token_number] = len(self.simple_keys) - 1

    def remove_simple_key(self) -> None:
        key = self.simple_keys[-1]
        if key.possible:
            if key.required:
                raise YamlError("could not find expected ':'", self.mark, "while scanning a simple key", key.mark)
            key.possible = False
            self.simple_keys_by_tok.pop(key.token_number, None)

    def increase_flow_level(self) -> None:
        self.simple_keys.append(SimpleKey(False, False, self.tokens_parsed + (len(self.tokens) - self.tokens_head),
                                          self.mark))
        self.flow_level += 1
        if self.flow_level > 10000:
            raise self.error("while increasing flow level", self.simple_keys[-1].mark, "exceeded max depth of 10000")

    def decrease_flow_level(self) -> None:
        if self.flow_level > 0:
            self.flow_level -= 1
            last = self.simple_keys.pop()
            self.simple_keys_by_tok.pop(last.token_number, None)

    def roll_indent(self, column: int, number: int, typ: str, mark: Mark) -> None:
        if self.flow_level > 0 or self.indent >= column:
            return
        self.indents.append(self.indent)
        self.indent = column
        if len(self.indents) > 10000:
            raise self.error("while increasing indent level", self.simple_keys[-1].mark,
                             "exceeded max depth of 10000")
        self.insert_token(number - self.tokens_parsed if number > -1 else -1, Token(typ, mark, mark))

    def unroll_indent(self, column: int, scan_mark: Mark) -> None:
        if self.flow_level > 0:
            return
        block_mark = Mark(scan_mark.offset - 1, scan_mark.line, scan_mark.column)
        while self.indent > column:
            # reposition the end token before foot comments of parent blocks at this block's indent
            stop_index = block_mark.offset
            for comment in reversed(self.comments):
                if comment.end_mark.offset < stop_index:
                    break
                if comment.start_mark.column == self.indent + 1:
                    block_mark = comment.start_mark
                stop_index = comment.scan_mark.offset
            self.insert_token(-1, Token(BLOCK_END, block_mark, block_mark))
            self.indent = self.indents.pop()

    # --- token fetchers -----------------------------------------------------------------------

    def fetch_stream_start(self) -> None:
        self.indent = -1
        self.simple_keys.append(SimpleKey(False, False, 0, self.mark))
        self.simple_key_allowed = True
        self.stream_start_produced = True
        self.insert_token(-1, Token(STREAM_START, self.mark, self.mark))

    def fetch_stream_end(self) -> None:
        if self.column != 0:
            self.column = 0
            self.line += 1
        self.unroll_indent(-1, self.mark)
        self.remove_simple_key()
        self.simple_key_allowed = False
        self.insert_token(-1, Token(STREAM_END, self.mark, self.mark))

    def fetch_directive(self) -> None:
        self.unroll_indent(-1, self.mark)
        self.remove_simple_key()
        self.simple_key_allowed = False
        self.insert_token(-1, self.scan_directive())

    def fetch_document_indicator(self, typ: str) -> None:
        self.unroll_indent(-1, self.mark)
        self.remove_simple_key()
        self.simple_key_allowed = False
        start = self.mark
        self.skip()
        self.skip()
        self.skip()
        self.insert_token(-1, Token(typ, start, self.mark))

    def fetch_flow_collection_start(self, typ: str) -> None:
        self.save_simple_key()
        self.increase_flow_level()
        self.simple_key_allowed = True
        self._single_char_token(typ)

    def fetch_flow_collection_end(self, typ: str) -> None:
        self.remove_simple_key()
        self.decrease_flow_level()
        self.simple_key_allowed = False
        self._single_char_token(typ)

    def _single_char_token(self, typ: str) -> None:
        start = self.mark
        self.skip()
        self.insert_token(-1, Token(typ, start, self.mark))

    def fetch_flow_entry(self) -> None:
        self.remove_simple_key()
        self.simple_key_allowed = True
        self._single_char_token(FLOW_ENTRY)

    def fetch_block_entry(self) -> None:
        if self.flow_level == 0:
            if not self.simple_key_allowed:
                raise self.error("", self.mark, "block sequence entries are not allowed in this context")
            self.roll_indent(self.column, -1, BLOCK_SEQUENCE_START, self.mark)
        self.remove_simple_key()
        self.simple_key_allowed = True
        self._single_char_token(BLOCK_ENTRY)

    def fetch_key(self) -> None:
        if self.flow_level == 0:
            if not self.simple_key_allowed:
                raise self.error("", self.mark, "mapping keys are not allowed in this context")
            self.roll_indent(self.column, -1, BLOCK_MAPPING_START, self.mark)
        self.remove_simple_key()
        self.simple_key_allowed = self.flow_level == 0
        self._single_char_token(KEY)

    def fetch_value(self) -> None:
        key = self.simple_keys[-1]
        if self.simple_key_is_valid(key):
            self.insert_token(key.token_number - self.tokens_parsed, Token(KEY, key.mark, key.mark))
            self.roll_indent(key.mark.column, key.token_number, BLOCK_MAPPING_START, key.mark)
            key.possible = False
            self.simple_keys_by_tok.pop(key.token_number, None)
            self.simple_key_allowed = False
        else:
            if self.flow_level == 0:
                if not self.simple_key_allowed:
                    raise self.error("", self.mark, "mapping values are not allowed in this context")
                self.roll_indent(self.column, -1, BLOCK_MAPPING_START, self.mark)
            self.simple_key_allowed = self.flow_level == 0
        self._single_char_token(VALUE)

    def fetch_anchor(self, typ: str) -> None:
        self.save_simple_key()
        self.simple_key_allowed = False
        self.insert_token(-1, self.scan_anchor(typ))

    def fetch_tag(self) -> None:
        self.save_simple_key()
        self.simple_key_allowed = False
        self.insert_token(-1, self.scan_tag())

    def fetch_block_scalar(self, *, literal: bool) -> None:
        self.remove_simple_key()
        self.simple_key_allowed = True
        self.insert_token(-1, self.scan_block_scalar(literal=literal))

    def fetch_flow_scalar(self, *, single: bool) -> None:
        self.save_simple_key()
        self.simple_key_allowed = False
        self.insert_token(-1, self.scan_flow_scalar(single=single))

    def fetch_plain_scalar(self) -> None:
        self.save_simple_key()
        self.simple_key_allowed = False
        self.insert_token(-1, self.scan_plain_scalar())

    # --- whitespace and comments between tokens -----------------------------------------------

    def scan_to_next_token(self) -> None:
        scan_mark = self.mark
        while True:
            # go-yaml skips a BOM at column 0 only when its input buffer starts with one, which the
            # reader prevents for a leading BOM; mid-stream BOMs are content for it too
            while self.at() == " " or ((self.flow_level > 0 or not self.simple_key_allowed) and self.at() == "\t"):
                self.skip()
            self.line_comment_to_head()
            if self.at() == "#":
                self.scan_comments(scan_mark)
            if not self.is_break():
                return
            self.skip_line()
            if self.flow_level == 0:
                self.simple_key_allowed = True

    def line_comment_to_head(self) -> None:
        """``- # comment`` followed by nested content: the line comment heads what follows."""
        if not self.comments or len(self.tokens) <= 1:
            return
        token_a, token_b, comment = self.tokens[-2], self.tokens[-1], self.comments[-1]
        if (token_a.typ == BLOCK_SEQUENCE_START and token_b.typ == BLOCK_ENTRY and comment.line
                and not self.is_break()):
            comment.head, comment.line = comment.line, ""
            if comment.start_mark.line == self.line - 1:
                comment.token_mark = self.mark

    def scan_line_comment(self, token_mark: Mark) -> None:
        if self.newlines > 0:
            return
        peek = 0
        while self.s[self.pos + peek] in " \t":
            peek += 1
            if peek >= 512:
                return
        if self.s[self.pos + peek] != "#":
            return
        seen = self.pos + peek
        text: list[str] = []
        start_mark = self.mark
        while True:
            if self.is_breakz():
                if self.pos >= seen:
                    break
                self.skip_line()
            elif self.pos >= seen:
                if not text:
                    start_mark = self.mark
                self.read(text)
            else:
                self.skip()
        if text:  # go-yaml leaves scan_mark and end_mark zero on line comments
            self.comments.append(Comment(ZERO, token_mark, start_mark, ZERO, line="".join(text)))

    def scan_comments(self, scan_mark: Mark) -> None:
        _CommentScan(self, scan_mark).run()

    # --- directives, anchors, tags ------------------------------------------------------------

    def scan_directive(self) -> Token:
        start = self.mark
        self.skip()
        name = self.scan_directive_name(start)
        if name == "YAML":
            major, minor = self.scan_version_directive_value(start)
            token = Token(VERSION_DIRECTIVE, start, self.mark, major=major, minor=minor)
        elif name == "TAG":
            handle, prefix = self.scan_tag_directive_value(start)
            token = Token(TAG_DIRECTIVE, start, self.mark, value=handle, suffix=prefix)
        else:
            raise self.error("while scanning a directive", start, "found unknown directive name")
        while self.is_blank():
            self.skip()
        if self.at() == "#":
            while not self.is_breakz():
                self.skip()
        if not self.is_breakz():
            raise self.error("while scanning a directive", start, "did not find expected comment or line break")
        if self.is_break():
            self.skip_line()
        return token

    def scan_directive_name(self, start: Mark) -> str:
        out: list[str] = []
        while self.at() in _ALPHA:
            self.read(out)
        if not out:
            raise self.error("while scanning a directive", start, "could not find expected directive name")
        if not self.is_blankz():
            raise self.error("while scanning a directive", start, "found unexpected non-alphabetical character")
        return "".join(out)

    def scan_version_directive_value(self, start: Mark) -> tuple[int, int]:
        while self.is_blank():
            self.skip()
        major = self.scan_version_directive_number(start)
        if self.at() != ".":
            raise self.error("while scanning a %YAML directive", start, "did not find expected digit or '.' character")
        self.skip()
        return major, self.scan_version_directive_number(start)

    def scan_version_directive_number(self, start: Mark) -> int:
        value = length = 0
        while self.at().isascii() and self.at().isdigit():
            length += 1
            if length > 2:
                raise self.error("while scanning a %YAML directive", start, "found extremely long version number")
            value = value * 10 + int(self.at())
            self.skip()
        if length == 0:
            raise self.error("while scanning a %YAML directive", start, "did not find expected version number")
        return value

    def scan_tag_directive_value(self, start: Mark) -> tuple[str, str]:
        while self.is_blank():
            self.skip()
        handle = self.scan_tag_handle(start, directive=True)
        if not self.is_blank():
            raise self.error("while scanning a %TAG directive", start, "did not find expected whitespace")
        while self.is_blank():
            self.skip()
        prefix = self.scan_tag_uri(start, "", directive=True)
        if not self.is_blankz():
            raise self.error("while scanning a %TAG directive", start,
                             "did not find expected whitespace or line break")
        return handle, prefix

    def scan_anchor(self, typ: str) -> Token:
        start = self.mark
        self.skip()
        out: list[str] = []
        while self.at() in _ALPHA:
            self.read(out)
        end = self.mark
        if not out or not (self.is_blankz() or self.at() in _ANCHOR_END):
            context = "while scanning an anchor" if typ == ANCHOR else "while scanning an alias"
            raise self.error(context, start, "did not find expected alphabetic or numeric character")
        return Token(typ, start, end, value="".join(out))

    def scan_tag(self) -> Token:
        start = self.mark
        if self.at(1) == "<":
            self.skip()
            self.skip()
            handle, suffix = "", self.scan_tag_uri(start, "", directive=False)
            if self.at() != ">":
                raise self.error("while scanning a tag", start, "did not find the expected '>'")
            self.skip()
        else:
            handle = self.scan_tag_handle(start, directive=False)
            if handle[0] == "!" and len(handle) > 1 and handle[-1] == "!":
                suffix = self.scan_tag_uri(start, "", directive=False)
            else:
                suffix = self.scan_tag_uri(start, handle, directive=False)
                handle = "!"
                if not suffix:
                    handle, suffix = suffix, handle
        if not self.is_blankz():
            raise self.error("while scanning a tag", start, "did not find expected whitespace or line break")
        return Token(TAG, start, self.mark, value=handle, suffix=suffix)

    def scan_tag_handle(self, start: Mark, *, directive: bool) -> str:
        context = "while parsing a %TAG directive" if directive else "while parsing a tag"
        if self.at() != "!":
            raise self.error(context, start, "did not find expected '!'")
        out: list[str] = []
        self.read(out)
        while self.at() in _ALPHA:
            self.read(out)
        if self.at() == "!":
            self.read(out)
        elif directive and "".join(out) != "!":
            raise self.error(context, start, "did not find expected '!'")
        return "".join(out)

    def scan_tag_uri(self, start: Mark, head: str, *, directive: bool) -> str:
        out: list[str] = list(head[1:])
        has_tag = bool(head)
        while self.at() in _URI:
            if self.at() == "%":
                out.append(self.scan_uri_escapes(start, directive=directive))
            else:
                self.read(out)
            has_tag = True
        if not has_tag:
            context = "while parsing a %TAG directive" if directive else "while parsing a tag"
            raise self.error(context, start, "did not find expected tag URI")
        return "".join(out)

    def scan_uri_escapes(self, start: Mark, *, directive: bool) -> str:
        context = "while parsing a %TAG directive" if directive else "while parsing a tag"
        octets = bytearray()
        width = 1024
        while width > 0:
            if not (self.at() == "%" and self.at(1) in _HEX and self.at(2) in _HEX):
                raise self.error(context, start, "did not find URI escaped octet")
            octet = int(self.at(1) + self.at(2), 16)
            if width == 1024:
                width = 1 if octet < 0x80 else 2 if octet & 0xE0 == 0xC0 else 3 if octet & 0xF0 == 0xE0 else (
                    4 if octet & 0xF8 == 0xF0 else 0)
                if width == 0:
                    raise self.error(context, start, "found an incorrect leading UTF-8 octet")
            elif octet & 0xC0 != 0x80:
                raise self.error(context, start, "found an incorrect trailing UTF-8 octet")
            octets.append(octet)
            self.skip()
            self.skip()
            self.skip()
            width -= 1
        return octets.decode("utf-8", "surrogateescape")

    # --- scalars ------------------------------------------------------------------------------

    def scan_block_scalar(self, *, literal: bool) -> Token:
        return _BlockScalar(self, literal=literal).run()

    def scan_flow_scalar(self, *, single: bool) -> Token:
        return _FlowScalar(self, single=single).run()

    def scan_plain_scalar(self) -> Token:
        return _PlainScalar(self).run()

    def document_indicator_here(self) -> bool:
        return self.column == 0 and self.s[self.pos:self.pos + 3] in ("---", "...") and self.is_blankz(3)


class _CommentScan:
    """``yaml_parser_scan_comments``: a run of comment lines split into foot and head parts."""

    def __init__(self, sc: Scanner, scan_mark: Mark) -> None:
        self.sc = sc
        token = sc.tokens[-1]
        if token.typ == FLOW_ENTRY and len(sc.tokens) > 1:
            token = sc.tokens[-2]
        self.token = token
        self.scan_mark = scan_mark
        self.token_mark = token.start
        self.start_mark = ZERO
        self.next_indent = max(sc.indent, 0)
        self.recent_empty = False
        self.first_empty = sc.newlines <= 1
        self.line = sc.line
        self.column = sc.column
        self.text: list[str] = []
        self.foot_line = -1
        if scan_mark.line > 0:
            self.foot_line = sc.line - sc.newlines + 1
            if sc.newlines == 0 and sc.column > 1:
                self.foot_line += 1

    def run(self) -> None:
        sc = self.sc
        peek = 0
        while peek < 512:
            self.column += 1
            ch = sc.s[sc.pos + peek]
            if ch in " \t":
                peek += 1
                continue
            close_flow = sc.flow_level > 0 and ch in "]}"
            if close_flow or ch in _BREAKZ:
                self._line_end(peek, close_flow=close_flow)
                if ch not in BREAKS:
                    break
                self.first_empty = False
                self.recent_empty = True
                self.column = 0
                self.line += 1
                peek += 1
                continue
            if self.text and (close_flow or (self.column - 1 < self.next_indent and self.column != self.start_mark.column)):
                self._foot(peek)  # a comment at another indentation is a foot of the preceding data
            if ch != "#":
                break
            self._consume_comment_line(peek)
            peek = 1  # go-yaml sets 0 and its loop increments: the comment's line break is not looked at
        if self.text:
            end = Mark(sc.pos + peek - 1, self.line, self.column)
            sc.comments.append(Comment(self.scan_mark, self.start_mark, self.start_mark, end,
                                       head="".join(self.text)))

    def _line_end(self, peek: int, *, close_flow: bool) -> None:
        if not (close_flow or not self.recent_empty):
            return
        sm = self.start_mark
        if close_flow or (self.first_empty and ((sm.line == self.foot_line and self.token.typ != VALUE)
                                                or sm.column - 1 < self.next_indent)):
            # the first empty line after content: what came before it is a foot of the prior token
            if self.text:
                if sm.column - 1 < self.next_indent:
                    self.token_mark = sm  # dedented: unrelated to the prior token
                self._foot(peek)
        elif self.text and self.sc.s[self.sc.pos + peek] != "\0":
            self.text.append("\n")

    def _foot(self, peek: int) -> None:
        end = Mark(self.sc.pos + peek, self.line, self.column)
        self.sc.comments.append(Comment(self.scan_mark, self.token_mark, self.start_mark, end,
                                        foot="".join(self.text)))
        self.scan_mark = end
        self.token_mark = end
        self.text = []

    def _consume_comment_line(self, peek: int) -> None:
        sc = self.sc
        if not self.text:
            self.start_mark = Mark(sc.pos + peek, self.line, self.column)
        else:
            self.text.append("\n")
        self.recent_empty = False
        seen = sc.pos + peek
        while True:
            if sc.is_breakz():
                if sc.pos >= seen:
                    break
                sc.skip_line()
            elif sc.pos >= seen:
                sc.read(self.text)
            else:
                sc.skip()
        self.column = 0
        self.line = sc.line
        self.next_indent = max(sc.indent, 0)


class _BlockScalar:
    """``yaml_parser_scan_block_scalar`` (literal ``|`` and folded ``>``)."""

    def __init__(self, sc: Scanner, *, literal: bool) -> None:
        self.sc, self.literal = sc, literal
        self.start = sc.mark
        self.chomping = 0
        self.increment = 0

    def run(self) -> Token:
        sc = self.sc
        sc.skip()
        self._indicators()
        while sc.is_blank():
            sc.skip()
        if sc.at() == "#":
            sc.scan_line_comment(self.start)
            while not sc.is_breakz():
                sc.skip()
        if not sc.is_breakz():
            raise sc.error("while scanning a block scalar", self.start,
                           "did not find expected comment or line break")
        if sc.is_break():
            sc.skip_line()
        end = sc.mark
        indent = 0
        if self.increment > 0:
            indent = sc.indent + self.increment if sc.indent >= 0 else self.increment
        trailing: list[str] = []
        indent, end = self._breaks(indent, trailing, end)
        value, leading, trailing, end = self._content(indent, trailing, end)
        if self.chomping != -1:
            value.extend(leading)
        if self.chomping == 1:
            value.extend(trailing)
        return Token(SCALAR, self.start, end, value="".join(value), style=LITERAL if self.literal else FOLDED)

    def _indicators(self) -> None:
        sc = self.sc
        if sc.at() in "+-":
            self.chomping = 1 if sc.at() == "+" else -1
            sc.skip()
            if sc.at().isascii() and sc.at().isdigit():
                self._increment()
        elif sc.at().isascii() and sc.at().isdigit():
            self._increment()
            if sc.at() in "+-":
                self.chomping = 1 if sc.at() == "+" else -1
                sc.skip()

    def _increment(self) -> None:
        sc = self.sc
        if sc.at() == "0":
            raise sc.error("while scanning a block scalar", self.start, "found an indentation indicator equal to 0")
        self.increment = int(sc.at())
        sc.skip()

    def _content(self, indent: int, trailing: list[str], end: Mark) -> tuple[list[str], list[str], list[str], Mark]:
        sc = self.sc
        value: list[str] = []
        leading: list[str] = []
        leading_blank = False
        while sc.column == indent and not (sc.at() == "\0" and sc.pos >= sc.end):
            trailing_blank = sc.is_blank()
            if not self.literal and not leading_blank and not trailing_blank and leading and leading[0] == "\n":
                if not trailing:
                    value.append(" ")
            else:
                value.extend(leading)
            leading = []
            value.extend(trailing)
            trailing = []
            leading_blank = sc.is_blank()
            while not sc.is_breakz():
                sc.read(value)
            sc.read_line(leading)
            indent, end = self._breaks(indent, trailing, end)
        return value, leading, trailing, end

    def _breaks(self, indent: int, breaks: list[str], end: Mark) -> tuple[int, Mark]:
        sc = self.sc
        end = sc.mark
        max_indent = 0
        while True:
            while (indent == 0 or sc.column < indent) and sc.at() == " ":
                sc.skip()
            max_indent = max(max_indent, sc.column)
            if (indent == 0 or sc.column < indent) and sc.at() == "\t":
                raise sc.error("while scanning a block scalar", self.start,
                               "found a tab character where an indentation space is expected")
            if not sc.is_break():
                break
            sc.read_line(breaks)
            end = sc.mark
        if indent == 0:
            indent = max(max_indent, sc.indent + 1, 1)
        return indent, end


class _FlowScalar:
    """``yaml_parser_scan_flow_scalar`` (single and double quoted)."""

    def __init__(self, sc: Scanner, *, single: bool) -> None:
        self.sc, self.single = sc, single
        self.start = sc.mark
        self.out: list[str] = []

    def run(self) -> Token:
        sc = self.sc
        sc.skip()
        leading: list[str] = []
        trailing: list[str] = []
        spaces: list[str] = []
        while True:
            if sc.document_indicator_here():
                raise sc.error("while scanning a quoted scalar", self.start, "found unexpected document indicator")
            if sc.at() == "\0" and sc.pos >= sc.end:
                raise sc.error("while scanning a quoted scalar", self.start, "found unexpected end of stream")
            leading_blanks = self._non_blanks()
            if sc.at() == ("'" if self.single else '"'):
                break
            leading_blanks = self._blanks(leading_blanks, leading, trailing, spaces)
            if leading_blanks:
                if leading and leading[0] == "\n":
                    self.out.extend(trailing if trailing else [" "])
                else:
                    self.out.extend(leading)
                    self.out.extend(trailing)
                leading.clear()
                trailing.clear()
            else:
                self.out.extend(spaces)
                spaces.clear()
        sc.skip()
        return Token(SCALAR, self.start, sc.mark, value="".join(self.out),
                     style=SINGLE_QUOTED if self.single else DOUBLE_QUOTED)

    def _non_blanks(self) -> bool:
        """Consume non-blank characters; True when an escaped line break was consumed."""
        sc = self.sc
        while not sc.is_blankz():
            ch = sc.at()
            if self.single and ch == "'" and sc.at(1) == "'":
                self.out.append("'")
                sc.skip()
                sc.skip()
            elif ch == ("'" if self.single else '"'):
                return False
            elif not self.single and ch == "\\" and sc.is_break(1):
                sc.skip()
                sc.skip_line()
                return True
            elif not self.single and ch == "\\":
                self._escape()
            else:
                sc.read(self.out)
        return False

    def _escape(self) -> None:
        sc = self.sc
        code = sc.at(1)
        if code in _ESCAPES:
            self.out.append(_ESCAPES[code])
        elif code not in _CODE_LENGTHS:
            raise sc.error("while parsing a quoted scalar", self.start, "found unknown escape character")
        sc.skip()
        sc.skip()
        length = _CODE_LENGTHS.get(code, 0)
        if length:
            digits = sc.s[sc.pos:sc.pos + length]
            if len(digits) < length or any(d not in _HEX for d in digits):
                raise sc.error("while parsing a quoted scalar", self.start, "did not find expected hexdecimal number")
            value = int(digits, 16)
            if 0xD800 <= value <= 0xDFFF or value > 0x10FFFF:
                raise sc.error("while parsing a quoted scalar", self.start,
                               "found invalid Unicode character escape code")
            self.out.append(chr(value))
            for _ in range(length):
                sc.skip()

    def _blanks(self, leading_blanks: bool, leading: list[str], trailing: list[str], spaces: list[str]) -> bool:
        sc = self.sc
        while sc.is_blank() or sc.is_break():
            if sc.is_blank():
                if not leading_blanks:
                    sc.read(spaces)
                else:
                    sc.skip()
            elif not leading_blanks:
                spaces.clear()
                sc.read_line(leading)
                leading_blanks = True
            else:
                sc.read_line(trailing)
        return leading_blanks


class _PlainScalar:
    """``yaml_parser_scan_plain_scalar``."""

    def __init__(self, sc: Scanner) -> None:
        self.sc = sc
        self.start = self.end = sc.mark
        self.indent = sc.indent + 1
        self.out: list[str] = []
        self.leading: list[str] = []
        self.trailing: list[str] = []
        self.spaces: list[str] = []
        self.leading_blanks = False

    def run(self) -> Token:
        sc = self.sc
        while not sc.document_indicator_here() and sc.at() != "#":
            self._non_blanks()
            if not (sc.is_blank() or sc.is_break()):
                break
            self._blanks()
            if sc.flow_level == 0 and sc.column < self.indent:
                break
        if self.leading_blanks:
            sc.simple_key_allowed = True
        return Token(SCALAR, self.start, self.end, value="".join(self.out), style=PLAIN)

    def _ends_here(self) -> bool:
        sc = self.sc
        ch = sc.at()
        return (ch == ":" and sc.is_blankz(1)) or (sc.flow_level > 0 and ch in ",?[]{}")

    def _non_blanks(self) -> None:
        sc = self.sc
        while not sc.is_blankz() and not self._ends_here():
            if self.leading_blanks:
                if self.leading[0] == "\n":
                    self.out.extend(self.trailing if self.trailing else [" "])
                else:
                    self.out.extend(self.leading)
                    self.out.extend(self.trailing)
                self.trailing.clear()
                self.leading.clear()
                self.leading_blanks = False
            elif self.spaces:
                self.out.extend(self.spaces)
                self.spaces.clear()
            sc.read(self.out)
            self.end = sc.mark

    def _blanks(self) -> None:
        sc = self.sc
        while sc.is_blank() or sc.is_break():
            if sc.is_blank():
                if self.leading_blanks and sc.column < self.indent and sc.at() == "\t":
                    raise sc.error("while scanning a plain scalar", self.start,
                                   "found a tab character that violates indentation")
                if not self.leading_blanks:
                    sc.read(self.spaces)
                else:
                    sc.skip()
            elif not self.leading_blanks:
                self.spaces.clear()
                sc.read_line(self.leading)
                self.leading_blanks = True
            else:
                sc.read_line(self.trailing)

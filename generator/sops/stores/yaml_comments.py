"""Comments in a YAML text, grouped the way sops 3.11 (go-yaml v3) groups them.

libyaml drops comments, so they are read here from the text between the token spans. Each comment
line ends up in one *note*, and each note has a kind and an *anchor*:

* a ``LINE`` note is the comment on the rest of a token's line (``key: value  # note``);
* a run of full-line comments (with the blank lines between them) is cut into ``FOOT`` notes, which
  close what came before, and a final ``HEAD`` note, which opens what follows. A part of the run is
  a foot when an empty line ends it and it either starts on the line right after the previous
  content (and that content is not a bare ``key:``) or is indented less than the open block; a
  comment line indented less than the open block, at another column than the lines gathered so
  far, also closes them as a foot. Inside a flow collection, what precedes ``]``/``}`` is a foot.
* the anchor is the text position from which the note belongs to the reader: a line note or a
  leading foot belongs to the previous token, a dedented foot and a head to their own position.
  The reader (``yaml_read``) hands notes to nodes in order, as it reaches each anchor.

Block ends matter for where feet land: go-yaml closes a block at the first comment of the gap that
sits at the block's own column (so comments below that line trail the enclosing block instead),
else right at the end of the previous content; ``place`` moves the block-end tokens there.

The scan follows the facts the real sops shows, quirks included: it looks at most 511 characters of
blank space ahead of the last comment line, the line break that ends a comment line is not seen as
an (empty) line, so with CRLF line ends the ``\\n`` is one, and a line number is not advanced past
that break (which decides whether a second block of comments still counts as "right after the
content").
"""

from __future__ import annotations

import re

from generator.sops.stores import yaml_tokens as t

HEAD, LINE, FOOT = 0, 1, 2

_WINDOW = 512  # go-yaml's lookahead for comments, in characters of blank space
_ANY_BREAK = re.compile("[\r\n\x85\u2028\u2029]")
_NOT_BLANK = re.compile(r"[^ \t]")
_NOT_SPACE = re.compile(r"[^ \t\r\n]")


class Note:
    """A comment note: ``text`` is the raw comment lines (``#`` included) joined by ``\\n``, an empty
    line inside a run adding one more ``\\n``. ``anchor``: text position from which it is handed out.
    ``col``: the start column as go-yaml stores it (1-based for full-line notes, 0-based for line
    notes). ``scan``/``end``: where the scan that produced it started and where the note ends."""

    __slots__ = ("anchor", "col", "end", "kind", "scan", "start", "text")

    def __init__(self, kind: int, text: str, anchor: int, start: int, col: int, scan: int, end: int) -> None:
        self.kind, self.text, self.anchor, self.start = kind, text, anchor, start
        self.col, self.scan, self.end = col, scan, end

    def __repr__(self) -> str:  # for debugging only
        return f"Note({'HLF'[self.kind]}, {self.text!r}, at {self.anchor})"


class _Gap:
    """The state go-yaml's scanner has when it meets the comments of one gap between tokens."""

    __slots__ = ("in_flow", "indent", "prev_kind", "prev_start", "scan")

    def __init__(self, scan: int, prev_kind: int, prev_start: int, indent: int, in_flow: bool) -> None:
        self.scan, self.prev_kind, self.prev_start = scan, prev_kind, prev_start
        self.indent, self.in_flow = indent, in_flow


class Collector:
    """Finds every note of ``text`` (given its tokens) and moves the block ends (``place``)."""

    def __init__(self, text: str, toks: list[t.Tok]) -> None:
        self.text, self.toks = text, toks
        self.notes: list[Note] = []
        first_break = _ANY_BREAK.search(text)
        self.first_break = first_break.start() if first_break else len(text)

    def run(self) -> list[Note]:
        toks, text = self.toks, self.text
        indents: list[int] = []
        flow = 0
        prev, before_prev = toks[0], toks[0]
        after = 0  # where the scanner stands after the previous token (and its line comment)
        i = 1
        while i < len(toks):
            j = i
            while toks[j].implied:
                j += 1
            tok = toks[j]
            if text.find("#", after, tok.start) >= 0:
                ref = before_prev if prev.kind == t.FLOW_ENTRY else prev
                self._gap(after, tok.start, _Gap(after, ref.kind, ref.start, max(indents[-1] if indents else 0, 0),
                                                 flow > 0))
            self._structure(toks[i:j], tok, indents, after)
            if tok.kind in (t.FLOW_SEQ, t.FLOW_MAP):
                flow += 1
            elif tok.kind in (t.FLOW_SEQ_END, t.FLOW_MAP_END):
                flow -= 1
            after = self._after(tok, j, flow > 0)
            before_prev, prev = prev, tok
            i = j + 1
        return self.notes

    # --- blocks --------------------------------------------------------------------------------

    def _structure(self, implied: list[t.Tok], tok: t.Tok, indents: list[int], after: int) -> None:
        """Block starts push their column; block ends pop one each and are placed (``place``). Before a
        document marker or the end of the stream, go-yaml closes the blocks deeper than the marker's
        column first (from where the scan started), then the rest (from the marker)."""
        document_level = tok.kind in (t.STREAM_END, t.DOC_START, t.DOC_END, t.DIRECTIVE)
        column = self._column(tok.start) if document_level else tok.col
        group: list[tuple[t.Tok, int]] = []
        scan = after
        for imp in implied:
            if imp.kind in (t.BLOCK_MAP, t.BLOCK_SEQ):
                indents.append(imp.col)
            elif imp.kind == t.BLOCK_END:
                level = indents.pop() if indents else 0
                if document_level and level <= column and scan == after:
                    self.place(group, scan)
                    group, scan = [], tok.start
                group.append((imp, level))
        self.place(group, scan)

    def place(self, ends: list[tuple[t.Tok, int]], scan: int) -> None:
        """Where go-yaml puts the ends of the blocks closed together (innermost first, with their
        columns): from just before the scan, moved back to the earliest comment of the gap at the
        block's own column (walking back from the newest note while the notes are contiguous)."""
        mark = scan - 1
        for end, level in ends:
            stop = mark
            for note in reversed(self.notes):
                if note.end < stop:
                    break
                if note.col == level + 1:
                    mark = note.start
                stop = note.scan
            end.start = mark

    # --- after a token: its line comment -----------------------------------------------------

    def _after(self, tok: t.Tok, index: int, in_flow: bool) -> int:
        text = self.text
        kind = tok.kind
        if kind in (t.STREAM_END, t.DOC_START, t.DOC_END, t.DIRECTIVE, t.ENTRY):
            return tok.end
        pos = tok.end
        if kind == t.SCALAR:
            if tok.style == t.PLAIN:
                found = _NOT_SPACE.search(text, pos)
                pos = found.start() if found else len(text)
            elif tok.style in (t.LITERAL, t.FOLDED):
                self._block_header(tok)
                while pos < len(text) and text[pos] == " ":
                    pos += 1  # the indentation before what follows is read with the scalar
        if self._newlines(pos):
            return pos
        mark = self._line_anchor(tok, index, in_flow)
        found = _NOT_BLANK.search(text, pos)
        hash_at = found.start() if found else len(text)
        if hash_at - pos >= _WINDOW or hash_at >= len(text) or text[hash_at] != "#":
            return pos
        end = _line_end(text, hash_at)
        self.notes.append(Note(LINE, text[hash_at:end], mark, hash_at, self._column(hash_at), 0, 0))
        return end

    def _block_header(self, tok: t.Tok) -> None:
        """The comment on a block scalar's ``|``/``>`` line belongs to the scalar."""
        text = self.text
        pos = tok.start + 1
        while pos < len(text) and text[pos] in "+-0123456789":
            pos += 1
        found = _NOT_BLANK.search(text, pos)
        if found and text[found.start()] == "#":
            end = _line_end(text, found.start())
            self.notes.append(Note(LINE, text[found.start():end], tok.start, found.start(),
                                   self._column(found.start()), 0, 0))

    def _line_anchor(self, tok: t.Tok, index: int, in_flow: bool) -> int:
        """A ``:`` (block) or ``,`` (flow) hands its line comment to the token before it."""
        if not ((tok.kind == t.VALUE and not in_flow) or (tok.kind == t.FLOW_ENTRY and in_flow)):
            return tok.start
        k = index - 1
        while k > 0 and self.toks[k].kind == t.BLOCK_MAP and self.toks[k].start == tok.start:
            k -= 1
        return self.toks[k].start if k >= 0 else tok.start

    # --- the comments of one gap -------------------------------------------------------------

    def _gap(self, pos: int, stop: int, gap: _Gap) -> None:
        text = self.text
        while True:
            while pos < stop and text[pos] in " \t":
                pos += 1
            if pos < stop and text[pos] == "#":
                pos = self._run(pos, gap)
            if pos < stop and text[pos] in "\r\n":
                pos += 2 if text.startswith("\r\n", pos) else 1
                continue
            return

    def _run(self, start: int, gap: _Gap) -> int:
        """One run of comment lines from the ``#`` at ``start``; returns where the scanner stops (the
        line break after the last comment line it took)."""
        return _Run(self, start, gap).read()

    # --- positions -----------------------------------------------------------------------------

    def _newlines(self, pos: int) -> int:
        """Line breaks between the last non-blank character before ``pos`` and ``pos``."""
        text = self.text
        start = pos
        while start > 0 and text[start - 1] in " \t\r\n":
            start -= 1
        space = text[start:pos]
        return space.count("\n") + space.count("\r") - space.count("\r\n")

    def _column(self, pos: int) -> int:
        text = self.text
        return pos - 1 - max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos))


def collect(text: str, toks: list[t.Tok]) -> list[Note]:
    """The notes of ``text`` in reading order (block ends among ``toks`` moved as go-yaml places them)."""
    if "#" not in text:
        return []
    return Collector(text, toks).run()


class _Run:
    """One run of full-line comments (and the blank lines between them), cut into feet and a head."""

    def __init__(self, owner: Collector, start: int, gap: _Gap) -> None:
        self.text, self.notes, self.gap = owner.text, owner.notes, gap
        newlines = owner._newlines(start)
        col = owner._column(start)
        self.first_empty, self.recent_empty = newlines <= 1, False
        # the line right after the previous content, relative to the first comment line (none when
        # the scan started on the first line of the text)
        self.foot_line = -1 if gap.scan <= owner.first_break else 1 - newlines + (1 if newlines == 0 and col > 1 else 0)
        self.anchor, self.scan = gap.prev_start, gap.scan
        self.lines: list[str] = []
        self.acc_start = self.acc_line = self.acc_col = 0
        self.line = self.real = 0  # go-yaml's line counter and the true one, relative to the first comment
        self.base = self.pos = start
        self.col1 = col

    def read(self) -> int:
        text, size = self.text, len(self.text)
        while self.pos - self.base < _WINDOW:
            self.col1 += 1
            ch = text[self.pos] if self.pos < size else "\0"
            if ch in " \t":
                self.pos += 1
                continue
            close = self.gap.in_flow and ch in "]}"
            if close or ch in "\r\n\0":
                self._line_end(ch, close=close)
                if ch not in "\r\n":
                    break
                continue
            if self.lines and self.col1 - 1 < self.gap.indent and self.col1 != self.acc_col:
                self._foot()  # a comment line at another, smaller indentation: a foot of what came before
            if ch != "#":
                break
            self._take_line()
        if self.lines:
            self.notes.append(Note(HEAD, "\n".join(self.lines), self.acc_start, self.acc_start, self.acc_col,
                                   self.scan, self.pos - 1))
        return self.base

    def _line_end(self, ch: str, *, close: bool) -> None:
        if close or not self.recent_empty:
            near = self.acc_line == self.foot_line and self.gap.prev_kind != t.VALUE
            dedented = self.acc_col - 1 < self.gap.indent
            if close or (self.first_empty and (near or dedented)):
                if self.lines:
                    if dedented:
                        self.anchor = self.acc_start  # not tied to the previous token
                    self._foot()
            elif self.lines and ch != "\0":
                self.lines.append("")
        if ch in "\r\n":
            if ch == "\n" or not self.text.startswith("\r\n", self.pos):
                self.real += 1
            self.first_empty, self.recent_empty = False, True
            self.col1 = 0
            self.line += 1
            self.pos += 1

    def _foot(self) -> None:
        self.notes.append(Note(FOOT, "\n".join(self.lines), self.anchor, self.acc_start, self.acc_col, self.scan,
                               self.pos))
        self.scan = self.anchor = self.pos
        self.lines = []

    def _take_line(self) -> None:
        text, pos = self.text, self.pos
        if not self.lines:
            self.acc_start, self.acc_line, self.acc_col = pos, self.line, self.col1
        self.recent_empty = False
        end = _line_end(text, pos)
        self.lines.append(text[pos:end])
        self.line = self.real
        if end < len(text) and (text[end] == "\n" or not text.startswith("\r\n", end)):
            self.real += 1
        # the line break itself is not looked at: the scan goes on right after it
        self.base, self.pos, self.col1 = end, end + 1, 0


def _line_end(text: str, pos: int) -> int:
    """Where the line holding ``pos`` ends (its first ``\\r``/``\\n``, or the end of the text)."""
    ends = [i for i in (text.find("\n", pos), text.find("\r", pos)) if i >= 0]
    return min(ends) if ends else len(text)

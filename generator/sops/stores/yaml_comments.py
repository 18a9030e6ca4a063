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
                self._gap(
                    after, tok.start, _Gap(after, ref.kind, ref.start, max(indents[-1] if indents else 0, 0), flow > 0)
                )
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
        pos = self._after_scalar(tok) if kind == t.SCALAR else tok.end
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

    def _after_scalar(self, tok: t.Tok) -> int:
        """Where a scalar's line comment may start: after a plain scalar's trailing space, after a block
        scalar's indentation (read with the scalar; its header comment is the scalar's)."""
        text = self.text
        pos = tok.end
        if tok.style == t.PLAIN:
            found = _NOT_SPACE.search(text, pos)
            return found.start() if found else len(text)
        if tok.style in (t.LITERAL, t.FOLDED):
            self._block_header(tok)
            while pos < len(text) and text[pos] == " ":
                pos += 1
        return pos

    def _block_header(self, tok: t.Tok) -> None:
        """The comment on a block scalar's ``|``/``>`` line belongs to the scalar."""
        text = self.text
        pos = tok.start + 1
        while pos < len(text) and text[pos] in "+-0123456789":
            pos += 1
        found = _NOT_BLANK.search(text, pos)
        if found and text[found.start()] == "#":
            end = _line_end(text, found.start())
            self.notes.append(
                Note(LINE, text[found.start() : end], tok.start, found.start(), self._column(found.start()), 0, 0)
            )

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


class _Piece:
    """One thing met while reading a run of comment lines: a comment line (``COMMENT``, with its line
    as sops counts it), a line break on an otherwise empty line (``EMPTY``), or what ends the run:
    the end of the text, a ``]``/``}`` closing the flow collection, other content, or the end of the
    lookahead window (``LIMIT``)."""

    __slots__ = ("col", "end", "kind", "line", "pos")

    def __init__(self, kind: int, pos: int, col: int, end: int = 0, line: int = 0) -> None:
        self.kind, self.pos, self.col, self.end, self.line = kind, pos, col, end, line


_COMMENT, _EMPTY, _EOF, _CLOSE, _CONTENT, _LIMIT = range(6)


def _pieces(text: str, start: int, in_flow: bool) -> list[_Piece]:
    """The pieces of the run whose first ``#`` is at ``start``, up to what ends it.

    Columns are 1-based, each ``\\r`` and ``\\n`` starting a line. The line break right after a comment
    line belongs to that line (so of a CRLF only the ``\\r`` does: the ``\\n`` then reads as an empty
    line). The window of at most 511 characters of blank space is counted from the end of the last
    comment line. A comment's ``line`` is the line of the comment line before it in the run (0 for
    the first) plus one per ``EMPTY`` piece since: sops's count, which does not see the line break a
    comment line ends with (and so matters for whether a comment is "right below" the content).
    """
    out: list[_Piece] = []
    size = len(text)
    line_start = max(text.rfind("\n", 0, start), text.rfind("\r", 0, start)) + 1
    origin = pos = start
    counted = true_line = 0
    while pos - origin < _WINDOW:
        ch = text[pos] if pos < size else ""
        if ch == " " or ch == "\t":
            pos += 1
            continue
        col = pos - line_start + 1
        if not ch:
            out.append(_Piece(_EOF, pos, col))
            return out
        if ch in "\r\n":
            out.append(_Piece(_EMPTY, pos, col))
            counted += 1
            true_line += _ends_line(text, pos)
            pos = line_start = pos + 1
            continue
        if in_flow and ch in "]}":
            out.append(_Piece(_CLOSE, pos, col))
            return out
        if ch != "#":
            out.append(_Piece(_CONTENT, pos, col))
            return out
        end = _line_end(text, pos)
        out.append(_Piece(_COMMENT, pos, col, end, counted))
        counted = true_line
        if end < size:
            true_line += _ends_line(text, end)
        origin, pos = end, end + 1
        line_start = pos
    out.append(_Piece(_LIMIT, pos, 0))
    return out


def _ends_line(text: str, pos: int) -> int:
    """1 when the break at ``pos`` ends a line (a ``\\n``, or a ``\\r`` not followed by one)."""
    return 1 if text[pos] == "\n" or not text.startswith("\r\n", pos) else 0


class _Run:
    """One run of full-line comments (and the blank lines between them), cut into feet and a head.

    The comment lines gather into a block; a block is cut off as a foot of what came before
    * at the first empty line of a run that starts right after the content (at most one line break
      before it), when the block starts on the line right below that content (not below a bare
      ``key:``) or is indented less than the open block, a dedented block then standing on its own;
    * at a line indented less than the open block, at another column than the block's first line;
    * at a ``]``/``}`` that closes the flow collection.
    What is gathered when the run ends is a head of what follows. Several empty lines in a row count
    as one, kept inside a block as an empty comment line.
    """

    def __init__(self, owner: Collector, start: int, gap: _Gap) -> None:
        self.text, self.notes, self.gap = owner.text, owner.notes, gap
        newlines = owner._newlines(start)
        self.touching = newlines <= 1  # lost at the first empty line
        # the line right below the previous content, relative to the run's first line (none when the
        # scan started on the text's first line)
        below = 1 - newlines + (1 if newlines == 0 and owner._column(start) > 1 else 0)
        self.below = -1 if gap.scan <= owner.first_break else below
        self.anchor, self.scan = gap.prev_start, gap.scan
        self.block: list[str] = []
        self.first = _Piece(_COMMENT, start, 0)
        self.last_end = start

    def read(self) -> int:
        """Cut the run into notes; returns the end of its last comment line."""
        after_empty = False
        for piece in _pieces(self.text, self.first.pos, self.gap.in_flow):
            kind = piece.kind
            if kind in (_COMMENT, _CONTENT):
                if not self._comment_or_content(piece):
                    break
                after_empty = False
                continue
            if kind == _LIMIT:
                self._head(piece.pos)
                break
            if kind == _CLOSE or not after_empty:
                self._blank_or_foot(piece)
            if kind != _EMPTY:
                self._head(piece.pos)
                break
            self.touching, after_empty = False, True
        return self.last_end

    def _comment_or_content(self, piece: _Piece) -> bool:
        """A comment line joins the block (a dedented one first ends the block before it as a foot);
        content ends the run (False)."""
        if self.block and piece.col - 1 < self.gap.indent and piece.col != self.first.col:
            self._foot(piece.pos)
        if piece.kind == _CONTENT:
            self._head(piece.pos)
            return False
        if not self.block:
            self.first = piece
        self.block.append(self.text[piece.pos : piece.end])
        self.last_end = piece.end
        return True

    def _blank_or_foot(self, piece: _Piece) -> None:
        if not self.block:
            return
        dedented = self.first.col - 1 < self.gap.indent
        below = self.first.line == self.below and self.gap.prev_kind != t.VALUE
        if piece.kind == _CLOSE or (self.touching and (below or dedented)):
            if dedented:
                self.anchor = self.first.pos  # not tied to the previous token
            self._foot(piece.pos)
        elif piece.kind == _EMPTY:
            self.block.append("")

    def _foot(self, pos: int) -> None:
        self.notes.append(
            Note(FOOT, "\n".join(self.block), self.anchor, self.first.pos, self.first.col, self.scan, pos)
        )
        self.scan = self.anchor = pos
        self.block = []

    def _head(self, pos: int) -> None:
        if self.block:
            self.notes.append(
                Note(HEAD, "\n".join(self.block), self.first.pos, self.first.pos, self.first.col, self.scan, pos - 1)
            )


def _line_end(text: str, pos: int) -> int:
    """Where the line holding ``pos`` ends (its first ``\\r``/``\\n``, or the end of the text)."""
    ends = [i for i in (text.find("\n", pos), text.find("\r", pos)) if i >= 0]
    return min(ends) if ends else len(text)

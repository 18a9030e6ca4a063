"""YAML tokens for the sops store, from libyaml's C scanner (through PyYAML's ``CParser``).

libyaml and go-yaml v3 (what sops 3.11 reads YAML with) share their scanner's design, so the
tokens, their kinds and positions are the ones sops sees, with two exceptions that fluxforge
handles itself: go-yaml places a block's end where the block's trailing comments begin
(``yaml_comments`` computes that), and go-yaml refuses a ``%YAML`` directive other than 1.1, which
libyaml accepts (refused here with sops's message). Comments are not tokens: ``yaml_comments``
finds them in the text between the tokens.

Positions are code-point indices into the text, lines and columns 0-based, as libyaml counts them.
"""

from __future__ import annotations

from typing import Any

# token kinds
STREAM_START, STREAM_END, DIRECTIVE, DOC_START, DOC_END = range(5)
BLOCK_SEQ, BLOCK_MAP, BLOCK_END, FLOW_SEQ, FLOW_MAP, FLOW_SEQ_END, FLOW_MAP_END = range(5, 12)
ENTRY, FLOW_ENTRY, KEY, VALUE, ALIAS, ANCHOR, TAG, SCALAR = range(12, 20)

# scalar styles
PLAIN, SINGLE, DOUBLE, LITERAL, FOLDED = "", "'", '"', "|", ">"


class YamlSyntaxError(Exception):
    """Invalid YAML: ``problem`` at ``line``/``column`` (1-based), ``context`` started at ``context_line``."""

    def __init__(self, problem: str, line: int, column: int, context: str = "", context_line: int = 0) -> None:
        super().__init__(problem)
        self.problem, self.line, self.column = problem, line, column
        self.context, self.context_line = context, context_line

    def describe(self) -> str:
        if self.context and self.context_line:
            return f"{self.problem} ({self.context} at line {self.context_line})"
        return f"{self.problem} ({self.context})" if self.context else self.problem


class Tok:
    """One token. ``implied`` tokens (block starts and ends, the key of a simple key) have no text
    of their own; the scanner adds them where the layout implies them."""

    __slots__ = ("col", "end", "implied", "kind", "line", "start", "style", "value")

    def __init__(
        self,
        kind: int,
        start: int,
        end: int,
        line: int,
        col: int,
        value: Any = None,
        style: str = PLAIN,
        implied: bool = False,
    ) -> None:
        self.kind, self.start, self.end, self.line, self.col = kind, start, end, line, col
        self.value, self.style, self.implied = value, style, implied

    def __repr__(self) -> str:  # for debugging only
        return f"Tok({self.kind}, {self.start}-{self.end}, {self.value!r})"


def _kinds() -> dict[type, int]:
    import yaml.tokens as t

    return {
        t.StreamStartToken: STREAM_START,
        t.StreamEndToken: STREAM_END,
        t.DirectiveToken: DIRECTIVE,
        t.DocumentStartToken: DOC_START,
        t.DocumentEndToken: DOC_END,
        t.BlockSequenceStartToken: BLOCK_SEQ,
        t.BlockMappingStartToken: BLOCK_MAP,
        t.BlockEndToken: BLOCK_END,
        t.FlowSequenceStartToken: FLOW_SEQ,
        t.FlowMappingStartToken: FLOW_MAP,
        t.FlowSequenceEndToken: FLOW_SEQ_END,
        t.FlowMappingEndToken: FLOW_MAP_END,
        t.BlockEntryToken: ENTRY,
        t.FlowEntryToken: FLOW_ENTRY,
        t.KeyToken: KEY,
        t.ValueToken: VALUE,
        t.AliasToken: ALIAS,
        t.AnchorToken: ANCHOR,
        t.TagToken: TAG,
        t.ScalarToken: SCALAR,
    }


_KINDS: dict[type, int] = {}
_ALWAYS_IMPLIED = (BLOCK_SEQ, BLOCK_MAP, BLOCK_END)


def _scanner() -> Any:
    """libyaml's scanner; PyYAML's pure-Python one (same tokens, slower) when PyYAML was built
    without libyaml."""
    import yaml

    if not _KINDS:
        _KINDS.update(_kinds())
    if getattr(yaml, "__with_libyaml__", False):
        from yaml._yaml import CParser

        return CParser
    return lambda text: yaml.Loader(text)  # pragma: no cover - wheels ship libyaml


def tokenize(text: str) -> list[Tok]:
    """Every token of ``text`` (which must not start with a BOM); ``YamlSyntaxError`` when libyaml
    cannot scan it."""
    import yaml

    scanner = _scanner()(text)
    kinds = _KINDS
    out: list[Tok] = []
    append = out.append
    try:
        while True:
            token = scanner.get_token()
            kind = kinds[type(token)]
            sm, em = token.start_mark, token.end_mark
            start, end = sm.index, em.index
            if kind == SCALAR:
                append(Tok(SCALAR, start, end, sm.line, sm.column, token.value, token.style or PLAIN))
            elif kind in _ALWAYS_IMPLIED or (kind == KEY and start == end):
                append(Tok(kind, start, end, sm.line, sm.column, implied=True))
            elif kind == DIRECTIVE:
                append(Tok(kind, start, end, sm.line, sm.column, (token.name, token.value)))
            else:
                append(Tok(kind, start, end, sm.line, sm.column, getattr(token, "value", None)))
            if kind == STREAM_END:
                return out
    except yaml.MarkedYAMLError as err:
        raise _syntax(err) from None
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position)
        column = err.position - (text.rfind("\n", 0, err.position) + 1)
        raise YamlSyntaxError(err.reason, line + 1, column + 1) from None


def _syntax(err: Any) -> YamlSyntaxError:
    mark, context_mark = err.problem_mark, err.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
    context_line = context_mark.line + 1 if context_mark is not None and err.context else 0
    return YamlSyntaxError(str(err.problem or "invalid YAML"), line, column, str(err.context or ""), context_line)

"""go-yaml v3's parser (``parserc.go``) and node composer (``decode.go``), written again in Python on
top of ``goyaml_scan``: documents as ``Node`` trees with go-yaml's head, line and foot comments.

Only what sops needs: ``compose_documents(text)`` gives one ``document`` node per document, exactly
as ``yaml.NewDecoder(…).Decode(&node)`` does in sops's YAML store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from generator.sops.stores import goyaml_scan as sc
from generator.sops.stores.goyaml_scan import Mark, Scanner, Token, YamlError

# event types
STREAM_START_EVENT, STREAM_END_EVENT = "stream-start", "stream-end"
DOCUMENT_START_EVENT, DOCUMENT_END_EVENT = "document-start", "document-end"
ALIAS_EVENT, SCALAR_EVENT = "alias", "scalar"
SEQUENCE_START_EVENT, SEQUENCE_END_EVENT = "sequence-start", "sequence-end"
MAPPING_START_EVENT, MAPPING_END_EVENT = "mapping-start", "mapping-end"
TAIL_COMMENT_EVENT = "tail-comment"

_DEFAULT_TAGS = (("!", "!"), ("!!", "tag:yaml.org,2002:"))


@dataclass
class Event:
    typ: str
    start: Mark
    end: Mark
    anchor: str = ""
    tag: str = ""
    value: str = ""
    implicit: bool = False
    style: str = ""
    flow: bool = False
    head: str = ""
    line: str = ""
    foot: str = ""


class Parser:
    """``yaml_parser_parse``: the event stream of the scanner's tokens, comments attached."""

    def __init__(self, text: str) -> None:
        self.scanner = Scanner(text)
        self.state: Callable[[], Event] = self.parse_stream_start
        self.states: list[Callable[[], Event]] = []
        self.marks: list[Mark] = []
        self.tag_directives: list[tuple[str, str]] = []
        self.head_comment = self.line_comment = self.foot_comment = ""
        self.tail_comment = ""
        self.stem_comment: str | None = None
        self.done = False

    # --- tokens ---------------------------------------------------------------------------------

    def peek_token(self) -> Token:
        s = self.scanner
        if not s.token_available:
            s.fetch_more_tokens()
        token = s.tokens[s.tokens_head]
        self.unfold_comments(token)
        return token

    def unfold_comments(self, token: Token) -> None:
        s = self.scanner
        while s.comments_head < len(s.comments) and token.start.offset >= s.comments[s.comments_head].token_mark.offset:
            comment = s.comments[s.comments_head]
            if comment.head:
                if token.typ == sc.BLOCK_END:
                    break  # no heads on ends: keep it for a follow-up token
                self.head_comment = _join(self.head_comment, comment.head)
            if comment.foot:
                self.foot_comment = _join(self.foot_comment, comment.foot)
            if comment.line:
                self.line_comment = _join(self.line_comment, comment.line)
            s.comments[s.comments_head] = sc.Comment(sc.ZERO, sc.ZERO, sc.ZERO, sc.ZERO)
            s.comments_head += 1

    def skip_token(self) -> None:
        s = self.scanner
        s.token_available = False
        s.tokens_parsed += 1
        s.stream_end_produced = s.tokens[s.tokens_head].typ == sc.STREAM_END
        s.tokens_head += 1

    def pop_state(self) -> None:
        self.state = self.states.pop()

    def set_event_comments(self, event: Event) -> Event:
        event.head, event.line, event.foot = self.head_comment, self.line_comment, self.foot_comment
        self.head_comment = self.line_comment = self.foot_comment = self.tail_comment = ""
        self.stem_comment = None
        return event

    def parse(self) -> Event:
        return self.state()

    # --- stream and documents -------------------------------------------------------------------

    def parse_stream_start(self) -> Event:
        token = self.peek_token()
        if token.typ != sc.STREAM_START:
            raise YamlError("did not find expected <stream-start>", token.start)
        self.state = self.parse_implicit_document_start
        self.skip_token()
        return Event(STREAM_START_EVENT, token.start, token.end)

    def parse_implicit_document_start(self) -> Event:
        return self.parse_document_start(implicit=True)

    def parse_explicit_document_start(self) -> Event:
        return self.parse_document_start(implicit=False)

    def parse_document_start(self, *, implicit: bool) -> Event:
        token = self.peek_token()
        if not implicit:
            while token.typ == sc.DOCUMENT_END:
                self.skip_token()
                token = self.peek_token()
        if implicit and token.typ not in (sc.VERSION_DIRECTIVE, sc.TAG_DIRECTIVE, sc.DOCUMENT_START, sc.STREAM_END):
            self.process_directives()
            self.states.append(self.parse_document_end)
            self.state = self.parse_block_node
            return Event(DOCUMENT_START_EVENT, token.start, token.end, head=self._document_head())
        if token.typ != sc.STREAM_END:
            start = token.start
            self.process_directives()
            token = self.peek_token()
            if token.typ != sc.DOCUMENT_START:
                raise YamlError("did not find expected <document start>", token.start)
            self.states.append(self.parse_document_end)
            self.state = self.parse_document_content
            self.skip_token()
            return Event(DOCUMENT_START_EVENT, start, token.end)
        self.done = True
        self.skip_token()
        return Event(STREAM_END_EVENT, token.start, token.end)

    def _document_head(self) -> str:
        """The head comment up to its last empty line heads the document; the rest the content."""
        head = self.head_comment
        for i in range(len(head) - 1, 0, -1):
            if head[i] == "\n":
                if i == len(head) - 1:
                    self.head_comment = head[i + 1:]
                    return head[:i]
                if head[i - 1] == "\n":
                    self.head_comment = head[i + 1:]
                    return head[:i - 1]
        return ""

    def parse_document_content(self) -> Event:
        token = self.peek_token()
        if token.typ in (sc.VERSION_DIRECTIVE, sc.TAG_DIRECTIVE, sc.DOCUMENT_START, sc.DOCUMENT_END, sc.STREAM_END):
            self.pop_state()
            return empty_scalar(token.start)
        return self.parse_node(block=True, indentless=False)

    def parse_document_end(self) -> Event:
        token = self.peek_token()
        start = end = token.start
        implicit = True
        if token.typ == sc.DOCUMENT_END:
            end = token.end
            self.skip_token()
            implicit = False
        self.tag_directives = []
        self.state = self.parse_explicit_document_start
        event = self.set_event_comments(Event(DOCUMENT_END_EVENT, start, end, implicit=implicit))
        if event.head and not event.foot:
            event.foot, event.head = event.head, ""
        return event

    def process_directives(self) -> None:
        token = self.peek_token()
        version_seen = False
        while token.typ in (sc.VERSION_DIRECTIVE, sc.TAG_DIRECTIVE):
            if token.typ == sc.VERSION_DIRECTIVE:
                if version_seen:
                    raise YamlError("found duplicate %YAML directive", token.start)
                if token.major != 1 or token.minor != 1:
                    raise YamlError("found incompatible YAML document", token.start)
                version_seen = True
            else:
                self.append_tag_directive(token.value, token.suffix, allow_duplicates=False, mark=token.start)
            self.skip_token()
            token = self.peek_token()
        for handle, prefix in _DEFAULT_TAGS:
            self.append_tag_directive(handle, prefix, allow_duplicates=True, mark=token.start)

    def append_tag_directive(self, handle: str, prefix: str, *, allow_duplicates: bool, mark: Mark) -> None:
        if any(h == handle for h, _ in self.tag_directives):
            if allow_duplicates:
                return
            raise YamlError("found duplicate %TAG directive", mark)
        self.tag_directives.append((handle, prefix))

    # --- nodes ----------------------------------------------------------------------------------

    def parse_block_node(self) -> Event:
        return self.parse_node(block=True, indentless=False)

    def parse_block_node_or_indentless_sequence(self) -> Event:
        return self.parse_node(block=True, indentless=True)

    def parse_flow_node(self) -> Event:
        return self.parse_node(block=False, indentless=False)

    def parse_node(self, *, block: bool, indentless: bool) -> Event:
        token = self.peek_token()
        if token.typ == sc.ALIAS:
            self.pop_state()
            event = self.set_event_comments(Event(ALIAS_EVENT, token.start, token.end, anchor=token.value))
            self.skip_token()
            return event
        props = _Properties(token.start)
        token = self._properties(token, props)
        tag = self._resolve_tag(props)
        implicit = not tag
        start, end = props.start, props.end
        if indentless and token.typ == sc.BLOCK_ENTRY:
            self.state = self.parse_indentless_sequence_entry
            return Event(SEQUENCE_START_EVENT, start, token.end, anchor=props.anchor, tag=tag, implicit=implicit)
        if token.typ == sc.SCALAR:
            return self._scalar_event(token, props, tag)
        if token.typ in (sc.FLOW_SEQUENCE_START, sc.FLOW_MAPPING_START):
            seq = token.typ == sc.FLOW_SEQUENCE_START
            self.state = self.parse_flow_sequence_first_entry if seq else self.parse_flow_mapping_first_key
            event = Event(SEQUENCE_START_EVENT if seq else MAPPING_START_EVENT, start, token.end, anchor=props.anchor,
                          tag=tag, implicit=implicit, flow=True)
            return self.set_event_comments(event)
        if block and token.typ in (sc.BLOCK_SEQUENCE_START, sc.BLOCK_MAPPING_START):
            seq = token.typ == sc.BLOCK_SEQUENCE_START
            self.state = self.parse_block_sequence_first_entry if seq else self.parse_block_mapping_first_key
            event = Event(SEQUENCE_START_EVENT if seq else MAPPING_START_EVENT, start, token.end, anchor=props.anchor,
                          tag=tag, implicit=implicit)
            if self.stem_comment is not None:
                event.head, self.stem_comment = self.stem_comment, None
            return event
        if props.anchor or tag:
            self.pop_state()
            return Event(SCALAR_EVENT, start, end, anchor=props.anchor, tag=tag, implicit=implicit, style=sc.PLAIN)
        context = "while parsing a block node" if block else "while parsing a flow node"
        raise YamlError("did not find expected node content", token.start, context, start)

    def _properties(self, token: Token, props: _Properties) -> Token:
        """An anchor and/or a tag before the node, in either order."""
        for _ in range(2):
            if token.typ == sc.ANCHOR and not props.anchor_seen:
                props.anchor, props.anchor_seen = token.value, True
            elif token.typ == sc.TAG and not props.tag_seen:
                props.handle, props.suffix, props.tag_mark, props.tag_seen = (token.value, token.suffix,
                                                                              token.start, True)
            else:
                break
            props.end = token.end
            self.skip_token()
            token = self.peek_token()
        return token

    def _resolve_tag(self, props: _Properties) -> str:
        if not props.tag_seen:
            return ""
        if not props.handle:
            return props.suffix
        for handle, prefix in self.tag_directives:
            if handle == props.handle:
                return prefix + props.suffix
        raise YamlError("found undefined tag handle", props.tag_mark, "while parsing a node", props.start)

    def _scalar_event(self, token: Token, props: _Properties, tag: str) -> Event:
        plain_implicit = (not tag and token.style == sc.PLAIN) or tag == "!"
        self.pop_state()
        event = Event(SCALAR_EVENT, props.start, token.end, anchor=props.anchor, tag=tag, value=token.value,
                      implicit=plain_implicit, style=token.style)
        self.set_event_comments(event)
        self.skip_token()
        return event

    # --- block collections ----------------------------------------------------------------------

    def parse_block_sequence_first_entry(self) -> Event:
        token = self.peek_token()
        self.marks.append(token.start)
        self.skip_token()
        return self.parse_block_sequence_entry()

    def parse_block_sequence_entry(self) -> Event:
        token = self.peek_token()
        if token.typ == sc.BLOCK_ENTRY:
            mark = token.end
            prior_head_len = len(self.head_comment)
            self.skip_token()
            self.split_stem_comment(prior_head_len)
            token = self.peek_token()
            if token.typ not in (sc.BLOCK_ENTRY, sc.BLOCK_END):
                self.states.append(self.parse_block_sequence_entry)
                return self.parse_node(block=True, indentless=False)
            self.state = self.parse_block_sequence_entry
            return empty_scalar(mark)
        if token.typ == sc.BLOCK_END:
            self.pop_state()
            self.marks.pop()
            self.skip_token()
            return Event(SEQUENCE_END_EVENT, token.start, token.end)
        raise YamlError("did not find expected '-' indicator", token.start, "while parsing a block collection",
                        self.marks.pop())

    def parse_indentless_sequence_entry(self) -> Event:
        token = self.peek_token()
        if token.typ == sc.BLOCK_ENTRY:
            mark = token.end
            prior_head_len = len(self.head_comment)
            self.skip_token()
            self.split_stem_comment(prior_head_len)
            token = self.peek_token()
            if token.typ not in (sc.BLOCK_ENTRY, sc.KEY, sc.VALUE, sc.BLOCK_END):
                self.states.append(self.parse_indentless_sequence_entry)
                return self.parse_node(block=True, indentless=False)
            self.state = self.parse_indentless_sequence_entry
            return empty_scalar(mark)
        self.pop_state()
        return Event(SEQUENCE_END_EVENT, token.start, token.start)

    def split_stem_comment(self, stem_len: int) -> None:
        """A head comment before ``-`` whose entry is a collection heads that collection."""
        if stem_len == 0:
            return
        token = self.peek_token()
        if token.typ not in (sc.BLOCK_SEQUENCE_START, sc.BLOCK_MAPPING_START):
            return
        self.stem_comment = self.head_comment[:stem_len]
        self.head_comment = "" if len(self.head_comment) == stem_len else self.head_comment[stem_len + 1:]

    def parse_block_mapping_first_key(self) -> Event:
        token = self.peek_token()
        self.marks.append(token.start)
        self.skip_token()
        return self.parse_block_mapping_key()

    def parse_block_mapping_key(self) -> Event:
        token = self.peek_token()
        if self.tail_comment:
            event = Event(TAIL_COMMENT_EVENT, token.start, token.end, foot=self.tail_comment)
            self.tail_comment = ""
            return event
        if token.typ == sc.KEY:
            mark = token.end
            self.skip_token()
            token = self.peek_token()
            if token.typ not in (sc.KEY, sc.VALUE, sc.BLOCK_END):
                self.states.append(self.parse_block_mapping_value)
                return self.parse_node(block=True, indentless=True)
            self.state = self.parse_block_mapping_value
            return empty_scalar(mark)
        if token.typ == sc.BLOCK_END:
            self.pop_state()
            self.marks.pop()
            event = self.set_event_comments(Event(MAPPING_END_EVENT, token.start, token.end))
            self.skip_token()
            return event
        raise YamlError("did not find expected key", token.start, "while parsing a block mapping", self.marks.pop())

    def parse_block_mapping_value(self) -> Event:
        token = self.peek_token()
        if token.typ == sc.VALUE:
            mark = token.end
            self.skip_token()
            token = self.peek_token()
            if token.typ not in (sc.KEY, sc.VALUE, sc.BLOCK_END):
                self.states.append(self.parse_block_mapping_key)
                return self.parse_node(block=True, indentless=True)
            self.state = self.parse_block_mapping_key
            return empty_scalar(mark)
        self.state = self.parse_block_mapping_key
        return empty_scalar(token.start)

    # --- flow collections -----------------------------------------------------------------------

    def parse_flow_sequence_first_entry(self) -> Event:
        token = self.peek_token()
        self.marks.append(token.start)
        self.skip_token()
        return self.parse_flow_sequence_entry(first=True)

    def parse_flow_sequence_next_entry(self) -> Event:
        return self.parse_flow_sequence_entry(first=False)

    def parse_flow_sequence_entry(self, *, first: bool) -> Event:
        token = self.peek_token()
        if token.typ != sc.FLOW_SEQUENCE_END:
            if not first:
                if token.typ != sc.FLOW_ENTRY:
                    raise YamlError("did not find expected ',' or ']'", token.start, "while parsing a flow sequence",
                                    self.marks.pop())
                self.skip_token()
                token = self.peek_token()
            if token.typ == sc.KEY:
                self.state = self.parse_flow_sequence_entry_mapping_key
                self.skip_token()
                return Event(MAPPING_START_EVENT, token.start, token.end, implicit=True, flow=True)
            if token.typ != sc.FLOW_SEQUENCE_END:
                self.states.append(self.parse_flow_sequence_next_entry)
                return self.parse_node(block=False, indentless=False)
        self.pop_state()
        self.marks.pop()
        event = self.set_event_comments(Event(SEQUENCE_END_EVENT, token.start, token.end))
        self.skip_token()
        return event

    def parse_flow_sequence_entry_mapping_key(self) -> Event:
        token = self.peek_token()
        if token.typ not in (sc.VALUE, sc.FLOW_ENTRY, sc.FLOW_SEQUENCE_END):
            self.states.append(self.parse_flow_sequence_entry_mapping_value)
            return self.parse_node(block=False, indentless=False)
        mark = token.end
        self.skip_token()
        self.state = self.parse_flow_sequence_entry_mapping_value
        return empty_scalar(mark)

    def parse_flow_sequence_entry_mapping_value(self) -> Event:
        token = self.peek_token()
        if token.typ == sc.VALUE:
            self.skip_token()
            token = self.peek_token()
            if token.typ not in (sc.FLOW_ENTRY, sc.FLOW_SEQUENCE_END):
                self.states.append(self.parse_flow_sequence_entry_mapping_end)
                return self.parse_node(block=False, indentless=False)
        self.state = self.parse_flow_sequence_entry_mapping_end
        return empty_scalar(token.start)

    def parse_flow_sequence_entry_mapping_end(self) -> Event:
        token = self.peek_token()
        self.state = self.parse_flow_sequence_next_entry
        return Event(MAPPING_END_EVENT, token.start, token.start)

    def parse_flow_mapping_first_key(self) -> Event:
        token = self.peek_token()
        self.marks.append(token.start)
        self.skip_token()
        return self.parse_flow_mapping_key(first=True)

    def parse_flow_mapping_next_key(self) -> Event:
        return self.parse_flow_mapping_key(first=False)

    def parse_flow_mapping_key(self, *, first: bool) -> Event:
        token = self.peek_token()
        if token.typ != sc.FLOW_MAPPING_END:
            if not first:
                if token.typ != sc.FLOW_ENTRY:
                    raise YamlError("did not find expected ',' or '}'", token.start, "while parsing a flow mapping",
                                    self.marks.pop())
                self.skip_token()
                token = self.peek_token()
            if token.typ == sc.KEY:
                return self._flow_mapping_explicit_key()
            if token.typ != sc.FLOW_MAPPING_END:
                self.states.append(self.parse_flow_mapping_empty_value)
                return self.parse_node(block=False, indentless=False)
        self.pop_state()
        self.marks.pop()
        event = self.set_event_comments(Event(MAPPING_END_EVENT, token.start, token.end))
        self.skip_token()
        return event

    def _flow_mapping_explicit_key(self) -> Event:
        self.skip_token()
        token = self.peek_token()
        if token.typ not in (sc.VALUE, sc.FLOW_ENTRY, sc.FLOW_MAPPING_END):
            self.states.append(self.parse_flow_mapping_value)
            return self.parse_node(block=False, indentless=False)
        self.state = self.parse_flow_mapping_value
        return empty_scalar(token.start)

    def parse_flow_mapping_value(self) -> Event:
        token = self.peek_token()
        if token.typ == sc.VALUE:
            self.skip_token()
            token = self.peek_token()
            if token.typ not in (sc.FLOW_ENTRY, sc.FLOW_MAPPING_END):
                self.states.append(self.parse_flow_mapping_next_key)
                return self.parse_node(block=False, indentless=False)
        self.state = self.parse_flow_mapping_next_key
        return empty_scalar(token.start)

    def parse_flow_mapping_empty_value(self) -> Event:
        token = self.peek_token()
        self.state = self.parse_flow_mapping_next_key
        return empty_scalar(token.start)


@dataclass
class _Properties:
    start: Mark
    end: Mark = sc.ZERO
    anchor: str = ""
    anchor_seen: bool = False
    handle: str = ""
    suffix: str = ""
    tag_mark: Mark = sc.ZERO
    tag_seen: bool = False

    def __post_init__(self) -> None:
        self.end = self.start


def empty_scalar(mark: Mark) -> Event:
    return Event(SCALAR_EVENT, mark, mark, implicit=True, style=sc.PLAIN)


def _join(have: str, more: str) -> str:
    return f"{have}\n{more}" if have else more


# --- nodes (decode.go's parser) ----------------------------------------------------------------

DOCUMENT, MAPPING, SEQUENCE, SCALAR, ALIAS = "document", "mapping", "sequence", "scalar", "alias"
TAGGED = "tagged"


@dataclass(eq=False)
class Node:
    kind: str
    tag: str = ""
    value: str = ""
    style: str = ""  # scalar style (plain, single, double, literal, folded)
    tagged: bool = False
    flow: bool = False
    anchor: str = ""
    alias: Node | None = None
    content: list[Node] = field(default_factory=list)
    line: int = 0  # 1-based, as go-yaml's Node
    column: int = 0
    head: str = ""
    line_comment: str = ""
    foot: str = ""


class Composer:
    """``decode.go``'s parser: events to nodes, comments copied from each node's first event."""

    def __init__(self, text: str) -> None:
        self.parser = Parser(text)
        self.event: Event | None = None
        self.anchors: dict[str, Node] = {}
        self.started = False
        self.depth = 0  # nested collections: bounded by yamlguard.MAX_DEPTH before Python's recursion is

    def peek(self) -> Event:
        if self.event is None:
            self.event = self.parser.parse()
        return self.event

    def expect(self, typ: str) -> None:
        event = self.peek()
        if event.typ == STREAM_END_EVENT:
            raise YamlError("attempted to go past the end of stream; corrupted value?", event.start)
        if event.typ != typ:
            raise YamlError(f"expected {typ} event but got {event.typ}", event.start)
        self.event = None

    def document(self) -> Node | None:
        """The next document node, or None at the end of the stream."""
        if not self.started:
            self.expect(STREAM_START_EVENT)
            self.started = True
        if self.peek().typ == STREAM_END_EVENT:
            return None
        return self.parse()

    def parse(self) -> Node:
        typ = self.peek().typ
        handlers = {SCALAR_EVENT: self.scalar, ALIAS_EVENT: self.alias, MAPPING_START_EVENT: self.mapping,
                    SEQUENCE_START_EVENT: self.sequence, DOCUMENT_START_EVENT: self.document_node}
        if typ not in handlers:
            raise YamlError(f"unexpected {typ} event", self.peek().start)
        return handlers[typ]()

    def node(self, kind: str, default_tag: str, tag: str, value: str) -> Node:
        event = self.peek()
        tagged = False
        if tag and tag != "!":
            tag, tagged = short_tag(tag), True
        elif default_tag:
            tag = default_tag
        elif kind == SCALAR:
            tag = ""  # resolved when the value is decoded
        return Node(kind, tag=tag, value=value, tagged=tagged, line=event.start.line + 1,
                    column=event.start.column + 1, head=event.head, line_comment=event.line, foot=event.foot)

    def document_node(self) -> Node:
        n = self.node(DOCUMENT, "", "", "")
        self.expect(DOCUMENT_START_EVENT)
        n.content.append(self.parse())
        if self.peek().typ == DOCUMENT_END_EVENT:
            n.foot = self.peek().foot
        self.expect(DOCUMENT_END_EVENT)
        return n

    def alias(self) -> Node:
        n = self.node(ALIAS, "", "", self.peek().anchor)
        n.alias = self.anchors.get(n.value)
        if n.alias is None:
            raise YamlError(f"unknown anchor '{n.value}' referenced", self.peek().start)
        self.expect(ALIAS_EVENT)
        return n

    def scalar(self) -> Node:
        event = self.peek()
        style = event.style
        default_tag = ("!!merge" if event.value == "<<" else "") if style == sc.PLAIN else "!!str"
        n = self.node(SCALAR, default_tag, event.tag, event.value)
        n.style = style
        self._anchor(n, event.anchor)
        self.expect(SCALAR_EVENT)
        return n

    def _enter(self, event: Event) -> None:
        from generator import yamlguard

        self.depth += 1
        if self.depth > yamlguard.MAX_DEPTH:
            raise yamlguard.too_deep(event.start.line + 1)

    def sequence(self) -> Node:
        event = self.peek()
        self._enter(event)
        n = self.node(SEQUENCE, "!!seq", event.tag, "")
        n.flow = event.flow
        self._anchor(n, event.anchor)
        self.expect(SEQUENCE_START_EVENT)
        while self.peek().typ != SEQUENCE_END_EVENT:
            n.content.append(self.parse())
        n.line_comment, n.foot = self.peek().line, self.peek().foot
        self.expect(SEQUENCE_END_EVENT)
        self.depth -= 1
        return n

    def mapping(self) -> Node:
        event = self.peek()
        self._enter(event)
        n = self.node(MAPPING, "!!map", event.tag, "")
        n.flow = event.flow
        self._anchor(n, event.anchor)
        self.expect(MAPPING_START_EVENT)
        while self.peek().typ != MAPPING_END_EVENT:
            self._pair(n)
        n.line_comment, n.foot = self.peek().line, self.peek().foot
        if not n.flow and n.foot and len(n.content) > 1:
            n.content[-2].foot, n.foot = n.foot, ""
        self.expect(MAPPING_END_EVENT)
        self.depth -= 1
        return n

    def _pair(self, n: Node) -> None:
        key = self.parse()
        n.content.append(key)
        if not n.flow and key.foot and len(n.content) > 2:
            # a foot comment on a key: it belongs to the prior value, dedented
            n.content[-3].foot, key.foot = key.foot, ""
        value = self.parse()
        n.content.append(value)
        if not key.foot and value.foot:
            key.foot, value.foot = value.foot, ""
        if self.peek().typ == TAIL_COMMENT_EVENT:
            if not key.foot:
                key.foot = self.peek().foot
            self.expect(TAIL_COMMENT_EVENT)

    def _anchor(self, n: Node, anchor: str) -> None:
        if anchor:
            n.anchor = anchor
            self.anchors[anchor] = n


_LONG_PREFIX = "tag:yaml.org,2002:"


def short_tag(tag: str) -> str:
    return "!!" + tag[len(_LONG_PREFIX):] if tag.startswith(_LONG_PREFIX) else tag


def compose_documents(text: str) -> list[Node]:
    """Every document node of ``text`` (go-yaml's ``Decoder.Decode`` in a loop)."""
    composer = Composer(text)
    out = []
    while (doc := composer.document()) is not None:
        out.append(doc)
    return out

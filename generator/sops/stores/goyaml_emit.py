"""Write sops trees as sops 3.11 writes them: sops's conversion of its tree into go-yaml nodes
(``appendTreeBranch``/``appendSequence``: comments become head and foot comments), go-yaml v3's
encoder (nodes to events, a key's foot comment carried as the next event's "tail") and go-yaml's
emitter (``emitterc.go``, block style, ``SetIndent(n)``, no line wrapping), written again in Python.

Where go-yaml drops or moves a comment while writing, so does this; the file that results is what
sops would write for the same tree, byte for byte once ciphertext is masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from generator.sops.stores import yaml_emit as ys
from generator.sops.values import Branch, Comment, SeqComment

_BREAKS = "\r\n\x85\u2028\u2029"


# --- sops's tree -> nodes ----------------------------------------------------------------------


@dataclass(eq=False)
class _Node:
    kind: str  # mapping, sequence, scalar
    value: str = ""
    tag: str = ""
    style: str = "plain"
    content: list[_Node] = field(default_factory=list)
    head: str = ""
    foot: str = ""


def _head(node: _Node, comments: list[str]) -> None:
    """``addCommentsHead``: prepend ``#``-lines to the node's head comment."""
    if comments:
        text = "#" + "\n#".join(comments)
        node.head = f"{text}\n{node.head}" if node.head else text


def _foot(node: _Node, comments: list[str]) -> None:
    if comments:
        text = "#" + "\n#".join(comments)
        node.foot = f"{node.foot}\n{text}" if node.foot else text


def to_node(value: object) -> _Node:
    """``treeValueToNode``."""
    if isinstance(value, Branch):
        mapping = _Node("mapping")
        _append_branch(value, mapping)
        return mapping
    if isinstance(value, list):
        sequence = _Node("sequence")
        _append_sequence(value, sequence)
        return sequence
    text, tag, style = scalar_form(value)
    return _Node("scalar", value=text, tag=tag, style=style)


def _append_sequence(items: list[object], sequence: _Node) -> None:
    comments: list[str] = []
    beginning = True
    for item in items:
        if isinstance(item, Comment) and not isinstance(item, SeqComment):
            comments.append(item.value)
            continue
        if beginning:
            _head(sequence, comments)
            comments, beginning = [], False
        node = to_node(item.value if isinstance(item, SeqComment) else item)
        _head(node, comments)
        comments = []
        sequence.content.append(node)
    if comments:
        if beginning:
            _head(sequence, comments)
        else:
            _foot(sequence.content[-1], comments)


def _append_branch(branch: Branch, mapping: _Node) -> None:
    comments: list[str] = []
    beginning = True
    for key, value in branch:
        if isinstance(key, Comment):
            comments.append(key.value)
            continue
        if beginning:
            _head(mapping, comments)
            comments, beginning = [], False
        text, tag, style = scalar_form(str(key))
        key_node = _Node("scalar", value=text, tag=tag, style=style)
        _head(key_node, comments)
        comments = []
        mapping.content.extend((key_node, to_node(value)))
    if comments:
        if beginning:
            _head(mapping, comments)
        else:
            _foot(mapping.content[-2], comments)


def scalar_form(value: object) -> tuple[str, str, str]:
    """(text, tag, style) of a leaf as ``Node.Encode`` makes it: go-yaml writes the value alone,
    reads it back, and the node keeps the style the writer chose; a plain ``<<`` reads back as
    ``!!merge``. Non-strings are plain."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    if not isinstance(value, str):
        return ys.leaf_text(value), "", "plain"
    if value == "<<":
        return value, "!!merge", "plain"
    return value, "", ys.string_style(value)


# --- nodes -> events (go-yaml's encoder) -------------------------------------------------------


@dataclass
class _Event:
    typ: str
    value: str = ""
    tag: str = ""
    style: str = "plain"
    head: str = ""
    line: str = ""
    foot: str = ""
    tail: str = ""


def _events(doc: _Node, out: list[_Event]) -> None:
    out.append(_Event("document-start"))
    _node_events(doc, "", out)
    out.append(_Event("document-end"))


def _node_events(node: _Node, tail: str, out: list[_Event]) -> None:
    if node.kind == "sequence":
        out.append(_Event("sequence-start", head=node.head))
        for item in node.content:
            _node_events(item, "", out)
        out.append(_Event("sequence-end", foot=node.foot))
    elif node.kind == "mapping":
        out.append(_Event("mapping-start", head=node.head, tail=tail))
        carried = ""
        for key, value in zip(node.content[::2], node.content[1::2], strict=True):
            foot = key.foot
            key_copy = _Node("scalar", value=key.value, tag=key.tag, style=key.style, head=key.head)
            _node_events(key_copy, carried, out)
            carried = foot
            _node_events(value, "", out)
        out.append(_Event("mapping-end", tail=carried, foot=node.foot))
    else:
        out.append(_Event("scalar", value=node.value, tag=node.tag, style=node.style, head=node.head,
                          foot=node.foot, tail=tail))


# --- events -> text (go-yaml's emitter) --------------------------------------------------------


class _Emitter:
    def __init__(self, events: list[_Event], best: int) -> None:
        self.events = events
        self.head = 0
        self.best = best if 2 <= best <= 9 else 2
        self.out: list[str] = []
        self.indent = -1
        self.indents: list[int] = []
        self.states: list[str] = []
        self.state = "first-document-start"
        self.column = 0
        self.whitespace = True
        self.indention = True
        self.open_ended = False
        self.foot_indent = -1
        self.flow_level = 0
        self.simple_key_context = False
        self.head_comment = self.line_comment = self.foot_comment = self.tail_comment = ""
        self.key_line_comment = ""

    def run(self) -> str:
        while self.head < len(self.events):
            event = self.events[self.head]
            self.analyze(event)
            getattr(self, "emit_" + self.state.replace("-", "_"))(event)
            self.head += 1
        return "".join(self.out)

    # low-level writing
    def put(self, text: str) -> None:
        self.out.append(text)
        self.column += len(text)

    def put_break(self) -> None:
        self.out.append("\n")
        self.column = 0
        self.indention = True

    def write_break(self, ch: str) -> None:
        if ch == "\n":
            self.put_break()
        else:
            self.out.append(ch)
            self.column = 0
            self.indention = True

    def write_indent(self) -> None:
        indent = max(self.indent, 0)
        if not self.indention or self.column > indent or (self.column == indent and not self.whitespace):
            self.put_break()
        if self.foot_indent == indent:
            self.put_break()
        if self.column < indent:
            self.put(" " * (indent - self.column))
        self.whitespace = True
        self.foot_indent = -1

    def write_indicator(self, text: str, *, need_ws: bool, is_ws: bool, is_indention: bool) -> None:
        if need_ws and not self.whitespace:
            self.put(" ")
        self.put(text)
        self.whitespace = is_ws
        self.indention = self.indention and is_indention
        self.open_ended = False

    def write_comment(self, comment: str) -> None:
        breaks = pound = False
        for ch in comment:
            if ch in _BREAKS:
                self.write_break(ch)
                breaks, pound = True, False
                continue
            if breaks:
                self.write_indent()
            if not pound:
                if ch != "#":
                    self.put("# ")
                pound = True
            self.put(ch)
            self.indention = breaks = False
        if not breaks:
            self.put_break()
        self.whitespace = True

    # comments
    def analyze(self, event: _Event) -> None:
        if event.head:
            self.head_comment = event.head
        if event.line:
            self.line_comment = event.line
        if event.foot:
            self.foot_comment = event.foot
        if event.tail:
            self.tail_comment = event.tail

    def process_head_comment(self) -> None:
        if self.tail_comment:
            self.write_indent()
            self.write_comment(self.tail_comment)
            self.tail_comment = ""
            self.foot_indent = max(self.indent, 0)
        if self.head_comment:
            self.write_indent()
            self.write_comment(self.head_comment)
            self.head_comment = ""

    def process_line_comment(self) -> None:
        if self.line_comment:
            if not self.whitespace:
                self.put(" ")
            self.write_comment(self.line_comment)
            self.line_comment = ""

    def process_foot_comment(self) -> None:
        if self.foot_comment:
            self.write_indent()
            self.write_comment(self.foot_comment)
            self.foot_comment = ""
            self.foot_indent = max(self.indent, 0)

    def increase_indent(self, *, flow: bool) -> None:
        self.indents.append(self.indent)
        if self.indent < 0:
            self.indent = self.best if flow else 0
        elif self.states and self.states[-1] == "block-sequence-item":
            self.indent += 2  # the first indent inside a sequence skips the "- "
        else:
            self.indent = self.best * ((self.indent + self.best) // self.best)

    def pop_indent(self) -> None:
        self.indent = self.indents.pop()

    def pop_state(self) -> None:
        self.state = self.states.pop()

    # states
    def emit_first_document_start(self, event: _Event) -> None:
        self.document_start(event, first=True)

    def emit_document_start(self, event: _Event) -> None:
        self.document_start(event, first=False)

    def document_start(self, event: _Event, *, first: bool) -> None:
        if event.typ != "document-start":
            self.state = "end"
            return
        if not first:
            self.write_indent()
            self.write_indicator("---", need_ws=True, is_ws=False, is_indention=False)
            self.write_indent()
        if self.head_comment:
            self.process_head_comment()
            self.put_break()
        self.state = "document-content"

    def emit_document_content(self, event: _Event) -> None:
        self.states.append("document-end")
        self.process_head_comment()
        self.emit_node(event, simple_key=False)
        self.process_line_comment()
        self.process_foot_comment()

    def emit_document_end(self, event: _Event) -> None:
        assert event.typ == "document-end"
        self.foot_indent = 0
        self.process_foot_comment()
        self.foot_indent = -1
        self.write_indent()
        self.state = "document-start"

    def emit_flow_sequence_first_item(self, event: _Event) -> None:
        self.flow_empty(event, "[", "]")

    def emit_flow_mapping_first_key(self, event: _Event) -> None:
        self.flow_empty(event, "{", "}")

    def flow_empty(self, event: _Event, start: str, end: str) -> None:
        """Only empty collections are written in flow style (sops writes no other)."""
        self.write_indicator(start, need_ws=True, is_ws=True, is_indention=False)
        self.increase_indent(flow=True)
        self.flow_level += 1
        assert event.typ in ("sequence-end", "mapping-end")
        if end == "}":
            self.process_head_comment()
        self.flow_level -= 1
        self.pop_indent()
        if end == "]" and self.column == 0:
            self.write_indent()
        self.write_indicator(end, need_ws=False, is_ws=False, is_indention=False)
        self.process_line_comment()
        self.process_foot_comment()
        self.pop_state()

    def emit_block_sequence_first_item(self, event: _Event) -> None:
        self.increase_indent(flow=False)
        self.emit_block_sequence_item(event)

    def emit_block_sequence_item(self, event: _Event) -> None:
        if event.typ == "sequence-end":
            self.pop_indent()
            self.pop_state()
            return
        self.process_head_comment()
        self.write_indent()
        self.write_indicator("-", need_ws=True, is_ws=False, is_indention=True)
        self.states.append("block-sequence-item")
        self.emit_node(event, simple_key=False)
        self.process_line_comment()
        self.process_foot_comment()

    def emit_block_mapping_first_key(self, event: _Event) -> None:
        self.increase_indent(flow=False)
        self.emit_block_mapping_key(event)

    def emit_block_mapping_key(self, event: _Event) -> None:
        self.process_head_comment()
        if event.typ == "mapping-end":
            self.pop_indent()
            self.pop_state()
            return
        self.write_indent()
        if self.line_comment:
            self.key_line_comment, self.line_comment = self.line_comment, ""
        if self.check_simple_key(event):
            self.states.append("block-mapping-simple-value")
            self.emit_node(event, simple_key=True)
            return
        self.write_indicator("?", need_ws=True, is_ws=False, is_indention=True)
        self.states.append("block-mapping-value")
        self.emit_node(event, simple_key=False)

    def emit_block_mapping_simple_value(self, event: _Event) -> None:
        self.write_indicator(":", need_ws=False, is_ws=False, is_indention=False)
        self.block_mapping_value(event)

    def emit_block_mapping_value(self, event: _Event) -> None:
        self.write_indent()
        self.write_indicator(":", need_ws=True, is_ws=False, is_indention=True)
        self.block_mapping_value(event)

    def block_mapping_value(self, event: _Event) -> None:
        if self.key_line_comment and event.typ == "scalar" and not self.line_comment:
            self.line_comment, self.key_line_comment = self.key_line_comment, ""
        self.states.append("block-mapping-key")
        self.emit_node(event, simple_key=False)
        self.process_line_comment()
        self.process_foot_comment()

    def check_simple_key(self, event: _Event) -> bool:
        if event.typ == "scalar":
            if any(ch in _BREAKS for ch in event.value):
                return False
            tag = len(event.tag) if event.tag else 0
            return tag + len(event.value.encode("utf-8", "surrogateescape")) <= 128
        return self.is_empty_collection() and event.typ in ("sequence-start", "mapping-start")

    def is_empty_collection(self) -> bool:
        nxt = self.events[self.head + 1] if self.head + 1 < len(self.events) else None
        return nxt is not None and nxt.typ in ("sequence-end", "mapping-end")

    # nodes
    def emit_node(self, event: _Event, *, simple_key: bool) -> None:
        self.simple_key_context = simple_key
        if event.typ == "scalar":
            self.emit_scalar(event)
        elif event.typ == "sequence-start":
            self.state = "flow-sequence-first-item" if self.is_empty_collection() else "block-sequence-first-item"
        elif event.typ == "mapping-start":
            self.state = "flow-mapping-first-key" if self.is_empty_collection() else "block-mapping-first-key"
        else:
            raise ValueError(f"unexpected {event.typ} event")

    def emit_scalar(self, event: _Event) -> None:
        style = self.select_style(event)
        if event.tag:
            if not self.whitespace:
                self.put(" ")
            self.put(event.tag)
            self.whitespace = self.indention = False
        self.increase_indent(flow=True)
        self.write_scalar(event.value, style)
        self.pop_indent()
        self.pop_state()

    def select_style(self, event: _Event) -> str:
        style = event.style
        analysis = ys.analyze(event.value)
        if self.simple_key_context and analysis.multiline:
            style = "double"
        if style == "plain" and (not analysis.block_plain or (not event.value and self.simple_key_context)):
            style = "single"
        if style == "single" and not analysis.single_quoted:
            style = "double"
        if style == "literal" and (not analysis.block or self.simple_key_context):
            style = "double"
        return style

    def write_scalar(self, value: str, style: str) -> None:
        if style == "plain":
            if value and not self.whitespace:
                self.put(" ")
            self.put(value)
            if value:
                self.whitespace = False
            self.indention = False
        elif style == "single":
            self.write_quoted(ys.single_quoted_lines(value))
        elif style == "double":
            self.write_indicator(ys.double_quoted(value), need_ws=True, is_ws=False, is_indention=False)
        else:
            self.write_literal(value)

    def write_quoted(self, parts: list[tuple[str, str]]) -> None:
        """A single-quoted scalar: ("text", …) pieces and ("break", ch) line breaks; after a break
        the text continues at the indentation."""
        self.write_indicator("'", need_ws=True, is_ws=False, is_indention=False)
        breaks = False
        for kind, text in parts:
            if kind == "break":
                self.write_break(text)
                breaks = True
                continue
            if breaks:
                self.write_indent()
            self.put(text)
            self.indention = breaks = False
        self.write_indicator("'", need_ws=False, is_ws=False, is_indention=False)
        self.whitespace = self.indention = False

    def write_literal(self, value: str) -> None:
        self.write_indicator("|", need_ws=True, is_ws=False, is_indention=False)
        self.write_indicator(ys.block_hints(value, self.best), need_ws=False, is_ws=False, is_indention=False)
        self.process_line_comment()
        self.put_break()  # go.yaml.in/yaml/v3 3.0.4 starts the content on a new line (sops output shows it)
        self.whitespace = True
        breaks = True
        for ch in value:
            if ch in _BREAKS:
                self.write_break(ch)
                breaks = True
                continue
            if breaks:
                self.write_indent()
            self.put(ch)
            self.indention = breaks = False


def emit_value(value: object, indent: int = 4) -> str:
    """One value as its own document (``yaml.Marshal``: sops's ``EmitValue`` for ``--extract``)."""
    events: list[_Event] = []
    _events(to_node(value), events)
    return _Emitter(events, indent).run()


def emit_documents(docs: list[Branch], indent: int = 4) -> str:
    """The text go-yaml writes for these documents (sops's YAML store, ``SetIndent(indent)``)."""
    events: list[_Event] = []
    for doc in docs:
        _events(to_node(doc), events)
    return _Emitter(events, indent).run()

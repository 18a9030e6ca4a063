"""Read YAML into sops trees exactly as sops 3.11 reads it.

Three steps, each its own module:

1. ``yaml_tokens``: libyaml's scanner (C) gives the tokens;
2. ``yaml_comments``: the comments between the tokens, grouped into notes with the position from
   which each belongs to the reader;
3. here: a recursive-descent reader turns the tokens into nodes. While it reads, the notes whose
   position it has reached are queued by kind (head, line, foot); a node that carries comments
   (a scalar, an alias, a flow collection, the end of a block mapping or flow collection, the end
   of a document) takes everything queued at the moment it is read. A block collection carries
   none of its own, except what was queued before the ``-`` of the list item it fills (a "stem").
   The nodes are then turned into the sops tree: a key's head and line comments go before it, its
   foot after it; a mapping's foot goes to its last key, and a key's foot found after another key
   to that earlier key (go-yaml's rules, as sops shows them).

Scalars get go-yaml's types (``yaml_scalars``). Duplicate keys, non-string keys and integers above int64
are refused with their key path, as sops refuses them or cannot encrypt them.
"""

from __future__ import annotations

from typing import Any

from generator.errors import SopsError
from generator.sops.stores import yaml_tokens as t
from generator.sops.stores.yaml_comments import HEAD, Note, collect
from generator.sops.stores.yaml_scalars import Unsupported, resolve_plain, resolve_tagged
from generator.sops.values import Branch, Comment

MAP, SEQ, SCALAR, ALIAS = "map", "seq", "scalar", "alias"
_STANDARD = "tag:yaml.org,2002:"
_NULLS = ("", "~", "null", "Null", "NULL")
_NO_COMMENTS = ("", "", "")


class Node:
    """A parsed YAML node with the comments it carries."""

    __slots__ = (
        "anchor",
        "flow",
        "foot",
        "head",
        "inline",
        "items",
        "kind",
        "line",
        "style",
        "tag",
        "target",
        "value",
    )

    def __init__(self, kind: str, line: int, *, value: str = "", tag: str = "", style: str = t.PLAIN) -> None:
        self.kind, self.line, self.value, self.tag, self.style = kind, line, value, tag, style
        self.anchor = ""
        self.target: Node | None = None
        self.items: list[Node] = []
        self.flow = False
        self.head = self.inline = self.foot = ""


class _Invalid(Exception):
    def __init__(self, problem: str, tok: t.Tok, context: str = "", context_tok: t.Tok | None = None) -> None:
        super().__init__(problem)
        self.problem, self.tok, self.context, self.context_tok = problem, tok, context, context_tok


def load_documents(text: str, name: str) -> list[Branch]:
    """Parse every document of ``text`` into a ``Branch``; ``SopsError`` naming ``name`` on error."""
    from generator.yamlguard import TooComplex

    text = text.removeprefix("\ufeff")
    try:
        docs = _nodes(text)
    except (t.YamlSyntaxError, _Invalid, TooComplex) as err:
        raise SopsError(f"{name}{_invalid(err)}") from None
    return [_Tree(name, first=index == 0).document(doc) for index, doc in enumerate(docs)]


def _nodes(text: str) -> list[Node]:
    """Every document of ``text`` as a node tree (comments attached, aliases checked)."""
    if "\x85" in text or "\u2028" in text or "\u2029" in text:
        _refuse_foreign_breaks(text)
    toks = t.tokenize(text)
    docs = _Reader(toks, collect(text, toks) if "#" in text else []).stream()
    if "*" in text:
        _guard(docs)
    return docs


def _invalid(err: Exception) -> str:
    """``:LINE[:COLUMN]: invalid YAML: why`` for a syntax, structure or complexity error."""
    if isinstance(err, t.YamlSyntaxError):
        where = f":{err.line}:{err.column}" if err.line else ""
        return f"{where}: invalid YAML: {err.describe()}"
    if isinstance(err, _Invalid):
        context = f" ({err.context} at line {err.context_tok.line + 1})" if err.context_tok is not None else ""
        return f":{err.tok.line + 1}:{err.tok.col + 1}: invalid YAML: {err.problem}{context}"
    line = getattr(err, "line", None)  # yamlguard.TooComplex
    return f"{f':{line}' if line else ''}: invalid YAML: {err}"


def _refuse_foreign_breaks(text: str) -> None:
    """U+0085, U+2028 and U+2029 are line breaks to YAML 1.1; go-yaml's comment scanner reads them
    byte by byte where libyaml does not, so a file using them outside quoted text would not be read
    as sops reads it. Inside quotes they are content and fine."""
    toks = t.tokenize(text)
    quoted = [(tok.start, tok.end) for tok in toks if tok.kind == t.SCALAR and tok.style in (t.SINGLE, t.DOUBLE)]
    for index, ch in enumerate(text):
        if ch in "\x85\u2028\u2029" and not any(a < index < b for a, b in quoted):
            line = text.count("\n", 0, index) + 1
            raise t.YamlSyntaxError(
                f"a U+{ord(ch):04X} line break outside quotes (sops reads such lines "
                "differently); use a plain line break, or quote the text",
                line,
                0,
            )


# --- tokens to nodes -----------------------------------------------------------------------------


class _Reader:
    """Reads the token list into document nodes, handing out the comment notes on the way."""

    def __init__(self, toks: list[t.Tok], notes: list[Note]) -> None:
        self.toks, self.notes = toks, notes
        self.at = 0
        self.next_note = 0
        self.queued: tuple[list[str], list[str], list[str]] = ([], [], [])  # head, line, foot
        self.stem: list[str] | None = None
        self.anchors: dict[str, Node] = {}
        self.open: set[int] = set()  # ids of anchored collections still being read
        self.handles: dict[str, str] = {}
        self.depth = 0
        from generator.yamlguard import MAX_DEPTH

        self.max_depth = MAX_DEPTH

    # tokens and notes
    def look(self) -> t.Tok:
        tok = self.toks[self.at]
        notes = self.notes
        if self.next_note >= len(notes):
            return tok
        while self.next_note < len(notes) and notes[self.next_note].anchor <= tok.start:
            note = notes[self.next_note]
            if note.kind == HEAD and tok.kind == t.BLOCK_END:
                break  # a head comment opens what follows a block end, not the end itself
            self.queued[note.kind].append(note.text)
            self.next_note += 1
        return tok

    def skip(self) -> None:
        self.at += 1

    def take(self) -> tuple[str, str, str]:
        self.stem = None
        head, line, foot = self.queued
        if not (head or line or foot):
            return _NO_COMMENTS
        self.queued = ([], [], [])
        return "\n".join(head), "\n".join(line), "\n".join(foot)

    # documents
    def stream(self) -> list[Node]:
        self.look()
        self.skip()  # stream start
        docs: list[Node] = []
        first = True
        while True:
            tok = self.look()
            if not first:
                while tok.kind == t.DOC_END:
                    self.skip()
                    tok = self.look()
            if tok.kind == t.STREAM_END:
                return docs
            if first and tok.kind not in (t.DIRECTIVE, t.DOC_START):
                docs.append(self.document(tok, explicit=False))
            else:
                docs.append(self.document(self._directives(), explicit=True))
            first = False

    def _directives(self) -> t.Tok:
        self.handles = {"!": "!", "!!": _STANDARD}
        seen_version = False
        tok = self.look()
        while tok.kind == t.DIRECTIVE:
            name, value = tok.value
            if name == "YAML":
                if seen_version:
                    raise _Invalid("found duplicate %YAML directive", tok)
                if tuple(value) != (1, 1):
                    raise _Invalid(
                        "found incompatible YAML document (a %YAML directive other than 1.1: sops "
                        "reads YAML 1.1 only; remove the directive)",
                        tok,
                    )
                seen_version = True
            elif name == "TAG":
                handle, prefix = value
                if handle in self.handles and handle not in ("!", "!!"):
                    raise _Invalid("found duplicate %TAG directive", tok)
                self.handles[handle] = prefix
            self.skip()
            tok = self.look()
        if tok.kind != t.DOC_START:
            raise _Invalid("did not find expected <document start>", tok)
        return tok

    def document(self, start: t.Tok, *, explicit: bool) -> Node:
        doc = Node(MAP, start.line + 1)
        if explicit:
            self.skip()
            tok = self.look()
            if tok.kind in (t.DIRECTIVE, t.DOC_START, t.DOC_END, t.STREAM_END):
                root = Node(SCALAR, tok.line + 1)
            else:
                root = self.node(block=True, indentless=False)
        else:
            self.handles = {"!": "!", "!!": _STANDARD}
            doc.head = self._document_head()
            root = self.node(block=True, indentless=False)
        doc.items.append(root)
        tok = self.look()
        if tok.kind == t.DOC_END:
            self.skip()
        head, _line, foot = self.take()
        doc.foot = foot or head
        return doc

    def _document_head(self) -> str:
        """An implicit document takes the head comments up to their last empty line; the rest heads
        its first node."""
        head = self.queued[HEAD]
        text = "\n".join(head)
        cut = len(text) - 1 if text.endswith("\n") else text.rfind("\n\n")
        if cut < 0:
            return ""
        rest = text[cut + (2 if text[cut : cut + 2] == "\n\n" else 1) :]
        self.queued[HEAD][:] = [rest] if rest else []
        return text[:cut]

    # nodes
    def node(self, *, block: bool, indentless: bool) -> Node:
        tok = self.look()
        if tok.kind == t.ALIAS:
            return self._alias(tok)
        first = tok
        anchor, tag, tok = self._properties(tok)
        if tok.kind == t.SCALAR:
            head, line, foot = self.take()
            node = Node(SCALAR, first.line + 1, value=tok.value, tag=tag, style=tok.style)
            node.head, node.inline, node.foot = head, line, foot
            self.skip()
            return self._anchored(node, anchor)
        collection = (
            tok.kind in (t.FLOW_SEQ, t.FLOW_MAP)
            or (block and tok.kind in (t.BLOCK_SEQ, t.BLOCK_MAP))
            or (indentless and tok.kind == t.ENTRY)
        )
        if not collection:
            return self._no_content(tok, first, anchor, tag, block=block)
        return self._collection(tok, first, anchor, tag)

    def _no_content(self, tok: t.Tok, first: t.Tok, anchor: str, tag: str, *, block: bool) -> Node:
        """Properties without content: an empty scalar; nothing at all where a node must be: an error."""
        if anchor or tag:
            return self._anchored(Node(SCALAR, first.line + 1, tag=tag), anchor)
        context = "while parsing a block node" if block else "while parsing a flow node"
        raise _Invalid("did not find expected node content", tok, context, first)

    def _collection(self, tok: t.Tok, first: t.Tok, anchor: str, tag: str) -> Node:
        """A flow or block sequence or mapping (or an indentless sequence), read to its end."""
        self.depth += 1
        if self.depth > self.max_depth:
            from generator.yamlguard import too_deep

            raise too_deep(tok.line + 1)
        node = Node(MAP if tok.kind in (t.FLOW_MAP, t.BLOCK_MAP) else SEQ, first.line + 1, tag=tag)
        self._anchored(node, anchor)
        self.open.add(id(node))
        if tok.kind in (t.FLOW_SEQ, t.FLOW_MAP):
            node.flow = True
            node.head = self.take()[0]
            self.skip()
            (self._flow_sequence if tok.kind == t.FLOW_SEQ else self._flow_mapping)(node, tok)
        elif tok.kind == t.ENTRY:
            self._indentless(node)
        else:
            node.head = "\n".join(self.stem) if self.stem else ""
            self.stem = None
            self.skip()
            (self._block_sequence if tok.kind == t.BLOCK_SEQ else self._block_mapping)(node, tok)
        self.open.discard(id(node))
        self.depth -= 1
        return node

    def _alias(self, tok: t.Tok) -> Node:
        head, line, foot = self.take()
        target = self.anchors.get(tok.value)
        if target is None:
            raise _Invalid(f"unknown anchor '{tok.value}' referenced", tok)
        if id(target) in self.open:
            raise _Invalid(f"anchor '{tok.value}' value contains itself", tok)
        node = Node(ALIAS, tok.line + 1, value=tok.value)
        node.target, node.head, node.inline, node.foot = target, head, line, foot
        self.skip()
        return node

    def _properties(self, tok: t.Tok) -> tuple[str, str, t.Tok]:
        if tok.kind != t.ANCHOR and tok.kind != t.TAG:
            return "", "", tok
        anchor, tag = "", ""
        first = tok
        for _ in range(2):
            if tok.kind == t.ANCHOR and not anchor:
                anchor = tok.value
            elif tok.kind == t.TAG and not tag:
                tag = self._tag(tok, first)
            else:
                break
            self.skip()
            tok = self.look()
        return anchor, tag, tok

    def _tag(self, tok: t.Tok, first: t.Tok) -> str:
        handle, suffix = tok.value
        if not handle:
            return str(suffix)
        if handle not in self.handles:
            raise _Invalid("found undefined tag handle", tok, "while parsing a node", first)
        return self.handles[handle] + str(suffix)

    def _anchored(self, node: Node, anchor: str) -> Node:
        if anchor:
            node.anchor = anchor
            self.anchors[anchor] = node
        return node

    def _empty(self, tok: t.Tok) -> Node:
        return Node(SCALAR, tok.line + 1)

    def _child(self, stop: tuple[int, ...], *, block: bool, indentless: bool) -> Node:
        tok = self.look()
        if tok.kind in stop:
            return self._empty(tok)
        return self.node(block=block, indentless=indentless)

    def _entry(self) -> None:
        """Skip a ``-``; what was queued as head before it heads the nested collection it holds."""
        prior = len(self.queued[HEAD])
        self.skip()
        tok = self.look()
        if prior and tok.kind in (t.BLOCK_SEQ, t.BLOCK_MAP):
            self.stem = self.queued[HEAD][:prior]
            del self.queued[HEAD][:prior]

    def _block_sequence(self, node: Node, start: t.Tok) -> None:
        while True:
            tok = self.look()
            if tok.kind == t.ENTRY:
                self._entry()
                node.items.append(self._child((t.ENTRY, t.BLOCK_END), block=True, indentless=False))
            elif tok.kind == t.BLOCK_END:
                self.skip()
                return
            else:
                raise _Invalid("did not find expected '-' indicator", tok, "while parsing a block collection", start)

    def _indentless(self, node: Node) -> None:
        while self.look().kind == t.ENTRY:
            self._entry()
            node.items.append(self._child((t.ENTRY, t.KEY, t.VALUE, t.BLOCK_END), block=True, indentless=False))

    def _block_mapping(self, node: Node, start: t.Tok) -> None:
        stop = (t.KEY, t.VALUE, t.BLOCK_END)
        while True:
            tok = self.look()
            if tok.kind == t.KEY:
                self.skip()
                key = self._child(stop, block=True, indentless=True)
                self._pair_key(node, key)
                if self.look().kind == t.VALUE:
                    self.skip()
                    value = self._child(stop, block=True, indentless=True)
                else:
                    value = self._empty(self.look())
                self._pair_value(node, key, value)
            elif tok.kind == t.BLOCK_END:
                _head, node.inline, node.foot = self.take()
                self.skip()
                if node.foot and node.items:
                    node.items[-2].foot, node.foot = node.foot, ""
                return
            else:
                raise _Invalid("did not find expected key", tok, "while parsing a block mapping", start)

    @staticmethod
    def _pair_key(node: Node, key: Node) -> None:
        """A key's foot found when the key is read belongs to the previous key (a dedented comment)."""
        if not node.flow and key.foot and node.items:
            node.items[-2].foot, key.foot = key.foot, ""
        node.items.append(key)

    @staticmethod
    def _pair_value(node: Node, key: Node, value: Node) -> None:
        if not key.foot and value.foot:
            key.foot, value.foot = value.foot, ""
        node.items.append(value)

    def _flow_sequence(self, node: Node, start: t.Tok) -> None:
        first = True
        while True:
            tok = self.look()
            if tok.kind != t.FLOW_SEQ_END and not first:
                if tok.kind != t.FLOW_ENTRY:
                    raise _Invalid("did not find expected ',' or ']'", tok, "while parsing a flow sequence", start)
                self.skip()
                tok = self.look()
            if tok.kind == t.FLOW_SEQ_END:
                _head, node.inline, node.foot = self.take()
                self.skip()
                return
            if tok.kind == t.KEY:
                if tok.end > tok.start:
                    raise _Invalid("an explicit key ('? ') inside a flow sequence; write the pair as a mapping", tok)
                node.items.append(self._single_pair(tok))
            else:
                node.items.append(self.node(block=False, indentless=False))
            first = False

    def _single_pair(self, tok: t.Tok) -> Node:
        """``[key: value]``: a one-pair mapping inside a flow sequence (it carries no comments)."""
        pair = Node(MAP, tok.line + 1)
        pair.flow = True
        self.skip()
        key = self._child((t.VALUE, t.FLOW_ENTRY, t.FLOW_SEQ_END), block=False, indentless=False)
        self._pair_key(pair, key)
        if self.look().kind == t.VALUE:
            self.skip()
            value = self._child((t.FLOW_ENTRY, t.FLOW_SEQ_END), block=False, indentless=False)
        else:
            value = self._empty(self.look())
        self._pair_value(pair, key, value)
        return pair

    def _flow_mapping(self, node: Node, start: t.Tok) -> None:
        first = True
        while True:
            tok = self.look()
            if tok.kind != t.FLOW_MAP_END and not first:
                if tok.kind != t.FLOW_ENTRY:
                    raise _Invalid("did not find expected ',' or '}'", tok, "while parsing a flow mapping", start)
                self.skip()
                tok = self.look()
            if tok.kind == t.FLOW_MAP_END:
                _head, node.inline, node.foot = self.take()
                self.skip()
                return
            if tok.kind == t.KEY:
                self.skip()
                key = self._child((t.VALUE, t.FLOW_ENTRY, t.FLOW_MAP_END), block=False, indentless=False)
                self._pair_key(node, key)
                if self.look().kind == t.VALUE:
                    self.skip()
                    value = self._child((t.FLOW_ENTRY, t.FLOW_MAP_END), block=False, indentless=False)
                else:
                    value = self._empty(self.look())
            else:
                key = self.node(block=False, indentless=False)
                self._pair_key(node, key)
                value = self._empty(self.look())
            self._pair_value(node, key, value)
            first = False


def _guard(docs: list[Node]) -> None:
    """``yamlguard``'s alias bound on the nodes, before any alias is expanded: go-yaml's rule on
    excessive aliasing, counting every node an alias expands to (the depth bound applied while
    reading)."""
    from generator.yamlguard import _Counter

    counter = _Counter()
    for doc in docs:
        stack: list[tuple[Node, bool]] = [(doc, False)]
        while stack:
            node, under = stack.pop()
            counter.tick(under, node)
            if node.kind == ALIAS and node.target is not None:
                stack.append((node.target, True))
            else:
                stack.extend((child, under) for child in reversed(node.items))


# --- nodes to the sops tree -----------------------------------------------------------------------


def comments_of(text: str) -> list[Comment]:
    """One tree comment per ``#`` line: the text after the ``#``."""
    return [Comment(line[1:]) for line in text.split("\n") if line] if text else []


class _Tree:
    """Places a document's nodes and their comments into a sops tree. Comments of a node that is a
    key's value or a list item are placed around the key or item, so a nested collection opens with
    its own head comments only where it stands on its own (the document root, an alias target)."""

    def __init__(self, name: str, *, first: bool) -> None:
        self.name = name
        self.first = first

    def document(self, doc: Node) -> Branch:
        out = Branch()
        root = doc.items[0]
        if root.kind == SEQ:
            raise SopsError(f"{self.name}:{root.line}: YAML documents that are sequences are not supported by sops")
        if root.kind == SCALAR and not _is_null(root):
            raise SopsError(f"{self.name}:{root.line}: YAML documents that are plain values are not supported by sops")
        _add(out, doc.head, doc.inline)
        self.root(root, out)
        _add(out, doc.foot)
        return out

    def root(self, node: Node, out: Branch) -> None:
        _add(out, node.head, node.inline)
        if node.kind == SCALAR:
            return  # a null document: its foot is dropped
        if node.kind == ALIAS and node.target is not None:
            self.root(node.target, out)
        elif node.kind == MAP:
            self.pairs(node, out, [])
        _add(out, node.foot)

    def pairs(self, node: Node, out: Branch, path: list[str]) -> None:
        seen: set[str] = set()
        items = node.items
        for index in range(0, len(items), 2):
            key, value = items[index], items[index + 1]
            _add(out, key.head, key.inline)
            around = value.kind in (SCALAR, ALIAS)
            if around:
                _add(out, value.head, value.inline)
            name = self.key(key, path)
            if name == "<<" and not path and self.first:
                self._merge_value(key, value)
            if name in seen:
                raise SopsError(f"{self.name}:{key.line}: {_dotted([*path, name])}: duplicate key")
            seen.add(name)
            out.append((name, self.value(value, [*path, name], own=not around)))
            if around:
                _add(out, value.foot)
            _add(out, key.foot)

    def value(self, node: Node, path: list[str], *, own: bool) -> object:
        """A node as a tree value; ``own``: its comments are placed inside it (not around it)."""
        if node.kind == SCALAR:
            return self.scalar(node, path)
        if node.kind == ALIAS:
            assert node.target is not None
            return self.value(node.target, path, own=True)
        if node.kind == MAP:
            out = Branch()
            if own:
                _add(out, node.head, node.inline)
            self.pairs(node, out, path)
            if own:
                _add(out, node.foot)
            return out
        seq: list[Any] = []
        if own:
            seq.extend(comments_of(node.head) + comments_of(node.inline))
        for item in node.items:
            seq.extend(comments_of(item.head) + comments_of(item.inline))
            seq.append(self.value(item, path, own=False))
            seq.extend(comments_of(item.foot))
        if own:
            seq.extend(comments_of(node.foot))
        return seq

    def scalar(self, node: Node, path: list[str]) -> object:
        try:
            return decode_scalar(node)
        except Unsupported as err:
            raise SopsError(f"{self.name}:{node.line}: {_dotted(path)}: {err}") from None

    def key(self, key: Node, path: list[str]) -> str:
        target = key.target if key.kind == ALIAS and key.target is not None else key
        if target.kind != SCALAR:
            raise SopsError(f"{self.name}:{key.line}: {_dotted(path)}: complex mapping keys are not supported")
        value = self.scalar(target, path)
        if not isinstance(value, str):
            kind = "null" if value is None else type(value).__name__
            raise SopsError(
                f"{self.name}:{key.line}: {_dotted(path)}: a key is a {kind}, sops supports string keys only; quote it"
            )
        return value

    def _merge_value(self, key: Node, value: Node) -> None:
        """sops writes a ``<<`` key as the YAML merge key ``!!merge <<`` and reads its metadata with
        go-yaml's ``Unmarshal``, which merges the first document's top-level ``<<``: a value that is
        not a mapping (or a list of mappings) makes every later sops command fail."""
        target = value.target if value.kind == ALIAS and value.target is not None else value
        items = [i.target if i.kind == ALIAS and i.target is not None else i for i in target.items]
        if target.kind == MAP or (target.kind == SEQ and all(i.kind == MAP for i in items)):
            return
        raise SopsError(
            f"{self.name}:{key.line}: <<: a top-level '<<' key is a YAML merge key for sops, and its "
            "value is not a mapping: sops could not read the file back (map merge requires map or "
            "sequence of maps); rename the key"
        )


def _add(out: Branch, *texts: str) -> None:
    for text in texts:
        if text:
            out.extend((c, None) for c in comments_of(text))


def _is_null(node: Node) -> bool:
    return not node.tag and node.style == t.PLAIN and node.value in _NULLS


def decode_scalar(node: Node) -> object:
    """The Go value of a scalar node: quoted and ``!!str`` scalars are strings, an explicit tag
    resolves as that type, a plain scalar by its form."""
    tag = node.tag
    if tag and tag != "!":
        if tag == _STANDARD + "str":
            return node.value
        return resolve_tagged(tag, node.value)
    if node.style != t.PLAIN:
        return node.value
    return resolve_plain(node.value)


def _dotted(path: list[str]) -> str:
    return ".".join(path) if path else "(top level)"

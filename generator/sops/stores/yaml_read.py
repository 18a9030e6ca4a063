"""Read YAML as sops 3.11 does: go-yaml v3's parser (``goyaml_parse``) and sops's own conversion of
its nodes into a tree (``stores/yaml/store.go``: ``appendYamlNodeToTreeBranch``/``nodeToTreeValue``).

Comments become tree items exactly where sops puts them: the head and line comments of a node
before it, its foot comment after it, the comments of an alias target copied into every use.
Scalars get go-yaml's types. Duplicate keys, non-string keys and integers above int64 are refused
with the key path (sops refuses them too, or cannot encrypt them).
"""

from __future__ import annotations

from typing import Any

from generator.errors import SopsError
from generator.sops.stores import goyaml_parse as gp
from generator.sops.stores.goyaml import Unsupported, resolve_plain, resolve_tagged
from generator.sops.stores.goyaml_scan import PLAIN, YamlError
from generator.sops.values import Branch, Comment

_MAX_DEPTH = 1000  # the converter's own recursion guard (yamlguard.MAX_DEPTH applies first)


def load_documents(text: str, name: str) -> list[Branch]:
    """Parse every document of ``text`` into a ``Branch``; ``SopsError`` naming ``name`` on error."""
    from generator.yamlguard import TooComplex

    try:
        nodes = gp.compose_documents(text.removeprefix("\ufeff"))
        _guard(nodes)
    except YamlError as err:
        raise SopsError(f"{name}:{err.mark.line + 1}:{err.mark.column + 1}: invalid YAML: {_problem(err)}") from None
    except TooComplex as err:
        where = f":{err.line}" if err.line else ""
        raise SopsError(f"{name}{where}: invalid YAML: {err}") from None
    except RecursionError:  # not reached below yamlguard.MAX_DEPTH; kept as the last line of defence
        raise SopsError(f"{name}: invalid YAML: nested too deeply") from None
    return [_Converter(name, first=index == 0).document(node) for index, node in enumerate(nodes)]


def _guard(docs: list[gp.Node]) -> None:
    """``yamlguard``'s bounds on the parsed nodes, before any alias is expanded: go-yaml's rule on
    excessive aliasing (counting every node an alias expands to) and the depth limit."""
    from generator.yamlguard import MAX_DEPTH, _Counter, too_deep

    counter = _Counter()
    for doc in docs:
        stack: list[tuple[gp.Node, bool, int]] = [(doc, False, 0)]
        while stack:
            node, under, depth = stack.pop()
            counter.tick(under, node)
            if node.kind == gp.ALIAS and node.alias is not None:
                stack.append((node.alias, True, depth))
                continue
            if node.content and depth > MAX_DEPTH:
                raise too_deep(node.line)
            stack.extend((child, under, depth + 1) for child in reversed(node.content))


def _problem(err: YamlError) -> str:
    if err.problem == "found incompatible YAML document":
        return "found incompatible YAML document (a %YAML directive other than 1.1: sops reads YAML 1.1 only; " \
               "remove the directive)"
    if err.context and err.context_mark is not None:
        return f"{err.problem} ({err.context} at line {err.context_mark.line + 1})"
    return f"{err.problem} ({err.context})" if err.context else err.problem


def comments_of(text: str) -> list[Comment]:
    """sops's ``appendCommentToList``: one tree comment per ``#`` line, text after the ``#``."""
    return [Comment(line[1:]) for line in text.split("\n") if line] if text else []


class _Converter:
    """sops's node-to-tree conversion for one document."""

    def __init__(self, name: str, *, first: bool) -> None:
        self.name = name
        self.first = first

    def document(self, doc: gp.Node) -> Branch:
        root = doc.content[0] if doc.content else None
        if root is not None and root.kind == gp.SEQUENCE:
            raise SopsError(f"{self.name}:{root.line}: YAML documents that are sequences are not supported by sops")
        if root is not None and root.kind == gp.SCALAR and not self._is_null(root):
            raise SopsError(f"{self.name}:{root.line}: YAML documents that are plain values are not supported by sops")
        return self.branch(doc, Branch(), handled=False, path=[], depth=0)

    def branch(self, node: gp.Node, out: Branch, *, handled: bool, path: list[str], depth: int) -> Branch:
        """``appendYamlNodeToTreeBranch``."""
        if depth > _MAX_DEPTH:
            raise SopsError(f"{self.name}: {_dotted(path)}: nested more than {_MAX_DEPTH} levels deep")
        if not handled:
            self._comments(out, node.head, node.line_comment)
        if node.kind == gp.DOCUMENT:
            for item in node.content:
                self.branch(item, out, handled=False, path=path, depth=depth + 1)
        elif node.kind == gp.MAPPING:
            self._pairs(node, out, path, depth)
        elif node.kind == gp.SCALAR:
            return out  # a null document: sops returns before the foot comment
        elif node.kind == gp.ALIAS and node.alias is not None:
            self.branch(node.alias, out, handled=False, path=path, depth=depth + 1)
        if not handled:
            self._comments(out, node.foot)
        return out

    def _pairs(self, node: gp.Node, out: Branch, path: list[str], depth: int) -> None:
        seen: set[str] = set()
        for key, value in zip(node.content[::2], node.content[1::2], strict=True):
            self._comments(out, key.head, key.line_comment)
            own = value.kind in (gp.SCALAR, gp.ALIAS)
            if own:
                self._comments(out, value.head, value.line_comment)
            name = self._key(key, path)
            if name == "<<" and not path and self.first:
                self._merge_value(key, value)
            if name in seen:
                raise SopsError(f"{self.name}:{key.line}: {_dotted([*path, name])}: duplicate key")
            seen.add(name)
            out.append((name, self.value(value, handled=own, path=[*path, name], depth=depth + 1)))
            if own:
                self._comments(out, value.foot)
            self._comments(out, key.foot)

    def value(self, node: gp.Node, *, handled: bool, path: list[str], depth: int) -> object:
        """``nodeToTreeValue``."""
        if depth > _MAX_DEPTH:
            raise SopsError(f"{self.name}: {_dotted(path)}: nested more than {_MAX_DEPTH} levels deep")
        if node.kind == gp.SEQUENCE:
            seq: list[Any] = []
            if not handled:
                seq.extend(comments_of(node.head) + comments_of(node.line_comment))
            for item in node.content:
                seq.extend(comments_of(item.head) + comments_of(item.line_comment))
                seq.append(self.value(item, handled=True, path=path, depth=depth + 1))
                seq.extend(comments_of(item.foot))
            if not handled:
                seq.extend(comments_of(node.foot))
            return seq
        if node.kind == gp.MAPPING:
            return self.branch(node, Branch(), handled=handled, path=path, depth=depth)
        if node.kind == gp.ALIAS and node.alias is not None:
            return self.value(node.alias, handled=False, path=path, depth=depth + 1)
        return self.scalar(node, path)

    def scalar(self, node: gp.Node, path: list[str]) -> object:
        """``node.Decode(&value)`` of a scalar."""
        try:
            return decode_scalar(node)
        except Unsupported as err:
            raise SopsError(f"{self.name}:{node.line}: {_dotted(path)}: {err}") from None

    def _key(self, key: gp.Node, path: list[str]) -> str:
        target = key.alias if key.kind == gp.ALIAS and key.alias is not None else key
        if target.kind != gp.SCALAR:
            raise SopsError(f"{self.name}:{key.line}: {_dotted(path)}: complex mapping keys are not supported")
        value = self.scalar(target, path)
        if not isinstance(value, str):
            kind = "null" if value is None else type(value).__name__
            raise SopsError(f"{self.name}:{key.line}: {_dotted(path)}: a key is a {kind}, sops supports string "
                            "keys only; quote it")
        return value

    def _merge_value(self, key: gp.Node, value: gp.Node) -> None:
        """sops writes a ``<<`` key as the YAML merge key ``!!merge <<`` and reads its metadata with
        go-yaml's ``Unmarshal``, which merges the first document's top-level ``<<``: a value that is
        not a mapping (or a list of mappings) makes every later sops command fail."""
        target = value.alias if value.kind == gp.ALIAS and value.alias is not None else value
        items = [i.alias if i.kind == gp.ALIAS and i.alias is not None else i for i in target.content]
        if target.kind == gp.MAPPING or (target.kind == gp.SEQUENCE and all(i.kind == gp.MAPPING for i in items)):
            return
        raise SopsError(f"{self.name}:{key.line}: <<: a top-level '<<' key is a YAML merge key for sops, and its "
                        "value is not a mapping: sops could not read the file back (map merge requires map or "
                        "sequence of maps); rename the key")

    @staticmethod
    def _comments(out: Branch, *texts: str) -> None:
        for text in texts:
            out.extend((c, None) for c in comments_of(text))

    @staticmethod
    def _is_null(node: gp.Node) -> bool:
        return not node.tagged and node.style == PLAIN and node.value in ("", "~", "null", "Null", "NULL")


def decode_scalar(node: gp.Node) -> object:
    """go-yaml's ``decoder.scalar`` into ``interface{}``: quoted and ``!!str`` scalars are strings,
    an explicit tag resolves as that type, a plain scalar by its form."""
    tag = node.tag
    if tag == "!!str" and (node.tagged or node.style != PLAIN):
        return node.value
    if node.tagged:
        return resolve_tagged("tag:yaml.org,2002:" + tag[2:] if tag.startswith("!!") else tag, node.value)
    if node.style != PLAIN:
        return node.value
    return resolve_plain(node.value)


def _dotted(path: list[str]) -> str:
    return ".".join(path) if path else "(top level)"

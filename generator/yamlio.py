"""The one configured ruamel.yaml factory. Nothing else in the package constructs ``YAML()``.

Every loader raises one error type, ``YamlError``, whatever ruamel (or the ``yamlguard`` bounds) found.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

from generator.yaml12 import plain_is_string

if TYPE_CHECKING:
    from ruamel.yaml import YAML


class YamlError(ValueError):
    """A text that is not YAML fluxforge reads. ``reason``: why, in fixed words that never quote the text
    (it may hold secrets); ``line``/``column``: 1-based where ruamel marks it (else None); ``refused``:
    fluxforge will not expand it (too many aliases, nested too deeply) rather than a syntax error;
    ``cause``: ruamel's own exception, for readers that word its problem themselves."""

    def __init__(self, cause: BaseException) -> None:
        from generator import yamlguard

        mark = getattr(cause, "problem_mark", None)
        self.cause = cause
        self.line: int | None = mark.line + 1 if mark is not None else getattr(cause, "line", None)
        self.column: int | None = mark.column + 1 if mark is not None else None
        self.refused = isinstance(cause, yamlguard.TooComplex)
        self.reason = _reason(cause)
        super().__init__(self.reason)


def _reason(err: BaseException) -> str:
    """Scanner, parser and composer problems are fixed phrases ("mapping values are not allowed here",
    "found undefined alias"); a duplicate key or a tagged scalar that cannot be built (``!!int``) makes
    ruamel quote the value, so those get a fixed text naming the cause."""
    from ruamel.yaml.composer import ComposerError
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import MarkedYAMLError
    from ruamel.yaml.parser import ParserError
    from ruamel.yaml.scanner import ScannerError

    from generator.yamlguard import TooComplex

    if isinstance(err, TooComplex):
        return str(err)
    if isinstance(err, DuplicateKeyError):
        return "duplicate key: a mapping holds the same key twice"
    if isinstance(err, ScannerError | ParserError | ComposerError) and isinstance(err, MarkedYAMLError) and err.problem:
        return str(err.problem)
    return "a value cannot be built from its tag or form (check any !!tag on it)"


@contextmanager
def _one_error() -> Iterator[None]:
    from generator import yamlguard

    try:
        yield
    except YamlError:
        raise
    except RecursionError:  # a parser recursed past Python's stack: too deep, as yamlguard says it
        raise YamlError(yamlguard.too_deep()) from None
    except Exception as err:  # ruamel raises many types: all become YamlError
        raise YamlError(err) from err


def _yaml(*, typ: str, pure: bool) -> YAML:
    """A ruamel ``YAML()``: ruamel is imported with the first parser made, not with this module (a command
    whose files take the fast readers, such as a folder's decrypt, loads no ruamel)."""
    from ruamel.yaml import YAML

    return YAML(typ=typ, pure=pure)


def make_yaml(*, typ: str = "rt") -> YAML:
    """Return a fresh YAML instance with the project's formatting (round-trip by default)."""
    yaml = _yaml(typ=typ, pure=True)
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    yaml.allow_duplicate_keys = False
    return yaml


def guard(text: str | bytes) -> None:
    """Refuse a stream with excessive aliasing or nesting deeper than ``yamlguard.MAX_DEPTH`` before a
    loader expands or recurses over it (``YamlError``, ``refused``). Costs a compose only when the text
    has an alias or may be that deep."""
    from generator import yamlguard

    if isinstance(text, bytes):  # ruamel reads bytes too (some callers pass them)
        text = text.decode("utf-8", "replace")
    if "*" in text:
        compose_all(text)
    elif yamlguard.depth_bound(text) > yamlguard.MAX_DEPTH:
        # the text bound counts every bracket (a fleet config's flow lists exceed it): the exact depth
        # from the event stream, which neither parser builds recursively; a parse error is raised by
        # the compose, as before
        depth, line = event_depth(text, stop_above=yamlguard.MAX_DEPTH)
        if depth is None:
            compose_all(text)
        elif depth > yamlguard.MAX_DEPTH:
            raise yamlguard.too_deep(line)


def event_depth(text: str, *, stop_above: int | None = None) -> tuple[int | None, int | None]:
    """The nesting depth of the collections holding a node (the document's root collection is 1), and
    the 1-based line of the deepest collection seen, read from the parser's events (libyaml when
    installed: iterative, so a 100,000-deep text cannot overflow a stack). ``stop_above``: return
    as soon as a node sits deeper than that. ``(None, None)`` when the text does not parse."""
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent, NodeEvent

    level = deepest = 0
    lines: list[int] = []
    try:
        for event in _event_parser().parse(io.StringIO(text)):
            if isinstance(event, CollectionEndEvent):
                level -= 1
                lines.pop()
                continue
            if isinstance(event, NodeEvent) and level > deepest:
                deepest = level
                if stop_above is not None and deepest > stop_above:
                    break
            if isinstance(event, CollectionStartEvent):
                level += 1
                lines.append(event.start_mark.line + 1)
    except YAMLError:
        return None, None
    return deepest, (lines[-1] if lines else None)


def _event_parser() -> YAML:
    global _EVENTS
    if _EVENTS is None:
        _EVENTS = _yaml(typ="safe", pure=False)
    return _EVENTS


_EVENTS: YAML | None = None


def load_rt(text: str) -> Any:
    """Parse one YAML document, keeping comments, order and line numbers (``guard`` applied)."""
    with _one_error():
        guard(text)
        return make_yaml().load(text)


def load_all_rt(text: str) -> list[Any]:
    """Parse every document of a multi-document YAML stream (``guard`` applied)."""
    with _one_error():
        guard(text)
        return list(make_yaml().load_all(text))


def dump_rt(data: Any, *, indent: tuple[int, int, int] | None = None) -> str:
    """Serialise one document with the project's formatting, or with ``indent`` = (mapping,
    sequence, offset) to keep the layout of a user's file (the three-way merge)."""
    buf = io.StringIO()
    yaml = make_yaml()
    if indent is not None:
        yaml.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
    yaml.dump(data, buf)
    return buf.getvalue()


def _plain_yaml() -> YAML:
    """The loader of plain data: libyaml when installed, duplicate keys refused. With libyaml, ruamel's
    resolver asks for the YAML version of every scalar (two failed attribute lookups each, a third of a
    fleet config's load) although the C loader's is fixed (1.2: it ignores ``%YAML``); the table of implicit
    tags for that version is then looked up once per loader, the same table."""
    yaml = _yaml(typ="safe", pure=False)
    yaml.allow_duplicate_keys = False
    if yaml.Parser is not None and yaml.Parser.__module__.startswith("ruamel.yaml.clib"):
        yaml.Resolver = _fixed_version_resolver()
    return yaml


@cache
def _fixed_version_resolver() -> type:
    from ruamel.yaml.resolver import VersionedResolver

    class FixedVersionResolver(VersionedResolver):
        @property
        def versioned_resolver(self) -> Any:
            table = self.__dict__.get("_fluxforge_table")
            if table is None:
                table = self.__dict__["_fluxforge_table"] = super().versioned_resolver
            return table

    return FixedVersionResolver


def load_plain(text: str) -> Any:
    """Parse one document into plain dicts/lists/scalars, fast (libyaml through ruamel.yaml.clib when
    installed), YAML 1.2 like ``load_rt`` but without comments or line numbers.

    A document without anchors, aliases, tags, merge keys or directives is built from the parser's events
    (:func:`_from_events`: one pass, no node tree); any other text, and any text that pass does not
    build, goes to ruamel's loader, which gives the same data and words every error."""
    with _one_error():
        data = _from_events(text)
        if data is not _GENERAL:
            return data
        guard(text)
        return _plain_yaml().load(text)


_GENERAL: Any = object()  # _from_events: ruamel's loader decides
_NOT_FROM_EVENTS = ("&", "*", "!", "<<", "\ufeff", "\n%")  # anchors, aliases, tags, merge keys, BOM, directives


def _from_events(text: Any, builder: type[_EventBuilder] | None = None, refused: tuple[str, ...] = ()) -> Any:
    """What ``_plain_yaml().load(text)`` returns, built from the parser's events by ``builder`` (default
    ``_EventBuilder``); ``_GENERAL`` where the text may use what only that loader builds (see
    ``_NOT_FROM_EVENTS``; ``refused``: more such marks), holds more than one document, a complex or duplicate
    key, nests deeper than ``yamlguard.MAX_DEPTH`` (the general path's guard refuses it there), or does not
    parse (the loader raises)."""
    marks = (*_NOT_FROM_EVENTS, *refused)
    if not isinstance(text, str) or text.startswith("%") or any(mark in text for mark in marks):
        return _GENERAL
    try:
        return (builder or _EventBuilder)().build(_event_parser().parse(io.StringIO(text)))
    except Exception:  # noqa: BLE001 - the general loader words every problem (or builds what this cannot)
        return _GENERAL


class _EventBuilder:
    """Plain data from one stream's events: the collections open around the current event, each mapping's
    pending key (``_NO_KEY`` while a key is awaited)."""

    def __init__(self) -> None:
        from generator import yamlguard  # with ruamel: imported when a text is parsed, not with this module

        self.max_depth = yamlguard.MAX_DEPTH
        self.open: list[Any] = []
        self.keys: list[Any] = []
        self.root: Any = None
        self.documents = 0

    def build(self, events: Iterator[Any]) -> Any:
        from ruamel.yaml import events as ev

        for event in events:
            kind = type(event)
            if kind is ev.ScalarEvent:
                self.scalar(event)
            elif kind is ev.MappingStartEvent or kind is ev.SequenceStartEvent:
                self.start(event, {} if kind is ev.MappingStartEvent else [])
            elif kind is ev.MappingEndEvent or kind is ev.SequenceEndEvent:
                self.open.pop()
                self.keys.pop()
            elif kind is ev.DocumentStartEvent:
                self.document()
            elif kind is ev.AliasEvent:
                raise _NotPlain
        return self.root

    def document(self) -> None:
        self.documents += 1
        if self.documents > 1:
            raise _NotPlain  # the loader refuses a second document

    def scalar(self, event: Any) -> None:
        if event.tag is not None or event.anchor is not None:
            raise _NotPlain
        self.add(plain_value(event.value) if event.implicit[0] else event.value, collection=False)

    def start(self, event: Any, collection: Any) -> None:
        if event.tag is not None or event.anchor is not None or len(self.open) >= self.max_depth:
            raise _NotPlain
        self.add(collection, collection=True)

    def add(self, value: Any, *, collection: bool) -> None:
        """Place ``value`` where the events put it; a collection also becomes the innermost open one."""
        if not self.open:
            self.root = value
        else:
            into = self.open[-1]
            if isinstance(into, list):
                into.append(value)
            elif self.keys[-1] is _NO_KEY:
                if collection or value in into:
                    raise _NotPlain  # a complex or duplicate key
                self.keys[-1] = value
            else:
                into[self.keys[-1]] = value
                self.keys[-1] = _NO_KEY
        if collection:
            self.open.append(value)
            self.keys.append(_NO_KEY)


_NO_KEY: Any = object()


class _NotPlain(Exception):
    """The events hold what ruamel's loader builds or refuses its own way."""


def plain_value(text: str) -> Any:
    """The value of a plain scalar ``text``, as ``load_plain`` builds it: a string unless a YAML 1.2
    implicit resolver claims it (then ruamel's constructor for that tag: null, bool, int, float, timestamp)."""
    if plain_is_string(text):
        return text
    from ruamel.yaml.nodes import ScalarNode

    loader = _tag_loader()  # the resolver and constructor the libyaml composer's load uses
    node = ScalarNode(loader.resolver.resolve(ScalarNode, text, (True, False)), text)
    return loader.constructor.construct_non_recursive_object(node)


def load_lines(text: str) -> Any:
    """The document as ``load_rt`` builds it for finding lines: every mapping and sequence has ``lc`` with its
    ``line`` and the (line, column) of each key (``lc.key``) and item (``lc.item``), 0-based, as ruamel's
    round-trip loader marks them, and is indexed as the plain data. Built from libyaml's events, one pass
    (a fleet's config in a tenth of a second, where the round-trip loader takes seconds); ``load_rt(text)``
    itself for what that pass does not build (see :func:`_from_events`). For a text that loads."""
    lined = _from_events(text, _LinesBuilder, _OTHER_BREAKS)
    return load_rt(text) if lined is _GENERAL else lined


_OTHER_BREAKS = ("\x85", "\u2028", "\u2029")  # line breaks to libyaml's marks (YAML 1.1), not to ruamel's


class _Lines:
    """``lc`` of a node of :func:`load_lines`: where the node starts, and where each key or item does."""

    __slots__ = ("at", "line")

    def __init__(self, line: int) -> None:
        self.line = line
        self.at: dict[Any, tuple[int, int]] = {}

    def key(self, key: Any) -> tuple[int, int]:
        return self.at[key]

    def item(self, index: int) -> tuple[int, int]:
        return self.at[index]


class _LinedMap(dict[Any, Any]):
    lc: _Lines


class _LinedList(list[Any]):
    lc: _Lines


class _LinesBuilder(_EventBuilder):
    """``_EventBuilder`` that also notes where each collection, key and item starts."""

    def build(self, events: Iterator[Any]) -> Any:
        self.mark: Any = None
        return super().build(self._marked(events))

    def _marked(self, events: Iterator[Any]) -> Iterator[Any]:
        for event in events:
            self.mark = event.start_mark
            yield event

    def start(self, event: Any, collection: Any) -> None:
        lined: Any = _LinedMap() if isinstance(collection, dict) else _LinedList()
        lined.lc = _Lines(event.start_mark.line)
        super().start(event, lined)

    def add(self, value: Any, *, collection: bool) -> None:
        if self.open:
            into = self.open[-1]  # a _LinedMap or a _LinedList: every collection comes from start()
            if isinstance(into, _LinedList):
                into.lc.at[len(into)] = (self.mark.line, self.mark.column)
            elif isinstance(into, _LinedMap) and self.keys[-1] is _NO_KEY and not collection:
                into.lc.at[value] = (self.mark.line, self.mark.column)
        super().add(value, collection=collection)


@cache
def _tag_loader() -> YAML:
    """The loader whose resolver tags the plain scalars ``plain_value`` builds (``_plain_yaml``'s)."""
    return _plain_yaml()


def load_all_plain(text: str) -> list[Any]:
    """Every document of a stream as plain data, fast (libyaml when installed; ``guard`` applied)."""
    with _one_error():
        guard(text)
        return list(_plain_yaml().load_all(text))


def compose_all(text: str, *, remember: bool = False) -> list[Any]:
    """Parse a YAML stream into ruamel representation nodes (one per document), with marks and
    scalar styles, tags unresolved by us: for readers that resolve scalars themselves (the sops
    store resolves plain scalars as go-yaml v3 does). Uses libyaml (ruamel.yaml.clib) when installed:
    plain scalars then have style ``""`` instead of ``None``.

    The alias and depth bounds of ``yamlguard`` are applied (``YamlError``, ``refused``); a text that may
    nest deeper than libyaml's C stack allows is composed by the pure-Python parser instead.
    ``remember``: keep the nodes for a following ``compose_first`` of the same text (the keyless
    check reads a file's nodes, then asks whether it is encrypted); they must not be modified."""
    from generator import yamlguard

    global _REMEMBERED
    composer = _composer() if _c_safe(text) else _yaml(typ="safe", pure=True)
    with _one_error():
        roots = list(composer.compose_all(io.StringIO(text)))
        if "*" in text or yamlguard.depth_bound(text) > yamlguard.MAX_DEPTH:
            yamlguard.check_nodes(roots)  # otherwise there is no alias, and no nesting deeper than the bound
    _REMEMBERED = (text, roots) if remember else None
    return roots


def remembered(text: str) -> bool:
    """``compose_first(text)`` has the nodes already (``compose_all(text, remember=True)`` just composed them)."""
    return _REMEMBERED is not None and _REMEMBERED[0] == text


def compose_first(text: str) -> Any:
    """The node of the first document only (None for an empty stream); later documents are not
    parsed, as go-yaml's ``Unmarshal`` reads one document."""
    from generator import yamlguard

    global _REMEMBERED
    if _REMEMBERED is not None and _REMEMBERED[0] == text:
        roots = _REMEMBERED[1]  # the whole stream composed and checked: its first document
        _REMEMBERED = None
        return roots[0] if roots else None
    composer = _composer() if _c_safe(text) else _yaml(typ="safe", pure=True)
    with _one_error():
        root = next(iter(composer.compose_all(io.StringIO(text))), None)
        if root is not None and ("*" in text or yamlguard.depth_bound(text) > yamlguard.MAX_DEPTH):
            yamlguard.check_nodes([root])  # otherwise there is no alias, and no nesting deeper than the bound
    return root


def _composer() -> YAML:
    """The one reusable libyaml composer of the process (composing keeps no state between calls)."""
    global _COMPOSER
    if _COMPOSER is None:
        _COMPOSER = _yaml(typ="safe", pure=False)
    return _COMPOSER


_COMPOSER: YAML | None = None
_REMEMBERED: tuple[str, list[Any]] | None = None


def parse_events(text: str) -> Iterator[Any]:
    """The parser's events for ``text`` (``StreamStartEvent`` ... ``StreamEndEvent``), produced as they are
    read, with the marks ``compose_all`` gives its nodes (the same parser, libyaml when installed): a reader that
    needs only the start of a document stops early. No alias or depth bound applies: nothing is composed."""
    parser = _yaml(typ="safe", pure=not _c_safe(text))
    with _one_error():
        yield from parser.parse(io.StringIO(text))


def construct_scalar(node: Any) -> Any:
    """The plain value of a composed scalar node (``compose_all``), as ``load_plain`` builds it."""
    constructor = _composer().constructor
    value = constructor.construct_object(node, deep=True)
    constructor.constructed_objects.pop(node, None)
    return value


def _c_safe(text: str) -> bool:
    """libyaml's composer recurses: a text it may not survive goes to the pure-Python composer."""
    from generator import yamlguard

    if yamlguard.depth_bound(text) <= _C_SAFE_DEPTH:
        return True
    depth, _ = event_depth(text, stop_above=_C_SAFE_DEPTH)
    return depth is not None and depth <= _C_SAFE_DEPTH


_C_SAFE_DEPTH = 5000  # libyaml's composer recursed 10,000 levels fine and crashed (SIGSEGV) at 100,000

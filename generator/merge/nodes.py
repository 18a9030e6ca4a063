"""Three-way merge of ruamel round-trip trees (base = last generated, ours = the user's file,
theirs = the new render). The result is ``ours`` edited in place, so its comments, key order and
extra keys survive; a key path changed on both sides in different ways is a conflict (ours kept)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from generator.merge import comments as yamltail
from generator.merge.layout import layout_of
from generator.yamlio import YamlError, dump_rt, load_rt

MISSING: Any = object()  # a key or item absent on one side
Path = tuple[str, ...]


@dataclass(frozen=True)
class Conflict:
    """Both sides changed ``path`` differently (or one changed what the other removed)."""

    path: str
    ours: str
    theirs: str

    def line(self, file: str, side: str = "the upgrade") -> str:
        """``file: key.path: conflict: ...``; ``side`` names the new render ("the upgrade", "the render")."""
        return (
            f"{file}: {self.path or '(document)'}: conflict: your file has {self.ours}, "
            f"{side} wants {self.theirs}; edit the file by hand or rerun with --force"
        )


def normal(node: Any) -> Any:
    """A plain, order-insensitive (for mappings) value used to compare nodes."""
    if isinstance(node, dict):
        return {str(k): normal(v) for k, v in node.items()}
    if isinstance(node, list):
        return [normal(v) for v in node]
    if node is None or isinstance(node, bool):
        return node
    if isinstance(node, int | float):
        return (type(node).__mro__[-2].__name__, node)
    return ("str", str(node))


def same(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return a is b
    return bool(normal(a) == normal(b))


def describe(node: Any) -> str:
    if node is MISSING:
        return "it removed"
    if isinstance(node, dict):
        return "a different mapping"
    if isinstance(node, list):
        return "a different list"
    text = str(node)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def render_path(path: Path) -> str:
    out = ""
    for seg in path:
        out += seg if seg.startswith("[") or out.endswith(":") or not out else f".{seg}"
    return out


def _key_seg(key: Any) -> str:
    text = str(key)
    return f'["{text}"]' if any(c in text for c in "./ ") else text


def item_identity(item: Any) -> tuple[str, ...] | None:
    """How a list element is recognised across versions (never by its index)."""
    if not isinstance(item, dict):
        return None if isinstance(item, list) else ("=", str(item))
    target = item.get("target")
    if isinstance(target, dict):
        return ("target", *sorted(f"{k}={v}" for k, v in target.items()))
    if "op" in item and "path" in item:
        value = item.get("value")
        return ("op", str(item["op"]), str(item["path"]), "" if isinstance(value, dict | list) else str(value))
    name = item.get("name")
    if isinstance(name, str):
        return ("name", str(item.get("kind", "")), str(item.get("namespace", "")), name)
    if isinstance(item.get("path"), str):
        return ("path", str(item["path"]))
    return None


def identity_seg(ident: tuple[str, ...]) -> str:
    kind, *rest = ident
    if kind == "target":
        fields = dict(part.split("=", 1) for part in rest)
        return "[" + "/".join(v for k in ("kind", "name") if (v := fields.get(k))) + "]" if fields else "[]"
    if kind == "name":
        return "[" + "/".join(p for p in rest if p) + "]"
    if kind == "op":
        return f"[{rest[0]} {rest[1]}]"
    return f"[{rest[-1]}]"


def _leaves(node: Any, prefix: str = "") -> set[str]:
    if isinstance(node, dict | list) and node:
        items = node.items() if isinstance(node, dict) else (("-", v) for v in node)
        return set().union(*(_leaves(v, f"{prefix}/{k}") for k, v in items))
    if isinstance(node, str) and "\n" in node:
        inner = _text_leaves(str(node))
        return {prefix + "=" + node} if inner is None else {f"{prefix}|{leaf}" for leaf in inner}
    return {prefix}


@lru_cache(maxsize=4096)
def _text_leaves(text: str) -> frozenset[str] | None:
    """The leaves of an embedded YAML text (a ``patch: |``), parsed once per text; None: not YAML."""
    try:
        return frozenset(_leaves(load_rt(text)))
    except YamlError:  # not YAML: compare as text
        return None


def similarity(a: Any, b: Any) -> float:
    """Share of common leaf key paths (Jaccard); 2.0 for equal nodes."""
    if same(a, b):
        return 2.0
    la, lb = _leaves(a), _leaves(b)
    return len(la & lb) / len(la | lb) if la | lb else 0.0


def pair(left: Sequence[Any], right: Sequence[Any]) -> dict[int, int]:
    """Match elements sharing one identity: equal ones first, then the most similar (>= 0.5)."""
    scores = sorted(
        ((similarity(a, b), i, j) for i, a in enumerate(left) for j, b in enumerate(right)),
        key=lambda s: (-s[0], s[1], s[2]),
    )
    out: dict[int, int] = {}
    used: set[int] = set()
    for score, i, j in scores:
        if score >= 0.5 and i not in out and j not in used:
            out[i] = j
            used.add(j)
    return out


@dataclass
class TreeMerger:
    """Merge three trees; ``conflicts`` collects every disagreement with its key path."""

    conflicts: list[Conflict] = field(default_factory=list)
    embedded_keys: frozenset[str] = frozenset({"patch"})
    force: bool = False  # on a conflict take the new render's side (still reported)

    def conflict(self, path: Path, ours: Any, theirs: Any) -> Any:
        """Record a conflict and return the side that wins it."""
        self.conflicts.append(Conflict(render_path(path), describe(ours), describe(theirs)))
        return theirs if self.force else ours

    def removed(self, path: Path, base: Any, ours: Any) -> Any:
        """The upgrade removed what the user changed: one conflict per key path the user changed."""
        for sub, value in _changes(base, ours, path):
            self.conflicts.append(Conflict(render_path(sub), describe(value), describe(MISSING)))
        return MISSING if self.force else ours

    def node(self, base: Any, ours: Any, theirs: Any, path: Path) -> Any:
        if isinstance(ours, CommentedMap) and isinstance(theirs, dict) and _fits(base, dict):
            return self.mapping({} if base is MISSING else base, ours, theirs, path)
        if isinstance(ours, CommentedSeq) and isinstance(theirs, list) and _fits(base, list):
            return self.sequence([] if base is MISSING else base, ours, theirs, path)
        return self.leaf(base, ours, theirs, path)

    def leaf(self, base: Any, ours: Any, theirs: Any, path: Path) -> Any:
        """A value merged whole (a scalar, or nodes of different shapes); a YAML text under an
        ``embedded_keys`` key is merged as a tree first."""
        if same(ours, theirs):
            return ours
        if base is not MISSING and same(base, ours):
            return theirs
        if base is not MISSING and same(base, theirs):
            return ours
        merged = self.embedded(base, ours, theirs, path)
        return merged if merged is not None else self.conflict(path, ours, theirs)

    def mapping(self, base: dict[Any, Any], ours: CommentedMap, theirs: dict[Any, Any], path: Path) -> Any:
        self._merge_our_keys(base, ours, theirs, path)
        order = list(theirs)
        for pos, key in enumerate(order):
            if key in ours or (key in base and self._stays_deleted(base[key], theirs[key], (*path, _key_seg(key)))):
                continue
            before = [k for k in order[:pos] if k in ours]
            at = len(ours)
            if any(k in ours for k in order[pos + 1 :]):  # not trailing: after its predecessor
                at = list(ours).index(before[-1]) + 1 if before else 0
            yamltail.insert(ours, at, key, theirs[key])
        return ours

    def _merge_our_keys(self, base: dict[Any, Any], ours: CommentedMap, theirs: dict[Any, Any], path: Path) -> None:
        """Keys the user has: merged where the render has them too, else dropped when the user left
        them as they were (or ``force`` after a conflict)."""
        for key in list(ours):
            sub = (*path, _key_seg(key))
            if key in theirs:
                merged = self.node(base.get(key, MISSING), ours[key], theirs[key], sub)
                if merged is not ours[key]:
                    ours[key] = merged
            elif key in base and self._drops(sub, base[key], ours[key]):
                yamltail.delete(ours, key)

    def _drops(self, path: Path, base: Any, ours: Any) -> bool:
        """The render removed a node: drop the user's copy when unchanged (or a conflict under ``force``)."""
        return same(base, ours) or self.removed(path, base, ours) is MISSING

    def _stays_deleted(self, base: Any, theirs: Any, path: Path) -> bool:
        """The user deleted a node the render still has: it stays deleted unless the render changed it
        (a conflict; ``force`` brings it back)."""
        return same(base, theirs) or self.conflict(path, MISSING, theirs) is MISSING

    def sequence(self, base: list[Any], ours: CommentedSeq, theirs: list[Any], path: Path) -> Any:
        ids = [[item_identity(x) for x in side] for side in (base, ours, theirs)]
        if _unidentified(ids):
            return self.atomic(base, ours, theirs, path)
        b2o = _match(ids[0], ids[1], base, ours)
        b2t = _match(ids[0], ids[2], base, theirs)
        o2b = {o: b for b, o in b2o.items()}
        t2b = {t: b for b, t in b2t.items()}
        placed = _twins(ours, theirs, o2b, t2b)  # theirs index -> the element of ours that stands for it
        for o in reversed(range(len(ours))):
            if o in o2b:
                self._merge_element(
                    base[o2b[o]], ours, o, (theirs, b2t.get(o2b[o]), placed), (*path, identity_seg(ids[1][o] or ()))
                )
        self._add_new(base, ours, theirs, ids[2], t2b, placed, path)
        return ours

    def _merge_element(
        self, base: Any, ours: CommentedSeq, o: int, theirs_at: tuple[list[Any], int | None, dict[int, Any]], path: Path
    ) -> None:
        """Element ``o`` of ours that base has too: merged with the render's (recorded in ``placed``),
        or dropped when the render no longer has it and the user left it as it was."""
        theirs, t, placed = theirs_at
        if t is not None:
            merged = self.node(base, ours[o], theirs[t], path)
            if merged is not ours[o]:
                ours[o] = merged
            placed[t] = merged
        elif self._drops(path, base, ours[o]):
            yamltail.delete(ours, o)

    def _add_new(
        self,
        base: list[Any],
        ours: CommentedSeq,
        theirs: list[Any],
        tids: list[Any],
        t2b: dict[int, int],
        placed: dict[int, Any],
        path: Path,
    ) -> None:
        """Theirs-only elements: new ones are inserted after their predecessor (appended when they
        come last); ones the user removed stay removed unless the upgrade changed them."""
        for t, item in enumerate(theirs):
            if t in placed:
                continue
            if t in t2b and self._stays_deleted(base[t2b[t]], item, (*path, identity_seg(tids[t]))):
                continue
            yamltail.insert(ours, _insert_at(ours, placed, t, len(theirs)), None, item)
            placed[t] = item

    def atomic(self, base: Any, ours: Any, theirs: Any, path: Path) -> Any:
        if same(ours, theirs) or same(base, theirs):
            return ours
        if same(base, ours):
            return theirs
        return self.conflict(path, ours, theirs)

    def embedded(self, base: Any, ours: Any, theirs: Any, path: Path) -> Any:
        """Both sides changed a YAML text held in a string under an ``embedded_keys`` key (a kustomize
        ``patch:``): merge parsed; None when it is not such a text."""
        if not (path and path[-1] in self.embedded_keys and isinstance(ours, str) and isinstance(theirs, str)):
            return None
        trees = _embedded_trees(base, ours, theirs)
        if trees is None:
            return None
        sub = TreeMerger(embedded_keys=self.embedded_keys, force=self.force)
        merged = sub.node(trees[0], trees[1], trees[2], (*path[:-1], f"{path[-1]}:"))
        self.conflicts.extend(sub.conflicts)
        text = dump_rt(merged, indent=layout_of(ours))
        return LiteralScalarString(text if ours.endswith("\n") else text.rstrip("\n"))


def _embedded_trees(base: Any, ours: str, theirs: str) -> list[Any] | None:
    """The three texts parsed, when ours and theirs are YAML collections (else None: a text conflict)."""
    try:
        trees = [load_rt(text) if isinstance(text, str) else MISSING for text in (base, ours, theirs)]
    except YamlError:  # not YAML: a plain text conflict
        return None
    return trees if all(isinstance(t, CommentedMap | CommentedSeq) for t in trees[1:]) else None


def _unidentified(ids: list[list[Any]]) -> bool:
    """Some element has no identity: the list is merged as a whole."""
    return any(i is None for side in ids for i in side)


def _insert_at(ours: list[Any], placed: dict[int, Any], t: int, count: int) -> int:
    """Where the render's new element ``t`` goes in ours: after the element standing for its predecessor,
    or at the end when nothing after it is placed yet."""
    if not any(later in placed for later in range(t + 1, count)):
        return len(ours)
    prev = [placed[p] for p in range(t) if p in placed]
    return next((i + 1 for i, x in enumerate(ours) if prev and x is prev[-1]), 0)


def _fits(base: Any, shape: type) -> bool:
    return base is MISSING or isinstance(base, shape)


def _twins(ours: list[Any], theirs: list[Any], o2b: dict[int, int], t2b: dict[int, int]) -> dict[int, Any]:
    """Elements both sides added (equal, not in base): theirs index -> the one of ours kept for both."""
    placed: dict[int, Any] = {}
    for t in range(len(theirs)):
        if t in t2b:
            continue
        twin = next(
            (
                o
                for o in range(len(ours))
                if o not in o2b and same(ours[o], theirs[t]) and not any(v is ours[o] for v in placed.values())
            ),
            None,
        )
        if twin is not None:
            placed[t] = ours[twin]
    return placed


def _changes(base: Any, ours: Any, path: Path) -> list[tuple[Path, Any]]:
    """Where ``ours`` differs from ``base``: the deepest mapping keys, else ``path`` itself."""
    if not (isinstance(base, dict) and isinstance(ours, dict)):
        return [(path, ours)]
    found: list[tuple[Path, Any]] = []
    for key in {**base, **ours}:
        sub = (*path, _key_seg(key))
        if key not in ours:
            found.append((sub, MISSING))
        elif not same(base.get(key, MISSING), ours[key]):
            found.extend(_changes(base.get(key, MISSING), ours[key], sub))
    return found or [(path, ours)]


def _match(left_ids: list[Any], right_ids: list[Any], left: list[Any], right: list[Any]) -> dict[int, int]:
    """Pair list elements by identity; duplicates of one identity are paired by similarity."""
    out: dict[int, int] = {}
    for ident in dict.fromkeys(left_ids):
        li = _positions(left_ids, ident)
        ri = _positions(right_ids, ident)
        if len(li) == 1 and len(ri) == 1:
            out[li[0]] = ri[0]
        else:
            out.update((li[i], ri[j]) for i, j in pair([left[i] for i in li], [right[j] for j in ri]).items())
    return out


def _positions(ids: list[Any], ident: Any) -> list[int]:
    return [i for i, x in enumerate(ids) if x == ident]

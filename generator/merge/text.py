"""Three-way merge of YAML files: base = the content fluxforge generated last time, ours = the file
as the user has it now, theirs = the new render. Pure functions on text.

A file is split into its YAML documents (``---``); documents are matched by kind/namespace/name,
then merged as ruamel round-trip trees (see :mod:`generator.merge.nodes`), so the user's comments, key order,
extra keys and extra list elements (for example an extra patch) survive. A document nobody changed
keeps its exact bytes. Conflicts name the key path; the caller adds the file name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from generator.merge.layout import layout_of
from generator.merge.nodes import MISSING, Conflict, TreeMerger, same
from generator.yamlio import YamlError, dump_rt, load_rt

__all__ = ["Conflict", "Merged", "merge_text", "split_documents"]

_SEPARATOR = re.compile(r"^---(?:[ \t].*)?$")


@dataclass(frozen=True)
class Merged:
    """The merge result: ``text`` is None when the file should not exist."""

    text: str | None
    conflicts: tuple[Conflict, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.conflicts


@dataclass(frozen=True)
class _Doc:
    header: str  # the ``---`` line that opens the document (with its newline), or ""
    body: str

    @property
    def text(self) -> str:
        return self.header + self.body


def split_documents(text: str) -> list[tuple[str, str]]:
    """Split a YAML stream into (separator line, body) pairs; joining them gives ``text`` back."""
    docs: list[tuple[str, str]] = []
    header, body = "", ""
    for line in text.splitlines(keepends=True):
        if _SEPARATOR.match(line.rstrip("\r\n")):
            if header or body:
                docs.append((header, body))
            header, body = line, ""
        else:
            body += line
    if header or body or not docs:
        docs.append((header, body))
    return docs


def merge_text(base: str | None, ours: str | None, theirs: str | None, *, force: bool = False) -> Merged:
    """Merge one file. ``None`` means: no record (base), file absent (ours), not generated (theirs).

    Conflicts keep the user's side, or with ``force`` the new render's side; both are reported.
    """
    if ours == theirs or (base is not None and base == theirs):
        return Merged(ours)
    if base == ours:  # also: no record and no file
        return Merged(theirs)
    if ours is None:
        return Merged(theirs if force else None, (Conflict("", "the file deleted", "it regenerated with changes"),))
    if theirs is None:
        return Merged(None if force else ours, (Conflict("", "edits", "the file no longer generated"),))
    return _merge_streams(base or "", ours, theirs, force)


def _merge_streams(base: str, ours: str, theirs: str, force: bool) -> Merged:
    sides = [[_Doc(h, b) for h, b in split_documents(text)] for text in (base, ours, theirs)]
    try:
        trees = [[_load(d.body) for d in side] for side in sides]
    except ValueError as err:
        return Merged(
            theirs if force else ours, (Conflict("", f"YAML the merge cannot read ({err})", "a new version"),)
        )
    stream = _Streams(sides, [_doc_keys(side) for side in trees], force)
    stream.merge_users_documents()
    stream.add_new_documents()
    return Merged("".join(text for _, text in stream.out), tuple(stream.conflicts))


class _Streams:
    """The documents of base, ours and theirs, matched by key; ``out`` is the merged stream in the
    user's order (new documents of the render inserted where the render has them)."""

    def __init__(self, sides: list[list[_Doc]], keys: list[list[Any]], force: bool) -> None:
        self.base, self.ours, self.theirs = sides
        self.base_keys, self.our_keys, self.their_keys = keys
        self.force = force
        self.in_base = {k: i for i, k in enumerate(self.base_keys)}
        self.conflicts: list[Conflict] = []
        self.out: list[tuple[Any, str]] = []

    def merge_users_documents(self) -> None:
        """Every document the user has, in the user's order: merged with the render's version, kept
        (the user's own), or dropped/kept when the render no longer has it."""
        in_theirs = {k: i for i, k in enumerate(self.their_keys)}
        for o, key in enumerate(self.our_keys):
            b, t = self.in_base.get(key), in_theirs.get(key)
            base_doc = self.base[b] if b is not None else None
            if t is None:
                self._no_longer_rendered(key, base_doc, self.ours[o])
                continue
            text, found = _merge_doc(self.force, base_doc, self.ours[o], self.theirs[t])
            self.out.append((key, text))
            self.conflicts.extend(found)

    def _no_longer_rendered(self, key: Any, base_doc: _Doc | None, ours: _Doc) -> None:
        if base_doc is None:
            self.out.append((key, ours.text))  # the user's own document
        elif base_doc.body != ours.body:
            if not self.force:
                self.out.append((key, ours.text))
            self.conflicts.append(Conflict(_doc_path(key), "this document changed", "it removed"))

    def add_new_documents(self) -> None:
        """The render's documents the user does not have: new ones are added; ones the user deleted
        stay deleted unless the render changed them (a conflict; ``force`` takes the render's)."""
        taken = set(self.our_keys)
        for t, key in enumerate(self.their_keys):
            if key in taken:
                continue
            changed = key in self.in_base and self.base[self.in_base[key]].body != self.theirs[t].body
            if changed:
                self.conflicts.append(Conflict(_doc_path(key), "this document removed", "a changed version"))
            if key not in self.in_base or (self.force and changed):
                at = _position(self.their_keys, t, self.out)
                doc = self.theirs[t]
                self.out.insert(at, (key, doc.text if doc.header or at == 0 else "---\n" + doc.body))


def _position(theirs: list[Any], t: int, out: list[tuple[Any, str]]) -> int:
    """A new document from the render goes after the one that precedes it there."""
    placed = [key for key, _ in out]
    if not any(key in placed for key in theirs[t + 1 :]):
        return len(out)
    for prev in reversed(theirs[:t]):
        if prev in placed:
            return placed.index(prev) + 1
    return 0


def _merge_doc(force: bool, base: _Doc | None, ours: _Doc, theirs: _Doc) -> tuple[str, list[Conflict]]:
    """One document: its leading comment block as text (the user's, if they edited it, else the
    render's), the rest as a tree merge."""
    whole = _one_side_changed(base, ours, theirs)
    if whole is not None:
        return whole, []
    b_head, b_rest = _split_head(base.body) if base is not None else (None, None)
    o_head, o_rest = _split_head(ours.body)
    t_head, t_rest = _split_head(theirs.body)
    head = ours.header + (t_head if o_head == b_head else o_head)
    if o_rest == t_rest or b_rest == t_rest:
        return head + o_rest, []
    if b_rest == o_rest:
        return head + t_rest, []
    return _merge_bodies(force, (b_rest, o_rest, t_rest), head, (ours, theirs))


def _one_side_changed(base: _Doc | None, ours: _Doc, theirs: _Doc) -> str | None:
    """The document when only one side changed it (ours keeps its ``---`` line), else None."""
    if ours.body == theirs.body or (base is not None and base.body == theirs.body):
        return ours.text
    if base is not None and base.body == ours.body:
        return ours.header + theirs.body
    return None


def _merge_bodies(
    force: bool, rests: tuple[str | None, str, str], head: str, docs: tuple[_Doc, _Doc]
) -> tuple[str, list[Conflict]]:
    """The tree merge of a document's body (below its leading comments) changed on both sides."""
    b_rest, o_rest, t_rest = rests
    ours, theirs = docs
    b = _load(b_rest) if b_rest is not None else MISSING
    o, t = _load(o_rest), _load(t_rest)
    if not isinstance(o, dict | list) or not isinstance(t, dict | list):
        found = [Conflict("", "this document changed", "another version of it")]
        return (ours.header + theirs.body if force else ours.text), found
    merger = TreeMerger(force=force)
    merged = merger.node(b if b is not None else MISSING, o, t, ())
    if same(merged, _load(o_rest)):
        return head + o_rest, merger.conflicts
    return head + dump_rt(merged, indent=layout_of(o_rest)), merger.conflicts


def _split_head(body: str) -> tuple[str, str]:
    """The leading comment/blank lines of a document, and the rest."""
    lines = body.splitlines(keepends=True)
    n = 0
    while n < len(lines) and (not lines[n].strip() or lines[n].lstrip().startswith("#")):
        n += 1
    return "".join(lines[:n]), "".join(lines[n:])


def _doc_path(key: Any) -> str:
    return f"(document {key[1] + 1})" if key[0] == "#" else f"({key[0]} {'/'.join(k for k in key[1:] if k)})"


def _load(body: str) -> Any:
    try:
        return load_rt(body)
    except YamlError as err:
        where = f"line {err.line}" if err.line is not None else "somewhere"
        raise ValueError(f"{type(err.cause).__name__} at {where}") from None


def _doc_keys(trees: list[Any]) -> list[Any]:
    """kind/namespace/name when every document has a unique one, else the document's position."""
    keys: list[Any] = []
    for i, tree in enumerate(trees):
        meta = tree.get("metadata") if isinstance(tree, dict) else None
        if isinstance(meta, dict) and "name" in meta and "kind" in tree:
            keys.append((str(tree["kind"]), str(meta.get("namespace", "")), str(meta["name"])))
        else:
            keys.append(("#", i))
    return keys if len(set(keys)) == len(keys) else [("#", i) for i in range(len(trees))]

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
from generator.yamlio import dump_rt, load_rt

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
    if ours == theirs:
        return Merged(ours)
    if base is not None and base == ours:
        return Merged(theirs)
    if base is not None and base == theirs:
        return Merged(ours)
    if ours is None and base is None:
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
        return Merged(theirs if force else ours, (Conflict("", f"YAML the merge cannot read ({err})", "a new version"),))
    keys = [_doc_keys(side) for side in trees]
    conflicts: list[Conflict] = []
    out: list[tuple[Any, str]] = []
    bi = {k: i for i, k in enumerate(keys[0])}
    ti = {k: i for i, k in enumerate(keys[2])}
    for o, key in enumerate(keys[1]):
        b, t = bi.get(key), ti.get(key)
        base_doc = sides[0][b] if b is not None else None
        if t is None:
            if base_doc is None:
                out.append((key, sides[1][o].text))  # the user's own document
            elif base_doc.body != sides[1][o].body:
                if not force:
                    out.append((key, sides[1][o].text))
                conflicts.append(Conflict(_doc_path(key), "this document changed", "it removed"))
            continue
        text, found = _merge_doc(force, base_doc, sides[1][o], sides[2][t])
        out.append((key, text))
        conflicts.extend(found)
    taken = set(keys[1])
    for t, key in enumerate(keys[2]):
        if key in taken:
            continue
        changed = key in bi and sides[0][bi[key]].body != sides[2][t].body
        if changed:
            conflicts.append(Conflict(_doc_path(key), "this document removed", "a changed version"))
        if key not in bi or (force and changed):
            at = _position(keys[2], t, out)
            doc = sides[2][t]
            out.insert(at, (key, doc.text if doc.header or at == 0 else "---\n" + doc.body))
    return Merged("".join(text for _, text in out), tuple(conflicts))


def _position(theirs: list[Any], t: int, out: list[tuple[Any, str]]) -> int:
    """A new document from the render goes after the one that precedes it there."""
    placed = [key for key, _ in out]
    if not any(key in placed for key in theirs[t + 1:]):
        return len(out)
    for prev in reversed(theirs[:t]):
        if prev in placed:
            return placed.index(prev) + 1
    return 0


def _merge_doc(force: bool, base: _Doc | None, ours: _Doc, theirs: _Doc) -> tuple[str, list[Conflict]]:
    """One document: its leading comment block as text (the user's, if they edited it, else the
    render's), the rest as a tree merge."""
    if ours.body == theirs.body or (base is not None and base.body == theirs.body):
        return ours.text, []
    if base is not None and base.body == ours.body:
        return ours.header + theirs.body, []
    (b_head, b_rest), (o_head, o_rest), (t_head, t_rest) = (
        _split_head(doc.body) if doc is not None else (None, None) for doc in (base, ours, theirs)
    )
    head = t_head if o_head == b_head else o_head
    if o_rest == t_rest or b_rest == t_rest:
        return ours.header + (head or "") + (o_rest or ""), []
    if b_rest == o_rest:
        return ours.header + (head or "") + (t_rest or ""), []
    b, o, t = (_load(text) if text is not None else MISSING for text in (b_rest, o_rest, t_rest))
    if not isinstance(o, dict | list) or not isinstance(t, dict | list):
        found = [Conflict("", "this document changed", "another version of it")]
        return (ours.header + theirs.body if force else ours.text), found
    merger = TreeMerger(force=force)
    merged = merger.node(b if b is not None else MISSING, o, t, ())
    if same(merged, _load(o_rest or "")):
        return ours.header + (head or "") + (o_rest or ""), merger.conflicts
    return ours.header + (head or "") + dump_rt(merged, indent=layout_of(o_rest or "")), merger.conflicts


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
    except Exception as err:  # noqa: BLE001 - ruamel raises many types; report one line
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "somewhere"
        raise ValueError(f"{type(err).__name__} at {where}") from None


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

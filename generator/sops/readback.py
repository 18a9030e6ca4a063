"""The written file must read back as the tree that was encrypted: every value, every comment at
the same place. go-yaml (so sops) attaches a comment by its position; for a few layouts (a comment
dedented below the block it follows, a comment after the last item of a nested list) the place it
is written to is read back under another key, where its AAD no longer fits: sops then prints it as
``#ENC[…]`` for ever. Such a file is refused, naming the key path, instead of being written.
"""

from __future__ import annotations

from generator.errors import SopsError
from generator.sops.values import Branch, Comment, SeqComment, to_bytes


def check_readback(written: list[Branch], read: list[Branch], name: str) -> None:
    """Raise ``SopsError`` at the first place where ``read`` differs from ``written``."""
    if len(written) != len(read):
        raise SopsError(f"{name}: the written file reads back as {len(read)} documents, not {len(written)}; "
                        "nothing written (please report this file's layout)")
    for index, (a, b) in enumerate(zip(written, read, strict=True)):
        where = _difference(a, b, [])
        if where is not None:
            path, what = where
            doc = f" (document {index + 1})" if len(written) > 1 else ""
            raise SopsError(f"{name}: {_dotted(path)}{doc}: {what}")


_COMMENT_MOVES = ("a comment here would be read back by sops at another place, where it no longer decrypts "
                  "(sops would show it as #ENC[…]); put the comment right above the key or list item it "
                  "describes, at that item's indentation")


def _difference(a: object, b: object, path: list[str]) -> tuple[list[str], str] | None:
    if isinstance(a, Branch) and isinstance(b, Branch):
        return _branch_difference(a, b, path)
    if isinstance(a, list) and isinstance(b, list) and not isinstance(a, Branch) and not isinstance(b, Branch):
        return _list_difference(a, b, path)
    if _leaf(a) == _leaf(b):
        return None
    if isinstance(a, Comment) or isinstance(b, Comment):
        return path, _COMMENT_MOVES
    return path, "this value would not read back as written (a fluxforge bug; please report it); nothing written"


def _branch_difference(a: Branch, b: Branch, path: list[str]) -> tuple[list[str], str] | None:
    for (ka, va), (kb, vb) in zip(a, b, strict=False):
        if isinstance(ka, Comment) or isinstance(kb, Comment):
            if _leaf(ka) != _leaf(kb):
                return path, _COMMENT_MOVES
            continue
        if ka != kb:
            return path, f"the keys would read back in another order or place (at {ka!s}); nothing written"
        found = _difference(va, vb, [*path, str(ka)])
        if found is not None:
            return found
    if len(a) != len(b):
        return path, _COMMENT_MOVES
    return None


def _list_difference(a: list[object], b: list[object], path: list[str]) -> tuple[list[str], str] | None:
    for va, vb in zip(a, b, strict=False):
        found = _difference(va, vb, path)
        if found is not None:
            return found
    if len(a) != len(b):
        return path, _COMMENT_MOVES
    return None


def _leaf(value: object) -> object:
    """What must survive: a comment's text (an encrypted list comment is a list item in the file),
    a value's canonical bytes (what the MAC covers), null."""
    if isinstance(value, SeqComment):
        return ("value", value.value.encode())
    if isinstance(value, Comment):
        return ("comment", value.value)
    if value is None:
        return None
    try:
        return ("value", to_bytes(value))
    except TypeError:
        return ("other", repr(value))


def _dotted(path: list[str]) -> str:
    return ".".join(path) if path else "(top level)"

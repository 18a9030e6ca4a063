"""The written file must read back as the data that was encrypted, with every comment still under
the key path it was encrypted under.

sops attaches a comment by its position and encrypts it with the path of its container as AAD.
go-yaml writes a few layouts so that a comment reads back under another key (a comment dedented
below the block it follows; a comment after the last item of a nested list): its AAD no longer
fits and sops shows it as ``#ENC[…]`` for ever. go-yaml's writer also drops a comment in a few
places (a list's leading comment when the first item brings its own). Such a file is refused,
naming the key path, instead of being written. A comment that only moves within the same key path
(for example from the head of a list item into the list) is fine: it still decrypts.
"""

from __future__ import annotations

from collections import Counter

from generator.errors import SopsError
from generator.sops.values import Branch, Comment, to_bytes

Path = tuple[str, ...]


def check_readback(written: list[Branch], read: list[Branch], name: str, *, comments: bool = True) -> None:
    """Raise ``SopsError`` when ``read`` lost or changed data, or (``comments``) lost or moved a comment.
    Comments are compared for the stores that write them as they are (YAML, dotenv): JSON and the
    binary envelope hold none (a YAML file written as JSON loses them, as asked), and ini.v1 respells
    a comment when writing it (``#b`` becomes ``# b``) and keeps one per key."""
    if len(written) != len(read):
        raise SopsError(
            f"{name}: the written file reads back as {len(read)} documents, not {len(written)}; "
            "nothing written (please report this file's layout)"
        )
    for index, (a, b) in enumerate(zip(written, read, strict=True)):
        doc = f" (document {index + 1})" if len(written) > 1 else ""
        if _data(a) != _data(b):
            raise SopsError(
                f"{name}{doc}: the file would not read back with the same values (a fluxforge bug; "
                "please report it); nothing written"
            )
        if not comments:
            continue
        have, got = _comments(a, ()), _comments(b, ())
        missing = Counter(have) - Counter(got)
        if missing:
            path = min(missing)[0]
            raise SopsError(
                f"{name}: {_dotted(path)}{doc}: a comment here would not be read back by sops under "
                "this key (it would be lost, or stay encrypted: sops shows #ENC[…]); put it right "
                "above the key or list item it describes, at that item's indentation"
            )


def _data(value: object) -> object:
    if isinstance(value, Branch):
        return [(k, _data(v)) for k, v in value if not isinstance(k, Comment)]
    if isinstance(value, list):
        return [_data(v) for v in value if _is_value(v)]
    if value is None:
        return None
    try:
        return to_bytes(value)
    except TypeError:
        return repr(value)


def _is_value(item: object) -> bool:
    """An encrypted list comment is a list item in the file (``- ENC[…,type:comment]``): a string
    there when read back without the key; both are comments for the comparison."""
    return not isinstance(item, Comment) and not (isinstance(item, str) and item.endswith(",type:comment]"))


def _comments(value: object, path: Path) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    if isinstance(value, Branch):
        for key, item in value:
            if isinstance(key, Comment):
                out.append((path, key.value))
            else:
                out.extend(_comments(item, (*path, str(key))))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, Comment):
                out.append((path, item.value))
            elif isinstance(item, str) and item.startswith("ENC[") and item.endswith(",type:comment]"):
                out.append((path, item))
            else:
                out.extend(_comments(item, path))
    return out


def _dotted(path: Path) -> str:
    return ".".join(path) if path else "(top level)"

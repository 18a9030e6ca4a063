"""YAML 1.2 plain scalars as ruamel's resolver tags them, without loading a YAML parser: whether a plain
(unquoted, untagged) scalar is a string. Shared by ``yamlio.load_plain``'s events path and the keyless
check's line readers (``generator.check.parse``), which load it on every run."""

from __future__ import annotations

from functools import cache
from typing import Any

_SCALAR_STRINGS: dict[str, bool] = {}  # plain scalars seen: names and short values recur


def plain_is_string(text: str) -> bool:
    """A plain (unquoted, untagged) scalar ``text`` resolves to a string, as ruamel's YAML 1.2 resolver
    resolves it when libyaml composes (its implicit resolvers, looked up by the first character)."""
    known = _SCALAR_STRINGS.get(text)
    if known is not None:
        return known
    by_first, anywhere = _implicit_resolvers()
    answer = not any(regexp.match(text) for regexp in by_first.get(text[:1], anywhere))
    if len(text) <= 64 and len(_SCALAR_STRINGS) < 4096:
        _SCALAR_STRINGS[text] = answer
    return answer


@cache
def _implicit_resolvers() -> tuple[dict[str, tuple[Any, ...]], tuple[Any, ...]]:
    """ruamel's YAML 1.2 implicit resolvers: by first character (those for any character appended), and
    those for any character."""
    from ruamel.yaml.resolver import VersionedResolver

    table = VersionedResolver(version=(1, 2)).versioned_resolver
    anywhere = tuple(regexp for _, regexp in table.get(None, ()))
    by_first = {first: (*(r for _, r in found), *anywhere) for first, found in table.items() if first is not None}
    return by_first, anywhere

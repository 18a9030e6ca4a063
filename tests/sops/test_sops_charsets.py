"""The character classes the YAML readers and writer compile at import are written as the characters they
hold (a negated class over most of Unicode takes ``re`` ten times longer to compile, on every start-up of
``fluxforge decrypt`` and the hook). Each must match exactly what the negated class it replaces matched:
checked here over every code point, 0 to 0x10FFFF, with the original pattern as the reference."""

from __future__ import annotations

import re
import sys

import pytest

from generator.sops import detect
from generator.sops.stores import yaml_emit, yaml_fast

EVERY_CODE_POINT = "".join(map(chr, range(sys.maxunicode + 1)))

REFERENCES = {
    # the patterns as they were written before (the negated classes)
    "yaml_emit._SPECIAL": (yaml_emit._SPECIAL.pattern(), "[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd]"),
    "detect._NOT_PRINTABLE": (
        detect._NOT_PRINTABLE,
        "[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]",
    ),
    # the one-character alternatives of the block look (its blank-line search is yaml_fast._BLANK_LINE)
    "yaml_fast._META_ODD_CHAR": (
        yaml_fast._META_ODD_CHAR.pattern(),
        "[#\t\r\\\\\x85\u2028\u2029\ufeff]|[^\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]",
    ),
}


def matched(pattern: re.Pattern[str]) -> list[str]:
    """The code points ``pattern`` finds, in order. Every match is one character (asserted), and no match
    depends on the characters after it here (the one multi-character alternative, a blank line, needs two
    newlines), so this is what searching each code point on its own finds."""
    found = pattern.findall(EVERY_CODE_POINT)
    assert all(len(ch) == 1 for ch in found)
    return found


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_class_matches_the_same_code_points_as_the_negated_class(name: str) -> None:
    new, reference = REFERENCES[name]
    assert sys.maxunicode == 0x10FFFF
    expected = matched(re.compile(reference))
    got = matched(new)
    assert got == expected, f"{name} differs from {reference!r} at {sorted(set(got) ^ set(expected))[:20]!r}"
    assert expected, "the reference class matches something (a test that cannot fail is no test)"
    assert new.flags == re.compile(reference).flags


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_class_finds_the_same_first_character_in_text(name: str) -> None:
    """``search`` over mixed text (ASCII, breaks, a surrogate, non-BMP, the BOM, blank lines) stops at the
    same place."""
    new, reference = REFERENCES[name]
    old = re.compile(reference)
    samples = [
        "plain ascii\n",
        "tab\there",
        "caf\u00e9 \u2028 x",
        "emoji \U0001f600 end",
        "bom \ufeff in the middle",
        "lone \ud800 surrogate",
        "a\n\n  \nb",
        "nul \x00 byte",
        "del \x7f and nel \x85",
        "\ufffe\uffff",
    ]
    for text in samples:
        a, b = old.search(text), new.search(text)
        assert (a and a.span()) == (b and b.span()), (name, text)

"""The INI store as sops 3.11 has it (``stores/ini``, gopkg.in/ini.v1 1.67 with non-unique sections).

Reading follows ini.v1's parser with sops's options: ``=`` or ``:`` separates key and value, names
and values are trimmed, ``#``/``;`` starts a comment even inside a value (``a = x#y`` is ``x``),
surrounding quotes are dropped, ``\"\"\"`` and backquotes quote (multi-line) values, a trailing ``\\``
continues a value, a later duplicate key replaces the earlier value, and a section name may repeat.
Sections are top-level keys (so values have the AAD ``section:key:``); keys before the first
section belong to ``DEFAULT``. A comment becomes a tree comment: a section's after its header, a
key's right after the key (the comment lines *before* a key, and an inline one, belong to it).
Writing follows ini.v1's ``WriteTo``: ``=`` aligned per section, a blank line between sections,
comments as ``; text``; the metadata is a ``[sops]`` section of flattened keys (sorted here; 3.11
writes them in random map order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from generator.errors import SopsError
from generator.sops.stores.base import decode_text, sops_entry_refused
from generator.sops.stores.dotenv import val_to_string
from generator.sops.stores.flat import flatten, unflatten
from generator.sops.values import Branch, Comment

DEFAULT = "DEFAULT"
_DELIMITERS = "=:"


@dataclass
class IniKey:
    name: str
    value: str
    comment: str = ""
    auto: bool = False  # written as "-" (ini.v1 auto-increment key)


@dataclass
class IniSection:
    name: str
    comment: str = ""
    keys: list[IniKey] = field(default_factory=list)

    def set(self, name: str, value: str, *, auto: bool = False) -> IniKey:
        """ini.v1 ``NewKey``: a repeated name keeps its place and takes the new value."""
        for key in self.keys:
            if key.name == name:
                key.value = value
                return key
        key = IniKey(name, value, auto=auto)
        self.keys.append(key)
        return key


class IniSyntaxError(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


class _Lines:
    """ini.v1's ``readUntil('\\n')``: each line with its newline, and the line number."""

    def __init__(self, text: str) -> None:
        self.parts = text.split("\n")
        self.parts = [p + "\n" for p in self.parts[:-1]] + ([self.parts[-1]] if self.parts[-1] else [])
        self.index = 0

    def next(self) -> str | None:
        if self.index >= len(self.parts):
            return None
        self.index += 1
        return self.parts[self.index - 1]


def parse_ini(text: str) -> list[IniSection]:
    """Sections in file order (``DEFAULT`` first, maybe empty); ``IniSyntaxError`` when ini.v1
    refuses the text."""
    lines = _Lines(text.removeprefix("\ufeff"))
    sections = [IniSection(DEFAULT)]
    comment: list[str] = []
    count = 1
    while (raw := lines.next()) is not None:
        line = raw.lstrip()
        if not line:
            continue
        if line[0] in "#;":
            comment.append(line)
            continue
        if line[0] == "[":
            close = line.rfind("]")
            if close == -1:
                raise IniSyntaxError("unclosed section header (no ']')", lines.index)
            name = line[1:close]
            if not name:
                raise IniSyntaxError("empty section name '[]'", lines.index)
            comment.extend(_after_comment(line[close + 1 :]))
            sections.append(IniSection(name, "".join(comment).strip()))
            comment, count = [], 1
            continue
        name, offset = _key_name(line, lines.index)
        auto = name == "-"
        if auto:
            name, count = f"#{count}", count + 1
        value = _value(line[offset:], lines, comment)
        if not name:
            raise IniSyntaxError("empty key name", lines.index)
        key = sections[-1].set(name, value, auto=auto)
        key.comment = "".join(comment).strip()
        comment = []
    return sections


def _after_comment(rest: str) -> list[str]:
    at = min((i for i in (rest.find("#"), rest.find(";")) if i >= 0), default=-1)
    return [rest[at:]] if at >= 0 else []


def _first_delimiter(text: str) -> int:
    """Where the first ``=`` or ``:`` is (-1: none)."""
    return min((i for i in (text.find(d) for d in _DELIMITERS) if i >= 0), default=-1)


def _key_name(line: str, number: int) -> tuple[str, int]:
    quote = (
        '"""'
        if line.startswith('"""') and len(line) > 6
        else '"'
        if line[0] == '"'
        else ("`" if line[0] == "`" else "")
    )
    if quote:
        return _quoted_key_name(line, quote, number)
    at = _first_delimiter(line)
    if at < 0:
        raise IniSyntaxError("not 'key = value' (no '=' or ':')", number)
    if at == 0:
        raise IniSyntaxError("empty key name before '='", number)
    return line[:at].strip(), at + 1


def _quoted_key_name(line: str, quote: str, number: int) -> tuple[str, int]:
    start = len(quote)
    pos = line.find(quote, start)
    if pos == -1:
        raise IniSyntaxError("missing closing quote of a key name", number)
    at = _first_delimiter(line[pos + start :])
    if at < 0:
        raise IniSyntaxError("no '=' or ':' after the key name", number)
    return line[start:pos].strip(), pos + at + start + 1


def _value(raw: str, lines: _Lines, comment: list[str]) -> str:
    line = raw.lstrip()
    if not line:
        return ""
    quote = '"""' if len(line) > 3 and line.startswith('"""') else "`" if line[0] == "`" else ""
    if quote:
        start = len(quote)
        pos = line[start:].rfind(quote)
        if pos == -1:
            return _multiline(line, line[start:], quote, lines, comment)
        return line[start : start + pos]
    line = line.strip()
    if line.endswith("\\"):
        return _continued(line[:-1], lines)
    return _plain_value(line, comment)


def _plain_value(line: str, comment: list[str]) -> str:
    """A one-line value: a trailing comment goes to ``comment``; one pair of enclosing quotes goes."""
    at = min((i for i in (line.find("#"), line.find(";")) if i >= 0), default=-1)
    if at >= 0:
        comment.append(line[at:])
        line = line[:at].strip()
    for mark in "'\"":
        if len(line) >= 2 and line[0] == mark and line[-1] == mark and line.find(mark, 1) == len(line) - 1:
            return line[1:-1]
    return line


def _multiline(first: str, value: str, quote: str, lines: _Lines, comment: list[str]) -> str:
    while True:
        nxt = lines.next()
        if nxt is None:
            raise IniSyntaxError(f"missing closing {quote} of a value", lines.index)
        pos = nxt.rfind(quote)
        if pos > -1:
            value += nxt[:pos]
            comment.extend(c.strip() for c in _after_comment(nxt[pos:]))
            return value
        value += nxt
        if lines.index >= len(lines.parts):
            raise IniSyntaxError(f"missing closing {quote} of a value started with {first[: len(quote)]}", lines.index)


def _continued(value: str, lines: _Lines) -> str:
    while True:
        nxt = lines.next()
        stripped = (nxt or "").strip()
        if not stripped:
            return value
        value += stripped
        if not value.endswith("\\"):
            return value
        value = value[:-1]


def _strip_comment_char(comment: str) -> str:
    """sops's ``stripCommentChar``: leading ``;``/``#`` and spaces go."""
    if comment.startswith(";"):
        return comment.lstrip("; ")
    if comment.startswith("#"):
        return comment.lstrip("# ")
    return comment


def to_tree(sections: list[IniSection]) -> Branch:
    branch = Branch()
    for section in sections:
        items = Branch()
        if section.comment:
            items.append((Comment(_strip_comment_char(section.comment)), None))
        for key in section.keys:
            items.append((key.name, key.value))
            if key.comment:
                items.append((Comment(_strip_comment_char(key.comment)), None))
        branch.append((section.name, items))
    return branch


def from_tree(branch: Branch) -> list[IniSection]:
    """sops's ``encodeTree``: a comment first in a section is the section's, a later one belongs to
    the key before it (a second comment in a row replaces the first; one before any key is lost)."""
    sections: list[IniSection] = []
    for name, value in branch:
        if isinstance(name, Comment):
            continue
        if not isinstance(value, Branch):
            raise SopsError(f"cannot write {name!r} to INI: a section must hold keys (a mapping)")
        sections.append(_section_from(str(name), value))
    return sections


def _section_from(name: str, value: Branch) -> IniSection:
    section = IniSection(name)
    if not section.name:
        raise SopsError("cannot write an INI section with an empty name")
    items = list(value)
    first = items[0][0] if items else None
    if isinstance(first, Comment):
        section.comment = first.value
        items.pop(0)
    last: IniKey | None = None
    for key, item in items:
        if isinstance(key, Comment):
            if last is not None:
                last.comment = key.value
            continue
        if isinstance(item, (Branch, list)):
            raise SopsError(f"cannot write a nested value to INI; offending key {section.name}.{key}")
        last = section.set(str(key), val_to_string(item))
    return section


def write_ini(sections: list[IniSection]) -> str:
    """ini.v1 ``WriteTo`` with its defaults (PrettyFormat, PrettySection, no DEFAULT header)."""
    out: list[str] = []
    for index, section in enumerate(sections):
        if section.comment:
            out.extend(_comment_line(line, trim=False) for line in section.comment.split("\n"))
        if index > 0 or section.name.upper() != DEFAULT:
            out.append(f"[{section.name}]\n")
        elif not section.keys:
            continue
        out += _key_lines(section.keys)
        if index < len(sections) - 1:
            out.append("\n")
    return "".join(out)


def _key_lines(keys: list[IniKey]) -> list[str]:
    """A section's keys, ``=`` aligned (PrettyFormat: names padded to the widest in bytes), comments first."""
    out: list[str] = []
    names = [_key_text(key) for key in keys]
    width = max((len(n.encode("utf-8", "surrogateescape")) for n in names), default=0)
    for key, name in zip(keys, names, strict=True):
        if key.comment:
            out.extend(_comment_line(line, trim=True) for line in key.comment.split("\n"))
        pad = " " * (width - len(name.encode("utf-8", "surrogateescape")))
        out.append(f"{name}{pad} = {_value_text(key.value)}\n")
    return out


def _comment_line(line: str, *, trim: bool) -> str:
    if line[:1] in ("#", ";") and line:
        return f"{line[0]} {line[1:].strip()}\n"
    return f"; {line.strip() if trim else line}\n"


def _key_text(key: IniKey) -> str:
    if key.auto:
        return "-"
    if '"' in key.name or any(d in key.name for d in _DELIMITERS):
        return f"`{key.name}`"
    if "`" in key.name:
        return f'"""{key.name}"""'
    return key.name


def _value_text(value: str) -> str:
    if "\n" in value or "`" in value:
        return f'"""{value}"""'
    if "#" in value or ";" in value:
        return f"`{value}`"
    if value.strip() != value:
        return f'"{value}"'
    return value


class IniStore:
    name = "ini"

    def _load(self, data: bytes, name: str) -> Branch:
        try:
            return to_tree(parse_ini(decode_text(data, name)))
        except IniSyntaxError as err:
            raise SopsError(f"{name}:{err.line}: invalid INI: {err}") from None

    def load_plain(self, data: bytes, name: str) -> list[Branch]:
        branch = self._load(data, name)
        if any(key == "sops" for key, _ in branch):
            raise SopsError(sops_entry_refused(name, "a [sops] section"))
        return [branch]

    def load_encrypted(self, data: bytes, name: str) -> tuple[list[Branch], Any]:
        branch = self._load(data, name)
        meta = next((v for k, v in branch if k == "sops"), None)
        rest = Branch((k, v) for k, v in branch if k != "sops")
        if not isinstance(meta, Branch):
            return [rest], None
        flat = {str(k): str(v).replace("\\n", "\n") for k, v in meta if isinstance(k, str)}
        values: dict[str, Any] = dict(flat)
        if "mac_only_encrypted" in values:
            values["mac_only_encrypted"] = values["mac_only_encrypted"] == "true"
        return [rest], unflatten(values)

    def emit_encrypted(self, docs: list[Branch], meta: Branch) -> bytes:
        flat = flatten(meta)
        section = Branch((key, flat[key]) for key in sorted(flat))
        return self.emit_plain([Branch([*docs[0], ("sops", section)])])

    def emit_plain(self, docs: list[Branch]) -> bytes:
        return write_ini(from_tree(docs[0])).encode("utf-8", "surrogateescape")

"""fluxforge.lock: byte-stable, exact round trip of any text, valid YAML, hand edits detected."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.merge.lock import Lock, LockError, _read_whole, _Reader, dumps, loads, read_lock, record
from generator.yamlio import make_yaml

TRICKY = {
    "clusters/a/flux-system/kustomization.yaml": "apiVersion: v1\nkind: X\n",
    "no-final-newline.yaml": "a: 1",
    "blank-tail.yaml": "a: 1\n\n\n",
    "leading-space.yaml": "   indented: first line\n\nafter blank\n",
    "leading-newline.yaml": "\nstarts empty\n",
    "crlf.yaml": "a: 1\r\nb: 2\r\n",
    "empty.yaml": "",
    "unicode é.yaml": "name: ünïcode ✓\n",
    "whitespace-lines.yaml": "a\n \n  \nb\n",
    'quote".yaml': "x: '#not a comment'\n",
}


def test_round_trip_and_valid_yaml() -> None:
    lock = Lock("2.6.0", TRICKY)
    data = dumps(lock)
    assert loads(data) == lock
    plain = make_yaml(typ="safe").load(io.StringIO(data.decode()))
    assert plain["lockVersion"] == 1
    assert plain["flux"] == "2.6.0"
    assert {path: entry["text"] for path, entry in plain["files"].items()} == TRICKY


def test_byte_stable_and_sorted() -> None:
    forward = dumps(Lock("2.9.4", dict(TRICKY)))
    backward = dumps(Lock("2.9.4", dict(reversed(list(TRICKY.items())))))
    assert forward == backward
    text = forward.decode()
    positions = [text.index(f'  "{p}"'.replace('"quote".yaml"', '"quote\\".yaml"')) for p in sorted(TRICKY)]
    assert positions == sorted(positions)


def test_empty_lock() -> None:
    assert loads(dumps(Lock())) == Lock()
    assert b"files: {}\n" in dumps(Lock())


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=200), max_size=5),
    st.none() | st.text(max_size=10),
)
def test_any_texts_round_trip(files: dict[str, str], flux: str | None) -> None:
    lock = Lock(flux, files)
    assert loads(dumps(lock)) == lock


def test_hand_edit_is_detected_with_line() -> None:
    data = dumps(Lock("2.6.0", {"a.yaml": "a: 1\nb: 2\n"})).decode()
    edited = data.replace("      b: 2\n", "      b: 3\n")
    with pytest.raises(LockError) as err:
        loads(edited.encode(), "repo/fluxforge.lock")
    (line,) = err.value.problems
    assert line.startswith("repo/fluxforge.lock:7: the text recorded for a.yaml does not match its sha256")
    assert "delete it" in line


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"lockVersion: 2\nfiles: {}\n", ":1: lockVersion 2 is not supported"),
        (b"files: {}\n", ":1: expected"),
        (b"lockVersion: 1\nfiles: {}\nextra: 1\n", ":3: unexpected content"),
        (b"\xff\xfe", ": not UTF-8"),
    ],
)
def test_malformed_lock(data: bytes, where: str) -> None:
    with pytest.raises(LockError, match="delete it") as err:
        loads(data, "L")
    assert err.value.problems[0].startswith("L" + where)


def test_record_writes_only_on_change(tmp_path: Path) -> None:
    lock_file = tmp_path / "fluxforge.lock"
    assert read_lock(lock_file) is None
    files = {"b.yaml": b"b: 1\n", "a.yaml": b"a: 1\n"}
    assert record(lock_file, files, "2.9.4") is True
    mtime = lock_file.stat().st_mtime_ns
    assert record(lock_file, dict(reversed(list(files.items()))), "2.9.4") is False
    assert lock_file.stat().st_mtime_ns == mtime
    assert read_lock(lock_file) == Lock("2.9.4", {"a.yaml": "a: 1\n", "b.yaml": "b: 1\n"})


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text(alphabet="ab :-#\n", min_size=1, max_size=40), min_size=1, max_size=4))
def test_block_literal_texts_round_trip_and_parse(texts: list[str]) -> None:
    """Texts written as indented block literals (with and without empty lines, leading spaces, a missing or
    doubled final newline): the lock reads them back, and a YAML parser reads the same texts."""
    files = {f"f{n}.yaml": text for n, text in enumerate(texts)}
    data = dumps(Lock("2.9.4", files))
    assert loads(data) == Lock("2.9.4", files)
    plain = make_yaml(typ="safe").load(io.StringIO(data.decode()))
    assert {path: entry["text"] for path, entry in plain["files"].items()} == files


def test_an_empty_line_of_a_text_stays_empty() -> None:
    """No indent is written on an empty line (the bytes of earlier locks: a lock is rewritten when they change)."""
    assert b"    text: |2\n      a\n\n      b\n" in dumps(Lock(None, {"f.yaml": "a\n\nb\n"}))
    assert b"    text: |2+\n      a\n\n" in dumps(Lock(None, {"f.yaml": "a\n\n"}))


def _outcome(read: Callable[[bytes], Lock], data: bytes) -> Lock | str:
    """The lock ``read`` gives, or the first problem it reports."""
    try:
        return read(data)
    except LockError as err:
        return err.problems[0]
    except ValueError as err:  # a JSON string that does not parse: the same error either way
        return f"{type(err).__name__}: {err}"


def _line_by_line(data: bytes) -> Lock | str:
    """What the line reader alone gives (the way every lock was read before the whole-entry reader)."""
    return _outcome(lambda raw: _Reader(raw.decode("utf-8").split("\n"), "L").read(), data)


def _read(data: bytes) -> Lock | str:
    return _outcome(lambda raw: loads(raw, "L"), data)


_EDITS = st.sampled_from(["", "\n", " ", "  ", "      ", "\r", "#", '"', "|2", "|2-", "|2+", "x", "\n\n", "\n  "])


@settings(max_examples=600, deadline=None)
@given(
    st.dictionaries(
        st.text(alphabet='ab"\\é :-#\n\r\t\u2028', min_size=1, max_size=8),
        st.text(alphabet="ab :-#\n\r\x07", max_size=40),
        max_size=4,
    ),
    st.none() | st.text(alphabet='2.9"\\', max_size=5),
    st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=3), _EDITS), max_size=3),
)
def test_the_whole_entry_reader_reads_what_the_line_reader_reads(
    files: dict[str, str], flux: str | None, edits: list[tuple[int, int, str]]
) -> None:
    """A lock as dumps wrote it, and the same lock with a few characters cut or put in (hand edits, a
    broken merge): loads gives what reading it line by line gives, the same lock or the same first problem
    (with its line)."""
    text = dumps(Lock(flux, files)).decode("utf-8")
    assert _read_whole(text) == Lock(flux, files)  # as dumps wrote it: read whole, not line by line
    for at, cut, put in edits:
        at %= len(text) + 1
        text = text[:at] + put + text[at + cut :]
    data = text.encode("utf-8")
    assert _read(data) == _line_by_line(data)


def test_a_fleet_lock_reads_the_same_whole_or_line_by_line() -> None:
    """Thousands of entries, every shape dumps writes (block literals with and without final or empty lines,
    JSON strings), with and without the final line break."""
    files = {f"clusters/c{n:04d}/{name}": text for n in range(300) for name, text in TRICKY.items()}
    data = dumps(Lock("2.9.4", files))
    assert _read_whole(data.decode("utf-8")) == _line_by_line(data) == Lock("2.9.4", files)
    assert loads(data.rstrip(b"\n")) == _line_by_line(data.rstrip(b"\n"))
    assert loads(data + b"\n\n") == _line_by_line(data + b"\n\n")


@pytest.mark.parametrize(
    "edit",
    [
        ('  "a.yaml":', '  "a"b.yaml":'),  # a quote JSON would escape
        ('  "a.yaml":', '  "a\rb.yaml":'),  # a control character JSON would escape
        ('  "a.yaml":', '  "a\\u00e9.yaml":'),  # an escape
        ('  "a.yaml":', '  "a\\x.yaml":'),  # a bad escape
        ("      b: 2\n", "      b: 2\n\n"),  # an empty line more at the end of a block
        ("      b: 2\n", "      b: 2\n   \n"),  # a line with too small an indent
        ("    text: |2\n", "    text: |2+\n"),  # another chomping indicator
        ("flux: ", "flux:  "),
    ],
)
def test_a_hand_edited_lock_reads_the_same_whole_or_line_by_line(edit: tuple[str, str]) -> None:
    data = dumps(Lock("2.6.0", {"a.yaml": "a: 1\nb: 2\n", "c.yaml": "c: 3\n"})).decode()
    assert edit[0] in data
    edited = data.replace(edit[0], edit[1], 1).encode()
    assert _read(edited) == _line_by_line(edited)

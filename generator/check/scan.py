"""``fluxforge check``: the keyless "must be encrypted / is correctly encrypted" check.

Behaviour (documented in docs and tests/hooks):
* Rules come from the ``.sops.yaml`` sops would use (found from the current directory upwards).
* A file matched by a rule with ``path_regex`` must be encrypted when encrypting it would turn at
  least one value into ciphertext (a rule ``encrypted_regex: ^(data|stringData)$`` over ``.*\\.yaml``
  does not require encrypting a Deployment). A rule without ``path_regex`` (a catch-all) gives
  keys and selector to ``sops -e`` but does not by itself require encryption.
* An encrypted file is checked for structure (MAC, lastmodified, version, keys, selector, which
  values are ciphertext) and, when a rule matches it, against the rule's selector and recipients.
* A Kubernetes ``Secret`` with clear-text ``data``/``stringData`` is reported wherever no
  ``path_regex`` rule covers it (no ``.sops.yaml`` at all included). ``${VAR}`` substitutions and
  empty values are not secrets.
* Binary files (not UTF-8) outside the rules are skipped; files that vanished are skipped;
  ``.sops.yaml`` itself is never checked.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from generator.errors import CheckFailed
from generator.fsio import TEMP_GLOB, is_temp_name, walk_files

if TYPE_CHECKING:
    from generator.check.cache import CheckCache
    from generator.check.parse import Parsed
    from generator.check.rules import Expectation, Problem
    from generator.report.model import Diagnostic
    from generator.sops.api import CreationRule, SopsRules


@dataclass(frozen=True)
class RuleMatch:
    """The rule a file falls under: its index in ``creation_rules`` and whether it has a path_regex."""

    index: int
    rule: CreationRule
    config: Path

    @property
    def requires_encryption(self) -> bool:
        return self.rule.path_regex is not None

    @property
    def label(self) -> str:
        where = f"path_regex '{self.rule.path_regex}'" if self.rule.path_regex is not None else "no path_regex"
        return f"{self.config.name} creation_rules[{self.index}] ({where})"

    def expectation(self) -> Expectation:
        return self._expectation

    @cached_property
    def _expectation(self) -> Expectation:
        """Made once per rule (``Rules`` keeps one ``RuleMatch`` per rule): a check asks for every file."""
        from generator.check.rules import Expectation
        from generator.sops.api import DEFAULT_SELECTOR, KINDS

        display = {kind.name: kind.display for kind in KINDS}
        recipients = frozenset(display[kind](value) for group in self.rule.key_groups for kind, value in group)
        groups = len(self.rule.key_groups)
        return Expectation(self.label, self.rule.selector or DEFAULT_SELECTOR, recipients, groups)


class Rules:
    """The ``.sops.yaml`` in force (or none) and the lookup of the rule for a file."""

    def __init__(self, rules: SopsRules | None) -> None:
        self._rules = rules
        self._matches = [RuleMatch(i, rule, rules.path) for i, rule in enumerate(rules.rules)] if rules else []
        self._config = os.path.abspath(rules.path) if rules is not None else None  # noqa: PTH100
        self._config_name = os.path.basename(self._config) if self._config is not None else ""  # noqa: PTH119

    @classmethod
    def load(cls, start: Path | None = None, config: Path | None = None) -> Rules:
        """The rules of ``config`` (``--sops-config``), else of the ``.sops.yaml`` sops would use."""
        from generator.sops.api import find_sops_config, load_rules

        found = config or find_sops_config(start)
        return cls(load_rules(found) if found is not None else None)

    @property
    def count(self) -> int:
        """How many creation rules there are (0 without a ``.sops.yaml``)."""
        return len(self._rules.rules) if self._rules is not None else 0

    @property
    def config(self) -> Path | None:
        return self._rules.path if self._rules is not None else None

    def match(self, path: Path | str) -> RuleMatch | None:
        if self._rules is None:
            return None
        index = self._rules.rule_index(path)
        return self._matches[index] if index is not None else None

    def is_config(self, path: Path | str) -> bool:
        if self._config is None or os.path.basename(path) != self._config_name:  # noqa: PTH119 - cheap first
            return False
        return os.path.abspath(path) == self._config  # noqa: PTH100


def check_content(path: Path | str, data: bytes, rules: Rules) -> list[Problem]:
    """Every problem of one file's content (``path`` only selects the rule and the store)."""
    from generator.sops.api import detect_format

    name = os.fspath(path)
    return _content(name, data, rules, detect_format(name))[0]


class Verdict(NamedTuple):
    """One file's content checked: its problems (``check_content``) and whether it is sops-encrypted."""

    problems: list[Problem]
    encrypted: bool


def check_file(path: Path | str, data: bytes, rules: Rules) -> Verdict:
    """``check_content``'s problems and ``_is_sops_file``'s answer, the file read once for both: where the
    parse read the ``sops:`` block with the line readers, the verdict comes from that reading."""
    import generator.sops.api as sops_api  # not `from … import`: that asks the lazy module for __path__

    name = os.fspath(path)
    fmt = sops_api.detect_format(name)
    problems, parsed = _content(name, data, rules, fmt)
    if parsed is not None and parsed.shaped is not None:
        return Verdict(problems, sops_api.shaped_state(parsed.shaped).encrypted)
    return Verdict(problems, _is_sops_file(name, data, fmt))


def _content(name: str, data: bytes, rules: Rules, fmt: str) -> tuple[list[Problem], Parsed | None]:
    """``check_content``, and the parse of the file in its own store where there was one."""
    match = rules.match(name)
    must = match is not None and match.requires_encryption
    if not must and not _worth_parsing(data, fmt):
        return (_secret_in_other_file(data) if fmt not in ("yaml", "json") else []), None
    return _parsed_content(name, data, fmt, match, must=must)


def _parsed_content(
    name: str, data: bytes, fmt: str, match: RuleMatch | None, *, must: bool
) -> tuple[list[Problem], Parsed | None]:
    """``_content`` of a file worth parsing (most files are not: they need none of these imports)."""
    from generator.check.parse import ParseError, parse
    from generator.check.rules import Problem, check_metadata, check_values
    from generator.sops.api import looks_like_metadata

    try:
        parsed = parse(name, data, fmt)
    except ParseError as err:
        return ([Problem(err.line, err.col, str(err), "check.parse")] if must or err.refused else []), None
    # Encrypted is sops's rule (is_encrypted); a top-level `sops` entry that fails it is diagnosed
    # where a rule requires encryption, or where it looks like a damaged sops block (not a
    # fluxforge.yaml's own `sops:` settings).
    if parsed.metadata is not None and (must or _encrypted(parsed, data, fmt) or looks_like_metadata(parsed.metadata)):
        expect = match.expectation() if match is not None else None
        return [*check_metadata(parsed, expect), *check_values(parsed)], parsed
    return _plaintext_problems(parsed, match), parsed


def _encrypted(parsed: Parsed, data: bytes, fmt: str) -> bool:
    """``is_encrypted(data, fmt)``, from the parse's own reading of the ``sops:`` block where it has one."""
    from generator.sops.api import is_encrypted, shaped_state

    return shaped_state(parsed.shaped).encrypted if parsed.shaped is not None else is_encrypted(data, fmt)


_SECRET_KIND = re.compile(rb"""(?m)^\s*["']?kind["']?\s*:\s*["']?Secret\b""")


def _secret_in_other_file(data: bytes) -> list[Problem]:
    """A Kubernetes Secret in a file of any other type (a temp file, ``secret.yaml.bak``, ``.txt``):
    read as YAML, its clear-text data is reported like anywhere else."""
    from generator.check.parse import ParseError, parse
    from generator.check.rules import Problem, plaintext_secret_values

    if _SECRET_KIND.search(data) is None:
        return []
    try:
        parsed = parse("as.yaml", data)
    except ParseError as err:
        return [Problem(err.line, err.col, str(err), "check.parse")] if err.refused else []
    return _tagged("check.plaintext-secret", plaintext_secret_values(parsed))


def _tagged(rule: str, problems: Iterable[Problem]) -> list[Problem]:
    return [replace(problem, rule=rule) for problem in problems]


def _plaintext_problems(parsed: Parsed, match: RuleMatch | None) -> list[Problem]:
    from generator.check.rules import Problem, needs_encryption, plaintext_secret_values
    from generator.sops.api import DEFAULT_SELECTOR

    if match is not None and match.requires_encryption:
        selector = match.rule.selector or DEFAULT_SELECTOR
        shape = _shape_problem(parsed, selector, match)
        if shape is not None:
            return [shape]
        if not needs_encryption(parsed, selector):
            return _reworded(
                plaintext_secret_values(parsed),
                f"under {match.label}, whose selector encrypts none of its values; move the Secret to "
                "a folder whose rule encrypts data/stringData, or widen the rule's selector",
            )
        return [
            Problem(
                1,
                1,
                f"matched by {match.label} but not SOPS-encrypted; "
                "run `fluxforge encrypt --in-place` on it (or stage it with the hook installed)",
                "check.not-encrypted",
            )
        ]
    if match is not None:
        return _reworded(
            plaintext_secret_values(parsed), f"in a file only the catch-all {match.label} covers; encrypt it"
        )
    return _tagged("check.plaintext-secret", plaintext_secret_values(parsed))


def _reworded(problems: Iterable[Problem], where: str) -> list[Problem]:
    """Plaintext-Secret problems with the default "outside any rule" advice replaced by ``where``."""
    from generator.check.rules import OUTSIDE_ANY_RULE, Problem

    return [
        Problem(p.line, p.col, p.message.replace(OUTSIDE_ANY_RULE, where), "check.plaintext-secret") for p in problems
    ]


def _shape_problem(parsed: Parsed, selector: tuple[str, str], match: RuleMatch) -> Problem | None:
    """A document whose top level is a list or a scalar cannot be encrypted by sops (nor fluxforge):
    under a rule whose selector would encrypt its values it is plaintext that can never be encrypted."""
    from generator.check.rules import Problem
    from generator.sops.api import selects

    if parsed.fmt not in ("yaml", "json") or selects(selector, ()) is False:
        return None
    for index, doc in enumerate(parsed.documents):
        if isinstance(doc, dict) or doc is None or doc == "":
            continue
        shape = "a list" if isinstance(doc, list) else "a plain value"
        where = f"document {index + 1}" if len(parsed.documents) > 1 else "the top level"
        return Problem(
            1,
            1,
            f"matched by {match.label}, but {where} is {shape} and cannot be encrypted (sops "
            "encrypts only mappings/objects); put the values under a key and encrypt the "
            "file, or move it out of the rule",
            "check.shape",
        )
    return None


def _worth_parsing(data: bytes, fmt: str) -> bool:
    """Cheap pre-filter for files no rule requires: only possible Secrets and sops files are parsed."""
    if fmt in ("yaml", "json"):
        return b"Secret" in data or b"sops" in data
    return b"sops" in data


def iter_files(paths: Sequence[Path]) -> Iterator[str]:
    """Files to check (their names): the given files, files below given directories, or every tracked
    file (absolute names then)."""
    if not paths:
        yield from _tracked_or_walk(Path.cwd())
        return
    for path in paths:
        if path.is_dir():
            yield from map(str, walk_files(path))
        else:
            yield str(path)


def _tracked_or_walk(root: Path) -> Iterator[str]:
    from generator.errors import GitError
    from generator.gitrepo import GitRepo

    try:
        repo = GitRepo.discover(root)
    except GitError:
        yield from map(str, walk_files(root))
        return
    prefix = f"{repo.workdir}{os.sep}"
    for rel in repo.tracked_files():
        yield prefix + rel


def problem_lines(display: str, problems: Iterable[Problem]) -> list[str]:
    return [f"{display}:{p.line}:{p.col}: {p.message}" for p in problems]


@dataclass(frozen=True)
class CheckReport:
    """What ``fluxforge check`` looked at: files read, how many are sops-encrypted, the rules used."""

    files: int
    encrypted: int
    config: Path | None
    problems: tuple[str, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()  # the problems as records (rule, severity, position)

    def summary(self) -> str:
        against = f"against {_display(self.config)}" if self.config is not None else "without a .sops.yaml"
        return f"checked {self.files} file(s) {against}: {self.encrypted} encrypted, {len(self.problems)} problem(s)"


def _is_sops_file(path: Path | str, data: bytes, fmt: str | None = None) -> bool:
    """The keyless "is it sops-encrypted" test of the engine (a store fluxforge lacks, INI: not counted);
    ``fmt``: the store of ``path``, when the caller has it."""
    if b"sops" not in data and b"\\" not in data:
        return False  # no store can name its metadata without the word, or an escape that spells it
    from generator.errors import SopsError
    from generator.sops.api import detect_format, is_encrypted

    try:
        return is_encrypted(data, fmt or detect_format(path))
    except SopsError:
        return False


def _diagnostic(path: Path, problem: Problem) -> Diagnostic:
    from generator.report.model import Diagnostic  # not on the hook's path: only check reports records
    from generator.report.sources import display_path

    return Diagnostic(problem.rule, "error", problem.message, display_path(path), problem.line, problem.col)


def _read_problem(path: Path) -> tuple[bytes | None, Problem | None]:
    """The file's bytes, or the problem reading it (a vanished file: neither)."""
    from generator.check.rules import Problem
    from generator.errors import InputError
    from generator.fsio import read_input

    if is_temp_name(path.name):
        return None, Problem(1, 1, TEMP_PROBLEM, "check.temp-file")
    try:
        return read_input(path), None
    except FileNotFoundError:
        return None, None
    except InputError as err:
        return None, Problem(1, 1, err.problems[0].removeprefix(f"{path}: "), "check.unreadable")
    except OSError as err:
        return None, Problem(1, 1, f"cannot read: {err.strerror}", "check.unreadable")


def scan(paths: Sequence[Path], rules: Rules, cache: CheckCache | None = None) -> CheckReport:
    """Check files on disk: one ``path:line:col: message`` line per problem, and the counts. With a
    ``cache``, a file whose bytes were found clean before (same path, same blob id) is not checked again.
    With a cache, files are read (and their blob ids taken) here; without one, where they are checked.
    Those to check go to worker processes when there are many (``FLUXFORGE_JOBS``, as for encrypt),
    and the lines come out in file order either way."""
    from generator.fsio import input_limit

    limit = input_limit()
    seen = [
        entry
        for path in iter_files(paths)
        if not rules.is_config(path)
        if (entry := _first_look(path, limit, cache) if cache is not None else _Seen(path)) is not None
    ]
    _check_pending(seen, rules)
    found, files, encrypted = _summary(seen, cache)
    if cache is not None:
        cache.save()
    lines = tuple(f"{d.file}:{d.line}:{d.column}: {d.message}" for d in found)
    return CheckReport(files, encrypted, rules.config, lines, tuple(found))


def _summary(seen: list[_Seen], cache: CheckCache | None) -> tuple[list[Diagnostic], int, int]:
    """The problems in file order, the files checked and how many are encrypted; the cache updated."""
    found: list[Diagnostic] = []
    files = encrypted = 0
    for entry in seen:
        if entry.gone:
            continue
        if entry.unread is not None:
            found.append(_diagnostic(Path(entry.path), entry.unread))
            continue
        files += 1
        encrypted += entry.encrypted
        found.extend(_diagnostic(Path(entry.path), problem) for problem in entry.problems)
        if cache is not None and not entry.known:
            _update(cache, entry)
    return found, files, encrypted


@dataclass(slots=True)  # one for every file of a scan, made again from each worker's answer
class _Seen:
    """One file of a scan: a read problem, or its bytes' blob id and verdict (problems, encrypted)."""

    path: str
    unread: Problem | None = None
    data: bytes | None = None  # kept until checked (dropped past a memory budget: read again then)
    blob: str | None = None  # with a cache only
    problems: tuple[Problem, ...] = ()
    encrypted: bool = False
    known: bool = False  # the verdict came from the cache
    checked: bool = False
    gone: bool = False  # vanished before it was checked: skipped, as one that vanished before it was read


_KEEP_BYTES = 256 << 20  # file contents held between reading and checking; beyond this, read again
_kept = 0


def _first_look(name: str, limit: int, cache: CheckCache | None) -> _Seen | None:
    """Read a file (None: a symlink, the config or a vanished file) and answer from the cache if it can."""
    global _kept
    data, unread = _read(name, limit)
    if data is None:
        return _Seen(name, unread) if unread is not None else None
    blob = None
    if cache is not None:
        from generator.check.cache import blob_id

        blob = blob_id(data)
        known = cache.clean(_key(name), blob)
        if known is not None:
            return _Seen(name, blob=blob, encrypted=known, known=True, checked=True)
    if _kept + len(data) > _KEEP_BYTES:
        return _Seen(name, blob=blob)
    _kept += len(data)
    return _Seen(name, data=data, blob=blob)


def _key(name: str) -> str:
    """A file's cache key: its absolute name (tracked files are named so already)."""
    return name if name.startswith(os.sep) else os.path.abspath(name)  # noqa: PTH100


def _update(cache: CheckCache, entry: _Seen) -> None:
    key = _key(entry.path)
    if entry.problems or entry.blob is None:
        cache.forget(key)
    else:
        cache.remember(key, entry.blob, entry.encrypted)


def _check_pending(seen: list[_Seen], rules: Rules) -> None:
    """Check every file read but not answered by the cache: in worker processes for many files."""
    global _kept
    pending = [index for index, entry in enumerate(seen) if entry.unread is None and not entry.checked]
    if not pending:
        return
    from generator.fsio import input_limit
    from generator.sops.api import jobs_for

    jobs, limit = jobs_for(len(pending)), input_limit()
    if jobs == 1:
        for index in pending:
            seen[index] = _checked(seen[index], rules, limit)
    else:
        _check_in_workers(seen, pending, rules, jobs)
    _kept = 0


def _check_in_workers(seen: list[_Seen], pending: list[int], rules: Rules, jobs: int) -> None:
    """``_checked`` for ``pending`` by this process and ``jobs - 1`` forked copies of it (``batch.in_order``, as
    encrypt's batches: a copy that dies is made up for here, nothing waits on it); results stored in place,
    in order."""
    from generator.fsio import input_limit
    from generator.sops.api import in_order

    limit = input_limit()

    def work(index: int) -> _Seen | bool:
        return _compact(seen[index], _checked(seen[index], rules, limit))

    for index, result in zip(pending, in_order(pending, work, jobs), strict=True):
        seen[index] = _expanded(seen[index], result)


def _compact(entry: _Seen, result: _Seen) -> _Seen | bool:
    """What a worker sends back for ``entry``: for a file without problems whose blob id did not change
    (most files) only whether it is encrypted (a whole record costs more to send than some files cost to
    check); else the whole ``result``. ``_expanded`` makes the record again."""
    if result.problems or result.unread is not None or result.gone or result.blob != entry.blob:
        return result
    return result.encrypted


def _expanded(entry: _Seen, result: _Seen | bool) -> _Seen:
    """The record ``_compact`` stood for: ``_checked``'s of ``entry``."""
    if isinstance(result, _Seen):
        return result
    return _Seen(entry.path, blob=entry.blob, encrypted=result, checked=True)


def _checked(entry: _Seen, rules: Rules, limit: int | None = None) -> _Seen:
    """``entry`` with its verdict; a file whose bytes were not kept (or not read yet: no cache) is read
    here (and its blob id taken from what was read, so the cache never pairs a verdict with other bytes).
    ``limit``: ``input_limit()``, taken once by a caller that checks many files."""
    data = entry.data
    if data is None:
        if limit is None:
            from generator.fsio import input_limit

            limit = input_limit()
        data, unread = _read(entry.path, limit)
        if data is None:
            return _Seen(entry.path, unread, checked=True, gone=unread is None)
        if entry.blob is not None:
            from generator.check.cache import blob_id

            entry = _Seen(entry.path, blob=blob_id(data))
    problems, encrypted = check_file(entry.path, data, rules)
    return _Seen(entry.path, blob=entry.blob, problems=tuple(problems), encrypted=encrypted, checked=True)


def _read(name: str, limit: int) -> tuple[bytes | None, Problem | None]:
    """A file's bytes, or the problem reading it; neither for a symlink (its target is checked where it
    is) or a vanished file."""
    try:
        return _read_fast(name, limit)
    except _Special:
        if os.path.islink(name):  # noqa: PTH114
            return None, None
        return _read_problem(Path(name))


class _Special(Exception):
    """Not a plain regular file within the size limit: ``_read_problem`` says what it is."""


def _read_fast(name: str, limit: int) -> tuple[bytes | None, Problem | None]:
    """The bytes of a regular file within the limit, without a symlink; ``(None, None)`` for a
    symlink or a vanished file; ``_Special`` for anything ``_read_problem`` must explain."""
    if is_temp_name(name.rpartition(os.sep)[2]):
        raise _Special
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None, None
    except OSError as err:
        if err.errno == errno.ELOOP:
            return None, None  # a symlink (O_NOFOLLOW)
        raise _Special from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (limit and info.st_size > limit):
            raise _Special
        data = _read_all(fd, info.st_size)
    finally:
        os.close(fd)
    if limit and len(data) > limit:
        raise _Special
    return data, None


def _read_all(fd: int, size: int) -> bytes:
    """Everything ``fd`` holds: one read for a file of the ``size`` fstat said; otherwise (it grew or
    shrank since, or a short read) on to the end."""
    data = os.read(fd, size + 1)
    if len(data) == size:
        return data
    chunks = [data]
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


TEMP_PROBLEM = (
    "a fluxforge temp file, left by an interrupted run (it may hold plaintext): delete it, never "
    f"commit it, and add '{TEMP_GLOB}' to .gitignore"
)


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def check_report(
    paths: Sequence[Path], *, sops_config: Path | None = None, allow_missing_rules: bool = False, use_cache: bool = True
) -> CheckReport:
    """Every problem ``fluxforge check`` finds, as a report (``problems`` empty when all is well): no
    creation rules at all is a problem too (nothing says what must be encrypted) unless
    ``allow_missing_rules``. Raises ``CheckFailed`` for a path that does not exist. Inside a git
    repository clean verdicts are remembered by blob id (``generator.check.cache``) unless not ``use_cache``."""
    missing = [str(p) for p in [*paths, *([sops_config] if sops_config else [])] if not p.exists()]
    if missing:
        raise CheckFailed([f"{m}: no such file or directory" for m in missing])
    rules = Rules.load(config=sops_config)
    report = scan(paths, rules, _open_cache(rules) if use_cache else None)
    if rules.count == 0 and not allow_missing_rules:
        from generator.report.model import Diagnostic

        problem = _no_rules(rules, paths)
        config = _display(rules.config) if rules.config is not None else ""
        return replace(
            report,
            problems=(*report.problems, problem),
            diagnostics=(*report.diagnostics, Diagnostic("check.no-rules", "error", problem, config)),
        )
    return report


CACHE_ENV = "FLUXFORGE_CHECK_CACHE"  # "off" (or 0, no, false): as --no-cache


def _open_cache(rules: Rules) -> CheckCache | None:
    """The check cache of the git repository around the current directory (None outside one, or when
    ``FLUXFORGE_CHECK_CACHE=off``)."""
    from generator.check.cache import CheckCache, fingerprint
    from generator.fsio import input_limit

    if os.environ.get(CACHE_ENV, "").strip().lower() in ("off", "0", "no", "false"):
        return None
    git_dir = _git_dir(Path.cwd())
    return CheckCache.open(git_dir, fingerprint(rules.config, input_limit())) if git_dir is not None else None


def _git_dir(start: Path) -> Path | None:
    """The git directory of the repository around ``start`` (``$GIT_DIR``, a ``.git`` folder, or a
    ``.git`` file's ``gitdir:`` as linked work trees and submodules have), found without opening it."""
    env = os.environ.get("GIT_DIR")
    if env:
        return Path(env).resolve()
    for folder in (start, *start.parents):
        dot = folder / ".git"
        if dot.is_dir():
            return dot
        if dot.is_file():
            try:
                line = dot.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                return None
            return (folder / line.removeprefix("gitdir:").strip()).resolve() if line.startswith("gitdir:") else None
    return None


def run_check(
    paths: Sequence[Path], *, sops_config: Path | None = None, allow_missing_rules: bool = False, use_cache: bool = True
) -> CheckReport:
    """The ``fluxforge check`` core. Raises ``CheckFailed`` with one line per problem and the summary
    line last; no creation rules at all is a problem too (nothing says what must be encrypted) unless
    ``allow_missing_rules``. Returns the report (for the summary line) when all is well."""
    report = check_report(paths, sops_config=sops_config, allow_missing_rules=allow_missing_rules, use_cache=use_cache)
    if report.problems:
        raise CheckFailed([*report.problems, report.summary()])
    return report


def _no_rules(rules: Rules, paths: Sequence[Path]) -> str:
    from generator.sops.api import nearby_config_hint

    if rules.config is not None:
        where = f"{_display(rules.config)} has no creation_rules"
    else:
        where = "no .sops.yaml in the current directory or its parents (found as sops finds it)"
    hint = nearby_config_hint(paths, rules.config) or (
        "run `fluxforge render` (it writes .sops.yaml from fluxforge.yaml) or pass --sops-config FILE"
    )
    return (
        f"{where}: no rule says which files must be encrypted, so only plaintext Kubernetes Secrets were "
        f"looked for; {hint}; or pass --allow-missing-rules if that is all you want"
    )

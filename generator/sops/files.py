"""The file edge of the sops engine: paths and directories, atomic writes, $EDITOR.

One process, one key-source cache per command. Each file is read once and written at most once
through ``fsio.write_atomic``; a file that fails is left untouched and reported, the others go on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypedDict

from generator.errors import FluxforgeError, SopsError, UsageError
from generator.fsio import is_temp_name, read_input, sweep_stale_temps, walk_files, write_atomic
from generator.sops import engine
from generator.sops import metadata as md
from generator.sops.api import Progress
from generator.sops.flags import EncryptFlags, parse_extract
from generator.sops.formats import detect_format
from generator.sops.keys import KeyOptions, KeySource, source_for
from generator.sops.report import Report
from generator.sops.rules import (
    CreationRule,
    SopsRules,
    display_path,
    find_sops_config,
    load_rules,
    nearby_config_hint,
)


def load_sops_config(config: Path | None, paths: Sequence[Path] = ()) -> SopsRules:
    """The ``.sops.yaml`` to use: ``config`` (``--sops-config``), else found as sops finds it (``SOPS_CONFIG``,
    else from the working directory upwards). None found: the error names a ``.sops.yaml`` near ``paths``."""
    path = config or find_sops_config()
    if path is None:
        hint = nearby_config_hint(paths, None) or (
            "write one with creation_rules (`fluxforge render` generates it from fluxforge.yaml) or pass "
            "--sops-config FILE"
        )
        raise SopsError(
            "no .sops.yaml in the current directory or its parents (fluxforge looks from the working "
            f"directory upwards, as sops does); {hint}"
        )
    return load_rules(path)


def no_rule(path: Path, rules: SopsRules, what: str = "this file") -> str:
    """``PATH: no creation rule in CONFIG matches this file`` plus where a better ``.sops.yaml`` is, if any."""
    hint = nearby_config_hint([path], rules.path)
    return f"{path}: no creation rule in {display_path(rules.path)} matches {what}" + (f"; {hint}" if hint else "")


def _walk(root: Path) -> Iterator[Path]:
    """The files below a folder a command was given, without ``.sops.yaml`` and the temp files of fluxforge runs
    (``.NAME.fluxforge-PID-N.tmp``: a running one's, or a stale one the first write beside it removes)."""
    return (path for path in walk_files(root) if path.name != ".sops.yaml" and not is_temp_name(path.name))


def expand(
    paths: Sequence[Path], keep: Callable[[Path], bool], on_empty: Callable[[Path, int], str] | None = None
) -> list[Path]:
    """Files named directly, plus the files below directories for which ``keep`` is true. A directory
    where ``keep`` chose nothing is an error when ``on_empty(dir, files looked at)`` words one."""
    out: list[Path] = []
    empty: list[str] = []
    for path in paths:
        if path.is_dir():
            below = list(_walk(path))
            kept = [p for p in below if keep(p)]
            if not kept and on_empty is not None:
                empty.append(on_empty(path, len(below)))
            out.extend(kept)
        elif path.exists():
            out.append(path)  # a FIFO or device named directly is refused when it is read
        else:
            raise SopsError(f"{path}: no such file or directory")
    if empty:
        raise SopsError(empty)
    return out


def _each(
    files: list[Path], progress: Progress | None, work: Callable[[Path], None], unreadable: list[str] | None = None
) -> None:
    """Run ``work`` on every file; one line per problem, all raised at the end. ``unreadable``: lines
    for files that could not even be read to tell whether they belong (they count as failed)."""
    problems = list(unreadable or [])
    failed = len(problems)
    total = len(files) + failed
    for done, path in enumerate(files, 1):
        try:
            work(path)
        except FluxforgeError as err:
            problems.extend(_named(path, line) for line in err.problems)
            failed += 1
        except OSError as err:
            problems.append(f"{path}: cannot read: {err.strerror or err}")
            failed += 1
        if progress is not None:
            progress(done, len(files), path)
    if problems:
        if total > failed:
            problems.append(
                f"{failed} of {total} file(s) failed and are unchanged; the other {total - failed} succeeded"
            )
        raise SopsError(problems)


def _named(path: Path, line: str) -> str:
    """``line`` naming ``path`` once: key sources do not know the file, most other errors already do."""
    text = str(path)
    return line if line.startswith(f"{text}:") or f" {text}:" in line else f"{text}: {line}"


def in_place_target(path: Path, rules: SopsRules | None, *, follow_outside: bool) -> Path:
    """Where an in-place write of ``path`` lands: a symlink is written through to its target (as sops
    does), but only inside the repository (``repo_root``) unless ``follow_outside``."""
    if follow_outside or not path.is_symlink():
        return path
    target = Path(os.path.realpath(path))
    base = Path(os.path.realpath(repo_root(path, rules)))
    if target != base and base not in target.parents:
        raise SopsError(
            f"{path}: is a symlink to {target}, outside the repository {base}; fluxforge writes "
            "through links only inside it (pass --follow-outside to write the target anyway)"
        )
    return path


def repo_root(path: Path, rules: SopsRules | None = None) -> Path:
    """The repository a file belongs to: its git work tree, else the folder of the .sops.yaml, else CWD."""
    from generator.gitrepo import GitRepo

    found = GitRepo.workdir_of(path.parent if path.parent.exists() else Path.cwd())
    if found is not None:
        return found
    return rules.path.parent.resolve() if rules is not None else Path.cwd()


def _read(path: Path) -> tuple[bytes, str]:
    """The file's bytes and store; first the folder's stale temp files of ours are removed (a SIGKILL
    during an earlier write leaves one, possibly holding plaintext)."""
    sweep_stale_temps(_real_folder(path))
    return read_input(path), detect_format(path)


_REAL_FOLDERS: dict[str, Path] = {}


def _real_folder(path: Path) -> Path:
    """The folder the file ``path`` really is in (``realpath(path).parent``): a symlink's target's folder,
    else its folder's real path (resolved once per folder and run)."""
    if path.is_symlink():
        return Path(os.path.realpath(path)).parent
    folder = os.path.abspath(path.parent)  # noqa: PTH100 - a key that holds when the working directory changes
    real = _REAL_FOLDERS.get(folder)
    if real is None:
        real = _REAL_FOLDERS[folder] = Path(os.path.realpath(folder))
    return real


def _encrypt_rules(config: Path | None, paths: Sequence[Path], flags: EncryptFlags) -> SopsRules | None:
    """The ``.sops.yaml`` in force; with key flags (``--age``, ``--azure-kv``) there may be none, and
    then no folder can be expanded (the rules choose a folder's files)."""
    if not flags.has_keys:
        return load_sops_config(config, paths)
    found = config or find_sops_config()
    if found is not None:
        return load_rules(found)
    folders = [str(p) for p in paths if p.is_dir()]
    if folders:
        raise SopsError(
            [
                f"{f}: a folder needs .sops.yaml creation rules to choose its files; name the files "
                "(--age/--azure-kv give the keys)"
                for f in folders
            ]
        )
    return None


def encrypt_paths(
    paths: Sequence[Path],
    *,
    in_place: bool,
    options: KeyOptions,
    config: Path | None,
    progress: Progress | None,
    follow_outside: bool = False,
    flags: EncryptFlags | None = None,
) -> Report:
    flags = flags or EncryptFlags()
    rules = _encrypt_rules(config, paths, flags)

    def nothing_below(folder: Path, seen: int) -> str:
        assert rules is not None
        return no_rule(folder, rules, f"any of the {seen} file(s) below this folder; nothing to encrypt")

    job = _EncryptJob(rules, flags, options, in_place, follow_outside)
    files = expand(paths, lambda p: job.base_rule(p) is not None, nothing_below)
    if not in_place and len(files) != 1:
        raise UsageError("without -i/--in-place, give exactly one file (the ciphertext goes to stdout)")
    report = Report()
    try:
        _collect(files, progress, report, job.one, parallel=_local_keys(rules, flags))
    finally:
        if report.changed:
            os.sync()  # one flush for the whole batch instead of one fsync per file
    return report


class _Outcome:
    """What one file's work came to: written (with notes), left alone, the output (without -i), or
    the problem lines naming it."""

    __slots__ = ("changed", "kept", "notes", "output", "problems", "warnings")

    def __init__(
        self,
        *,
        changed: bool = False,
        kept: bool = False,
        notes: list[str] | None = None,
        output: bytes | None = None,
        problems: list[str] | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        self.changed, self.kept, self.notes, self.output, self.problems = changed, kept, notes or [], output, problems
        self.warnings = warnings or []


class _EncryptJob:
    """Encrypting one file, with the run's rules, flags and key sources (one cache per process)."""

    def __init__(
        self, rules: SopsRules | None, flags: EncryptFlags, options: KeyOptions, in_place: bool, follow_outside: bool
    ) -> None:
        self.rules, self.flags, self.options = rules, flags, options
        self.in_place, self.follow_outside = in_place, follow_outside
        self.cache: dict[str, KeySource] = {}
        self._bases: dict[Path, CreationRule | None] = {}  # the matching .sops.yaml rule, per file
        self._applied: dict[int, CreationRule] = {}  # the flags applied to a rule (by its index; -1: none)

    def base_rule(self, path: Path) -> CreationRule | None:
        """The ``.sops.yaml`` rule matching ``path`` (looked up once per file: the folder walk already asked)."""
        if path not in self._bases:
            self._bases[path] = self.rules.rule_for(path) if self.rules is not None else None
        return self._bases[path]

    def rule_for(self, path: Path) -> CreationRule:
        """The rule ``path`` is encrypted with: its ``.sops.yaml`` rule with the flags applied (once per rule).
        SopsError when no rule matches: sops refuses too (the rule gives the selectors, even with key flags)."""
        rules = self.rules
        base = self.base_rule(path)
        if rules is not None and base is None:
            raise SopsError(no_rule(path, rules))
        index = -1 if rules is None or base is None else rules.rules.index(base)
        applied = self._applied.get(index)
        if applied is None:
            where = "" if rules is None else f"{display_path(rules.path)} creation_rules[{index}]"
            applied = self._applied[index] = self.flags.rule(base, where)
        return applied

    def one(self, path: Path) -> _Outcome:
        try:
            return self._encrypt(path)
        except FluxforgeError as err:
            return _Outcome(problems=[_named(path, line) for line in err.problems])
        except OSError as err:
            return _Outcome(problems=[f"{path}: cannot read: {err.strerror or err}"])

    def _encrypt(self, path: Path) -> _Outcome:
        rules, flags = self.rules, self.flags
        if self.in_place:  # before any key is used
            in_place_target(path, rules, follow_outside=self.follow_outside)
        data, fmt = _read(path)
        fmt = flags.input_type or fmt
        if _may_be_encrypted(data) and _is_encrypted(data, fmt):
            return self._added(path, data, fmt)
        out = engine.encrypt_document(
            data,
            fmt=fmt,
            rule=self.rule_for(path),
            cache=self.cache,
            options=self.options,
            name=str(path),
            output_fmt=flags.output_type or detect_format(path),
        )
        if self.in_place:
            write_atomic(path, out, sync=False)
            return _Outcome(changed=True)
        return _Outcome(output=out)

    def _added(self, path: Path, data: bytes, fmt: str) -> _Outcome:
        """An already encrypted file: plaintext values added by hand are encrypted, else it is left alone."""
        out, added = _encrypt_added(path, data, fmt, self.rules, self.cache, self.options) if self.rules else (None, [])
        if out is None:
            return _Outcome(kept=True, output=None if self.in_place else data)
        if not self.in_place:
            return _Outcome(output=out)
        write_atomic(path, out, sync=False)
        note = f"encrypted {len(added)} plaintext value(s) added by hand ({', '.join(added)}); new MAC"
        return _Outcome(changed=True, notes=[note])


def _is_encrypted(data: bytes, fmt: str) -> bool:
    """``detect.is_encrypted``, imported on first use: a one-file decrypt never asks."""
    from generator.sops.detect import is_encrypted

    return is_encrypted(data, fmt)


def _may_be_encrypted(data: bytes) -> bool:
    """A first look before any parsing: sops metadata is named ``sops`` (its key, or the ``sops_``
    prefix of the flat stores), which a file can only spell otherwise with an escape."""
    return b"sops" in data or b"\\" in data


# --- many files: in order, on every core -------------------------------------------------------

POOL_MIN_FILES = 64  # fewer files than this are done in this process (starting workers costs more)
JOBS_ENV = "FLUXFORGE_JOBS"  # worker processes for a batch; 1 = none; default: the usable cores


def jobs_for(count: int) -> int:
    """How many worker processes a batch of ``count`` files gets (1: none)."""
    raw = os.environ.get(JOBS_ENV, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise UsageError(f"{JOBS_ENV}={raw!r}: give a number of processes (1 or more; 1 = no worker processes)")
        wanted = int(raw)
    else:
        wanted = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if count < POOL_MIN_FILES or wanted < 2 or not _can_fork():
        return 1
    return min(wanted, count // (POOL_MIN_FILES // 2))


def _can_fork() -> bool:
    return hasattr(os, "fork")


def _local_keys(rules: SopsRules | None, flags: EncryptFlags | None) -> bool:
    """The run uses age keys only (the flags' keys, else every creation rule's). Workers are for such
    runs: with a key service (Azure Key Vault) the time goes to the network, and one process keeps
    the run's single key read and notices an outage once instead of once per worker."""
    if flags is not None and flags.has_keys:
        return not flags.azure_kv
    if rules is None:
        return False
    return all(kind == "age" for rule in rules.rules for group in rule.key_groups for kind, _ in group)


def _outcomes(
    files: list[Path], work: Callable[[Path], _Outcome], *, parallel: bool, warm: Callable[[], bool] | None = None
) -> Iterator[_Outcome]:
    """Every file's outcome, in the order of ``files``: for a big batch from this process and forked
    ones (``batch.in_order``: each writes its own files; the outcomes come back in order), else one by
    one here. The first files are worked here until ``warm()`` says the key sources are loaded (a
    decrypt's identities: ``SOPS_AGE_KEY_CMD`` runs once, not once per process)."""
    jobs = jobs_for(len(files)) if parallel else 1
    if jobs == 1:
        yield from map(work, files)
        return
    from generator.sops import batch

    done = 0
    while done < len(files):  # here first: the forked processes inherit its imports, key sources and identities
        yield work(files[done])
        done += 1
        if warm is None or warm():
            break
    yield from batch.in_order(files[done:], work, jobs)


def _collect(
    files: list[Path],
    progress: Progress | None,
    report: Report,
    work: Callable[[Path], _Outcome],
    on_warning: Callable[[str], None] | None = None,
    *,
    parallel: bool,
    warm: Callable[[], bool] | None = None,
) -> None:
    """Run ``work`` over ``files`` and fill ``report`` in input order; one line per problem, raised at
    the end; a file's warnings go to ``on_warning`` in the same order."""
    problems: list[str] = []
    failed = 0
    outcomes = _outcomes(files, work, parallel=parallel, warm=warm)
    for done, (path, outcome) in enumerate(zip(files, outcomes, strict=True), 1):
        if on_warning is not None:
            for line in outcome.warnings:
                on_warning(line)
        if outcome.problems is not None:
            problems.extend(outcome.problems)
            failed += 1
        _record(report, path, outcome)
        if progress is not None:
            progress(done, len(files), path)
    if problems:
        if len(files) > failed:
            problems.append(
                f"{failed} of {len(files)} file(s) failed and are unchanged; the other {len(files) - failed} succeeded"
            )
        raise SopsError(problems)


def _record(report: Report, path: Path, outcome: _Outcome) -> None:
    """One file's output, and whether it changed (with what) or was left as it was."""
    if outcome.output is not None:
        report.outputs[path] = outcome.output
    if outcome.changed:
        report.changed.append(path)
        if outcome.notes:
            report.changes[path] = outcome.notes
    elif outcome.kept:
        report.unchanged.append(path)


def _encrypt_added(
    path: Path, data: bytes, fmt: str, rules: SopsRules, cache: dict[str, KeySource], options: KeyOptions
) -> tuple[bytes | None, list[str]]:
    """An encrypted file with plaintext values added by hand: those values encrypted (``engine.encrypt_added``)
    and their key paths, else None. Only such a file needs the key; the keyless look comes first."""
    if not engine.plaintext_leaves(data, fmt=fmt, name=str(path)):
        return None, []
    return engine.encrypt_added(data, fmt=fmt, name=str(path), cache=cache, options=options, rule=rules.rule_for(path))


def _refuse_decrypt_flags(in_place: bool, output: Path | None, extract: str | None) -> None:
    if in_place and output is not None:
        raise UsageError("use either -i/--in-place or --output, not both")
    if in_place and extract is not None:
        raise UsageError("use either -i/--in-place or --extract, not both (--extract prints one value)")


def decrypt_path(
    path: Path,
    *,
    in_place: bool,
    output: Path | None,
    options: KeyOptions,
    follow_outside: bool = False,
    extract: str | None = None,
    ignore_mac: bool = False,
    on_warning: Callable[[str], None] | None = None,
) -> bytes:
    _refuse_decrypt_flags(in_place, output, extract)
    path_in_tree = parse_extract(extract) if extract is not None else None
    try:
        data, fmt = _read(path)
    except OSError as err:
        raise SopsError(f"{path}: {err.strerror or err}") from None
    found = find_sops_config()
    settings = load_rules(found) if found else None
    if in_place:
        in_place_target(path, settings, follow_outside=follow_outside)
    plain = engine.decrypt_document(
        data,
        fmt=fmt,
        name=str(path),
        cache={},
        options=options,
        verify_mac=not ignore_mac,
        on_warning=on_warning,
        extract=path_in_tree,
        **_indents(settings),
    )
    if in_place:
        write_atomic(path, plain)
    elif output is not None:
        write_atomic(output, plain, mode=0o600)
    return plain


def decrypt_paths(
    paths: Sequence[Path],
    *,
    options: KeyOptions,
    progress: Progress | None = None,
    follow_outside: bool = False,
    ignore_mac: bool = False,
    on_warning: Callable[[str], None] | None = None,
) -> Report:
    """``decrypt -i`` for many files: each named file, and every encrypted file below each folder, is
    replaced by its plaintext (MAC verified unless ``ignore_mac``). A file that fails is left as it
    was and reported, the others go on; a big batch uses every core, reported in input order. Files
    below a folder that are not encrypted are left alone (``Report.unchanged``)."""
    found = find_sops_config()
    named = {p for p in paths if not p.is_dir()}
    job = _DecryptJob(load_rules(found) if found else None, options, follow_outside, ignore_mac, named)
    files = list(dict.fromkeys(expand(paths, lambda _: True)))  # a file named and found below a folder: once
    report = Report()
    try:
        _collect(
            files,
            progress,
            report,
            job.one,
            on_warning,
            parallel=job.settings is not None and _local_keys(job.settings, None),
            warm=lambda: bool(job.cache),  # a file has loaded the identities
        )
    finally:
        if report.changed:
            os.sync()
    return report


class _DecryptJob:
    def __init__(
        self, settings: SopsRules | None, options: KeyOptions, follow_outside: bool, ignore_mac: bool, named: set[Path]
    ) -> None:
        self.settings, self.options = settings, options
        self.follow_outside, self.ignore_mac, self.named = follow_outside, ignore_mac, named
        self.cache: dict[str, KeySource] = {}

    def one(self, path: Path) -> _Outcome:
        warnings: list[str] = []
        try:
            data, fmt = _read(path)
            if path not in self.named and not (_may_be_encrypted(data) and _is_encrypted(data, fmt)):
                return _Outcome(kept=True)  # found below a folder and not encrypted: not ours to touch
            in_place_target(path, self.settings, follow_outside=self.follow_outside)
            plain = engine.decrypt_document(
                data,
                fmt=fmt,
                name=str(path),
                cache=self.cache,
                options=self.options,
                verify_mac=not self.ignore_mac,
                on_warning=warnings.append,
                **_indents(self.settings),
            )
            write_atomic(path, plain, sync=False)
        except FluxforgeError as err:
            return _Outcome(problems=[_named(path, line) for line in err.problems], warnings=warnings)
        except OSError as err:
            return _Outcome(problems=[f"{path}: cannot read: {err.strerror or err}"], warnings=warnings)
        return _Outcome(changed=True, warnings=warnings)


def edit_path(
    path: Path,
    *,
    options: KeyOptions,
    editor: str | None,
    config: Path | None,
    retry: Callable[[SopsError], bool] | None = None,
    follow_outside: bool = False,
    ignore_mac: bool = False,
    on_warning: Callable[[str], None] | None = None,
) -> bool:
    """Edit the plaintext of ``path`` in an editor and re-encrypt it.

    When the edited text cannot be stored (broken YAML, a bad value), ``retry(error)`` decides whether
    the editor opens again on the edited text (as sops does on a terminal); otherwise the error is
    raised and the file stays untouched.
    """
    import shlex  # the editor's modules load only for an edit (not on every decrypt's start-up)

    command = shlex.split(editor or os.environ.get("SOPS_EDITOR") or os.environ.get("EDITOR") or "vi")
    fmt = detect_format(path)
    cache: dict[str, KeySource] = {}
    rule = None
    in_place_target(path, None, follow_outside=follow_outside)
    if path.exists():
        opened = engine.open_file(
            read_input(path),
            fmt=fmt,
            name=str(path),
            cache=cache,
            options=options,
            verify_mac=not ignore_mac,
            on_warning=on_warning,
        )
        before = opened.store.emit_plain(opened.docs)
    else:
        opened, before = None, b""
        rule = _new_file_rule(path, config)
    text = before
    while True:
        text = _run_editor(command, path.name, text)
        if text == before:
            return False
        try:
            out = _sealed_edit(path, text, fmt, opened, rule, cache, options)
        except SopsError as err:
            if retry is not None and retry(err):
                continue
            raise
        return write_atomic(path, out)


def _new_file_rule(path: Path, config: Path | None) -> CreationRule:
    """The creation rule for a file ``edit`` creates, found before the editor opens: no edit is wasted."""
    rules = load_sops_config(config, [path])
    rule = rules.rule_for(path)
    if rule is None:
        raise SopsError(no_rule(path, rules, "this new file"))
    return rule


def _sealed_edit(
    path: Path,
    text: bytes,
    fmt: str,
    opened: engine.Opened | None,
    rule: CreationRule | None,
    cache: dict[str, KeySource],
    options: KeyOptions,
) -> bytes:
    """The edited plaintext encrypted: a new file under its rule, else with the file's data key and metadata."""
    if opened is None:
        assert rule is not None
        return engine.encrypt_document(text, fmt=fmt, rule=rule, cache=cache, options=options, name=str(path))
    docs = opened.store.load_plain(text, str(path))
    return engine.seal(docs, opened.meta, opened.key, opened.store, str(path), stash=opened.cipher.stash)


def _run_editor(command: list[str], name: str, content: bytes) -> bytes:
    """Edit ``content`` in a 0600 file inside a fresh 0700 directory that is removed afterwards (also on
    SIGTERM/SIGHUP: the CLI turns them into an exit that runs this ``finally``)."""
    import shutil
    import subprocess
    import tempfile

    _sweep_stale_edit_dirs()
    try:
        tmpdir = Path(tempfile.mkdtemp(prefix=f"{_EDIT_PREFIX}{os.getpid()}-"))
    except OSError as err:
        raise SopsError(_tmpdir_problem(err)) from None
    try:
        tmpdir.chmod(0o700)
        target = tmpdir / name
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
        except OSError as err:
            raise SopsError(_tmpdir_problem(err)) from None
        try:
            done = subprocess.run([*command, str(target)], check=False)
        except OSError as err:
            raise SopsError(f"cannot start the editor {command[0]!r}: {err.strerror}; set $EDITOR") from None
        if done.returncode != 0:
            raise SopsError(f"the editor {command[0]!r} exited with status {done.returncode}; file not changed")
        return read_input(target, what="the edited file")
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


_EDIT_PREFIX = "fluxforge-edit-"


def _tmpdir_problem(err: OSError) -> str:
    import tempfile

    return (
        f"cannot write the plaintext for the editor in {tempfile.gettempdir()} ($TMPDIR): "
        f"{err.strerror or err}; free some space there or point TMPDIR at another folder; file not changed"
    )


def _sweep_stale_edit_dirs() -> None:
    """Remove edit folders of ours whose process is gone (a SIGKILLed edit leaves its plaintext there)."""
    import re
    import shutil
    import tempfile

    from generator.fsio import note, process_alive

    base = Path(tempfile.gettempdir())
    pattern = re.compile(rf"^{_EDIT_PREFIX}(\d+)-")
    try:
        entries = [e for e in os.scandir(base) if e.name.startswith(_EDIT_PREFIX) and e.is_dir(follow_symlinks=False)]
    except OSError:
        return
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None or entry.stat(follow_symlinks=False).st_uid != os.getuid():
            continue
        if not process_alive(int(match.group(1))):
            shutil.rmtree(entry.path, ignore_errors=True)
            note(
                "%s: removed a stale edit folder left by an interrupted fluxforge edit (process %s is gone)",
                entry.path,
                match.group(1),
            )


def _encrypted_files(paths: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """Encrypted files below ``paths``, and one problem line per file that could not be read to tell:
    after a key compromise a rotation that silently misses a file is the worst outcome."""
    problems: list[str] = []

    def keep(p: Path) -> bool:
        try:
            return _is_encrypted(read_input(p), detect_format(p))
        except FluxforgeError as err:
            problems.extend(_named(p, line) for line in err.problems)
        except OSError as err:
            problems.append(
                f"{p}: cannot read ({err.strerror or err}), so it may be an encrypted file that "
                "was not processed; fix its permissions and run again"
            )
        return False

    return expand(paths, keep), problems


def rotate_paths(
    paths: Sequence[Path], *, options: KeyOptions, progress: Progress | None, follow_outside: bool = False
) -> Report:
    report = Report()
    cache: dict[str, KeySource] = {}

    def work(path: Path) -> None:
        in_place_target(path, None, follow_outside=follow_outside)
        data, fmt = _read(path)
        opened = engine.open_file(data, fmt=fmt, name=str(path), cache=cache, options=options)
        groups = [
            [(e.kind, source_for(e.kind, options, cache).recipient_of(e.fields)) for e in g] for g in opened.meta.groups
        ]
        new_key = os.urandom(32)
        opened.meta.groups = engine.wrap_groups(groups, new_key, opened.meta.shamir_threshold, cache, options)
        out = engine.seal(opened.docs, opened.meta, new_key, opened.store, str(path))
        write_atomic(path, out)
        report.changed.append(path)

    files, unreadable = _encrypted_files(paths)
    _each(files, progress, work, unreadable)
    return report


def updatekeys_paths(
    paths: Sequence[Path],
    *,
    dry_run: bool,
    options: KeyOptions,
    config: Path | None,
    progress: Progress | None,
    follow_outside: bool = False,
) -> Report:
    rules = load_sops_config(config, paths)
    report = Report()
    cache: dict[str, KeySource] = {}

    def work(path: Path) -> None:
        in_place_target(path, rules, follow_outside=follow_outside)
        data, fmt = _read(path)
        rule = rules.rule_for(path)
        if rule is None:
            raise SopsError(no_rule(path, rules))
        store = engine.store_for(
            fmt, yaml_indent=rule.yaml_indent, json_indent=rule.json_indent, binary_indent=rule.binary_indent
        )
        docs, raw = store.load_encrypted(data, str(path))
        if raw is None:
            raise SopsError(f"{path}: no sops metadata found: the file is not encrypted")
        meta = md.from_mapping(raw, str(path))
        current = [
            [(e.kind, source_for(e.kind, options, cache).recipient_of(e.fields)) for e in g] for g in meta.groups
        ]
        wanted = [
            [_resolved(k, g2) for k in g]
            for g, g2 in zip(rule.key_groups, current + [[]] * len(rule.key_groups), strict=False)
        ]
        if current == wanted:
            report.unchanged.append(path)
            return
        report.changes[path] = _describe(current, wanted)
        if dry_run:
            return
        key = engine.recover_key(meta, cache, options, str(path))
        engine.open_file(data, fmt=fmt, name=str(path), cache=cache, options=options)  # MAC must hold
        threshold = rule.shamir_threshold if len(wanted) > 1 else 0
        meta.groups = _rewrap(meta.groups, current, wanted, key, threshold, cache, options)
        meta.shamir_threshold = threshold
        write_atomic(path, store.emit_encrypted(docs, md.to_branch(meta)))
        report.changed.append(path)

    files, unreadable = _encrypted_files(paths)
    _each(files, progress, work, unreadable)
    return report


Recipient = tuple[str, str]  # (kind, recipient as sops prints it)


def retarget_paths(
    files: Sequence[Path],
    *,
    replace: Callable[[str, str], str],
    rotate_data_key: bool = False,
    options: KeyOptions,
    rules: SopsRules | None = None,
    progress: Progress | None = None,
    follow_outside: bool = False,
    dry_run: bool = False,
) -> Report:
    """Swap recipients of encrypted files: each recipient becomes ``replace(kind, recipient)`` (the same string
    keeps it; a new one gets the data key wrapped for it, a duplicate is dropped). One transaction per file:
    the MAC is verified, the file is written once (atomically) or not at all. Values stay as they are
    (``updatekeys``), unless ``rotate_data_key``: then a new data key encrypts every value and is wrapped for
    every recipient (``rotate``). ``Report.changes`` lists what changed per file; ``dry_run`` only that.
    ``rules``: the ``.sops.yaml`` whose store settings (indentation) a rewritten file keeps."""
    report = Report()
    cache: dict[str, KeySource] = {}

    def work(path: Path) -> None:
        in_place_target(path, rules, follow_outside=follow_outside)
        data, fmt = _read(path)
        rule = rules.rule_for(path) if rules is not None else None
        store = engine.store_for(fmt, **_indents(rule))
        docs, raw = store.load_encrypted(data, str(path))
        if raw is None:
            raise SopsError(f"{path}: no sops metadata found: the file is not encrypted")
        meta = md.from_mapping(raw, str(path))
        current = [
            [(e.kind, source_for(e.kind, options, cache).recipient_of(e.fields)) for e in g] for g in meta.groups
        ]
        wanted = [list(dict.fromkeys((kind, replace(kind, rec)) for kind, rec in g)) for g in current]
        if wanted == current and not rotate_data_key:
            report.unchanged.append(path)
            return
        report.changes[path] = ([] if wanted == current else _describe(current, wanted)) + (
            ["new data key (every value re-encrypted)"] if rotate_data_key else []
        )
        if dry_run:
            return
        opened = engine.open_file(data, fmt=fmt, name=str(path), cache=cache, options=options, rule=rule)
        if rotate_data_key:
            new_key = os.urandom(32)
            opened.meta.groups = engine.wrap_groups(wanted, new_key, meta.shamir_threshold, cache, options)
            out = engine.seal(opened.docs, opened.meta, new_key, opened.store, str(path))
        else:
            meta.groups = _rewrap(meta.groups, current, wanted, opened.key, meta.shamir_threshold, cache, options)
            out = store.emit_encrypted(docs, md.to_branch(meta))
        write_atomic(path, out)
        report.changed.append(path)

    _each(list(files), progress, work)
    return report


class _Indents(TypedDict, total=False):
    yaml_indent: int
    json_indent: int
    binary_indent: int


def _indents(rule: CreationRule | SopsRules | None) -> _Indents:
    """The stores settings of a rule or a ``.sops.yaml`` ({}: sops's defaults)."""
    if rule is None:
        return {}
    return {"yaml_indent": rule.yaml_indent, "json_indent": rule.json_indent, "binary_indent": rule.binary_indent}


def _resolved(key: tuple[str, str], current: list[tuple[str, str]]) -> tuple[str, str]:
    """An azure_kv URL without a version names the version already in the file, if any."""
    kind, recipient = key
    if kind == "azure_kv" and recipient.rstrip("/").count("/") == 4:
        prefix = recipient.rstrip("/") + "/"
        return next(((k, r) for k, r in current if k == kind and r.startswith(prefix)), key)
    return key


def _rewrap(
    groups: list[list[md.KeyEntry]],
    current: list[list[tuple[str, str]]],
    wanted: list[list[tuple[str, str]]],
    key: bytes,
    threshold: int,
    cache: dict[str, KeySource],
    options: KeyOptions,
) -> list[list[md.KeyEntry]]:
    """Keep entries of recipients that stay (single group), wrap the data key for new ones."""
    if len(wanted) > 1 or len(current) != 1:
        return engine.wrap_groups(wanted, key, threshold, cache, options)
    kept = dict(zip(current[0], groups[0], strict=True))
    out = []
    for kind, recipient in wanted[0]:
        entry = kept.get((kind, recipient))
        if entry is None:
            entry = md.KeyEntry(kind, dict(source_for(kind, options, cache).wrap(recipient, key)))
        out.append(entry)
    return [out]


def _describe(current: list[list[tuple[str, str]]], wanted: list[list[tuple[str, str]]]) -> list[str]:
    have = {k for g in current for k in g}
    want = {k for g in wanted for k in g}
    lines = [f"+ {kind} {rec}" for kind, rec in sorted(want - have)]
    lines += [f"- {kind} {rec}" for kind, rec in sorted(have - want)]
    if len(current) != len(wanted):
        lines.append(f"key groups: {len(current)} -> {len(wanted)}")
    return lines or ["key order or grouping changes"]

"""The hostile catalogue of issue 18: every attack, how to set it up, and what the right outcome is.

Each case builds its files in a fresh ``World``, runs fluxforge as a real process and returns a
``Verdict``: the outcome, what is wrong about it (None when it is right) and where plaintext escaped
(None when it did not). ``classify`` turns a verdict into one word of the before/after table:
``hang`` (stopped by the hang guard), ``exit3`` (exit 3, a signal, or a traceback), ``leak``,
``wrong`` (a silent pass or a misleading result), ``clean`` (the right result or a clean error).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.hostile.world import PLAIN, Outcome, World


@dataclass
class Verdict:
    outcome: Outcome
    wrong: str | None = None
    leak: str | None = None


@dataclass(frozen=True)
class Case:
    name: str
    item: int
    what: str
    run: Callable[[World], Verdict]
    root: bool = False  # needs root: a private mount namespace, mknod, chown or dropping capabilities


CASES: dict[str, Case] = {}


def case(
    item: int, what: str, *, root: bool = False
) -> Callable[[Callable[[World], Verdict]], Callable[[World], Verdict]]:
    def register(func: Callable[[World], Verdict]) -> Callable[[World], Verdict]:
        name = func.__name__.removeprefix("case_")
        CASES[name] = Case(name, item, what, func, root)
        return func

    return register


def classify(verdict: Verdict) -> str:
    o = verdict.outcome
    if o.rc is None:
        return "hang"
    if o.rc == 3 or o.rc < 0 or "Traceback" in o.text or "internal error" in o.text:
        return "exit3"
    if verdict.leak:
        return "leak"
    if verdict.wrong:
        return "wrong"
    return "clean"


# --- judging helpers ------------------------------------------------------------------------------------
def refused(o: Outcome, *words: str, code: int = 1) -> str | None:
    """None when ``o`` is a clean refusal: exit ``code``, stderr naming every word, no plaintext."""
    if o.rc != code:
        return f"exit {o.rc}, expected {code}"
    err = o.err.decode("utf-8", "replace")
    missing = [w for w in words if w not in err]
    if missing:
        return f"message lacks {missing}: {err.strip()[:300]!r}"
    return None


def succeeded(o: Outcome) -> str | None:
    return None if o.rc == 0 else f"exit {o.rc}: {o.err.decode('utf-8', 'replace').strip()[:300]!r}"


def leak_in_messages(o: Outcome) -> str | None:
    return "plaintext in stderr" if PLAIN in o.err.decode("utf-8", "replace") else None


SECRET = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: app
stringData:
  password: {PLAIN}
"""
ALL = "path_regex: \\.(yaml|json|env|txt)$\nage: {age}"


def _encrypted(w: World, rel: str = "secret.yaml", content: str = SECRET) -> Path:
    w.rules(ALL)
    w.write(rel, content)
    return w.sops_encrypt(rel)


# --- item 1: decrypt --output writes through devices, FIFOs and /dev/std* --------------------------------
@case(1, "decrypt --output /dev/null (root, private /dev)", root=True)
def case_output_dev_null(w: World) -> Verdict:
    _encrypted(w)
    o = w.shell(
        "$FF decrypt --output /dev/null secret.yaml; rc=$?; echo TYPE=$(stat -c %F /dev/null); "
        "cat /dev/null | grep -c hostile; exit $rc",
        private_dev=True,
    )
    text = o.out.decode()
    leak = "/dev/null became a file holding the plaintext" if "TYPE=character special file" not in text else None
    return Verdict(o, succeeded(o), leak)


@case(1, "decrypt --output /dev/stdout, stdout redirected to a file (private /dev)", root=True)
def case_output_dev_stdout_file(w: World) -> Verdict:
    _encrypted(w)
    o = w.shell(
        "$FF decrypt --output /dev/stdout secret.yaml > out.txt; rc=$?; echo TYPE=$(stat -c %F /dev/stdout); exit $rc",
        private_dev=True,
    )
    got = (w.root / "out.txt").read_text()
    wrong = succeeded(o) or (None if PLAIN in got else f"out.txt holds {len(got)} bytes, not the plaintext")
    if "TYPE=symbolic link" not in o.out.decode():
        wrong = "/dev/stdout was replaced"
    return Verdict(o, wrong)


@case(1, "decrypt --output /dev/stdout piped into cat (private /dev)", root=True)
def case_output_dev_stdout_pipe(w: World) -> Verdict:
    _encrypted(w)
    o = w.shell("$FF decrypt --output /dev/stdout secret.yaml | cat > out.txt", private_dev=True)
    got = (w.root / "out.txt").read_text()
    return Verdict(o, succeeded(o) or (None if PLAIN in got else "the plaintext did not reach the pipe"))


@case(1, "decrypt --output FIFO with a reader")
def case_output_fifo(w: World) -> Verdict:
    _encrypted(w)
    os.mkfifo(w.root / "pipe")
    o = w.shell(
        "cat pipe > out.txt & $FF decrypt --output pipe secret.yaml; rc=$?; wait; "
        "echo TYPE=$(stat -c %F pipe); exit $rc"
    )
    got = (w.root / "out.txt").read_text()
    wrong = succeeded(o) or (None if PLAIN in got else "the reader got nothing")
    leak = None if "TYPE=fifo" in o.out.decode() else "the FIFO was replaced by a file holding the plaintext"
    return Verdict(o, wrong, leak)


@case(1, "decrypt --output regular file: atomic, 0600")
def case_output_regular(w: World) -> Verdict:
    _encrypted(w)
    o = w.run("decrypt", "--output", "plain.yaml", "secret.yaml")
    target = w.root / "plain.yaml"
    wrong = succeeded(o)
    if not wrong and (not target.is_file() or stat.S_IMODE(target.stat().st_mode) != 0o600):
        wrong = "plain.yaml is not a 0600 regular file"
    return Verdict(o, wrong)


# --- item 2: no plaintext commit through a file shape ------------------------------------------------------
_SHAPES = {"list": f"- {PLAIN}\n- second\n", "scalar": f"{PLAIN}\n"}


def _shape_check(w: World, shape: str, ext: str = "yaml") -> Verdict:
    w.rules(ALL)
    content = _SHAPES[shape] if ext == "yaml" else f'["{PLAIN}"]\n'
    w.write(f"conf/values.{ext}", content)
    o = w.run("check", f"conf/values.{ext}")
    return Verdict(
        o,
        refused(o, "conf/values", "cannot be encrypted"),
        "check passed a plaintext file its rule covers" if o.rc == 0 else None,
    )


@case(2, "check: YAML top-level list under an encrypt-everything rule")
def case_shape_list_check(w: World) -> Verdict:
    return _shape_check(w, "list")


@case(2, "check: YAML top-level scalar under an encrypt-everything rule")
def case_shape_scalar_check(w: World) -> Verdict:
    return _shape_check(w, "scalar")


@case(2, "check: JSON top-level array under an encrypt-everything rule")
def case_shape_json_check(w: World) -> Verdict:
    return _shape_check(w, "list", "json")


def _shape_commit(w: World, how: str) -> Verdict:
    w.rules(ALL)
    w.git_repo()
    w.write("conf/values.yaml", _SHAPES["list"])
    w.git("add", "conf/values.yaml")
    if how == "hook run":
        o = w.run("hook", "run")
        if o.rc == 0:
            w.git("commit", "-q", "-m", "x", "--no-verify", check=False)
    else:
        w.run("hook", "install")
        o = w.commit()
    leak = "the plaintext list is in HEAD" if w.head_has() else None
    return Verdict(o, None if o.rc == 1 else f"exit {o.rc}: the commit was not blocked", leak)


@case(2, "hook run: a staged top-level list under an encrypt-everything rule")
def case_shape_hook_run(w: World) -> Verdict:
    return _shape_commit(w, "hook run")


@case(2, "installed hook + git commit: a staged top-level list")
def case_shape_installed_hook(w: World) -> Verdict:
    return _shape_commit(w, "installed")


@case(2, "hook encrypt (framework): a top-level list must not pass")
def case_shape_framework(w: World) -> Verdict:
    w.rules(ALL)
    w.write("conf/values.yaml", _SHAPES["list"])
    o = w.run("hook", "encrypt", "conf/values.yaml")
    return Verdict(o, refused(o, "conf/values.yaml"), "hook encrypt passed a plaintext list" if o.rc == 0 else None)


# --- item 3: no partial plaintext left on disk ----------------------------------------------------------
_KILL_AT_REPLACE = (
    "import os, signal, sys\n"
    "os.replace = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
    "from generator.cli import main\n"
    "sys.argv = ['fluxforge'] + sys.argv[1:]\n"
    "main()\n"
)


def _killed_decrypt(w: World) -> None:
    """``decrypt -i`` SIGKILLed at the worst moment: the plaintext temp file is complete, not yet renamed."""
    _encrypted(w, "apps/secret.yaml")
    w.write(".kill.py", _KILL_AT_REPLACE)
    w.shell("$FF --version >/dev/null; python .kill.py decrypt -i apps/secret.yaml")


def _temp_leftovers(w: World) -> list[Path]:
    return [p for p in w.files_with(below="apps") if p.name != "secret.yaml"]


@case(3, "SIGKILL in decrypt -i, then git add -A + installed hook + commit")
def case_killed_decrypt_commit(w: World) -> Verdict:
    w.rules(ALL)
    w.git_repo()
    _killed_decrypt(w)
    w.run("hook", "install")
    w.git("add", "-A")
    o = w.commit()
    leak = "the plaintext temp file is in HEAD" if w.head_has() else None
    return Verdict(o, None if o.rc == 1 else "the commit with a plaintext temp file went through", leak)


@case(3, "SIGKILL in decrypt -i, then fluxforge check")
def case_killed_decrypt_check(w: World) -> Verdict:
    _killed_decrypt(w)
    o = w.run("check", "apps")
    return Verdict(o, refused(o, "temp"), "check passed a plaintext temp file" if o.rc == 0 else None)


@case(3, "SIGKILL in decrypt -i, then the next encrypt -i removes the stale temp file and says so")
def case_killed_decrypt_cleanup(w: World) -> Verdict:
    _killed_decrypt(w)
    o = w.run("encrypt", "-i", "apps")
    left = _temp_leftovers(w)
    wrong = succeeded(o) or (None if "stale" in o.err.decode() else "no word about the stale temp file")
    return Verdict(o, wrong, f"plaintext temp file left: {[p.name for p in left]}" if left else None)


def _edit_signal(w: World, sig: str) -> Verdict:
    _encrypted(w)
    tmp = w.root / "tmp"
    tmp.mkdir()
    w.write("slow-editor.sh", '#!/bin/sh\necho started > "$(dirname "$0")/editor-started"\nsleep 30\n')
    (w.root / "slow-editor.sh").chmod(0o755)
    o = w.shell(
        f"TMPDIR={tmp} EDITOR={w.root}/slow-editor.sh $FF edit secret.yaml & pid=$!; "
        "for i in $(seq 200); do [ -e editor-started ] && break; sleep 0.05; done; "
        f"kill -{sig} $pid; wait $pid; echo rc=$?"
    )
    left = [str(p.relative_to(tmp)) for p in tmp.rglob("*")]
    return Verdict(
        o,
        None if b"rc=0" not in o.out else "edit reported success after a signal",
        f"plaintext edit files left in TMPDIR: {left}" if left else None,
    )


@case(3, "edit gets SIGTERM while the editor is open")
def case_edit_sigterm(w: World) -> Verdict:
    return _edit_signal(w, "TERM")


@case(3, "edit gets SIGHUP while the editor is open")
def case_edit_sighup(w: World) -> Verdict:
    return _edit_signal(w, "HUP")


@case(3, "check finds a plaintext Secret in a .tmp (any file type)")
def case_secret_in_tmp_file(w: World) -> Verdict:
    w.rules("path_regex: secrets/.*\\.yaml$\nage: {age}")
    w.write("apps/.secret.yaml.k2j3h4l5.tmp", SECRET)
    o = w.run("check", "apps")
    return Verdict(o, refused(o, "plaintext"), "check passed a plaintext Secret" if o.rc == 0 else None)


# --- item 4: symlinks are written through ---------------------------------------------------------------
def _linked(w: World, target: str = "real/secret.yaml") -> Path:
    w.rules(ALL)
    real = w.write(target, SECRET)
    link = w.root / "link.yaml"
    link.symlink_to(real if target.startswith("/") or ".." in target else Path(target))
    return real


@case(4, "encrypt -i through a symlink encrypts the target, keeps the link")
def case_symlink_encrypt(w: World) -> Verdict:
    real = _linked(w)
    o = w.run("encrypt", "-i", "link.yaml")
    link = w.root / "link.yaml"
    wrong = succeeded(o) or (None if link.is_symlink() else "the link was replaced by a regular file")
    return Verdict(o, wrong, "the link target is still plaintext" if PLAIN in real.read_text() else None)


def _rotated_through_link(w: World, verb: str) -> Verdict:
    w.rules(ALL)
    real = w.write("real/secret.yaml", SECRET)
    w.sops_encrypt("real/secret.yaml")
    before = real.read_bytes()
    (w.root / "link.yaml").symlink_to(Path("real/secret.yaml"))
    w.write("editor.sh", "#!/bin/sh\nsed -i 's/app$/app2/' \"$1\"\n")
    (w.root / "editor.sh").chmod(0o755)
    args = ["rotate", "link.yaml"] if verb == "rotate" else ["edit", "link.yaml"]
    o = w.run(*args, env={"EDITOR": str(w.root / "editor.sh")})
    link = w.root / "link.yaml"
    wrong = succeeded(o)
    if not wrong and not link.is_symlink():
        wrong = "the link was replaced by a file"
    elif not wrong and real.read_bytes() == before:
        wrong = f"{verb} reported success and left the target unchanged"
    return Verdict(o, wrong)


@case(4, "rotate through a symlink rotates the target")
def case_symlink_rotate(w: World) -> Verdict:
    return _rotated_through_link(w, "rotate")


@case(4, "edit through a symlink edits the target")
def case_symlink_edit(w: World) -> Verdict:
    return _rotated_through_link(w, "edit")


@case(4, "encrypt -i of a link to a file outside the repository is refused")
def case_symlink_outside(w: World) -> Verdict:
    outside = w.root.parent / f"{w.root.name}-outside" / "secret.yaml"
    outside.parent.mkdir(parents=True, exist_ok=True)
    outside.write_text(SECRET)
    w.rules(ALL)
    w.git_repo()
    (w.root / "link.yaml").symlink_to(outside)
    o = w.run("encrypt", "-i", "link.yaml")
    pulled = [p.name for p in w.files_with("sops:") if p.name == "link.yaml"]
    wrong = refused(o, "link.yaml", "--follow-outside")
    if PLAIN not in outside.read_text():
        wrong = "the file outside the repository was changed without --follow-outside"
    return Verdict(o, wrong, "the outside file's content was pulled into the repository" if pulled else None)


# --- item 5: rotate / updatekeys never skip silently ------------------------------------------------------
def _unreadable(w: World, verb: str) -> Verdict:
    w.rules(ALL)
    w.write("apps/a.yaml", SECRET)
    w.write("apps/b.yaml", SECRET.replace("app", "bpp"))
    w.sops_encrypt("apps/a.yaml")
    w.sops_encrypt("apps/b.yaml")
    (w.root / "apps/b.yaml").chmod(0)
    # root reads anything: drop the capabilities that bypass file permissions for this one run
    o = w.shell(f"setpriv --bounding-set -dac_override,-dac_read_search $FF {verb} apps")
    return Verdict(o, refused(o, "apps/b.yaml"))


@case(5, "rotate DIR with an unreadable encrypted file", root=True)
def case_rotate_unreadable(w: World) -> Verdict:
    return _unreadable(w, "rotate")


@case(5, "updatekeys DIR with an unreadable encrypted file", root=True)
def case_updatekeys_unreadable(w: World) -> Verdict:
    return _unreadable(w, "updatekeys")


# --- item 6: ReDoS -----------------------------------------------------------------------------------------
@case(6, "path_regex ^(a+)+$ against a long name: check")
def case_redos_path_check(w: World) -> Verdict:
    w.write(".sops.yaml", f"creation_rules:\n  - path_regex: ^(a+)+$\n    age: {w.recipient}\n")
    w.write("a" * 40 + "b.yaml", "k: v\n")
    o = w.run("check", ".")
    return Verdict(o, succeeded(o))


@case(6, "path_regex ^(a+)+$ against a long name: encrypt -i DIR")
def case_redos_path_encrypt(w: World) -> Verdict:
    w.write(".sops.yaml", f"creation_rules:\n  - path_regex: ^(a+)+$\n    age: {w.recipient}\n")
    w.write("a" * 40 + "b.yaml", "k: v\n")
    o = w.run("encrypt", "-i", ".")
    return Verdict(o, None if o.rc in (0, 1) else f"exit {o.rc}")


@case(6, "encrypted_regex ^(a|a)*$ against a long key: encrypt")
def case_redos_selector_encrypt(w: World) -> Verdict:
    w.rules("path_regex: \\.yaml$\nencrypted_regex: ^(a|a)*$\nage: {age}")
    w.write("s.yaml", "a" * 40 + f"b: {PLAIN}\n")
    o = w.run("encrypt", "s.yaml")
    return Verdict(o, succeeded(o))


@case(6, "encrypted_regex ^(a|a)*$ in a file's own metadata: check")
def case_redos_metadata_check(w: World) -> Verdict:
    w.rules("path_regex: \\.yaml$\nencrypted_regex: ^(a|a)*$\nage: {age}")
    w.write("s.yaml", "short: " + PLAIN + "\n")
    w.sops_encrypt("s.yaml")
    text = (w.root / "s.yaml").read_text()
    w.write("s.yaml", "a" * 40 + "b: plain\n" + text)
    o = w.run("check", "s.yaml")
    return Verdict(o, None if o.rc in (0, 1) else f"exit {o.rc}")


@case(6, "a lookahead path_regex (not RE2) is a clear error")
def case_regex_not_re2(w: World) -> Verdict:
    w.write(".sops.yaml", f"creation_rules:\n  - path_regex: (?=x)\\.yaml$\n    age: {w.recipient}\n")
    w.write("s.yaml", "k: v\n")
    o = w.run("encrypt", "s.yaml")
    return Verdict(o, refused(o, "path_regex", "RE2"))


@case(6, "a \\Z path_regex (Python-only) is a clear error")
def case_regex_python_only(w: World) -> Verdict:
    w.write(".sops.yaml", f"creation_rules:\n  - path_regex: \\.yaml\\Z\n    age: {w.recipient}\n")
    w.write("s.yaml", "k: v\n")
    o = w.run("encrypt", "s.yaml")
    return Verdict(o, refused(o, "path_regex", "RE2"))


# --- item 7: alias bombs, depth, size, special files ---------------------------------------------------
def _bomb(levels: int) -> str:
    lines = [f'a0: &a0 ["{PLAIN}","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


@case(7, "a 9-level alias bomb: encrypt")
def case_alias_bomb_encrypt(w: World) -> Verdict:
    w.rules(ALL)
    w.write("bomb.yaml", _bomb(9))
    o = w.run("encrypt", "bomb.yaml")
    return Verdict(o, refused(o, "bomb.yaml", "excessive aliasing"))


@case(7, "a 9-level alias bomb: check")
def case_alias_bomb_check(w: World) -> Verdict:
    w.rules(ALL)
    w.write("bomb.yaml", _bomb(9))
    o = w.run("check", "bomb.yaml")
    return Verdict(o, refused(o, "bomb.yaml", "excessive aliasing"))


@case(7, "a 9-level alias bomb Secret outside every rule: check")
def case_alias_bomb_secret_check(w: World) -> Verdict:
    w.write("bomb.yaml", "kind: Secret\n" + _bomb(9))
    o = w.run("check", "bomb.yaml")
    return Verdict(o, refused(o, "bomb.yaml", "excessive aliasing"))


@case(7, "a 9-level alias bomb staged: installed hook + commit")
def case_alias_bomb_hook(w: World) -> Verdict:
    w.rules(ALL)
    w.git_repo()
    w.write("bomb.yaml", _bomb(9))
    w.git("add", "bomb.yaml")
    w.run("hook", "install")
    o = w.commit()
    return Verdict(
        o,
        None if o.rc == 1 and "excessive aliasing" in o.text else f"exit {o.rc}",
        "plaintext in HEAD" if w.head_has() else None,
    )


def _deep(levels: int) -> str:
    return "a: " + "[" * levels + f'"{PLAIN}"' + "]" * levels + "\n"


@case(7, "10,000-deep YAML: encrypt")
def case_deep_encrypt(w: World) -> Verdict:
    w.rules(ALL)
    w.write("deep.yaml", _deep(10_000))
    o = w.run("encrypt", "deep.yaml")
    return Verdict(o, refused(o, "deep.yaml", "deep"))


@case(7, "10,000-deep YAML: check")
def case_deep_check(w: World) -> Verdict:
    w.rules(ALL)
    w.write("deep.yaml", _deep(10_000))
    o = w.run("check", "deep.yaml")
    return Verdict(o, refused(o, "deep.yaml", "deep"))


@case(7, "10,000-deep JSON: encrypt")
def case_deep_json_encrypt(w: World) -> Verdict:
    w.rules(ALL)
    w.write("deep.json", '{"a": ' + "[" * 10_000 + "1" + "]" * 10_000 + "}\n")
    o = w.run("encrypt", "deep.json")
    return Verdict(o, refused(o, "deep.json", "deep"))


@case(7, "a FIFO as encrypt input")
def case_fifo_input(w: World) -> Verdict:
    w.rules(ALL)
    os.mkfifo(w.root / "pipe.yaml")
    o = w.run("encrypt", "pipe.yaml")
    return Verdict(o, refused(o, "pipe.yaml", "not a regular file"))


@case(7, "/dev/zero as encrypt input")
def case_dev_zero_input(w: World) -> Verdict:
    w.write(".sops.yaml", f"creation_rules:\n  - age: {w.recipient}\n")
    o = w.run("encrypt", "/dev/zero")
    return Verdict(o, refused(o, "/dev/zero", "not a regular file"))


@case(7, "/dev/urandom as decrypt input")
def case_dev_urandom_input(w: World) -> Verdict:
    o = w.run("decrypt", "/dev/urandom")
    return Verdict(o, refused(o, "/dev/urandom", "not a regular file"))


@case(7, "a unix socket as encrypt input")
def case_socket_input(w: World) -> Verdict:
    import socket

    w.rules(ALL)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(w.root / "s.yaml"))
    try:
        o = w.run("encrypt", "s.yaml")
    finally:
        sock.close()
    return Verdict(o, refused(o, "s.yaml", "not a regular file"))


@case(7, "a FIFO as SOPS_AGE_KEY_FILE")
def case_fifo_key_file(w: World) -> Verdict:
    _encrypted(w)
    os.mkfifo(w.root / "key.fifo")
    o = w.run("decrypt", "secret.yaml", env={"SOPS_AGE_KEY_FILE": str(w.root / "key.fifo")})
    return Verdict(o, refused(o, "SOPS_AGE_KEY_FILE", "not a regular file"))


@case(7, "a directory as SOPS_AGE_KEY_FILE")
def case_dir_key_file(w: World) -> Verdict:
    _encrypted(w)
    o = w.run("decrypt", "secret.yaml", env={"SOPS_AGE_KEY_FILE": str(w.root)})
    return Verdict(o, refused(o, "SOPS_AGE_KEY_FILE"))


@case(7, "an input over the configured size limit")
def case_size_limit(w: World) -> Verdict:
    w.rules(ALL)
    w.write("big.yaml", "k: " + "x" * 5000 + "\n")
    o = w.run("encrypt", "big.yaml", env={"FLUXFORGE_MAX_INPUT_SIZE": "4096"})
    return Verdict(o, refused(o, "big.yaml", "FLUXFORGE_MAX_INPUT_SIZE"))


@case(7, "a 9-level alias bomb as fluxforge.yaml: render")
def case_alias_bomb_config(w: World) -> Verdict:
    w.write("fluxforge.yaml", _bomb(9))
    o = w.run("render", "fluxforge.yaml")
    return Verdict(o, refused(o, "fluxforge.yaml", "excessive aliasing"))


@case(7, "10,000-deep fluxforge.yaml: render")
def case_deep_config(w: World) -> Verdict:
    w.write("fluxforge.yaml", _deep(10_000))
    o = w.run("render", "fluxforge.yaml")
    return Verdict(o, refused(o, "fluxforge.yaml", "deep"))


@case(7, "a FIFO as fluxforge.yaml: render")
def case_fifo_config(w: World) -> Verdict:
    os.mkfifo(w.root / "fluxforge.yaml")
    o = w.run("render", "fluxforge.yaml")
    return Verdict(o, refused(o, "fluxforge.yaml", "not a regular file"))


@case(7, "a 9-level alias bomb as .sops.yaml: encrypt")
def case_alias_bomb_sops_config(w: World) -> Verdict:
    w.write(".sops.yaml", _bomb(9))
    w.write("s.yaml", SECRET)
    o = w.run("encrypt", "s.yaml")
    return Verdict(o, refused(o, ".sops.yaml", "excessive aliasing"))


# --- item 8: no exit 3 on user input ---------------------------------------------------------------------
@case(8, "!!python/object/apply tag in a file under a rule: check")
def case_python_tag_check(w: World) -> Verdict:
    w.rules(ALL)
    w.write("evil.yaml", "x: !!python/object/apply:os.system ['touch pwned']\n")
    o = w.run("check", "evil.yaml")
    wrong = refused(o, "evil.yaml")
    if (w.root / "pwned").exists():
        wrong = "the tag ran a command"
    return Verdict(o, wrong)


@case(8, "!!python/object/apply tag in a Secret-looking file outside rules: check")
def case_python_tag_secret(w: World) -> Verdict:
    w.write("evil.yaml", "kind: Secret\nstringData: !!python/object/apply:os.system ['touch pwned']\n")
    o = w.run("check", "evil.yaml")
    return Verdict(o, None if o.rc in (0, 1) else f"exit {o.rc}")


@case(8, "<<: merge keys in a file under a rule: check")
def case_merge_key_check(w: World) -> Verdict:
    w.rules(ALL)
    w.write("m.yaml", f"base: &b\n  password: {PLAIN}\nother:\n  <<: *b\n  user: x\n")
    o = w.run("check", "m.yaml")
    return Verdict(o, refused(o, "m.yaml", "not SOPS-encrypted"), leak_in_messages(o))


@case(8, "<<: merge keys staged: hook run")
def case_merge_key_hook(w: World) -> Verdict:
    w.rules(ALL)
    w.git_repo()
    w.write("m.yaml", f"base: &b\n  password: {PLAIN}\nother:\n  <<: *b\n  user: x\n")
    w.git("add", "m.yaml")
    o = w.run("hook", "run")
    return Verdict(o, None if o.rc in (0, 1) else f"exit {o.rc}", leak_in_messages(o))


@case(8, "a bad encrypted_regex in a file's metadata: decrypt")
def case_bad_metadata_regex(w: World) -> Verdict:
    path = _encrypted(w)
    text = path.read_text().replace("    version:", "    encrypted_regex: '([a-'\n    version:")
    text = text.replace("    unencrypted_suffix: _unencrypted\n", "")
    path.write_text(text)
    o = w.run("decrypt", "secret.yaml")
    return Verdict(o, refused(o, "secret.yaml", "encrypted_regex"), leak_in_messages(o))


@case(8, "a bad encrypted_regex in a file's metadata: check")
def case_bad_metadata_regex_check(w: World) -> Verdict:
    path = _encrypted(w)
    text = path.read_text().replace("    unencrypted_suffix: _unencrypted\n", "    encrypted_regex: '([a-'\n")
    path.write_text(text)
    o = w.run("check", "secret.yaml")
    return Verdict(o, refused(o, "secret.yaml", "encrypted_regex"))


def _bad_config(w: World, rule: str, *words: str) -> Verdict:
    w.write(".sops.yaml", "creation_rules:\n" + rule)
    w.write("s.yaml", SECRET)
    o = w.run("encrypt", "s.yaml")
    return Verdict(o, refused(o, ".sops.yaml", *words))


@case(8, ".sops.yaml key_groups: 5")
def case_key_groups_scalar(w: World) -> Verdict:
    return _bad_config(w, "  - key_groups: 5\n", "key_groups")


@case(8, ".sops.yaml key_groups with a list where a group belongs")
def case_key_groups_list(w: World) -> Verdict:
    return _bad_config(w, f"  - key_groups:\n      - [{w.recipient}]\n", "key_groups")


@case(8, ".sops.yaml key_groups age: 12345")
def case_key_groups_age_int(w: World) -> Verdict:
    return _bad_config(w, "  - key_groups:\n      - age: 12345\n", "age")


@case(8, ".sops.yaml age: 12345")
def case_age_int(w: World) -> Verdict:
    return _bad_config(w, "  - age: 12345\n", "age")


@case(8, ".sops.yaml shamir_threshold: abc")
def case_shamir_abc(w: World) -> Verdict:
    return _bad_config(w, f"  - shamir_threshold: abc\n    age: {w.recipient}\n", "shamir_threshold")


@case(8, ".sops.yaml shamir_threshold: 1000000000 with two groups")
def case_shamir_huge(w: World) -> Verdict:
    rule = (
        f"  - shamir_threshold: 1000000000\n    key_groups:\n      - age: [{w.recipient}]\n"
        f"      - age: [{w.recipient}]\n"
    )
    return _bad_config(w, rule, "shamir_threshold")


@case(8, "a repository with git's dubious ownership: hook run", root=True)
def case_dubious_ownership(w: World) -> Verdict:
    w.rules(ALL)
    w.git_repo()
    os.chown(w.root, 12345, 12345)
    o = w.run("hook", "run")
    return Verdict(o, refused(o, "owner"))


@case(8, "read-only .git/objects: hook run must store a blob", root=True)
def case_readonly_objects(w: World) -> Verdict:
    w.rules(ALL)
    w.git_repo()
    w.write("s.yaml", SECRET)
    w.git("add", "s.yaml")
    o = w.shell(
        "setpriv --bounding-set -dac_override,-dac_read_search sh -c "
        "'chmod -R a-w .git/objects && $FF hook run; rc=$?; chmod -R u+w .git/objects; exit $rc'"
    )
    return Verdict(o, refused(o, ".git/objects"), leak_in_messages(o))


@case(8, "a full $TMPDIR in edit (1-block tmpfs, private mount namespace)", root=True)
def case_full_tmpdir(w: World) -> Verdict:
    _encrypted(w, content=SECRET + "  filler: " + "y" * 20000 + "\n")
    tmp = w.root / "tiny"
    tmp.mkdir()
    o = w.shell(
        f"mount -t tmpfs -o size=4k fluxforge-tiny {tmp} && TMPDIR={tmp} $FF edit secret.yaml", private_dev=True
    )
    return Verdict(o, refused(o, "TMPDIR"), leak_in_messages(o))


@case(8, "a non-UTF-8 SOPS_AGE_KEY_FILE")
def case_key_file_not_utf8(w: World) -> Verdict:
    _encrypted(w)
    w.write("bad.key", b"\xff\xfe AGE-SECRET-KEY-1\n")
    o = w.run("decrypt", "secret.yaml", env={"SOPS_AGE_KEY_FILE": str(w.root / "bad.key")})
    return Verdict(o, refused(o, "bad.key", "UTF-8"))


# --- item 9: YAML-ambiguous names, cluster path in .git, Go durations --------------------------------------
_CONFIG = """\
git:
  url: ssh://git@example.invalid/fleet
azure:
  tenantId: 00000000-0000-0000-0000-000000000000
sops:
  age: [{age}]
clusters:
  - name: "{cluster}"
    path: {path}
    oidcIssuer: https://issuer.example.invalid/x/
    identity:
      clientId: 00000000-0000-0000-0000-000000000000
    kustomizations:
      - name: "{name}"
        interval: {interval}
"""


def _render(
    w: World, *, name: str = "apps", path: str = "clusters/staging", interval: str = "10m", cluster: str = "staging"
) -> Outcome:
    w.write("fluxforge.yaml", _CONFIG.format(age=w.recipient, name=name, path=path, interval=interval, cluster=cluster))
    return w.run("render", "fluxforge.yaml")


def _yaml11_names(w: World) -> list[str]:
    """Every ``name:`` value of the rendered tree as a YAML 1.1 reader (Kubernetes) types it."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 1)
    bad = []
    for path in sorted((w.root / "clusters").rglob("*.yaml")):
        for part in path.read_text().split("\n---\n"):  # each document alone: load_all forgets the version
            doc = yaml.load(part)
            bad.extend(f"{path.name}: {v!r}" for v in _names(doc) if not isinstance(v, str))
    return bad


def _names(node: object) -> list[object]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k in ("name", "namespace", "path")] + [
            x for v in node.values() for x in _names(v)
        ]
    if isinstance(node, list):
        return [x for v in node for x in _names(v)]
    return []


def _ambiguous(w: World, name: str) -> Verdict:
    o = _render(w, name=name)
    bad = _yaml11_names(w) if o.rc == 0 else []
    return Verdict(o, succeeded(o) or (f"YAML 1.1 reads names as non-strings: {bad}" if bad else None))


@case(9, "a Kustomization named 'on'")
def case_name_on(w: World) -> Verdict:
    return _ambiguous(w, "on")


@case(9, "a Kustomization named 'yes'")
def case_name_yes(w: World) -> Verdict:
    return _ambiguous(w, "yes")


@case(9, "a Kustomization named 'null'")
def case_name_null(w: World) -> Verdict:
    return _ambiguous(w, "null")


@case(9, "a Kustomization named 'true'")
def case_name_true(w: World) -> Verdict:
    return _ambiguous(w, "true")


@case(9, "a Kustomization named '123'")
def case_name_number(w: World) -> Verdict:
    return _ambiguous(w, "123")


@case(9, "a cluster named 'off'")
def case_cluster_off(w: World) -> Verdict:
    o = _render(w, cluster="off", path="clusters/off")
    bad = _yaml11_names(w) if o.rc == 0 else []
    return Verdict(o, succeeded(o) or (f"YAML 1.1 reads names as non-strings: {bad}" if bad else None))


@case(9, "a cluster path inside .git/")
def case_cluster_path_git(w: World) -> Verdict:
    w.git_repo()
    o = _render(w, path=".git/hooks")
    planted = sorted(p.name for p in (w.root / ".git/hooks").glob("*.yaml"))
    wrong = refused(o, ".git")
    return Verdict(o, wrong if not planted else f"wrote into .git/hooks: {planted}")


@case(9, "an interval Flux rejects (99999999999999999999999h)")
def case_duration_overflow(w: World) -> Verdict:
    o = _render(w, interval="99999999999999999999999h")
    return Verdict(o, refused(o, "interval"))


# --- item 10: honest messages ------------------------------------------------------------------------------
@case(10, "hook encrypt on a rule-covered file it cannot parse")
def case_hook_encrypt_unparseable(w: World) -> Verdict:
    w.rules(ALL)
    w.write("s.yaml", f"password: {PLAIN}\n  bad: [\n")
    o = w.run("hook", "encrypt", "s.yaml")
    return Verdict(o, refused(o, "s.yaml"), leak_in_messages(o))


@case(10, "check names a duplicate key")
def case_check_duplicate_key(w: World) -> Verdict:
    w.rules(ALL)
    w.write("s.yaml", f"password: {PLAIN}\npassword: again\n")
    o = w.run("check", "s.yaml")
    return Verdict(o, refused(o, "s.yaml", "duplicate key"), leak_in_messages(o))


@case(10, "check names an undefined alias")
def case_check_undefined_alias(w: World) -> Verdict:
    w.rules(ALL)
    w.write("s.yaml", f"password: {PLAIN}\nother: *nope\n")
    o = w.run("check", "s.yaml")
    return Verdict(o, refused(o, "s.yaml", "undefined alias"), leak_in_messages(o))


@case(10, "decrypt refuses a file without sops.version")
def case_decrypt_no_version(w: World) -> Verdict:
    path = _encrypted(w)
    path.write_text("".join(x for x in path.read_text().splitlines(True) if not x.startswith("    version:")))
    o = w.run("decrypt", "secret.yaml")
    return Verdict(o, refused(o, "secret.yaml", "version"), "decrypted it" if PLAIN in o.text else None)


@case(10, "decrypt refuses a garbage sops.version")
def case_decrypt_garbage_version(w: World) -> Verdict:
    path = _encrypted(w)
    path.write_text(path.read_text().replace("    version: 3.11.0", "    version: garbage"))
    o = w.run("decrypt", "secret.yaml")
    return Verdict(o, refused(o, "secret.yaml", "version"), "decrypted it" if PLAIN in o.text else None)


@case(10, "decrypt refuses a truncated last line")
def case_decrypt_truncated(w: World) -> Verdict:
    path = _encrypted(w)
    path.write_bytes(path.read_bytes()[:-8])
    o = w.run("decrypt", "secret.yaml")
    return Verdict(o, refused(o, "secret.yaml", "version"), "decrypted it" if PLAIN in o.text else None)


@case(10, ".sops.yaml path_regex: [a, b]")
def case_path_regex_list(w: World) -> Verdict:
    return _bad_config(w, f"  - path_regex: [a, b]\n    age: {w.recipient}\n", "path_regex")


@case(10, ".sops.yaml stores.yaml.indent: -5")
def case_indent_negative(w: World) -> Verdict:
    w.write(".sops.yaml", f"stores:\n  yaml:\n    indent: -5\ncreation_rules:\n  - age: {w.recipient}\n")
    w.write("s.yaml", SECRET)
    o = w.run("encrypt", "s.yaml")
    return Verdict(o, refused(o, ".sops.yaml", "indent"))


@case(10, "no path printed twice in one message (a broken file in encrypt -i DIR)")
def case_no_double_path(w: World) -> Verdict:
    w.rules(ALL)
    w.write("apps/s.yaml", "a: [\n")
    o = w.run("encrypt", "-i", "apps")
    lines = [x for x in o.err.decode().splitlines() if "s.yaml" in x]
    doubled = [x for x in lines if x.count("apps/s.yaml") > 1]
    return Verdict(o, refused(o, "apps/s.yaml") or (f"path twice: {doubled}" if doubled else None))

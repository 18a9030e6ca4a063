"""The sandbox a hostile case runs in: a fresh folder, an age key, a hermetic environment, and the
fluxforge under test run as a real process (``python -m generator``) so a hang can be stopped, a crash
seen as a signal, and a leak looked for on disk and in git.

``code`` selects the fluxforge source tree on ``PYTHONPATH``: this worktree for the suite, an older
checkout for the before/after table (``python -m tests.hostile.table --code DIR``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import REPO_ROOT

PLAIN = "hunter2-hostile-PLAINTEXT"  # the secret every case hides; it must never show up where it should not
HANG_GUARD = 60.0  # seconds: the before runs hung for minutes; this only stops a hang, it is no timing assert
MEMORY_CAP = 3 * 1024**3  # address space of one run: a runaway read of /dev/zero fails instead of eating the machine

# A private /dev for cases that write to device files: the machine's real /dev is never touched.
_PRIVATE_DEV = (
    "mount -t tmpfs -o mode=755 fluxforge-dev /dev && mknod -m 666 /dev/null c 1 3 && "
    "mknod -m 666 /dev/zero c 1 5 && mknod -m 666 /dev/urandom c 1 9 && mknod -m 666 /dev/random c 1 8 && "
    "ln -s /proc/self/fd /dev/fd && ln -s /proc/self/fd/0 /dev/stdin && ln -s /proc/self/fd/1 /dev/stdout && "
    "ln -s /proc/self/fd/2 /dev/stderr"
)


@dataclass
class Outcome:
    rc: int | None  # None: stopped by the hang guard
    out: bytes
    err: bytes

    @property
    def text(self) -> str:
        return (self.out + b"\n" + self.err).decode("utf-8", "replace")


@dataclass
class World:
    root: Path
    code: Path = REPO_ROOT
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import pyrage

        self.root.mkdir(parents=True, exist_ok=True)
        home = self.root / ".home"
        home.mkdir(exist_ok=True)
        ident = pyrage.x25519.Identity.generate()
        self.key_file = self.root / ".keys" / "age.txt"
        self.key_file.parent.mkdir(exist_ok=True)
        self.key_file.write_text(f"# hostile test key\n{ident}\n")
        self.recipient = str(ident.to_public())
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SOPS_", "AZURE_", "GIT_", "PYTHON"))}
        self.env = {
            **base,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t.invalid",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t.invalid",
            "SOPS_AGE_KEY_FILE": str(self.key_file),
            "SOPS_DISABLE_VERSION_CHECK": "1",
            "PYTHONPATH": str(self.code),
            "EDITOR": "true",
            **self.env,
        }
        self.env["PATH"] = f"{Path(sys.executable).parent}:{self.env.get('PATH', '/usr/bin:/bin')}"

    # --- files ----------------------------------------------------------------------------------------
    def write(self, rel: str, content: str | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def rules(self, *rules: str) -> Path:
        """A .sops.yaml whose rules are YAML fragments; ``{age}`` is this world's recipient."""
        body = "".join("  - " + r.format(age=self.recipient).replace("\n", "\n    ") + "\n" for r in rules)
        return self.write(".sops.yaml", "creation_rules:\n" + body)

    def sops_encrypt(self, rel: str) -> Path:
        """Encrypt a file in place with the real sops binary (fixtures never depend on the code under test)."""
        subprocess.run(
            [_tool("sops"), "encrypt", "-i", rel], cwd=self.root, env=self.env, check=True, capture_output=True
        )
        return self.root / rel

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
            cwd=self.root,
            env=self.env,
            check=check,
            capture_output=True,
            text=True,
        )

    def commit(self) -> Outcome:
        """``git commit`` (hooks run) under the hang guard."""
        return self._run(["git", "-c", "commit.gpgsign=false", "commit", "-q", "-m", "hostile"], None, None, None)

    def git_repo(self) -> None:
        self.git("init", "-q")
        self.write(".gitignore", ".home/\n.keys/\n")
        self.git("add", ".gitignore")
        self.git("commit", "-q", "-m", "init", "--no-verify")

    def head_has(self, needle: str = PLAIN) -> bool:
        """True when any file of HEAD holds ``needle`` (no HEAD: False)."""
        done = self.git("grep", "-a", "-l", needle, "HEAD", "--", ".", check=False)
        return done.returncode == 0 and bool(done.stdout.strip())

    def files_with(self, needle: str = PLAIN, below: str = ".") -> list[Path]:
        """Regular files below ``below`` (keys and home excluded) whose bytes hold ``needle``."""
        hits = []
        for path in sorted((self.root / below).rglob("*")):
            if ".keys" in path.parts or ".home" in path.parts or ".git" in path.parts:
                continue
            if path.is_file() and not path.is_symlink() and needle.encode() in path.read_bytes():
                hits.append(path)
        return hits

    # --- running --------------------------------------------------------------------------------------
    @property
    def ff(self) -> str:
        """The fluxforge command line for shell scripts."""
        return f"{shlex.quote(sys.executable)} -m generator"

    def run(
        self, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> Outcome:
        return self._run([sys.executable, "-m", "generator", *args], stdin, env, cwd)

    def shell(
        self, script: str, *, private_dev: bool = False, stdin: bytes | None = None, env: dict[str, str] | None = None
    ) -> Outcome:
        """Run a shell script (``$FF`` is fluxforge); with ``private_dev`` inside a private mount
        namespace whose /dev is a fresh tmpfs holding only null, zero, urandom and the std* links."""
        script = script.replace("$FF", self.ff)
        argv = ["sh", "-c", script]
        if private_dev:
            argv = ["unshare", "-m", "--propagation", "private", "sh", "-c", f"{_PRIVATE_DEV} && {script}"]
        return self._run(argv, stdin, env, None)

    def _run(self, argv: list[str], stdin: bytes | None, env: dict[str, str] | None, cwd: Path | None) -> Outcome:
        argv = ["prlimit", f"--as={MEMORY_CAP}", "--", *argv]
        proc = subprocess.Popen(
            argv,
            cwd=cwd or self.root,
            env={**self.env, **(env or {})},
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(stdin, timeout=HANG_GUARD)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            return Outcome(None, out, err)
        return Outcome(proc.returncode, out, err)


def _tool(name: str) -> str:
    path = shutil.which(name, path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    assert path, f"{name} is not on PATH (scripts/test.sh installs it)"
    return path

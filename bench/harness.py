"""Honest timing for the benchmarks: whole processes, alternated A B A B, medians, load printed.

Every bench measures fluxforge (A) against its peer (B) in the same run. Runs alternate so that a
machine that speeds up or slows down during the run affects both sides alike; the figure quoted is
the median, and the ratio is the median of the per-pair ratios. When the 1-minute load average is
above the number of cores the ratio is withheld (printed as such): a busy machine inflates the
side that runs more processes, which is how an earlier bench claimed 50x for a 14x speed-up.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"
REPO = Path(__file__).resolve().parents[1]

SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: app-{n}
  namespace: team-{m}
type: Opaque
stringData:
  username: user-{n}
  password: p4ssw0rd-{n}-{m}
  url: https://db-{m}.example.com:5432/app
"""
"""The benches' small Kubernetes Secret (``n``: its number, ``m``: its team); only ``stringData`` is
encrypted by the benches' ``.sops.yaml`` rules."""


def options(
    doc: str | None, *, files: int | None = None, pairs: int = 3, record: bool = True
) -> argparse.ArgumentParser:
    """The benches' common command line (``--files``, ``--pairs``, ``--record``); add your own, then parse."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    if files is not None:
        parser.add_argument("--files", type=int, default=files)
    parser.add_argument("--pairs", type=int, default=pairs)
    if record:
        parser.add_argument(
            "--record", action="store_true", help="write the row(s) into bench/README.md (only from a quiet run)"
        )
    return parser


def tools(*names: str) -> list[str] | None:
    """The absolute paths of the tools a bench runs, or None (after saying which are missing).

    Also compiles fluxforge's bytecode once: an installed fluxforge has it (pip compiles on install),
    and a bench under ``PYTHONDONTWRITEBYTECODE`` would otherwise time the compiler in every run.
    """
    found = {name: shutil.which(name) for name in names}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        print(
            f"need {', '.join(missing)} on PATH (activate the venv scripts/test.sh made: . .venv/bin/activate)",
            file=sys.stderr,
        )
        return None
    compileall.compile_dir(REPO / "generator", quiet=1)
    return [path for path in found.values() if path is not None]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the caller's ``SOPS_*`` settings (no key file, no stray config), sops's
    version check off, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    env["SOPS_DISABLE_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


@dataclass(frozen=True)
class Run:
    """One measured piece of work: wall seconds and the largest process's peak RSS in MB."""

    wall: float
    peak_mb: float


@dataclass
class Series:
    label: str
    runs: list[Run] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def peak_mb(self) -> float:
        return max(r.peak_mb for r in self.runs)

    def spread(self) -> str:
        walls = [r.wall for r in self.runs]
        return f"median {self.median:.3f} s (min {min(walls):.3f}, max {max(walls):.3f}, n={len(walls)})"


@dataclass(frozen=True)
class Machine:
    load1: float
    cores: int

    @property
    def quiet(self) -> bool:
        return self.load1 <= self.cores

    def line(self) -> str:
        verdict = "quiet enough" if self.quiet else "TOO BUSY: ratios withheld"
        return f"machine: {self.cores} cores, load average {self.load1:.2f} over 1 min ({verdict})"


def machine() -> Machine:
    return Machine(load1=os.getloadavg()[0], cores=os.cpu_count() or 1)


def worst(*boxes: Machine) -> Machine:
    """The busiest of the load readings taken during a bench (before, after): the one to report."""
    return max(boxes, key=lambda m: m.load1)


def run_process(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None, stdin: bytes | None = None
) -> Run:
    """Run one process to completion; its wall time and peak RSS (from the kernel's rusage)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if stdin is not None:
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err.decode(errors='replace')[-500:]}")
    return Run(wall=wall, peak_mb=usage.ru_maxrss / 1024)


def run_loop(argvs: Sequence[Sequence[str]], *, cwd: Path, env: Mapping[str, str] | None = None) -> Run:
    """A loop of processes, one after the other (the way a shell loop over sops runs): total wall time."""
    start = time.perf_counter()
    peak = 0.0
    for argv in argvs:
        peak = max(peak, run_process(argv, cwd=cwd, env=env).peak_mb)
    return Run(wall=time.perf_counter() - start, peak_mb=peak)


def alternate(
    pairs: int, a: Callable[[], Run], b: Callable[[], Run], *, a_label: str = "fluxforge", b_label: str = "peer"
) -> tuple[Series, Series]:
    """A B A B ...: each callable prepares its own input (untimed) and returns the timed Run."""
    sa, sb = Series(a_label), Series(b_label)
    for _ in range(pairs):
        sa.runs.append(a())
        sb.runs.append(b())
    return sa, sb


def ratio(a: Series, b: Series) -> float:
    """How many times faster A is than B: the median of the per-pair ratios B/A."""
    return statistics.median(rb.wall / ra.wall for ra, rb in zip(a.runs, b.runs, strict=True))


def report(a: Series, b: Series, box: Machine, *, target: str = "") -> list[str]:
    lines = [
        box.line(),
        f"{a.label:<28} {a.spread()}, peak {a.peak_mb:.0f} MB",
        f"{b.label:<28} {b.spread()}, peak {b.peak_mb:.0f} MB",
    ]
    if box.quiet:
        lines.append(
            f"{'ratio (median of pairs)':<28} {ratio(a, b):.1f}x faster" + (f"  (target {target})" if target else "")
        )
    else:
        lines.append(f"{'ratio':<28} withheld: load {box.load1:.2f} > {box.cores} cores; rerun on a quiet machine")
    return lines


def record(key: str, row: str, box: Machine) -> bool:
    """Replace the table row tagged ``<!-- key -->`` in bench/README.md, only from a quiet run."""
    if not box.quiet:
        print(f"bench/README.md not updated: the machine was too busy (load {box.load1:.2f})")
        return False
    text = README.read_text(encoding="utf-8")
    pattern = re.compile(rf"^.*<!-- {re.escape(key)} -->$", re.MULTILINE)
    if not pattern.search(text):
        raise SystemExit(f"bench/README.md has no row tagged <!-- {key} -->")
    README.write_text(pattern.sub(lambda _: f"{row} <!-- {key} -->", text), encoding="utf-8")
    print(f"bench/README.md: row {key} updated")
    return True


def record_pair(key: str, job: str, a: Series, b: Series, peer: str, box: Machine, *, digits: int = 2) -> bool:
    """``record`` of the usual row: fluxforge's median and peak memory, the peer's median, the ratio
    (peer / fluxforge medians) and the machine's load."""
    return record(
        key,
        f"| {job} | {a.median:.2f} s, {a.peak_mb:.0f} MB | {peer} {b.median:.{digits}f} s | "
        f"{b.median / a.median:.{digits}f}x | load {box.load1:.1f}/{box.cores} |",
        box,
    )

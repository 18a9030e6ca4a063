"""Honest timing for the benchmarks: whole processes, alternated A B A B, medians, load printed.

Every bench measures fluxforge (A) against its peer (B) in the same run. Runs alternate so that a
machine that speeds up or slows down during the run affects both sides alike; the figure quoted is
the median, and the ratio is the median of the per-pair ratios. When the 1-minute load average is
above the number of cores the ratio is withheld (printed as such): a busy machine inflates the
side that runs more processes, which is how an earlier bench claimed 50x for a 14x speed-up.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


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


def run_process(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None,
                stdin: bytes | None = None) -> Run:
    """Run one process to completion; its wall time and peak RSS (from the kernel's rusage)."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env) if env is not None else None,
                            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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


def alternate(pairs: int, a: Callable[[], Run], b: Callable[[], Run], *,
              a_label: str = "fluxforge", b_label: str = "peer") -> tuple[Series, Series]:
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
    lines = [box.line(),
             f"{a.label:<28} {a.spread()}, peak {a.peak_mb:.0f} MB",
             f"{b.label:<28} {b.spread()}, peak {b.peak_mb:.0f} MB"]
    if box.quiet:
        lines.append(f"{'ratio (median of pairs)':<28} {ratio(a, b):.1f}x faster" + (f"  (target {target})" if target else ""))
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

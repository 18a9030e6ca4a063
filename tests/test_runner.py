"""generator.runner's process set-up: what every run of ``fluxforge`` (click's commands and the front's fast
paths alike call ``setup_process``) changes in its own process."""

from __future__ import annotations

import subprocess
import sys

from generator.runner import FULL_COLLECTION_EVERY


def test_a_run_walks_the_whole_heap_less_often() -> None:
    """Only the full collections become rarer: the young generations are collected as Python's default does
    (bench/upgrade.py measures what the full collections cost a big fleet)."""
    probe = (
        "import gc\n"
        "from generator.runner import setup_process\n"
        "before = gc.get_threshold()\n"
        "setup_process()\n"
        "print(before, gc.get_threshold())\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    before, after = (tuple(int(n) for n in part.strip("() ").split(",")) for part in out.strip().split(") ("))
    assert after == (*before[:2], FULL_COLLECTION_EVERY)
    assert FULL_COLLECTION_EVERY > before[2]

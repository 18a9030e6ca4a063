"""The before/after table of issue 18: run every hostile case against a fluxforge source tree.

    python -m tests.hostile.table                 # this worktree
    python -m tests.hostile.table --code DIR      # another checkout (e.g. `git archive` of an older main)

Prints one line per case (item, case, result, detail) and the totals per item: tried, clean, exit3,
hang, leak, wrong. Run it from the repository root, as root (some cases use mount namespaces).
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tests.hostile.cases import CASES, Case, classify
from tests.hostile.world import REPO_ROOT, World

COLUMNS = ("clean", "exit3", "hang", "leak", "wrong")


def run_case(case: Case, code: Path, base: Path) -> tuple[Case, str, str]:
    world = World(base / case.name, code=code)
    try:
        verdict = case.run(world)
    except Exception as err:  # noqa: BLE001 - a case that cannot even be set up is reported, not fatal
        return case, "error", f"case setup failed: {type(err).__name__}: {err}"
    result = classify(verdict)
    detail = verdict.leak or verdict.wrong or ""
    if result == "exit3":
        detail = verdict.outcome.text.strip().splitlines()[-1][:160] if verdict.outcome.text.strip() else ""
    return case, result, detail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=REPO_ROOT, help="fluxforge source tree (default: this one)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("names", nargs="*", help="only these cases")
    args = parser.parse_args()
    cases = [c for c in CASES.values() if not args.names or c.name in args.names]
    totals: dict[int, Counter[str]] = {}
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp, ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run_case, c, args.code.resolve(), Path(tmp)) for c in cases]
        for future in as_completed(futures):
            case, result, detail = future.result()
            totals.setdefault(case.item, Counter())[result] += 1
            print(f"{case.item:>2}  {case.name:<32} {result:<6} {detail}", flush=True)
    print("\nitem  tried  " + "  ".join(f"{c:>5}" for c in COLUMNS))
    grand: Counter[str] = Counter()
    for item in sorted(totals):
        grand.update(totals[item])
        print(f"{item:>4}  {sum(totals[item].values()):>5}  " + "  ".join(f"{totals[item][c]:>5}" for c in COLUMNS))
    print(f" all  {sum(grand.values()):>5}  " + "  ".join(f"{grand[c]:>5}" for c in COLUMNS))


if __name__ == "__main__":
    main()

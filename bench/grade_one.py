"""Wall time and peak memory of `python -m autograder grade` on the reference, per module.

Each run writes `timings.json` (`--stages`): the checks' own compute — oracles in the grader
plus the student code's seconds in the child, as the child measured them — and the rest is
the grader's overhead (process start, imports, the child's start and warm-up, data loading,
IPC, pytest, the report). The stubs are graded alongside: they raise at once, so their wall
time is overhead alone. Hidden cases come from the grader's cache, as in a class run (a first
run fills it; `--cold` measures without it).

    .venv/bin/python bench/grade_one.py [--repeat 3] [--cold]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from autograder.grading.policy import load_policy
from common import ROOT, grader, median, timed


def measure(folder: str, only: str | None, repeat: int, env: dict) -> dict:
    """Median wall, compute and child start over `repeat` runs; the largest peak memory."""
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as stages:
            args = ["grade", folder, "--device", "cpu", "--stages", stages] + (["--only", only] if only else [])
            wall, peak = timed(grader(*args), env=env)
            timings = json.loads((Path(stages) / "timings.json").read_text())
        runs.append((wall, peak, timings["compute_s"], timings["child_start_s"]))
    return {
        "wall": median(r[0] for r in runs),
        "peak": max(r[1] for r in runs),
        "compute": median(r[2] for r in runs),
        "child": median(r[3] for r in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--cold", action="store_true", help="no cache of hidden cases")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.cold:
        env["AUTOGRADER_CACHE"] = ""
    else:
        measure("solutions", None, 1, env)  # fills the cache of hidden cases
    print(
        f"{os.cpu_count()} CPU cores; load average {os.getloadavg()[0]:.1f}; "
        f"hidden cases {'generated every run' if args.cold else 'from the cache'}; median of {args.repeat}"
    )
    print(
        f"{'module':<16}{'wall s':>8}{'compute s':>11}{'overhead s':>12}{'overhead':>10}"
        f"{'child start s':>15}{'stubs s':>9}{'peak MiB':>10}"
    )
    for module in [*load_policy(ROOT / "grading.toml").modules, None]:
        reference = measure("solutions", module, args.repeat, env)
        stubs = measure("assignments", module, args.repeat, env)
        overhead = reference["wall"] - reference["compute"]
        print(
            f"{module or 'all six':<16}{reference['wall']:>8.1f}{reference['compute']:>11.1f}{overhead:>12.1f}"
            f"{overhead / reference['wall']:>10.0%}{reference['child']:>15.1f}{stubs['wall']:>9.1f}"
            f"{reference['peak']:>10.0f}"
        )
    print("compute = oracles + student code; overhead = wall - compute; goals: all six <= 60 s, overhead <= 10 %")


if __name__ == "__main__":
    main()

"""Wall time and peak memory of `python -m autograder grade` on the reference, per module.

The stubs raise at once, so grading them costs only the grader's overhead (process start,
imports, data loading, the child, IPC); the reference costs that plus the checks' compute
(oracles, training budgets). Both are measured side by side, module by module, in one run:

    .venv/bin/python bench/grade_one.py [--repeat 1]
"""
from __future__ import annotations

import argparse
import os

from common import ROOT, grader, median, timed

from autograder.policy import load_policy


def measure(folder: str, only: str | None, repeat: int) -> tuple[float, float]:
    args = ["grade", folder, "--device", "cpu"] + (["--only", only] if only else [])
    runs = [timed(grader(*args)) for _ in range(repeat)]
    return median(r[0] for r in runs), max(r[1] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPU cores; load average {os.getloadavg()[0]:.1f}")
    print(f"{'module':<16}{'reference s':>12}{'stubs s':>9}{'overhead':>10}{'peak MiB':>10}")
    for module in [*load_policy(ROOT / "grading.toml").modules, None]:
        reference, peak = measure("solutions", module, args.repeat)
        stubs, _ = measure("assignments", module, args.repeat)
        print(f"{module or 'all six':<16}{reference:>12.1f}{stubs:>9.1f}{stubs / reference:>10.0%}{peak:>10.0f}")
    print("overhead = grading the stubs (no compute) / grading the reference; goal: all six <= 60 s")


if __name__ == "__main__":
    main()

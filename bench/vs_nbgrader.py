"""The six reference notebooks graded by `nbgrader autograde` and by `python -m autograder grade`,
interleaved A B A B in one invocation; prints each median and the ratio.

    .venv/bin/python bench/vs_nbgrader.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from autograder.grading.policy import load_policy
from common import ROOT, grader, median, timed

BIN = Path(sys.executable).parent


def course_with_reference(folder: Path, modules) -> Path:
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    shutil.copy(ROOT / "grading.toml", folder)
    shutil.copytree(ROOT / "source", folder / "source")
    student = folder / "submitted" / "reference"
    for module in modules:
        (student / module).mkdir(parents=True)
        shutil.copy(ROOT / "source" / module / f"{module}.ipynb", student / module)
    return student


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    modules = list(load_policy(ROOT / "grading.toml").modules)
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    with tempfile.TemporaryDirectory() as scratch:
        course = Path(scratch)
        student = course_with_reference(course, modules)
        for module in modules:  # nbgrader needs the assignments in its database first
            timed([BIN / "nbgrader", "generate_assignment", module, "--force"], cwd=course, env=env)
        nbgrader_times, kit_times = [], []
        for run in range(args.runs):
            nbgrader_times.append(
                sum(timed([BIN / "nbgrader", "autograde", m, "--force"], cwd=course, env=env)[0] for m in modules)
            )
            kit_times.append(timed(grader("grade", student, "--device", "cpu"))[0])
            print(f"run {run + 1}: nbgrader {nbgrader_times[-1]:.1f} s, autograder {kit_times[-1]:.1f} s", flush=True)
    a, b = median(nbgrader_times), median(kit_times)
    print(
        f"{os.cpu_count()} CPU cores; medians over {args.runs} runs: nbgrader autograde {a:.1f} s, "
        f"python -m autograder grade {b:.1f} s; ratio {a / b:.2f}x (goal >= 5x)"
    )


if __name__ == "__main__":
    main()

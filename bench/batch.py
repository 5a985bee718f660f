"""A synthetic class graded with `grade-all --jobs 1` and `--jobs 2`: students per minute and
the speed-up, for each class size (time should grow linearly with the class).

    .venv/bin/python bench/batch.py [--sizes 20,100] [--only rnn_basics]
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from common import ROOT, grader, timed

KINDS = ("solutions", "assignments")  # alternate reference and stub students


def synthetic_class(folder: Path, size: int, modules) -> Path:
    for number in range(size):
        student = folder / f"student{number:03d}"
        student.mkdir(parents=True)
        for module in modules:
            text = (ROOT / KINDS[number % 2] / f"{module}.py").read_text()
            (student / f"{module}.py").write_text(f"# student {number}\n{text}")  # unique content hash
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,100")
    parser.add_argument("--only", default="rnn_basics")
    args = parser.parse_args()
    modules = args.only.split(",")
    print(f"{os.cpu_count()} CPU cores; modules graded: {args.only}")
    print(f"{'students':>8}{'jobs 1 s':>10}{'jobs 2 s':>10}{'per min (2)':>12}{'speed-up':>10}")
    for size in map(int, args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as scratch:
            submissions = synthetic_class(Path(scratch) / "class", size, modules)
            walls = {}
            for jobs in (1, 2):
                out = Path(scratch) / f"results{jobs}"
                walls[jobs], _ = timed(grader("grade-all", submissions, "--out", out, "--jobs", jobs,
                                              "--only", args.only, "--device", "cpu"))
                shutil.rmtree(out)
            print(f"{size:>8}{walls[1]:>10.1f}{walls[2]:>10.1f}{60 * size / walls[2]:>12.1f}"
                  f"{walls[1] / walls[2]:>10.2f}", flush=True)
    print("goal: speed-up >= 1.8 on 2 cores; wall time linear in the number of students")


if __name__ == "__main__":
    main()

"""A synthetic class graded with `grade-all --jobs 1` and `--jobs 2`: students per minute and
the speed-up, for each class size (time should grow linearly with the class). With `--vs REV`:
the same class with `--jobs 2` here and at an earlier commit (a temporary git worktree, same
venv), interleaved A B A B: students per minute side by side.

    .venv/bin/python bench/batch.py [--sizes 20,100] [--only rnn_basics]
    .venv/bin/python bench/batch.py --sizes 20 --only all --vs 8603378 --runs 2
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from common import PYTHON, ROOT, grader, median, timed
from vs_commit import worktree

from autograder.contract import MODULES

KINDS = ("solutions", "assignments")  # alternate reference and stub students


def synthetic_class(folder: Path, size: int, modules) -> Path:
    for number in range(size):
        student = folder / f"student{number:03d}"
        student.mkdir(parents=True)
        for module in modules:
            text = (ROOT / KINDS[number % 2] / f"{module}.py").read_text()
            (student / f"{module}.py").write_text(f"# student {number}\n{text}")  # unique content hash
    return folder


def side_by_side(size: int, only: str, rev: str, runs: int) -> None:
    """`grade-all --jobs 2` of one class here and at `rev`, interleaved; students per minute."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        submissions = synthetic_class(scratch / "class", size, only.split(","))
        sides = {"now": ROOT, rev: worktree(rev, scratch / "earlier")}
        walls: dict[str, list[float]] = {name: [] for name in sides}
        try:
            for run in range(runs):
                for name, folder in sides.items():
                    out = scratch / f"results-{name}-{run}"
                    command = [PYTHON, "-m", "autograder", "grade-all", submissions, "--out", out, "--jobs", 2,
                               "--only", only, "--device", "cpu"]
                    walls[name].append(timed(command, cwd=folder)[0])
                    print(f"run {run + 1} {name:>8}: {walls[name][-1]:.1f} s, load {os.getloadavg()[0]:.1f}",
                          flush=True)
                    shutil.rmtree(out)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(sides[rev])], check=False)
    rates = {name: [60 * size / wall for wall in values] for name, values in walls.items()}
    ratios = [now / earlier for now, earlier in zip(rates["now"], rates[rev])]
    for name, values in rates.items():
        print(f"{name:>10}: {median(values):.1f} students per minute (runs: {', '.join(f'{v:.1f}' for v in values)})")
    print(f"now / {rev}: {median(ratios):.2f} (pairs: {', '.join(f'{r:.2f}' for r in ratios)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,100")
    parser.add_argument("--only", default="rnn_basics", help="modules, comma-separated, or 'all'")
    parser.add_argument("--vs", help="an earlier commit: grade-all --jobs 2 here and there, side by side")
    parser.add_argument("--runs", type=int, default=1, help="with --vs: interleaved runs of each side")
    args = parser.parse_args()
    if args.only == "all":
        args.only = ",".join(MODULES)
    modules = args.only.split(",")
    if args.vs:
        print(f"{os.cpu_count()} CPU cores; load average {os.getloadavg()[0]:.1f}; modules graded: {args.only}")
        for size in map(int, args.sizes.split(",")):
            side_by_side(size, args.only, args.vs, args.runs)
        return
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

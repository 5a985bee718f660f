"""A synthetic class graded with `grade-all --jobs 1` and `--jobs 2`: students per minute and
the speed-up, for each class size (time should grow linearly with the class). With
`--executor dask`: the local fork server (`--jobs 2`) and a Dask cluster of two local workers
(`--cluster local:2`) on the same class, interleaved `--repeat` times, with the ratio and, from
the per-student cost measured on the workers, the projected wall time of 10,000 students on
50 and 200 workers. Each row carries the load average at its start (`uptime`).
With `--vs REV`: the same class with `--jobs 2` here and at an earlier commit (a temporary git
worktree, same venv), interleaved A B A B: students per minute side by side.

    .venv/bin/python bench/batch.py [--sizes 20,100] [--only rnn_basics]
    .venv/bin/python bench/batch.py --executor dask [--sizes 20] [--repeat 3]
    .venv/bin/python bench/batch.py --sizes 20 --only all --vs 8603378 --runs 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from autograder.exercises.contract import MODULES
from common import PYTHON, ROOT, grader, median, timed
from vs_commit import worktree

PROJECTED_CLASS, PROJECTED_WORKERS = 10_000, (50, 200)

KINDS = ("solutions", "assignments")  # alternate reference and stub students


def synthetic_class(folder: Path, size: int, modules) -> Path:
    for number in range(size):
        student = folder / f"student{number:03d}"
        student.mkdir(parents=True)
        for module in modules:
            text = (ROOT / KINDS[number % 2] / f"{module}.py").read_text()
            (student / f"{module}.py").write_text(f"# student {number}\n{text}")  # unique content hash
    return folder


def load() -> str:
    """The 1-minute load average, as `uptime` prints it."""
    return f"{os.getloadavg()[0]:.2f}"


def worker_seconds(results: Path) -> list[float]:
    """Each student's wall seconds on its worker, from the run's manifest."""
    manifest = json.loads((results / "manifest.json").read_text(encoding="utf-8"))
    return [entry["seconds"] for entry in manifest["students"].values()]


def compare_executors(sizes, modules, only: str, repeat: int) -> None:
    """The local fork server and `--cluster local:2`, in turn on the same class."""
    print(f"{'students':>8}{'executor':>10}{'wall s':>8}{'per min':>9}{'s/student':>10}{'load':>6}")
    for size in sizes:
        with tempfile.TemporaryDirectory() as scratch:
            submissions = synthetic_class(Path(scratch) / "class", size, modules)
            walls, costs = {"local": [], "dask": []}, []
            for _ in range(repeat):
                for executor, option in (("local", ["--jobs", 2]), ("dask", ["--cluster", "local:2"])):
                    out, started_at = Path(scratch) / executor, load()
                    wall, _ = timed(
                        grader("grade-all", submissions, "--out", out, *option, "--only", only, "--device", "cpu")
                    )
                    seconds = worker_seconds(out)
                    costs += seconds if executor == "dask" else []
                    walls[executor].append(wall)
                    print(
                        f"{size:>8}{executor:>10}{wall:>8.1f}{60 * size / wall:>9.1f}"
                        f"{statistics.mean(seconds):>10.2f}{started_at:>6}",
                        flush=True,
                    )
                    shutil.rmtree(out)
            local, dask = statistics.median(walls["local"]), statistics.median(walls["dask"])
            cost = statistics.median(costs)
            print(
                f"{size} students, medians: local {local:.1f} s, dask {dask:.1f} s, "
                f"dask/local wall {dask / local:.2f}; median {cost:.2f} s per student on a worker"
            )
            for workers in PROJECTED_WORKERS:
                hours = PROJECTED_CLASS * cost / workers / 3600
                print(
                    f"  projected: {PROJECTED_CLASS} students on {workers} workers ~ {hours:.2f} h "
                    f"({PROJECTED_CLASS * cost / workers / 60:.0f} min), plus the cluster's start"
                )


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
                    command = [
                        PYTHON,
                        "-m",
                        "autograder",
                        "grade-all",
                        submissions,
                        "--out",
                        out,
                        "--jobs",
                        2,
                        "--only",
                        only,
                        "--device",
                        "cpu",
                    ]
                    walls[name].append(timed(command, cwd=folder)[0])
                    print(
                        f"run {run + 1} {name:>8}: {walls[name][-1]:.1f} s, load {os.getloadavg()[0]:.1f}", flush=True
                    )
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
    parser.add_argument(
        "--executor",
        choices=("local", "dask"),
        default="local",
        help="dask: the local fork server and --cluster local:2, side by side",
    )
    parser.add_argument("--repeat", type=int, default=1, help="with --executor dask: pairs of runs per size")
    args = parser.parse_args()
    if args.only == "all":
        args.only = ",".join(MODULES)
    modules = args.only.split(",")
    if args.vs:
        print(f"{os.cpu_count()} CPU cores; load average {os.getloadavg()[0]:.1f}; modules graded: {args.only}")
        for size in map(int, args.sizes.split(",")):
            side_by_side(size, args.only, args.vs, args.runs)
        return
    print(f"{os.cpu_count()} CPU cores; modules graded: {args.only}; load average {load()}")
    if args.executor == "dask":
        compare_executors(list(map(int, args.sizes.split(","))), modules, args.only, args.repeat)
        return
    print(f"{'students':>8}{'jobs 1 s':>10}{'jobs 2 s':>10}{'per min (2)':>12}{'speed-up':>10}")
    for size in map(int, args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as scratch:
            submissions = synthetic_class(Path(scratch) / "class", size, modules)
            walls = {}
            for jobs in (1, 2):
                out = Path(scratch) / f"results{jobs}"
                walls[jobs], _ = timed(
                    grader(
                        "grade-all", submissions, "--out", out, "--jobs", jobs, "--only", args.only, "--device", "cpu"
                    )
                )
                shutil.rmtree(out)
            print(
                f"{size:>8}{walls[1]:>10.1f}{walls[2]:>10.1f}{60 * size / walls[2]:>12.1f}{walls[1] / walls[2]:>10.2f}",
                flush=True,
            )
    print("goal: speed-up >= 1.8 on 2 cores; wall time linear in the number of students")


if __name__ == "__main__":
    main()

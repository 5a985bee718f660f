"""`grade` of the reference here vs. at an earlier commit, interleaved: what a change costs.

The earlier commit is checked out into a temporary git worktree and run with this venv; each
side has its own cache of hidden cases (filled by an untimed first run), so both grade as in
a class run. Runs alternate A B A B … so a machine that slows down mid-way slows both.

    .venv/bin/python bench/vs_commit.py [--rev 8483673] [--runs 5] [--only rnn_basics,bptt]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

from common import PYTHON, ROOT, median, timed


def worktree(rev: str, folder: Path) -> Path:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(folder), rev], check=True)
    return folder


def command(only: str | None) -> list[str]:
    return [PYTHON, "-m", "autograder", "grade", "solutions", "--device", "cpu", *(["--only", only] if only else [])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="8483673", help="the earlier commit (default: before issue 12)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", help="modules to grade (default: all six)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        sides = {"now": ROOT, args.rev: worktree(args.rev, scratch / "earlier")}
        envs = {
            name: {**os.environ, "AUTOGRADER_CACHE": str(scratch / f"cache-{index}")}
            for index, name in enumerate(sides)
        }
        try:
            walls: dict[str, list[float]] = {name: [] for name in sides}
            for name, folder in sides.items():
                timed(command(args.only), cwd=folder, env=envs[name])  # fills its cache, not counted
            for _ in range(args.runs):
                for name, folder in sides.items():
                    walls[name].append(timed(command(args.only), cwd=folder, env=envs[name])[0])
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(sides[args.rev])], check=False)
    ratios = [now / earlier for now, earlier in zip(walls["now"], walls[args.rev])]
    print(
        f"{os.cpu_count()} CPU cores; load average {os.getloadavg()[0]:.1f}; grade solutions "
        f"({args.only or 'all six'}); {args.runs} interleaved runs each"
    )
    for name, values in walls.items():
        print(f"{name:>10}: median {median(values):.2f} s  (min {min(values):.2f}, max {max(values):.2f})")
    print(f"{'now / ' + args.rev:>10}: median {median(ratios):.3f}  (pairs: {', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()

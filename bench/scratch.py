"""What the from-scratch watch costs: `grade` on the reference's three numeric modules, with
the shipped policy (watched) and with the same policy less its `from_scratch` tables (not
watched), interleaved A/B (the order alternates every round), medians side by side.

Also the child's one-off `tracing.install()` (after `import torch`), which both runs pay.

    .venv/bin/python bench/scratch.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import tempfile
from pathlib import Path

from common import PYTHON, ROOT, grader, median, timed

MODULES = "rnn_basics,bptt,gated_units"


def unwatched_policy(folder: Path) -> Path:
    """grading.toml without its from_scratch tables (a header line up to the next header)."""
    kept, skipping = [], False
    for line in (ROOT / "grading.toml").read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            skipping = "from_scratch" in line.split("]")[0]
        if not skipping:
            kept.append(line)
    path = folder / "grading.toml"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return path


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(policy: Path) -> tuple[float, float, float]:
    """(wall s, CPU s of the grader and its child, the student code's seconds as the child
    measured them) of one grade. CPU time is less disturbed than wall time by a shared machine."""
    with tempfile.TemporaryDirectory() as stages:
        cpu = _cpu_of_children()
        wall, _ = timed(
            grader("--policy", policy, "grade", "solutions", "--only", MODULES, "--device", "cpu", "--stages", stages)
        )
        cpu = _cpu_of_children() - cpu
        timings = json.loads((Path(stages) / "timings.json").read_text())
    return wall, cpu, timings["student_s"]


def install_seconds() -> float:
    code = (
        "import time, torch; from autograder.sandbox import tracing; t = time.perf_counter(); tracing.install(); "
        "print(time.perf_counter() - t)"
    )
    return float(subprocess.run([PYTHON, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        variants = {"watched": ROOT / "grading.toml", "not watched": unwatched_policy(Path(scratch))}
        run(variants["watched"])  # fills the cache of hidden cases
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants}
        for index in range(args.runs):
            order = list(variants) if index % 2 == 0 else list(variants)[::-1]
            for name in order:
                results[name].append(run(variants[name]))
    print(
        f"{os.cpu_count()} CPU cores; load average {os.getloadavg()[0]:.1f}; grade solutions --only {MODULES}; "
        f"{args.runs} interleaved runs each, medians"
    )
    print(f"{'':<14}{'wall s':>8}{'(min-max)':>14}{'CPU s':>8}{'student code s':>16}")
    for name, runs in results.items():
        walls = [r[0] for r in runs]
        print(
            f"{name:<14}{median(walls):>8.2f}{f'({min(walls):.2f}-{max(walls):.2f})':>14}"
            f"{median(r[1] for r in runs):>8.2f}{median(r[2] for r in runs):>16.3f}"
        )
    ratios = [median(r[i] for r in results["watched"]) / median(r[i] for r in results["not watched"]) for i in range(3)]
    print(
        f"ratio watched / not watched: wall {ratios[0]:.3f}, CPU {ratios[1]:.3f}, student code {ratios[2]:.3f} "
        f"(goal: at most 1.10)"
    )
    print(f"tracing.install() in the child, once per child: {install_seconds() * 1000:.1f} ms")


if __name__ == "__main__":
    main()

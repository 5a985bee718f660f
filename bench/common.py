"""Shared by the benchmarks: run a command, time it, and read its peak memory."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MEASURE = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
    "stderr=subprocess.DEVNULL).returncode; print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)"
)


def timed(command: list[str], cwd: Path = ROOT, env=None) -> tuple[float, float]:
    """(wall seconds, peak resident MiB of the largest process in the tree) of one run."""
    started = time.perf_counter()
    result = subprocess.run(
        [PYTHON, "-c", MEASURE, *map(str, command)], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - started
    peak_kib, code = result.stdout.split()
    if int(code) != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} exited with {code}")
    return wall, int(peak_kib) / 1024


def grader(*args) -> list[str]:
    return [PYTHON, "-m", "autograder", *args]


def median(values) -> float:
    return statistics.median(values)

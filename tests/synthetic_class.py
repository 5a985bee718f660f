"""A synthetic class for the `grade-all` tests: one folder per student, each a known case."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from conftest import ASSIGNMENTS, SOLUTIONS, policy_with, submission

MODULE = "rnn_basics"
HANG_LIMIT_S = 3
WRONG_SIGMOID = """
def sigmoid(z):
    return np.tanh(z)
"""
MISSING_BIAS = """
def rnn_step(x, h_prev, W_xh, W_hh, b_h):
    return np.tanh(x @ W_xh.T + h_prev @ W_hh.T)
"""
FIRST_STEP_LOSS = """
def many_to_one_loss(log_probs, targets):
    return torch.nn.functional.nll_loss(log_probs[0], targets)
"""
HANGS = """
def many_to_many_loss(log_probs, targets):
    while True:
        pass
"""

STUDENTS = {
    "reference": dict(),
    "stubs": dict(source=ASSIGNMENTS),
    "partial": dict(append=WRONG_SIGMOID + MISSING_BIAS),
    "broken import": dict(replace="import numpy as np\nraise RuntimeError('half-finished file')\n"),
    "hangs": dict(append=HANGS),
    "José da Conceição": dict(append=FIRST_STEP_LOSS),
    "Zoë Ångström (copy of reference)": dict(),
}


def build_class(folder: Path) -> Path:
    """Nine students; returns the submissions folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, options in STUDENTS.items():
        submission(folder / name, MODULE, **options)
    missing = folder / "missing module"
    missing.mkdir()
    (missing / "notes.txt").write_text("esqueci de enviar\n", encoding="utf-8")
    shutil.copytree(SOLUTIONS, folder / "in a sub-folder" / "work", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def class_policy(folder: Path) -> Path:
    """grading.toml with a short time limit, so that the hanging student costs seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    return policy_with(folder, "time_limit_s = 20", f"time_limit_s = {HANG_LIMIT_S}")


def reference_code_lines() -> list[str]:
    """The reference solution's lines (inside BEGIN/END SOLUTION) long enough to be telling."""
    source = (SOLUTIONS / f"{MODULE}.py").read_text(encoding="utf-8")
    regions = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", source, re.S)
    return [line.strip() for region in regions for line in region.splitlines() if len(line.strip()) >= 20]

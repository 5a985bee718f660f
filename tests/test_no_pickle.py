"""Data from the child is never unpickled in the grader: no pickle, no allow_pickle=True,
no torch.load without weights_only anywhere in the grader's code."""

from __future__ import annotations

import re
from pathlib import Path

GRADER = Path(__file__).resolve().parent.parent / "autograder"
FORBIDDEN = re.compile(
    r"\bimport pickle\b|\bpickle\.loads?\b|allow_pickle\s*=\s*True|torch\.load\((?![^)]*weights_only=True)"
)


def test_the_grader_never_unpickles():
    offenders = [
        f"{path.relative_to(GRADER)}:{number}: {line.strip()}"
        for path in GRADER.rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if FORBIDDEN.search(line)
    ]
    assert offenders == []
    assert FORBIDDEN.search("data = pickle.loads(raw)") and FORBIDDEN.search("torch.load(path)")

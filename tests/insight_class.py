"""A synthetic class for the class report: 32 students of rnn_basics with known mistakes, known
copies and known non-copies (tests/test_class_report.py)."""
from __future__ import annotations

import textwrap
from pathlib import Path

from conftest import ASSIGNMENTS, submission
from copied_code import ANA, BRUNO_RENAMES, CARLA, near_copy
from synthetic_class import HANGS
from test_feedback import RIGHT_ONLY_IN_PUBLIC
from test_rnn_basics import MISTAKES

MODULE = "rnn_basics"
# mistake name in test_rnn_basics.MISTAKES -> how many students make it (distinct counts: a ranking)
PLANTED = {"rnn_step without bias": 6, "naive sigmoid overflows": 5, "readout with tanh": 4,
           "many-to-one averages every step": 3, "one-to-many feeds the output back": 2, "rnn_forward ignores h0": 1}
STUBS = ("stubs 1", "stubs 2", "stubs 3")
COPIED = ("ana", "bruno (copy of ana)")
INDEPENDENT = "carla (own correct variant)"
FITTED = "right only in public"          # fails hidden cases: their values are in report.json only

def mistake_code(name: str) -> str:
    return next(code for mistake, code, _, _ in MISTAKES if mistake == name)


def mistake_key(name: str) -> tuple[str, str]:
    """(exercise id, diagnosis key) where the mistake is diagnosed first."""
    _, _, broken, diagnosis = next(m for m in MISTAKES if m[0] == name)
    first = next(e for e in ("sigmoid", "rnn_step", "rnn_forward", "rnn_readout", "many_to_one_loss",
                             "one_to_many_forward") if e in broken)
    return f"{MODULE}.{first}", diagnosis


def build_insight_class(folder: Path) -> Path:
    """32 student folders under `folder`; returns it."""
    submission(folder / "reference", MODULE)
    for name in STUBS:
        submission(folder / name, MODULE, source=ASSIGNMENTS)
    number = 0
    for mistake, count in PLANTED.items():
        for _ in range(count):
            number += 1
            submission(folder / f"student {number:02d}", MODULE, append=f"# student {number}\n" + textwrap.dedent(mistake_code(mistake)))
    submission(folder / COPIED[0], MODULE, append=ANA)
    submission(folder / COPIED[1], MODULE, append=near_copy(ANA, BRUNO_RENAMES))
    submission(folder / INDEPENDENT, MODULE, append=CARLA)
    submission(folder / "hangs", MODULE, append=HANGS)
    submission(folder / FITTED, MODULE, append=RIGHT_ONLY_IN_PUBLIC)
    submission(folder / "broken import", MODULE, replace="import numpy as np\nraise RuntimeError('half-finished file')\n")
    (folder / "missing module").mkdir()
    (folder / "missing module" / "notes.txt").write_text("esqueci de enviar\n", encoding="utf-8")
    return folder

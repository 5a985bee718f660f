"""A synthetic class for the class report: 32 students of rnn_basics with known mistakes, known
copies and known non-copies (tests/test_class_report.py)."""

from __future__ import annotations

from pathlib import Path

from conftest import ASSIGNMENTS, submission
from copied_code import ANA, BRUNO_RENAMES, CARLA, near_copy
from mistakes import mistake_source
from synthetic_class import HANGS
from test_feedback import RIGHT_ONLY_IN_PUBLIC
from test_rnn_basics import CORPUS

MODULE = "rnn_basics"
# mistake name in test_rnn_basics.CORPUS -> how many students make it (distinct counts: a ranking)
PLANTED = {
    "rnn_step without bias": 6,
    "naive sigmoid overflows": 5,
    "readout with tanh": 4,
    "many-to-one averages every step": 3,
    "one-to-many feeds the output back": 2,
    "rnn_forward ignores h0": 1,
}
STUBS = ("stubs 1", "stubs 2", "stubs 3")
COPIED = ("ana", "bruno (copy of ana)")
INDEPENDENT = "carla (own correct variant)"
FITTED = "right only in public"  # fails hidden cases: their values are in report.json only


def _mistake(name: str):
    return next(mistake for mistake in CORPUS if mistake.name == name)


def mistake_code(name: str) -> str:
    """The reference with that mistake: the whole module's source."""
    return mistake_source(MODULE, _mistake(name))


def mistake_key(name: str) -> tuple[str, str]:
    """(exercise id, diagnosis key) where the mistake is diagnosed."""
    mistake = _mistake(name)
    return f"{MODULE}.{mistake.exercise}", mistake.diagnosis


def build_insight_class(folder: Path) -> Path:
    """32 student folders under `folder`; returns it."""
    submission(folder / "reference", MODULE)
    for name in STUBS:
        submission(folder / name, MODULE, source=ASSIGNMENTS)
    number = 0
    for mistake, count in PLANTED.items():
        for _ in range(count):
            number += 1
            submission(
                folder / f"student {number:02d}", MODULE, replace=mistake_code(mistake) + f"\n# student {number}\n"
            )
    submission(folder / COPIED[0], MODULE, append=ANA)
    submission(folder / COPIED[1], MODULE, append=near_copy(ANA, BRUNO_RENAMES))
    submission(folder / INDEPENDENT, MODULE, append=CARLA)
    submission(folder / "hangs", MODULE, append=HANGS)
    submission(folder / FITTED, MODULE, append=RIGHT_ONLY_IN_PUBLIC)
    submission(
        folder / "broken import", MODULE, replace="import numpy as np\nraise RuntimeError('half-finished file')\n"
    )
    (folder / "missing module").mkdir()
    (folder / "missing module" / "notes.txt").write_text("esqueci de enviar\n", encoding="utf-8")
    return folder

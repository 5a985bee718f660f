"""What decides "mutated its input" and "emitted a warning" is not the child's word: a student
module that hides a change or an overflow from the child's runtime still fails the check."""

from __future__ import annotations

import pytest

from conftest import grade, submission

MODULE = "rnn_basics"

FORGED_DIGESTS = """
import gradechild.wire as _wire, numpy as _np
_np.array_equal = lambda *a, **k: True          # what the old in-child comparison relied on
_reference_cell_forward = rnncell_forward


def rnncell_forward(cell, xs, h0=None):
    claimed = _wire.digests(_wire.labelled([cell, xs, h0], {}))   # the arguments as they arrived
    _wire.digests = lambda pairs, **k: claimed                     # "nothing changed"
    outputs = _reference_cell_forward(cell, xs, h0)
    xs.mul_(2)
    return outputs
"""


def test_a_changed_tensor_argument_is_caught_even_when_the_runtime_is_told_otherwise(tmp_path):
    scores, _ = grade(submission(tmp_path / "sub", MODULE, append=FORGED_DIGESTS), only=MODULE)
    exercise = scores[f"{MODULE}.rnncell_forward"]
    assert exercise.status == "failed"
    assert exercise.messages[-1].key == "mutated" and exercise.messages[-1].params["argument"] == "1"
    assert {e.status for id_, e in scores.items() if id_ != f"{MODULE}.rnncell_forward"} == {"passed"}


NAIVE_SIGMOID = """
def sigmoid(x):
    {inside}
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))
"""
HIDING = {  # ways of hiding the overflow warning from the child's runtime -> (at import, inside sigmoid)
    "numpy errors ignored at import": ("np.seterr(all='ignore')", ""),
    "warnings ignored at import": ("import warnings\nwarnings.simplefilter('ignore')", ""),
    "catch_warnings replaced": (
        "import warnings, contextlib\nwarnings.catch_warnings = lambda **k: contextlib.nullcontext([])",
        "",
    ),
    "errstate inside the call": ("", "with np.errstate(over='ignore'): return 1.0 / (1.0 + np.exp(-x))"),
}


@pytest.mark.parametrize("how", list(HIDING))
def test_a_hidden_overflow_still_fails_the_stability_check(tmp_path, how):
    at_import, inside = HIDING[how]
    code = at_import + "\n" + NAIVE_SIGMOID.format(inside=inside or "pass")
    scores, _ = grade(submission(tmp_path / "sub", MODULE, append=code), only=MODULE)
    exercise = scores[f"{MODULE}.sigmoid"]
    assert exercise.status == "failed"
    assert [m.key for m in exercise.messages][-2:] == ["not_warning_free", "diag_sigmoid_overflow"]

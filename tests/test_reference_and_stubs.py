"""Every module: the reference scores full marks, the untouched stubs zero with their hints."""

from __future__ import annotations

import pytest

from autograder.exercises.contract import EXERCISES
from autograder.grading.policy import load_policy
from conftest import POLICY

MODULES = list(load_policy(POLICY).modules)


@pytest.mark.slow
@pytest.mark.parametrize("module", MODULES)
def test_reference_scores_full_marks(reference_report, module):
    scores, _ = reference_report
    for name in EXERCISES[module]:
        exercise = scores[f"{module}.{name}"]
        assert exercise.status == "passed", (name, exercise.messages)
        assert exercise.score == exercise.max_score > 0
        assert not [m.key for m in exercise.messages if m.key.startswith("diag_")], (name, exercise.messages)


@pytest.mark.parametrize("module", MODULES)
def test_stubs_score_zero_with_not_implemented(stubs_report, module):
    scores, _ = stubs_report
    for name in EXERCISES[module]:
        exercise = scores[f"{module}.{name}"]
        assert exercise.score == 0, name
        first = exercise.messages[0]
        if name.startswith("predict_"):  # its train_* stub raised first: nothing to predict with
            assert [m.key for m in exercise.messages] == ["needs_trained_model"], (name, exercise.messages)
            continue
        assert first.key == "not_implemented", (name, exercise.messages)
        assert first.params["hint"].startswith("Dica:")
        assert not [m.key for m in exercise.messages if m.key.startswith("diag_")], (name, exercise.messages)

"""forecast: the reference beats persistence by the margin the policy asks; stubs and wrong
forecasters lose exactly their points; the hidden tail reaches the child only after its forecast."""
from __future__ import annotations

import numpy as np
import pytest

from autograder.policy import load_policy
from autograder.practical import series_task
from practical_helpers import POLICY, ROOT, budget, grade, graded_with_calls, keys, params, variant

MODULE = "forecast"
UNTRAINED = ("for epoch in range(epochs):", "for epoch in range(0):")


@pytest.fixture(scope="module")
def reference():
    return graded_with_calls(ROOT / "solutions", MODULE)


@pytest.mark.slow
def test_reference_scores_full_marks_within_its_budget(reference):
    graded, _ = reference
    for exercise in graded.values():
        assert exercise.score == exercise.max_score, (exercise.exercise, exercise.messages)
    trained = params(graded["train_forecaster"], "score_mse_ratio")
    assert trained["value"] <= trained["full"] and trained["seconds"] <= budget(MODULE)


@pytest.mark.slow
def test_each_forecast_is_made_before_its_targets_reach_the_child(reference):
    _, calls = reference
    task = series_task(load_policy(POLICY).modules[MODULE], hidden=True)
    (_, train_args, _), = [c for c in calls if c[0] == "train_forecaster"]
    assert np.array_equal(train_args[0], task.known) and len(task.known) == task.starts[0]
    # The training check's forecasts: one history per call, in chronological order, each
    # ending where its targets start; so no call carries a value it is asked to forecast.
    predictions = [args[1] for name, args, _ in calls if name == "predict_next"][:len(task.starts)]
    assert all(h.shape == (1, task.window) for h in predictions)
    for history, start in zip(predictions, task.starts):
        assert np.array_equal(history[0], task.series[start - task.window:start])
    assert task.starts[-1] + task.horizon <= len(task.series)


@pytest.mark.slow
def test_forecasts_left_in_the_training_scale_lose_their_points(tmp_path):
    scaled = ("return (last + change * model.scale).cpu().numpy().astype(np.float64)",
              "return change.cpu().numpy().astype(np.float64)")
    graded = grade(variant(tmp_path, MODULE, scaled, UNTRAINED), MODULE)
    assert graded["train_forecaster"].score == 0
    assert keys(graded["train_forecaster"]) == ["score_mse_ratio", "no_credit", "fc_not_raw_scale"]
    assert graded["predict_next"].score == 0 and keys(graded["predict_next"]) == ["fc_not_raw_scale"]


@pytest.mark.slow
def test_overlapping_targets_the_first_step_and_no_training_each_lose_their_points(tmp_path):
    overlap = ("Y = np.stack([series[m + window:m + window + horizon] for m in range(count)])",
               "Y = np.stack([series[m + window - 1:m + window - 1 + horizon] for m in range(count)])")
    first_step = ("return self.head(outputs[:, -1])", "return self.head(outputs[:, 0])")
    graded = grade(variant(tmp_path, MODULE, overlap, first_step, UNTRAINED), MODULE)
    assert graded["make_windows"].score == 0 and "fc_target_overlaps" in keys(graded["make_windows"])
    assert graded["Forecaster"].score == 0 and "diag_reads_first_step" in keys(graded["Forecaster"])
    assert graded["train_forecaster"].score == 0
    assert keys(graded["train_forecaster"]) == ["score_mse_ratio", "no_credit"]

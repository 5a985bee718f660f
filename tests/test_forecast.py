"""forecast: the reference beats persistence by the margin the policy asks; stubs and wrong
forecasters lose exactly their points; the hidden tail reaches the child only after its forecast."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.cli import grade_pipeline
from autograder.exercises.practical import series_task
from autograder.grading.feedback import render_html
from autograder.grading.policy import load_policy
from mistakes import assert_lost_only_its_exercises_and_named, mistake
from practical_helpers import POLICY, ROOT, grade, graded_with_calls, params, variant

MODULE = "forecast"


@pytest.fixture(scope="module")
def reference():
    return graded_with_calls(ROOT / "solutions", MODULE)


@pytest.mark.slow
def test_reference_scores_full_marks(reference):
    graded, _ = reference
    for exercise in graded.values():
        assert exercise.score == exercise.max_score, (exercise.exercise, exercise.messages)
    trained = params(graded["train_forecaster"], "score_mse_ratio")
    assert trained["value"] <= trained["full"]


def _end_in(series: np.ndarray, history: np.ndarray) -> int:
    """Where `history` (1-D) ends in `series`: the index just after its one occurrence."""
    windows = np.lib.stride_tricks.sliding_window_view(series, len(history))
    (found,) = np.nonzero(np.all(np.abs(windows - history) <= 1e-9, axis=1))
    assert len(found) == 1, f"history found {len(found)} times in the series"
    return int(found[0]) + len(history)


@pytest.mark.slow
def test_each_forecast_is_made_before_its_targets_reach_the_child(reference):
    _, calls = reference
    policy = load_policy(POLICY)
    task = series_task(policy.modules[MODULE], policy.hidden_seed, hidden=True)
    names = [name for name, _, _ in calls]
    ((_, train_args, _),) = [c for c in calls if c[0] == "train_forecaster"]
    assert names.index("train_forecaster") < names.index("predict_next")
    assert np.array_equal(train_args[0], task.known) and len(task.known) <= task.starts[0]
    # The training check's forecasts, located by their values in the (mapped) series: one per
    # scored start, in chronological order, each history ending where its own targets start, so
    # that no call carries a value of a target not yet forecast.
    predictions = [args[1] for name, args, _ in calls if name == "predict_next"][: len(task.starts)]
    assert all(h.shape == (1, task.window) for h in predictions)
    mapped = task.mapping.apply(task.series)
    ends = [_end_in(mapped, history[0]) for history in predictions]
    assert ends == sorted(ends) and len(set(ends)) == len(ends)  # chronological
    for call, end in enumerate(ends):
        not_yet_forecast = task.starts[call:]
        assert end <= not_yet_forecast.min(), (call, end)
    assert ends == list(task.starts)  # every scored start, once
    assert task.starts[-1] + task.horizon <= len(task.series)


TRAINED = {"train_forecaster", "predict_next"}
WINDOWS_RETURN = "return torch.from_numpy(X[:, :, None]), torch.from_numpy(Y)"
HEAD = "return self.head(outputs[:, -1])"
UNSCALE = "return (last + change * model.scale).cpu().numpy().astype(np.float64)"
MLP_FORWARD = "return self.head(torch.relu(self.hidden(x.flatten(1))))"

CORPUS = [
    mistake(
        "targets overlap the window",
        "make_windows",
        "diag_fc_target_overlaps",
        (
            "Y = np.stack([series[m + window:m + window + horizon] for m in range(count)])",
            "Y = np.stack([series[m + window - 1:m + window - 1 + horizon] for m in range(count)])",
        ),
    ),
    mistake(
        "one window too few",
        "make_windows",
        "diag_fc_window_count",
        ("count = len(series) - window - horizon + 1", "count = len(series) - window - horizon"),
    ),
    mistake(
        "no feature axis",
        "make_windows",
        "diag_fc_no_feature_dim",
        (WINDOWS_RETURN, "return torch.from_numpy(X), torch.from_numpy(Y)"),
        also=TRAINED,
    ),
    mistake(
        "float64 windows",
        "make_windows",
        "diag_float64",
        ("series = np.asarray(series, dtype=np.float32)", "series = np.asarray(series, dtype=np.float64)"),
        also=TRAINED,
    ),
    mistake(
        "Forecaster reads the first step",
        "Forecaster",
        "diag_reads_first_step",
        (HEAD, "return self.head(outputs[:, 0])"),
        also={"train_forecaster"},
    ),
    mistake(
        "Forecaster without batch_first",
        "Forecaster",
        "diag_not_batch_first",
        (
            "self.lstm = nn.LSTM(1, hidden_size, num_layers, batch_first=True)",
            "self.lstm = nn.LSTM(1, hidden_size, num_layers)",
        ),
        also={"train_forecaster"},
    ),
    mistake(
        "Forecaster averages over time",
        "Forecaster",
        "diag_reads_mean",
        (HEAD, "return self.head(outputs.mean(dim=1))"),
    ),
    mistake(
        "Forecaster reads the batch's last row",
        "Forecaster",
        "diag_reads_batch_element",
        (HEAD, "return self.head(outputs[-1])"),
        also=TRAINED,
    ),
    mistake(
        "forecasts left in the scaled units",
        "predict_next",
        "diag_fc_not_raw_scale",
        (UNSCALE, "return change.cpu().numpy().astype(np.float64)"),
        also={"train_forecaster"},
    ),
    mistake(
        "the last value not added back",
        "predict_next",
        "diag_fc_not_raw_scale",
        (UNSCALE, "return (change * model.scale).cpu().numpy().astype(np.float64)"),
        also={"train_forecaster"},
    ),
    mistake(
        "training returns after one step",
        "train_forecaster",
        "diag_training_short",
        (
            "            optimizer.step()\n            losses.append(loss.item())",
            "            optimizer.step()\n            return model.eval()",
        ),
    ),
    mistake(
        "MLP without ReLU",
        "WindowMLP",
        "diag_mlp_no_activation",
        (MLP_FORWARD, "return self.head(self.hidden(x.flatten(1)))"),
    ),
    mistake(
        "MLP with a ReLU on the output",
        "WindowMLP",
        "diag_mlp_relu_on_output",
        (MLP_FORWARD, "return torch.relu(self.head(torch.relu(self.hidden(x.flatten(1)))))"),
    ),
    mistake(
        "MLP reads one value per step",
        "WindowMLP",
        "diag_mlp_not_flattened",
        ("self.hidden = nn.Linear(window, hidden_size)", "self.hidden = nn.Linear(1, hidden_size)"),
        (MLP_FORWARD, "return self.head(torch.relu(self.hidden(x)).mean(dim=1))"),
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("mistake", CORPUS, ids=[m.name for m in CORPUS])
def test_a_mistake_loses_its_exercises_and_no_other_and_is_named(tmp_path, mistake):
    graded = grade(variant(tmp_path, MODULE, *mistake.patches, append=mistake.append), MODULE)
    lost = {name for name, score in graded.items() if score.score < score.max_score}
    assert_lost_only_its_exercises_and_named(mistake, lost, {name: score.messages for name, score in graded.items()})


def _numbers(value) -> list[float]:
    if isinstance(value, dict):
        return [n for item in value.values() for n in _numbers(item)]
    if isinstance(value, list):
        return [n for item in value for n in _numbers(item)]
    return [float(value)] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


@pytest.mark.slow
def test_plots_show_the_public_stretch_and_only_aggregates_of_the_hidden_one(reference, tmp_path):
    graded, _ = reference  # the hidden grading
    hidden = graded["train_forecaster"].artifacts
    assert set(hidden) == {"training", "error_by_step"} and len(hidden["error_by_step"]["series"]["model"]) == 4
    policy = load_policy(POLICY)
    task = series_task(policy.modules[MODULE], policy.hidden_seed, hidden=True)
    tail = {round(float(v), 6) for v in task.series[task.starts[0] :]}
    assert not tail & {round(n, 6) for n in _numbers(hidden)}  # no value of the test stretch
    _, report = grade_pipeline(ROOT / "solutions", policy_path=POLICY, only=MODULE, device="cpu", hidden=False)
    public = next(e for e in report.exercises if e.exercise == "train_forecaster").artifacts
    validation = series_task(policy.modules[MODULE], policy.public_seed, hidden=False)
    stretch = validation.series[validation.starts[0] : validation.starts[-1] + validation.horizon]
    assert public["forecast"]["truth"] == pytest.approx(stretch.tolist())
    assert (
        len(public["forecast"]["persistence"])
        == len(public["forecast"]["prediction"])
        == len(public["forecast"]["truth"])
    )
    page = render_html(report.to_json("en"), "ana", "en")
    assert page.count("data:image/png") == 2 and "Training loss" in page and "Forecast and truth" in page

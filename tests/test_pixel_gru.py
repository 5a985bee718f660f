"""pixel_gru: the reference clears every threshold; stubs, wrong models and slow training lose
exactly their points, each with a message that says why."""
from __future__ import annotations

import pytest


from practical_helpers import POLICY, ROOT, budget, grade, keys, params, policy_with, variant

MODULE = "pixel_gru"
UNTRAINED = ("for epoch in range(epochs):", "for epoch in range(0):")
SLEEP = ("    start = time.monotonic()\n    torch.manual_seed(SEED)\n    images",
         "    time.sleep(SLEEP_S)\n    start = time.monotonic()\n    torch.manual_seed(SEED)\n    images")


@pytest.fixture(scope="module")
def reference():
    return grade(ROOT / "solutions", MODULE)


@pytest.mark.slow
def test_reference_scores_full_marks_within_its_budget(reference):
    for exercise in reference.values():
        assert exercise.score == exercise.max_score, (exercise.exercise, exercise.messages)
    trained = params(reference["train_pixel_gru"], "score_accuracy")
    assert trained["value"] >= trained["full"] and trained["seconds"] <= budget(MODULE)
    assert params(reference["predict_digits"], "score_balanced_accuracy")["value"] >= trained["full"]


@pytest.mark.slow
def test_reading_columns_and_an_untrained_model_lose_their_points(tmp_path):
    columns = ("outputs, _ = self.gru(images)  ", "outputs, _ = self.gru(images.transpose(1, 2))  ")
    graded = grade(variant(tmp_path, MODULE, columns, UNTRAINED), MODULE)
    assert graded["PixelGRU"].score == 0 and "pg_reads_columns" in keys(graded["PixelGRU"])
    assert graded["train_pixel_gru"].score == 0
    assert keys(graded["train_pixel_gru"]) == ["score_accuracy", "no_credit"]
    assert params(graded["train_pixel_gru"], "score_accuracy")["value"] < 0.3


@pytest.mark.slow
def test_training_past_the_time_limit_times_out_that_task_only(tmp_path):
    policy = policy_with(tmp_path / "grading.toml", {"modules.pixel_gru.time_limit_s": 6,
                                                     "modules.pixel_gru.training.budget_s": 1,
                                                     "modules.pixel_gru.training.overrun_grace_s": 0.5})
    folder = variant(tmp_path / "sleeps", MODULE, UNTRAINED, SLEEP, append="\nSLEEP_S = 600\n")
    graded = grade(folder, MODULE, policy)
    assert graded["PixelGRU"].score == graded["PixelGRU"].max_score
    assert graded["train_pixel_gru"].status == "timeout" and keys(graded["train_pixel_gru"]) == ["timeout"]
    assert keys(graded["predict_digits"]) == ["needs_trained_model"]


@pytest.mark.slow
def test_training_past_its_budget_scores_zero(tmp_path):
    policy = policy_with(tmp_path / "grading.toml", {"modules.pixel_gru.time_limit_s": 10,
                                                     "modules.pixel_gru.training.budget_s": 1,
                                                     "modules.pixel_gru.training.overrun_grace_s": 0.5})
    folder = variant(tmp_path / "slow", MODULE, UNTRAINED, SLEEP, append="\nSLEEP_S = 2.5\n")
    graded = grade(folder, MODULE, policy)
    assert graded["train_pixel_gru"].score == 0 and keys(graded["train_pixel_gru"]) == ["over_budget"]
    assert params(graded["train_pixel_gru"], "over_budget")["seconds"] >= 2.5
    assert graded["PixelGRU"].score == graded["PixelGRU"].max_score

"""pixel_gru: the reference clears every threshold; stubs, wrong models and slow training lose
exactly their points, each with a message that says why."""

from __future__ import annotations

import pytest

from mistakes import assert_lost_only_its_exercises_and_named, mistake
from practical_helpers import ROOT, grade, keys, params, policy_with, variant

MODULE = "pixel_gru"
UNTRAINED = ("for epoch in range(epochs):", "for epoch in range(0):")
SLEEP = (
    "    start = time.monotonic()\n    torch.manual_seed(SEED)\n    images",
    "    time.sleep(SLEEP_S)\n    start = time.monotonic()\n    torch.manual_seed(SEED)\n    images",
)


@pytest.fixture(scope="module")
def reference():
    return grade(ROOT / "solutions", MODULE)


@pytest.mark.slow
def test_reference_scores_full_marks(reference):
    for exercise in reference.values():
        assert exercise.score == exercise.max_score, (exercise.exercise, exercise.messages)
    trained = params(reference["train_pixel_gru"], "score_accuracy")
    assert trained["value"] >= trained["full"]
    assert params(reference["predict_digits"], "score_balanced_accuracy")["value"] >= trained["full"]


TRAINED = {"train_pixel_gru", "predict_digits"}
CLASSIFY = "return self.classifier(outputs[:, -1])"
PREDICT = "return model(images).argmax(dim=1).cpu()"

CORPUS = [
    mistake(
        "PixelGRU reads columns",
        "PixelGRU",
        "diag_pg_reads_columns",
        ("outputs, _ = self.gru(images)  ", "outputs, _ = self.gru(images.transpose(1, 2))  "),
    ),
    mistake(
        "PixelGRU classifies from the first row",
        "PixelGRU",
        "diag_reads_first_step",
        (CLASSIFY, "return self.classifier(outputs[:, 0])"),
        also=TRAINED,
    ),
    mistake(
        "PixelGRU without batch_first",
        "PixelGRU",
        "diag_not_batch_first",
        (
            "self.gru = nn.GRU(input_size, hidden_size, num_layers, batch_first=True)",
            "self.gru = nn.GRU(input_size, hidden_size, num_layers)",
        ),
        also=TRAINED,
    ),
    mistake(
        "PixelGRU averages over the rows",
        "PixelGRU",
        "diag_reads_mean",  # trains to ~0.77 on moved digits
        (CLASSIFY, "return self.classifier(outputs.mean(dim=1))"),
        also=TRAINED,
    ),
    mistake(
        "PixelGRU classifies the first layer's state",
        "PixelGRU",
        "diag_pg_first_layer_state",
        ("outputs, _ = self.gru(images)  ", "outputs, h_n = self.gru(images)  "),
        (CLASSIFY, "return self.classifier(h_n[0])"),
    ),
    mistake(
        "training returns after one step",
        "train_pixel_gru",
        "diag_training_short",
        (
            "            optimizer.step()\n            losses.append(loss.item())",
            "            optimizer.step()\n            return model.eval()",
        ),
        also={"predict_digits"},
    ),
    mistake(
        "predictions are the scores",
        "predict_digits",
        "diag_returns_scores",
        (PREDICT, "return model(images).cpu()"),
        also={"train_pixel_gru"},
    ),
    mistake(
        "argmax over the batch",
        "predict_digits",
        "diag_argmax_axis",
        (PREDICT, "return model(images).argmax(dim=0).cpu()"),
        also={"train_pixel_gru"},
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("mistake", CORPUS, ids=[m.name for m in CORPUS])
def test_a_mistake_loses_its_exercises_and_no_other_and_is_named(tmp_path, mistake):
    graded = grade(variant(tmp_path, MODULE, *mistake.patches, append=mistake.append), MODULE)
    lost = {name for name, score in graded.items() if score.score < score.max_score}
    assert_lost_only_its_exercises_and_named(mistake, lost, {name: score.messages for name, score in graded.items()})


@pytest.mark.slow
def test_training_past_the_time_limit_times_out_that_task_only(tmp_path):
    policy = policy_with(
        tmp_path / "grading.toml",
        {
            "modules.pixel_gru.time_limit_s": 6,
            "modules.pixel_gru.training.budget_s": 1,
            "modules.pixel_gru.training.overrun_grace_s": 0.5,
        },
    )
    folder = variant(tmp_path / "sleeps", MODULE, UNTRAINED, SLEEP, append="\nSLEEP_S = 600\n")
    graded = grade(folder, MODULE, policy)
    assert graded["PixelGRU"].score == graded["PixelGRU"].max_score
    assert graded["train_pixel_gru"].status == "timeout" and keys(graded["train_pixel_gru"]) == ["timeout"]
    assert keys(graded["predict_digits"]) == ["needs_trained_model"]


@pytest.mark.slow
def test_training_past_its_budget_scores_zero(tmp_path):
    policy = policy_with(
        tmp_path / "grading.toml",
        {
            "modules.pixel_gru.time_limit_s": 10,
            "modules.pixel_gru.training.budget_s": 1,
            "modules.pixel_gru.training.overrun_grace_s": 0.5,
        },
    )
    folder = variant(tmp_path / "slow", MODULE, UNTRAINED, SLEEP, append="\nSLEEP_S = 2.5\n")
    graded = grade(folder, MODULE, policy)
    assert graded["train_pixel_gru"].score == 0 and keys(graded["train_pixel_gru"]) == ["over_budget"]
    assert params(graded["train_pixel_gru"], "over_budget")["seconds"] >= 2.5
    assert graded["PixelGRU"].score == graded["PixelGRU"].max_score

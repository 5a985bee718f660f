"""The practical tasks measure training: every attack of tests/practical_attacks.py (lookups of the
public data, data embedded in the code, a model that does not use its recurrent layer) is
refused or scores its trained exercises at zero, with the message that says why."""

from __future__ import annotations

import pytest

from practical_attacks import ATTACKS, public_split_lookup
from practical_helpers import POLICY, grade, keys, policy_with

TRAINED = {
    "name_classifier": ("train_name_classifier", "predict_nationality"),
    "forecast": ("train_forecaster", "predict_next"),
    "pixel_gru": ("train_pixel_gru", "predict_digits"),
}


def _graded(tmp_path, attack, policy=POLICY):
    folder = tmp_path / "submission"
    folder.mkdir(exist_ok=True)
    (folder / f"{attack.module}.py").write_text(attack.source, encoding="utf-8")
    return grade(folder, attack.module, policy)


@pytest.mark.slow
@pytest.mark.parametrize("build", ATTACKS, ids=[build.__name__ for build in ATTACKS])
def test_an_attack_scores_zero_on_the_trained_exercises_and_says_why(tmp_path, build):
    attack = build()
    graded = _graded(tmp_path, attack)
    train, predict = TRAINED[attack.module]
    assert graded[train].score == 0 and attack.expected in keys(graded[train]), (attack.name, graded[train].messages)
    assert graded[predict].score == 0, (attack.name, graded[predict].messages)


@pytest.mark.slow
def test_the_public_split_lookup_would_win_if_the_bundle_could_compute_the_test_split(tmp_path):
    """The same attack against a grader whose hidden seed is the bundle's (0): full marks. So the
    hidden seed, not another check, is what defeats it."""
    attack = public_split_lookup()
    graded = _graded(tmp_path, attack, policy_with(tmp_path / "seed0.toml", {"grader.hidden_seed": 0}))
    trained = graded["train_name_classifier"]
    assert trained.score == trained.max_score, trained.messages
    assert next(m.params["value"] for m in trained.messages if m.key == "score_accuracy") == 1.0

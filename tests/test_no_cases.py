"""A check whose exercise has no cases (stored fixtures that lack it) fails that exercise: a
loop over no case would pass anything."""

from __future__ import annotations

from autograder.exercises import cases
from conftest import SOLUTIONS, grade


def test_an_exercise_without_cases_scores_zero_with_an_internal_error(monkeypatch):
    public, hidden = cases.load_public_cases, cases._hidden_cases  # neither the fixtures nor the hidden ones hold it
    monkeypatch.setattr(
        cases, "load_public_cases", lambda module, exercise: [] if exercise == "rnn_step" else public(module, exercise)
    )
    monkeypatch.setattr(
        cases, "_hidden_cases", lambda *args: {k: v for k, v in hidden(*args).items() if k != "rnn_step"}
    )
    scores, _ = grade(SOLUTIONS, only="rnn_basics", hidden=False)
    step = scores["rnn_basics.rnn_step"]
    assert (step.status, step.score) == ("error", 0)
    assert (
        step.messages[0].key == "internal" and "no cases for rnn_basics.rnn_step" in step.messages[0].params["detail"]
    )
    assert scores["rnn_basics.sigmoid"].status == "passed"

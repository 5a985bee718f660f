"""A check whose exercise has no cases (stored fixtures that lack it) fails that exercise: a
loop over no case would pass anything."""

from __future__ import annotations

from autograder.grading import runner
from conftest import SOLUTIONS, grade


def test_an_exercise_without_cases_scores_zero_with_an_internal_error(monkeypatch):
    real = runner.cases_for
    monkeypatch.setattr(
        runner,
        "cases_for",
        lambda module, exercise, **kw: [] if exercise == "rnn_step" else real(module, exercise, **kw),
    )
    scores, _ = grade(SOLUTIONS, only="rnn_basics", hidden=False)
    step = scores["rnn_basics.rnn_step"]
    assert (step.status, step.score) == ("error", 0)
    assert (
        step.messages[0].key == "internal" and "no cases for rnn_basics.rnn_step" in step.messages[0].params["detail"]
    )
    assert scores["rnn_basics.sigmoid"].status == "passed"

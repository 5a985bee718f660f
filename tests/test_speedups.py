"""What makes grading fast must not change a grade: one child for all of a student's modules,
and hidden cases kept in the grader's cache."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.exercises import cases as cases_package
from autograder.exercises.cases import cases_for, generate
from autograder.grading.policy import load_policy
from autograder.grading.runner import run_checks
from autograder.grading.submission import load_submission
from conftest import POLICY, SOLUTIONS, grade, submission

SEED, COUNT = 424242, 2


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    cases_package._hidden_cases.cache_clear()
    yield tmp_path / "cache"
    cases_package._hidden_cases.cache_clear()


def test_one_child_serves_every_module_and_times_the_work(tmp_path):
    modules = ["rnn_basics", "bptt"]
    for module in modules:
        submission(tmp_path, module)
    policy = load_policy(POLICY)
    timings: dict = {}
    outcomes = run_checks(policy, load_submission(tmp_path, modules), timings=timings)
    assert {o.status for o in outcomes} == {"passed"}
    assert timings["children_started"] == 1
    assert set(timings["imports_s"]) == set(modules)
    assert 0 < timings["student_s"] <= timings["requests_s"] <= timings["checks_s"]
    assert 0 < timings["compute_s"] <= timings["checks_s"]


def test_a_crash_in_one_module_costs_only_its_exercise(tmp_path):
    submission(
        tmp_path,
        "rnn_basics",
        append="""
    import os
    def many_to_many_loss(log_probs, targets):
        os._exit(3)
    """,
    )
    submission(tmp_path, "bptt")
    scores, _ = grade(tmp_path, only="rnn_basics,bptt")
    lost = {key for key, exercise in scores.items() if exercise.score < exercise.max_score}
    assert lost == {"rnn_basics.many_to_many_loss"}
    assert "exited with code 3" in scores["rnn_basics.many_to_many_loss"].messages[0].render("en")


def test_a_module_that_fails_to_import_leaves_the_others_graded(tmp_path):
    submission(tmp_path, "rnn_basics", replace="raise RuntimeError('half-finished file')\n")
    submission(tmp_path, "bptt")
    scores, _ = grade(tmp_path, only="rnn_basics,bptt")
    assert all(e.score == 0 for key, e in scores.items() if key.startswith("rnn_basics."))
    assert all(e.score == e.max_score for key, e in scores.items() if key.startswith("bptt."))


@pytest.mark.parametrize("module", ["rnn_basics", "gated_units", "name_classifier"])
def test_cached_hidden_cases_are_the_generated_ones(fresh_cache, module):
    exercise = next(iter(cases_package.generators(module)))
    first = cases_for(module, exercise, hidden_seed=SEED, hidden_cases=COUNT)
    assert list(fresh_cache.glob(f"hidden-{module}-{SEED}-{COUNT}-*.npz"))
    cases_package._hidden_cases.cache_clear()  # a new grader process: read back from the file
    again = cases_for(module, exercise, hidden_seed=SEED, hidden_cases=COUNT)
    hidden = [case for case in again if case._label.key == "case_hidden"]
    assert len(hidden) == COUNT and len(again) == len(first)
    for index, case in enumerate(hidden):
        for field, value in generate(module, exercise, SEED, index).items():
            assert np.array_equal(np.asarray(value), getattr(case, field)), field


def test_a_cached_file_is_read_instead_of_recomputed(fresh_cache, monkeypatch):
    cases_for("rnn_basics", "rnn_step", hidden_seed=SEED, hidden_cases=COUNT)
    cases_package._hidden_cases.cache_clear()
    monkeypatch.setattr(cases_package, "generate", lambda *args: pytest.fail("recomputed"))
    assert len(cases_for("rnn_basics", "rnn_step", hidden_seed=SEED, hidden_cases=COUNT)) > COUNT


def test_a_torn_cache_file_is_made_again(fresh_cache):
    cases_for("rnn_basics", "rnn_step", hidden_seed=SEED, hidden_cases=COUNT)
    [path] = fresh_cache.glob("hidden-rnn_basics-*.npz")
    path.write_bytes(path.read_bytes()[:100])
    cases_package._hidden_cases.cache_clear()
    assert len(cases_for("rnn_basics", "rnn_step", hidden_seed=SEED, hidden_cases=COUNT)) > COUNT
    assert path.stat().st_size > 100


def test_an_empty_cache_setting_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_CACHE", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    cases_package._hidden_cases.cache_clear()
    try:
        assert len(cases_for("rnn_basics", "rnn_step", hidden_seed=SEED, hidden_cases=COUNT)) > COUNT
    finally:
        cases_package._hidden_cases.cache_clear()
    assert not any(tmp_path.rglob("*.npz"))


def test_grading_with_a_cold_and_a_warm_cache_gives_the_same_report(fresh_cache):
    _, cold = grade(SOLUTIONS, only="rnn_basics,gated_units")
    cases_package._hidden_cases.cache_clear()
    _, warm = grade(SOLUTIONS, only="rnn_basics,gated_units")
    assert cold.score == warm.score == cold.max_score
    assert [(e.id, e.score) for e in cold.exercises] == [(e.id, e.score) for e in warm.exercises]

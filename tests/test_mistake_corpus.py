"""The mistake corpus as a whole: every exercise has mistakes, and most of them are named."""

from __future__ import annotations

from autograder.exercises.contract import EXERCISES
from mistakes import corpus_table

GOAL = 0.9


def test_the_corpus_covers_every_exercise_and_names_the_goal_share_of_each_module():
    rows = corpus_table()
    assert sum(count for _, count, _, _ in rows) >= 60
    for module, count, named, exercises in rows:
        assert exercises == len(EXERCISES[module]), module
        assert named / count >= GOAL, (module, named, count)

"""Written answers: graded by hand, never scored by the pytest grader, shown as pending everywhere."""

from __future__ import annotations

import pytest

from autograder.authoring import lessons
from autograder.classroom.gradebook import PENDING, gradebook_columns, gradebook_row
from autograder.grading.feedback import render_html, render_markdown
from autograder.grading.policy import PolicyError, load_policy
from autograder.grading.report import gradescope_json
from conftest import POLICY, SOLUTIONS, grade, policy_with

MODULE = "rnn_basics"


@pytest.fixture(scope="module")
def graded():
    return grade(SOLUTIONS, only=MODULE)


def test_grade_lists_written_answers_as_pending_apart_from_the_auto_graded_total(graded):
    _, report = graded
    policy = load_policy(POLICY)
    written = policy.modules[MODULE].written
    assert written and [p.name for p in report.pending] == list(written)
    assert report.score == report.max_score == sum(policy.modules[MODULE].points.values())
    data = report.to_json("pt")
    assert data["pending_max_score"] == sum(written.values())
    assert {p["status"] for p in data["pending"]} == {"pending"}
    assert all(p["feedback"].startswith("a corrigir à mão") for p in data["pending"])
    assert data["modules"][MODULE] == {"score": data["score"], "max_score": data["max_score"]}


def test_gradebook_feedback_and_gradescope_show_them_pending(graded):
    _, report = graded
    data = report.to_json("en")
    columns = gradebook_columns(load_policy(POLICY), [MODULE])
    row = gradebook_row("ana", data)
    pending_columns = [f"{MODULE}.{name}" for name in load_policy(POLICY).modules[MODULE].written]
    assert set(pending_columns) <= set(columns) and all(row[c] == PENDING for c in pending_columns)
    assert row["total"] == f"{data['score']:g}"
    for text in (render_markdown(data, "ana", "en"), render_html(data, "ana", "en")):
        assert "Written answers to be graded by hand" in text and pending_columns[0] in text
    results = gradescope_json(report, "en")
    assert results["score"] == data["score"] and "to be graded by hand" in results["output"]
    assert not [t for t in results["tests"] if t["name"] in pending_columns]


def test_every_notebook_places_exactly_the_written_answers_of_the_policy():
    policy = load_policy(POLICY)
    for module, module_policy in policy.modules.items():
        cells = lessons.build_notebook(module, policy)["cells"]
        manual = {
            c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
            for c in cells
            if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")
        }
        assert manual == module_policy.written and 2 <= len(manual) <= 3, module


def test_a_written_answer_without_points_or_left_open_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(lessons, "LESSONS", tmp_path)
    text = (lessons.ROOT / "lessons" / f"{MODULE}.md").read_text(encoding="utf-8")
    (tmp_path / f"{MODULE}.md").write_text(text.replace("<!-- written: mlp_vs_rnn -->", "<!-- written: other -->"))
    with pytest.raises(lessons.LessonError, match="no points"):
        lessons.build_notebook(MODULE)
    (tmp_path / f"{MODULE}.md").write_text(text + "\n<!-- written: modelar -->\nunclosed\n")
    with pytest.raises(lessons.LessonError, match="not closed"):
        lessons.build_notebook(MODULE)


@pytest.mark.parametrize(
    "old, new",
    [("mlp_vs_rnn = 1", "TAXONOMY = 1"), ("mlp_vs_rnn = 1", "mlp_vs_rnn = 0"), ("mlp_vs_rnn = 1", "Bad-Name = 1")],
)
def test_a_bad_written_answer_in_the_policy_is_an_error(tmp_path, old, new):
    with pytest.raises(PolicyError, match="written"):
        load_policy(policy_with(tmp_path, old, new))

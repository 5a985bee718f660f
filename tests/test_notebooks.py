"""Notebooks: generated from the masters, graded from their answer cells, the same in nbgrader."""

from __future__ import annotations

import json
import shutil

import pytest

from autograder.authoring import lessons
from autograder.exercises.contract import EXERCISES
from autograder.grading.notebook import ExerciseFailed, grade_cell
from autograder.grading.policy import load_policy
from autograder.grading.submission import load_submission
from conftest import POLICY, grade

MODULES = list(load_policy(POLICY).modules)


@pytest.mark.parametrize("module", MODULES)
def test_source_notebook_is_what_the_masters_generate(module):
    committed = lessons.notebook_path(module).read_text(encoding="utf-8")
    assert committed == lessons.notebook_text(module), "run `make notebooks`"


@pytest.mark.parametrize("module", MODULES)
def test_notebook_cells_carry_nbgrader_metadata_and_the_policy_points(module):
    notebook = json.loads(lessons.notebook_path(module).read_text())
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    meta = [c["metadata"]["nbgrader"] for c in notebook["cells"] if "nbgrader" in c["metadata"]]
    ids = [m["grade_id"] for m in meta]
    assert len(ids) == len(set(ids)) and all(m["schema_version"] == 3 for m in meta)
    tests = {m["grade_id"].removesuffix("_test"): m["points"] for m in meta if m["grade"] and not m["solution"]}
    assert tests == load_policy(POLICY).modules[module].points
    answers = [m["grade_id"] for m in meta if m["solution"] and not m["grade"]]
    assert sorted(answers) == sorted(EXERCISES[module])
    written = {m["grade_id"]: m["points"] for m in meta if m["grade"] and m["solution"]}  # graded by hand
    assert written == load_policy(POLICY).modules[module].written
    for cell in notebook["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade"):
            if cell["cell_type"] == "markdown":
                assert cell["metadata"]["nbgrader"]["solution"] and "Resposta de referência" in "".join(cell["source"])
            else:
                assert "### BEGIN HIDDEN TESTS" in "".join(cell["source"])


def _notebook(tmp_path, module, edit=None, name="sub"):
    folder = tmp_path / name
    folder.mkdir()
    notebook = json.loads(lessons.notebook_path(module).read_text())
    if edit:
        edit(notebook)
    (folder / f"{module}.ipynb").write_text(json.dumps(notebook))
    return folder


def test_exploratory_cells_are_ignored_and_answers_are_graded(tmp_path):
    def explore(notebook):
        notebook["cells"].append(
            {
                "cell_type": "code",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
                "source": "raise SystemExit('a student experiment')\n%matplotlib inline",
            }
        )

    _, report = grade(_notebook(tmp_path, "rnn_basics", explore), only="rnn_basics")
    assert report.score == report.max_score


def test_a_notebook_that_is_not_json_is_that_modules_error(tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "rnn_basics.ipynb").write_text("{ not json")
    scores, _ = grade(folder, only="rnn_basics")
    assert {e.status for e in scores.values()} == {"error"}
    assert {e.messages[0].key for e in scores.values()} == {"notebook_invalid"}


def test_a_notebook_that_lost_its_answer_cells_is_reported(tmp_path):
    def strip(notebook):
        notebook["cells"] = [c for c in notebook["cells"] if not c["metadata"].get("nbgrader", {}).get("solution")]

    submission = load_submission(_notebook(tmp_path, "rnn_basics", strip), ["rnn_basics"])
    assert submission.modules["rnn_basics"].problem.key == "notebook_no_answers"


def test_nbgrader_layout_is_found(tmp_path):
    folder = tmp_path / "student"
    (folder / "rnn_basics").mkdir(parents=True)
    shutil.copy(lessons.notebook_path("rnn_basics"), folder / "rnn_basics")
    submission = load_submission(folder, ["rnn_basics"], tmp_path / "staging")
    source = submission.modules["rnn_basics"]
    assert source.problem is None and source.path.read_text().startswith("# Extracted from rnn_basics.ipynb")


def test_grade_cell_passes_fails_and_never_writes_to_stderr(capfd):
    import runpy

    from conftest import ASSIGNMENTS, SOLUTIONS

    assert grade_cell("rnn_basics", "sigmoid", runpy.run_path(str(SOLUTIONS / "rnn_basics.py")), hidden=True) is None
    with pytest.raises(ExerciseFailed, match="Dica"):
        grade_cell("rnn_basics", "sigmoid", runpy.run_path(str(ASSIGNMENTS / "rnn_basics.py")))
    naive = {"sigmoid": lambda x: 1 / (1 + __import__("numpy").exp(-x))}
    with pytest.raises(ExerciseFailed, match="aviso"):
        grade_cell("rnn_basics", "sigmoid", naive)
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("module", ["name_classifier", "forecast", "pixel_gru"])
def test_practical_predict_answer_precedes_the_training_test_and_its_test_follows(module):
    """train_*'s test calls predict_*, and predict_*'s test needs the model train_*'s test left."""
    train = next(name for name in EXERCISES[module] if name.startswith("train_"))
    predict = next(name for name in EXERCISES[module] if name.startswith("predict_"))
    ids = [
        c["metadata"]["nbgrader"]["grade_id"]
        for c in lessons.build_notebook(module)["cells"]
        if "nbgrader" in c["metadata"]
    ]
    assert ids.index(predict) < ids.index(f"{train}_test") < ids.index(f"{predict}_test")


def test_a_test_directive_before_its_answer_is_refused(tmp_path, monkeypatch):
    lesson = (lessons.LESSONS / "pixel_gru.md").read_text(encoding="utf-8")
    swapped = (
        lesson.replace("<!-- answer: predict_digits -->", "<!-- swap -->")
        .replace("<!-- test: predict_digits -->", "<!-- answer: predict_digits -->")
        .replace("<!-- swap -->", "<!-- test: predict_digits -->")
    )
    (tmp_path / "pixel_gru.md").write_text(swapped, encoding="utf-8")
    monkeypatch.setattr(lessons, "LESSONS", tmp_path)
    with pytest.raises(lessons.LessonError, match="before its answer"):
        lessons.build_notebook("pixel_gru")


@pytest.mark.slow
def test_grade_cell_trains_then_predicts_with_the_same_model(capfd):
    """In a notebook the training cell's model reaches the predict cell (public and hidden apart):
    every model predict_digits is given in the predict cell is the one the train cell trained."""
    import runpy

    from conftest import SOLUTIONS

    namespace = runpy.run_path(str(SOLUTIONS / "pixel_gru.py"))
    train, predict = namespace["train_pixel_gru"], namespace["predict_digits"]
    trained, given = [], {}  # models train returned; {(hidden, cell): models predict was given}
    cell = None

    def recorded_train(*args, **kwargs):
        trained.append(train(*args, **kwargs))
        return trained[-1]

    def recorded_predict(model, *args, **kwargs):
        given.setdefault(cell, []).append(model)
        return predict(model, *args, **kwargs)

    namespace.update(train_pixel_gru=recorded_train, predict_digits=recorded_predict)
    for hidden in (False, True):
        for exercise in ("train_pixel_gru", "predict_digits"):
            cell = (hidden, exercise)
            assert grade_cell("pixel_gru", exercise, namespace, hidden=hidden) is None  # full points
    assert len(trained) == 2 and trained[0] is not trained[1]
    for hidden, model in zip((False, True), trained):
        assert given[hidden, "predict_digits"] and all(m is model for m in given[hidden, "predict_digits"])
    assert capfd.readouterr().err == ""


@pytest.mark.slow
def test_a_practical_test_cell_draws_its_plots_under_the_cell(capfd, monkeypatch):
    """check (public): the loss curve, the confusion matrix and misclassified digits; hidden: no images."""
    import runpy

    from autograder.grading import notebook
    from conftest import SOLUTIONS

    shown = []
    monkeypatch.setattr(notebook, "_notebook_display", lambda: shown.append)
    namespace = runpy.run_path(str(SOLUTIONS / "pixel_gru.py"))
    for hidden in (False, True):
        outcome, _, _ = notebook.run_check("pixel_gru", "train_pixel_gru", namespace, hidden=hidden)
        assert notebook.show_plots(outcome.artifacts, "pt") == len(outcome.artifacts)
        assert set(outcome.artifacts) == (
            {"training", "confusion"} if hidden else {"training", "confusion", "misclassified"}
        )
    assert len(shown) == 5 and all(image.data.startswith(b"\x89PNG") for image in shown)
    assert capfd.readouterr().err == ""

"""nbgrader round trip on a temporary copy of the course: release, autograde, same totals."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.authoring import codegen
from autograder.authoring.bundle import with_setup_cell
from autograder.grading.policy import load_policy
from conftest import POLICY, ROOT, grade

MODULES = list(load_policy(POLICY).modules)
pytestmark = pytest.mark.slow


def nbgrader(course: Path, *args):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "nbgrader"), *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


# a notebook with shortcuts (issue 13): code appended to these answer cells of the reference
SHORTCUT_CELLS = {
    "rnn_basics": {
        "sigmoid": "\nfrom scipy.special import expit\n\n\ndef sigmoid(x):\n    return expit(x)\n",
        "rnncell_forward": "\n\ndef rnncell_forward(cell, xs, h0=None):\n"
        "    rnn = torch.nn.RNN(cell.input_size, cell.hidden_size).to(xs.dtype)\n"
        "    rnn.load_state_dict({k + '_l0': v for k, v in cell.state_dict().items()})\n"
        "    out, h = rnn(xs, None if h0 is None else h0[None])\n    return out, h[0]\n",
    },
    "gated_units": {
        "GRUCellScratch": "\n\nGRUCellScratch.forward = lambda self, x, h=None: torch.gru_cell(\n"
        "    x, x.new_zeros(x.shape[0], self.hidden_size) if h is None else h,\n"
        "    self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)\n",
        "stacked_lstm_forward": "\n\ndef stacked_lstm_forward(lstm, x, state=None):\n    return lstm(x, state)\n",
    },
}


def _with_shortcuts(notebook: Path, module: str) -> str:
    data = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in data["cells"]:
        code = SHORTCUT_CELLS.get(module, {}).get(cell["metadata"].get("nbgrader", {}).get("grade_id"))
        if code is not None:
            cell["source"] = "".join(cell["source"]) + code
    return json.dumps(data)


def _add_install_cell(notebook: Path) -> None:
    """The student bundle's first cell (installs the grader when missing): harmless under autograde."""
    data = with_setup_cell(json.loads(notebook.read_text(encoding="utf-8")))
    notebook.write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of the course with every assignment released and two students autograded."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copy(POLICY, course)
    shutil.copytree(ROOT / "source", course / "source")
    for module in MODULES:
        nbgrader(course, "generate_assignment", module, "--force")
        for student, folder in (("reference", "source"), ("untouched", "release"), ("shortcuts", "source")):
            target = course / "submitted" / student / module
            target.mkdir(parents=True)
            shutil.copy(course / folder / module / f"{module}.ipynb", target)
        shortcuts = course / "submitted" / "shortcuts" / module / f"{module}.ipynb"
        shortcuts.write_text(_with_shortcuts(shortcuts, module), encoding="utf-8")
        for student in ("reference", "untouched", "shortcuts"):  # as the bundle hands them out
            _add_install_cell(course / "submitted" / student / module / f"{module}.ipynb")
        nbgrader(course, "autograde", module, "--force")
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    return course


def nbgrader_totals(course: Path) -> dict[tuple[str, str], float]:
    with open(course / "grades.csv", newline="") as file:
        return {(row["student_id"], row["assignment"]): float(row["raw_score"]) for row in csv.DictReader(file)}


def test_release_has_no_solution_code_and_no_hidden_tests(course):
    for module in MODULES:
        released = (course / "release" / module / f"{module}.ipynb").read_text()
        assert "BEGIN SOLUTION" not in released and "HIDDEN TESTS" not in released
        assert "hidden=True" not in released
        assert "Resposta de referência" not in released and "SUA RESPOSTA AQUI" in released  # written answers
        source = (codegen.SOLUTIONS / f"{module}.py").read_text()
        for begin, end, _, _ in codegen.solution_regions(source):
            for line in source.splitlines()[begin + 1 : end]:
                if len(line.strip()) > 25:  # a distinctive line of reference code
                    assert json.dumps(line.strip())[1:-1] not in released, line


def test_autograde_gives_the_reference_full_marks_and_the_release_zero(course):
    totals = nbgrader_totals(course)
    for module in MODULES:
        top = sum(load_policy(POLICY).modules[module].points.values())
        assert totals[("reference", module)] == top
        assert totals[("untouched", module)] == 0


def test_written_answers_wait_in_the_gradebook_for_a_manual_grade(course):
    """Answered (the reference's model answers): needs manual grade, score 0 until graded. Left as
    released: nbgrader's own rule gives the unchanged answer cell 0 with no manual grade needed."""
    from nbgrader.api import Gradebook

    policy = load_policy(POLICY)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for module in MODULES:
            written = policy.modules[module].written
            answered = gradebook.find_submission_notebook(module, module, "reference")
            assert answered.needs_manual_grade, module
            manual = {g.name: g for g in answered.grades if g.needs_manual_grade}
            assert set(manual) == set(written), module
            assert all(g.score == 0 and g.max_score == written[g.name] for g in manual.values())
            untouched = {g.name: g for g in gradebook.find_submission_notebook(module, module, "untouched").grades}
            assert all(untouched[name].score == 0 and not untouched[name].needs_manual_grade for name in written)


def test_autograde_gives_the_shortcuts_zero_with_the_watch_in_the_kernel(course):
    totals = nbgrader_totals(course)
    scores, _ = grade(course / "submitted" / "shortcuts", only=",".join(SHORTCUT_CELLS))
    for module, cells in SHORTCUT_CELLS.items():
        assert totals[("shortcuts", module)] < totals[("reference", module)]
        for exercise in cells:
            assert scores[f"{module}.{exercise}"].score == 0
            assert scores[f"{module}.{exercise}"].messages[0].key == "scratch_forbidden"


@pytest.mark.parametrize("student", ["reference", "untouched", "shortcuts"])
def test_the_pytest_grader_gives_the_same_totals_on_the_same_notebooks(course, student):
    _, report = grade(course / "submitted" / student, only=",".join(MODULES))
    totals = nbgrader_totals(course)
    for module, (score, _) in report.modules().items():
        assert score == totals[(student, module)], module

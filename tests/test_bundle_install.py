"""The student bundle installed as its README says, in a fresh virtualenv, and its notebooks run
as Jupyter runs them: the kernel in `notebooks/` (or in a folder holding the notebook alone),
so `import autograder` finds only the installed student package. One virtualenv for all cases."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from autograder.authoring import codegen, lessons
from autograder.authoring.bundle import write_bundle
from autograder.authoring.student_package import DISTRIBUTION, wheel_name
from autograder.grading.policy import load_policy
from conftest import POLICY, ROOT, grade

pytestmark = pytest.mark.slow
MODULES = list(load_policy(POLICY).modules)
NUMERIC = ("rnn_basics", "bptt", "gated_units")
RUN_NOTEBOOK = Path(__file__).with_name("run_notebook.py")
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def readme_commands(readme: str, heading: str) -> list[str]:
    """The commands of the first code block under `heading`, comments dropped."""
    block = readme.split(heading, 1)[1].split("```", 2)[1]
    lines = [line.split("  #", 1)[0].strip() for line in block.splitlines()[1:]]
    return [line for line in lines if line]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The bundle, installed with the README's Linux/macOS commands (all but the last two,
    which start Jupyter and run `check`); the venv's python."""
    bundle = write_bundle(tmp_path_factory.mktemp("bundle") / "out", POLICY)
    commands = readme_commands((bundle / "README.md").read_text(encoding="utf-8"), "## Linux e macOS")
    assert commands[0] == "python3 -m venv .venv" and "pip install" in commands[1], commands
    for command in commands[:2]:
        result = subprocess.run(command, shell=True, cwd=bundle, capture_output=True, text=True, timeout=1800)
        assert result.returncode == 0, (command, result.stderr[-3000:])
    return bundle, bundle / ".venv" / "bin" / "python"


def run_notebook(python: Path, notebook: Path) -> dict:
    result = subprocess.run(
        [str(python), str(RUN_NOTEBOOK), str(notebook)],
        cwd=notebook.parent,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def filled(released: Path, target: Path) -> Path:
    """The released notebook with the reference's answer cells (from the source notebook), at `target`."""
    module = released.stem
    source = json.loads((lessons.SOURCE / module / f"{module}.ipynb").read_text(encoding="utf-8"))
    answers = {
        cell["metadata"]["nbgrader"]["grade_id"]: "".join(cell["source"])
        for cell in source["cells"]
        if cell["metadata"].get("nbgrader", {}).get("solution")
    }
    notebook = json.loads(released.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = "\n".join(line for line in answers[grade_id].splitlines() if line.strip() not in MARKERS)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(notebook), encoding="utf-8")
    return target


def assert_hints(report: dict) -> None:
    """Untouched: every test cell fails with its hint (a prediction needs the training first)."""
    for cell in report["tests"]:
        error = cell["error"] or ""
        assert error.startswith("ExerciseFailed") and "ModuleNotFoundError" not in error, cell
        assert "Dica:" in error or cell["grade_id"].startswith("predict_"), cell
        assert cell["stderr"] == "", cell


EARNED = re.compile(r"[✔◐] \w+: ([\d.]+)/")


def earned_points(report: dict) -> float:
    """Filled: every test cell passes (or earns part), nothing on stderr; the points summed."""
    total = 0.0
    for cell in report["tests"]:
        assert cell["error"] is None and cell["stderr"] == "", cell
        total += float(EARNED.search(cell["stdout"]).group(1))
    return total


def public_score(notebook: Path, module: str, folder: Path) -> float:
    """`grade`'s public score (the confined runner, this venv) for the module's notebook."""
    folder.mkdir()
    shutil.copy(notebook, folder / f"{module}.ipynb")
    _, report = grade(folder, only=module, hidden=False)
    return report.modules()[module][0]


def test_check_runs_in_the_bundle_as_the_readme_says(installed, tmp_path):
    bundle, python = installed
    stubs = subprocess.run(
        [str(python), "-m", "autograder", "check"], cwd=bundle, capture_output=True, text=True, timeout=900
    )
    assert stubs.returncode == 1 and "ainda não passam" in stubs.stdout, stubs.stdout[-3000:] + stubs.stderr
    work = tmp_path / "numeric"
    work.mkdir()
    for module in NUMERIC:  # the trained modules run in the notebooks below
        shutil.copy(codegen.SOLUTIONS / f"{module}.py", work)
    solved = subprocess.run(
        [str(python), "-m", "autograder", "check", str(work), "--only", ",".join(NUMERIC)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert solved.returncode == 0, solved.stdout[-3000:] + solved.stderr[-2000:]


@pytest.mark.parametrize("module", MODULES)
def test_every_released_notebook_runs_in_notebooks_untouched_and_filled(installed, module, tmp_path):
    bundle, python = installed
    released = bundle / "notebooks" / f"{module}.ipynb"
    assert_hints(run_notebook(python, released))
    answered = filled(released, bundle / "notebooks" / f"filled_{module}.ipynb")  # beside the released ones
    assert earned_points(run_notebook(python, answered)) == public_score(answered, module, tmp_path / "g")


def test_a_notebook_alone_installs_the_package_from_the_wheel_beside_it(installed, tmp_path):
    """The Colab / JupyterHub situation: the notebook and the wheel in an empty folder, the
    package not installed yet (its libraries are, as on Colab): the first cell installs it."""
    bundle, python = installed
    uninstall = subprocess.run(
        [str(python), "-m", "pip", "uninstall", "-y", DISTRIBUTION.replace("_", "-")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert uninstall.returncode == 0, uninstall.stderr
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(bundle / wheel_name(), alone)
    shutil.copy(bundle / "notebooks" / "rnn_basics.ipynb", alone)
    untouched = run_notebook(python, alone / "rnn_basics.ipynb")
    assert untouched["setup"][0]["error"] is None, untouched["setup"]
    assert_hints(untouched)
    answered = filled(bundle / "notebooks" / "rnn_basics.ipynb", tmp_path / "alone-filled" / "rnn_basics.ipynb")
    assert earned_points(run_notebook(python, answered)) == public_score(answered, "rnn_basics", tmp_path / "g")
    assert (
        ROOT
        not in Path(
            subprocess.run(
                [str(python), "-c", "import autograder; print(autograder.__file__)"],
                capture_output=True,
                text=True,
                cwd=alone,
            ).stdout.strip()
        ).parents
    )

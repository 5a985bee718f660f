"""The Gradescope autograder zip, and run_autograder on a simulated /autograder layout."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile

import pytest

from autograder.grading.policy import load_policy
from conftest import ASSIGNMENTS, POLICY, ROOT, SOLUTIONS


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("zip") / "autograder.zip"
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "gradescope", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return out


def test_the_zip_holds_the_grader_and_no_solution_or_student_file(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        policy = archive.read("grading.toml")
    assert {
        "setup.sh",
        "run_autograder",
        "requirements.lock",
        "grading.toml",
        "pyproject.toml",
        "autograder/cli.py",
        "autograder/exercises/checks/rnn_basics.py",
        "autograder/exercises/fixtures/rnn_basics.npz",
        "autograder/locale/common.toml",
    } <= names
    assert not [n for n in names if n.split("/")[0] in ("solutions", "assignments", "tests", ".venv")]
    assert not [n for n in names if "__pycache__" in n]
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert policy == POLICY.read_bytes()


PYTHON_THAT_LOGS = """#!/usr/bin/env bash
# stands in for python: logs each call; `-m venv DIR` makes DIR/bin/python (this same logger)
echo "$0 $*" >> "{log}"
if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi
"""


def test_setup_installs_the_locked_requirements_into_a_venv(autograder_zip, tmp_path):
    """setup.sh run with a python that only logs: it makes a venv beside itself, then installs the
    zip's requirements.lock and the grader (without other dependencies) with that venv's pip."""
    source = tmp_path / "source"
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extract("setup.sh", source)
    log, python = tmp_path / "calls.log", tmp_path / "python3.11"
    python.write_text(PYTHON_THAT_LOGS.format(log=log))
    python.chmod(0o755)
    run = subprocess.run(
        ["bash", str(source / "setup.sh")],
        env={**os.environ, "PYTHON": str(python)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    made, locked, grader = log.read_text().splitlines()
    venv_pip = f"{source}/.venv/bin/python -m pip install"
    assert made == f"{python} -m venv {source}/.venv"
    assert locked.startswith(venv_pip) and locked.endswith(f"-r {source}/requirements.lock")
    assert grader.startswith(venv_pip) and grader.endswith(f"--no-deps {source}")


def simulated_autograder(tmp_path, autograder_zip, student_files: dict) -> dict:
    """Unpack the zip as Gradescope does, put the upload in submission/, run run_autograder."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    for relative, source in student_files.items():
        (root / "submission" / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, root / "submission" / relative)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    run = subprocess.run(
        ["bash", str(root / "run_autograder"), "--only", "rnn_basics"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


def test_run_autograder_gives_full_marks_to_the_reference(tmp_path, autograder_zip):
    results = simulated_autograder(tmp_path, autograder_zip, {"rnn_basics.py": SOLUTIONS / "rnn_basics.py"})
    points = load_policy(POLICY).modules["rnn_basics"].points
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) == sum(points.values())
    assert {t["status"] for t in results["tests"]} == {"passed"}
    assert str(load_policy(POLICY).hidden_seed) not in json.dumps(results)


def test_run_autograder_finds_stubs_uploaded_inside_a_folder(tmp_path, autograder_zip):
    results = simulated_autograder(tmp_path, autograder_zip, {"my work/rnn_basics.py": ASSIGNMENTS / "rnn_basics.py"})
    assert results["score"] == 0 and len(results["tests"]) == len(load_policy(POLICY).modules["rnn_basics"].points)
    assert all(t["output"].startswith("Ainda não implementado") for t in results["tests"])


def test_gradescope_output_leaves_out_the_values_of_hidden_cases():
    from autograder.classroom.gradescope import redacted
    from autograder.grading.report import gradescope_json
    from autograder.grading.scoring import ExerciseScore, Report
    from autograder.messages import Message

    mismatch = Message(
        "mismatch",
        {
            "what": "h",
            "where": "[2, 0]",
            "rel": 0.5,
            "abs": 0.25,
            "expected": -0.318309,
            "got": 0.271828,
            "rtol": 1e-7,
            "atol": 1e-9,
        },
    )
    report = Report(
        [
            ExerciseScore(
                "rnn_basics.rnn_step",
                "rnn_basics",
                "rnn_step",
                0.0,
                2.0,
                "failed",
                [Message("case_hidden", {"number": 2}), mismatch],
            )
        ]
    )
    assert "-0.318309" in json.dumps(gradescope_json(report, "en"))
    shown = json.dumps(gradescope_json(redacted(report), "en"))
    assert "hidden case 2" in shown and "[2, 0]" in shown
    assert "-0.318309" not in shown and "0.271828" not in shown

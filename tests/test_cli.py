"""The command line as instructors and students use it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT


def run(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "autograder", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def graded_reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("out")
    result = run(
        "grade",
        "solutions",
        "--only",
        "rnn_basics",
        "--out",
        str(folder / "r.json"),
        "--gradescope",
        str(folder / "gs.json"),
        "--stages",
        str(folder / "stages"),
        "--lang",
        "en",
        "--device",
        "cpu",
    )
    return result, folder


def test_grade_writes_the_json_report(graded_reference):
    result, folder = graded_reference
    assert result.returncode == 0, result.stderr
    report = json.loads((folder / "r.json").read_text())
    assert report["score"] == report["max_score"] > 0
    exercise = report["exercises"][0]
    assert {"id", "module", "score", "max_score", "status", "feedback"} <= set(exercise)
    assert exercise["id"] == "rnn_basics.sigmoid" and exercise["module"] == "rnn_basics"
    assert {e["status"] for e in report["exercises"]} == {"passed"}
    assert not list(folder.glob("*.tmp"))


def test_grade_prints_the_table(graded_reference):
    result, _ = graded_reference
    assert "Exercise" in result.stdout and "rnncell_forward" in result.stdout and "100 %" in result.stdout


def test_grade_writes_gradescope_results(graded_reference):
    _, folder = graded_reference
    results = json.loads((folder / "gs.json").read_text())
    assert results["score"] == sum(t["max_score"] for t in results["tests"])
    assert {"name", "score", "max_score", "output", "visibility"} <= set(results["tests"][0])


def test_grade_writes_each_stage_as_a_plain_file(graded_reference):
    _, folder = graded_reference
    names = sorted(p.name for p in (folder / "stages").iterdir())
    assert names == ["1-submission.json", "2-outcomes.json", "3-report.json", "modules", "timings.json"]
    staged = json.loads((folder / "stages" / "1-submission.json").read_text())["modules"]
    assert all(Path(m["path"]).parent == folder / "stages" / "modules" for m in staged)  # what was graded
    outcomes = json.loads((folder / "stages" / "2-outcomes.json").read_text())
    assert all(o["status"] == "passed" and o["fraction"] == 1.0 for o in outcomes)
    timings = json.loads((folder / "stages" / "timings.json").read_text())
    assert timings["children_started"] == 1 and 0 < timings["compute_s"] <= timings["checks_s"]


def test_stubs_get_a_message_per_exercise_in_portuguese(tmp_path):
    result = run(
        "grade", "assignments", "--only", "rnn_basics,bptt", "--out", str(tmp_path / "r.json"), "--device", "cpu"
    )
    assert result.returncode == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["score"] == 0
    assert all(e["feedback"].startswith("Ainda não implementado") for e in report["exercises"])
    assert "Situação" in result.stdout
    assert "cell(xs[t], h)" in result.stdout  # hints are printed verbatim, not read as markup


def test_check_fails_on_the_stubs_and_passes_on_the_reference():
    stubs = run("check", "assignments", "--only", "rnn_basics")
    assert stubs.returncode == 1
    assert "ainda não passam" in stubs.stdout
    reference = run("check", "solutions", "--only", "rnn_basics", "--lang", "en")
    assert reference.returncode == 0, reference.stdout
    assert "All public checks pass" in reference.stdout


@pytest.mark.parametrize(
    "args, text",
    [
        (("grade", "no/such/folder"), "does not exist"),
        (("grade", "solutions", "--only", "rnn_basic"), "unknown module"),
        (("grade", "README.md"), "not a folder"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args, text):
    result = run(*args)
    assert result.returncode == 2
    assert text in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0

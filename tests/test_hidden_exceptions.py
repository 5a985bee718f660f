"""What student code raises on a hidden case may carry the case's inputs (`repr(argument)`):
the student-facing reports (report.md, report.html, the terminal table, Gradescope's output)
leave that text out; the instructor's report.json keeps it."""

from __future__ import annotations

import json

from autograder import cli
from autograder.exercises.cases import cases_for, load_public_cases
from autograder.grading.feedback import write_feedback
from autograder.grading.policy import load_policy
from conftest import POLICY, submission

MODULE, EXERCISE = "rnn_basics", "rnn_step"


def echoing_submission(folder):
    """The reference, whose rnn_step answers the public cases and raises ValueError(repr(x))
    on any other input (so the hidden cases are reached, and their x is echoed)."""
    public = sorted(float(case["x"].sum()) for case in load_public_cases(MODULE, EXERCISE))
    return submission(
        folder,
        MODULE,
        append=f"""
        _reference_step = rnn_step
        def rnn_step(x, h_prev, W_xh, W_hh, b_h):
            if not any(abs(float(x.sum()) - s) < 1e-9 for s in {public!r}):
                raise ValueError(repr(x.tolist()))
            return _reference_step(x, h_prev, W_xh, W_hh, b_h)
    """,
    )


def test_an_exception_on_a_hidden_case_shows_no_hidden_value_to_the_student(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "10000")  # the terminal table on one line per exercise: nothing wrapped away
    policy = load_policy(POLICY)
    hidden = [
        case
        for case in cases_for(MODULE, EXERCISE, hidden_seed=policy.hidden_seed, hidden_cases=policy.hidden_cases)
        if case._label.key == "case_hidden"
    ]
    secret = repr(float(hidden[0].x.ravel()[0]))
    folder = echoing_submission(tmp_path / "sub")
    out, gradescope = tmp_path / "report.json", tmp_path / "results.json"
    assert (
        cli.main(
            [
                "grade",
                str(folder),
                "--only",
                MODULE,
                "--device",
                "cpu",
                "--lang",
                "en",
                "--out",
                str(out),
                "--gradescope",
                str(gradescope),
            ]
        )
        == 0
    )
    terminal = capsys.readouterr().out
    report = json.loads(out.read_text())
    exercise = next(e for e in report["exercises"] if e["id"] == f"{MODULE}.{EXERCISE}")
    assert exercise["status"] == "error" and secret in json.dumps(exercise)  # the instructor's copy
    write_feedback(report, "student", tmp_path, "en")
    shown = {
        "report.md": (tmp_path / "report.md").read_text(),
        "report.html": (tmp_path / "report.html").read_text(),
        "gradescope": gradescope.read_text(),
        "terminal": terminal,
    }
    assert {name: secret in text for name, text in shown.items()} == dict.fromkeys(shown, False)
    assert "raised ValueError" in shown["report.md"] and "hidden case 1" in shown["report.md"]

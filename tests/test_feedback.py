"""Feedback reports: plots from check artifacts, Markdown and HTML, nothing hidden shown."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess

import numpy as np
import pytest

import autograder.exercises.checks.rnn_basics as rnn_basics_checks
from autograder.grading.feedback import render_html, render_markdown, student_messages, write_feedback
from autograder.grading.policy import load_policy
from autograder.grading.report_plots import render_png
from autograder.messages import Message
from conftest import POLICY, grade, submission
from synthetic_class import reference_code_lines

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RNG = np.random.default_rng(0)
SYNTHETIC_ARTIFACTS = {
    "training": {"kind": "curve", "series": {"train": np.exp(-np.arange(30) / 8), "validation": [1.0, 0.8, None, 0.5]}},
    "confusion": {
        "kind": "confusion",
        "labels": ["Portuguese", "English", "French"],
        "matrix": np.array([[9, 1, 0], [2, 8, 0], [0, 1, 9]]),
    },
    "forecast": {
        "kind": "forecast",
        "history": np.sin(np.arange(40) / 5).tolist(),
        "truth": np.sin(np.arange(40, 60) / 5),
        "prediction": np.sin(np.arange(40, 60) / 5) + 0.1,
    },
    "misclassified": {"kind": "images", "images": RNG.random((6, 28, 28)), "captions": ["7 → 1"] * 6},
}
# Right on the public cases, wrong from the first hidden case on (one rnn_step call per case).
RIGHT_ONLY_IN_PUBLIC = """
_calls = [0]
_right_rnn_step = rnn_step

def rnn_step(*args):
    _calls[0] += 1
    return _right_rnn_step(*args) + (0.0 if _calls[0] <= 2 else 0.01)
"""


def synthetic_report(artifacts: dict, status="failed") -> dict:
    from autograder.exercises.artifacts import plain_data

    return {
        "score": 0.0,
        "max_score": 2.0,
        "language": "pt",
        "modules": {"forecast": {"score": 0.0, "max_score": 2.0}},
        "exercises": [
            {
                "id": "forecast.train_forecaster",
                "module": "forecast",
                "score": 0.0,
                "max_score": 2.0,
                "status": status,
                "feedback": "",
                "artifacts": plain_data(artifacts),
                "messages": [
                    {"key": "case_public", "params": {"number": 1}},
                    {"key": "diag_missing_tanh", "params": {}},
                ],
            }
        ],
    }


@pytest.mark.parametrize("name", SYNTHETIC_ARTIFACTS)
def test_each_kind_of_artifact_is_drawn_as_a_png(name):
    from autograder.exercises.artifacts import plain_data

    png = render_png(plain_data(SYNTHETIC_ARTIFACTS[name]), "en")
    assert png.startswith(PNG_MAGIC) and len(png) > 5000


def test_html_and_markdown_inline_every_plot_and_name_the_diagnosis():
    report = synthetic_report(SYNTHETIC_ARTIFACTS)
    page = render_html(report, "Zoë <script>", "pt")
    assert page.count('src="data:image/png;base64,') == 4 and "Diagnóstico provável" in page
    assert "Zoë &lt;script&gt;" in page and "<script>" not in page and "Matriz de confusão" in page
    assert not re.search(r'src="(?!data:)', page)  # self-contained: no external file
    markdown = render_markdown(report, "Zoë", "en")
    assert markdown.count("](data:image/png;base64,") == 4 and "Likely diagnosis" in markdown
    first = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", markdown).group(1)
    assert base64.b64decode(first).startswith(PNG_MAGIC)


def test_a_malformed_artifact_costs_only_its_own_plot(tmp_path):
    artifacts = {**SYNTHETIC_ARTIFACTS, "bad": {"kind": "confusion", "labels": ["a"]}, "odd": {"kind": "sound"}}
    written = write_feedback(synthetic_report(artifacts), "ana", tmp_path, "en")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert [p.name for p in written] == ["report.md", "report.html"]
    assert page.count("data:image/png") == 4 and page.count("plot unavailable") == 2
    assert "confusion: missing matrix" in page and "unknown kind" in page and "odd" in page


def test_messages_of_public_cases_keep_their_values_and_hidden_ones_lose_them():
    mismatch = Message(
        "mismatch",
        {
            "what": "h",
            "where": "[0, 1]",
            "rel": 0.5,
            "abs": 0.25,
            "expected": 0.5,
            "got": 0.75,
            "rtol": 1e-7,
            "atol": 1e-9,
        },
    )
    public = [Message("case_public", {"number": 1}), mismatch]
    assert student_messages(public) == public
    hidden = student_messages([Message("case_hidden", {"number": 1}), mismatch])
    assert hidden[1].key == "mismatch_hidden" and set(hidden[1].params) == {"what", "where", "rel", "rtol", "atol"}
    assert "0.75" not in hidden[1].render("en") and "[0, 1]" in hidden[1].render("en")


@pytest.fixture(scope="module")
def graded_with_artifacts(tmp_path_factory):
    """A student right only on public data, graded with a check that attaches a training curve."""
    folder = submission(tmp_path_factory.mktemp("student"), "rnn_basics", append=RIGHT_ONLY_IN_PUBLIC)
    original = rnn_basics_checks.check_rnn_step

    def check_rnn_step(student, cases, tol, artifacts):
        artifacts["training"] = {"kind": "curve", "series": {"loss": np.array([2.0, 1.0, 0.5])}}
        original(student, cases, tol)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rnn_basics_checks, "check_rnn_step", check_rnn_step)
        exercises, report = grade(folder, only="rnn_basics")
    return exercises, report.to_json("pt")


def test_a_check_attaches_plot_data_that_reaches_the_report(graded_with_artifacts):
    exercises, report = graded_with_artifacts
    assert exercises["rnn_basics.rnn_step"].artifacts == {
        "training": {"kind": "curve", "series": {"loss": [2.0, 1.0, 0.5]}}
    }
    assert report["exercises"][1]["artifacts"]["training"]["series"]["loss"] == [2.0, 1.0, 0.5]
    assert "artifacts" not in report["exercises"][0]
    assert render_html(report, "ana", "pt").count("data:image/png") == 1


def test_reports_show_no_hidden_value_seed_or_reference_code(graded_with_artifacts):
    _, report = graded_with_artifacts
    rnn_step = report["exercises"][1]
    assert rnn_step["status"] == "failed" and rnn_step["messages"][0]["key"] == "case_hidden"
    hidden_expected = f"{rnn_step['messages'][1]['params']['expected']:.6g}"
    hidden_got = f"{rnn_step['messages'][1]['params']['got']:.6g}"
    assert hidden_expected in rnn_step["feedback"] and len(hidden_expected) >= 5  # the instructor's JSON has it
    seed = str(load_policy(POLICY).hidden_seed)
    code = reference_code_lines()
    assert len(code) >= 8
    for language in ("pt", "en"):
        for text in (render_markdown(report, "ana", language), render_html(report, "ana", language)):
            assert ("caso oculto 1" if language == "pt" else "hidden case 1") in text
            assert hidden_expected not in text and hidden_got not in text and seed not in text
            assert not [line for line in code if line in text]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_headless_chromium_shows_the_table_and_the_plots(tmp_path):
    import matplotlib.image

    write_feedback(synthetic_report(SYNTHETIC_ARTIFACTS), "Zoë", tmp_path, "pt")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1000,2600",
            f"--screenshot={shot}",
            (tmp_path / "report.html").as_uri(),
        ],
        capture_output=True,
        timeout=60,
        check=True,
    )
    pixels = (matplotlib.image.imread(io.BytesIO(shot.read_bytes()), format="png")[..., :3] * 255).round()

    def has_colour(rgb, tolerance=12):
        return bool((np.abs(pixels - np.array(rgb)) <= tolerance).all(axis=-1).sum() > 30)

    assert has_colour((0xCF, 0x22, 0x2E))  # the table's red "falhou"
    assert has_colour((0x1F, 0x77, 0xB4))  # matplotlib's blue: the curve drawn from its data URI
    assert has_colour((0xFF, 0x7F, 0x0E))  # and the orange forecast line

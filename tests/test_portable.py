"""The portable runner (autograder/sandbox/portable.py), forced on Linux with AUTOGRADER_RUNNER=portable,
and the student package on a platform made to look like Windows."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from autograder.authoring.bundle import public_policy
from autograder.authoring.student_package import write_wheel
from autograder.exercises.contract import EXERCISES
from autograder.grading.policy import load_policy
from autograder.grading.runner import UnconfinedRefused
from autograder.sandbox import portable
from conftest import ASSIGNMENTS, POLICY, SOLUTIONS, grade, policy_with

MODULES = list(load_policy(POLICY).modules)


@pytest.fixture
def forced(monkeypatch):
    monkeypatch.setenv(portable.RUNNER_VARIABLE, "portable")


def public_scores(folder, policy=POLICY, only=MODULES):
    scores, report = grade(folder, only=",".join(only), policy=policy, hidden=False)
    return scores, report


def test_the_variable_picks_the_portable_runner(forced):
    assert portable.process_class() is portable.PortableProcess


def test_grade_refuses_the_hidden_checks_on_the_portable_runner_unless_unconfined(forced, tmp_path):
    with pytest.raises(UnconfinedRefused, match="portable runner"):
        grade(SOLUTIONS, only="rnn_basics")


@pytest.mark.slow
def test_the_reference_scores_full_public_marks_on_all_six_modules(forced):
    scores, report = public_scores(SOLUTIONS)
    assert report.sandbox["confined"] is False and "portable" in report.sandbox["reason"]
    for module in MODULES:
        assert report.modules()[module][0] == report.modules()[module][1], (
            module,
            [(e.id, e.messages) for e in scores.values() if e.score < e.max_score],
        )


def test_the_stubs_score_zero_on_all_six_modules(forced):
    scores, report = public_scores(ASSIGNMENTS)
    assert set(scores) == {
        f"{m}.{e}" for m in MODULES for e in EXERCISES[m] if e in load_policy(POLICY).modules[m].points
    }
    assert report.score == 0
    for exercise in scores.values():
        assert exercise.messages[0].key in ("not_implemented", "needs_trained_model"), (exercise.id, exercise.messages)


HOSTILE = """
import ctypes as _ctypes, os as _os
def many_to_one_loss(log_probs, targets):
    while True:
        pass
def many_to_many_loss(log_probs, targets):
    return _ctypes.string_at(0)
def rnncell_forward(cell, xs, h0=None):
    _os._exit(3)
def one_to_many_forward(cell, readout, x, steps):
    raise KeyError("student's bug")
"""


def test_a_loop_an_exit_a_segfault_and_an_exception_each_cost_only_their_exercise(forced, tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    for module in ("rnn_basics", "bptt"):
        shutil.copy(SOLUTIONS / f"{module}.py", folder)
    with open(folder / "rnn_basics.py", "a", encoding="utf-8") as file:
        file.write(HOSTILE)
    policy = policy_with(tmp_path, "time_limit_s = 20", "time_limit_s = 3")
    scores, report = public_scores(folder, policy, only=["rnn_basics", "bptt"])
    lost = {e.id: e for e in scores.values() if e.score < e.max_score}
    assert set(lost) == {
        "rnn_basics.many_to_one_loss",
        "rnn_basics.many_to_many_loss",
        "rnn_basics.rnncell_forward",
        "rnn_basics.one_to_many_forward",
    }
    assert lost["rnn_basics.many_to_one_loss"].status == "timeout"
    assert lost["rnn_basics.many_to_many_loss"].messages[0].params["detail"] == "killed by SIGSEGV"
    assert lost["rnn_basics.rnncell_forward"].messages[0].params["detail"] == "exited with code 3"
    assert lost["rnn_basics.one_to_many_forward"].messages[0].params["exc_type"] == "KeyError"
    assert report.modules()["bptt"][0] == report.modules()["bptt"][1]


# A process that looks like Windows to the grader: no `resource`, no `fcntl`, no os.killpg, no
# O_NOFOLLOW or O_NONBLOCK (numpy and torch, built for the platform, are imported first), the
# instructor's editable install dropped so that `autograder` is the student package from its wheel.
LOOKS_LIKE_WINDOWS = """
import os, sys
import numpy, torch
sys.modules["resource"] = None
sys.modules["fcntl"] = None
del os.killpg, os.O_NOFOLLOW, os.O_NONBLOCK
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
sys.path.insert(0, sys.argv[1])
from autograder import cli
from autograder.grading import notebook
from autograder.sandbox import portable
assert portable.process_class() is portable.PortableProcess, portable.process_class()
assert "autograder.classroom" not in sys.modules and cli.__file__.startswith(sys.argv[1]), cli.__file__
sys.exit(cli.main(["check", sys.argv[2], "--only", "rnn_basics"]))
"""


@pytest.fixture(scope="module")
def unpacked_package(tmp_path_factory):
    """The student package as pip would lay it out (a pure wheel is a zip of site-packages)."""
    folder = tmp_path_factory.mktemp("site")
    wheel = write_wheel(tmp_path_factory.mktemp("wheel"), public_policy(POLICY))
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(folder)
    return folder


@pytest.mark.parametrize("work, code", [(SOLUTIONS, 0), (ASSIGNMENTS, 1)])
def test_the_student_package_checks_with_the_portable_runner_where_linux_is_missing(
    unpacked_package, tmp_path, work, code
):
    env = {key: value for key, value in os.environ.items() if key != portable.RUNNER_VARIABLE}
    result = subprocess.run(
        [sys.executable, "-c", LOOKS_LIKE_WINDOWS, str(unpacked_package), str(work)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, "COLUMNS": "200"},
    )
    assert result.returncode == code, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stderr.count("warning: portable runner (no `resource` module)") == 1, result.stderr
    total = sum(load_policy(POLICY).modules["rnn_basics"].points.values())
    assert f"{total if code == 0 else 0:g}/{total:g}" in result.stdout, result.stdout

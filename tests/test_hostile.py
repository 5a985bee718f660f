"""Hostile and broken submissions: each breaks rnn_basics on purpose while the other numpy
modules stay correct. The broken exercise (or module) loses its points with a clear message,
every other module keeps full marks, and the run finishes (its time limits: test_isolation.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from autograder.grading.policy import load_policy
from conftest import POLICY, SOLUTIONS, grade, policy_with

BROKEN = "rnn_basics"
OTHERS = [m for m in ("bptt", "gated_units") if m in load_policy(POLICY).modules]
ONLY = ",".join([BROKEN, *OTHERS])


def hostile_submission(folder, append: str):
    folder.mkdir(parents=True)
    for module in [BROKEN, *OTHERS]:
        shutil.copy(SOLUTIONS / f"{module}.py", folder / f"{module}.py")
    with open(folder / f"{BROKEN}.py", "a", encoding="utf-8") as file:
        file.write("\n" + append)
    return folder


def graded(tmp_path, append: str, policy=POLICY):
    scores, report = grade(hostile_submission(tmp_path / "sub", append), only=ONLY, policy=policy)
    for module in OTHERS:
        assert report.modules()[module][0] == report.modules()[module][1], f"{module} lost points"
    return {id_.split(".")[1]: e for id_, e in scores.items() if e.module == BROKEN}


def lost(exercises) -> set[str]:
    return {name for name, e in exercises.items() if e.score < e.max_score}


def test_segfault_costs_the_exercise_it_happens_in(tmp_path):
    exercises = graded(
        tmp_path,
        """
import ctypes as _ctypes
def many_to_many_loss(log_probs, targets):
    return _ctypes.string_at(0)
""",
    )
    assert lost(exercises) == {"many_to_many_loss"}
    assert exercises["many_to_many_loss"].messages[0].params["detail"] == "killed by SIGSEGV"


def test_monkeypatched_comparisons_with_wrong_answers_still_fail(tmp_path):
    exercises = graded(
        tmp_path,
        """
import numpy as _np, torch as _torch
_np.allclose = lambda *a, **k: True
_np.testing.assert_allclose = lambda *a, **k: None
_np.array_equal = lambda *a, **k: True
_torch.allclose = lambda *a, **k: True
_torch.testing.assert_close = lambda *a, **k: None
def rnn_readout(hs, W_hy, b_y):
    return _np.zeros(hs.shape[:-1] + (W_hy.shape[0],))
""",
    )
    assert lost(exercises) == {"rnn_readout", "VanillaRNN"}


def test_a_flood_of_output_costs_nothing(tmp_path):
    exercises = graded(
        tmp_path,
        """
import sys as _sys
_reference_sigmoid = sigmoid
def sigmoid(x):
    chunk = "x" * (1 << 20) + "\\n"
    for _ in range(50):
        _sys.stdout.write(chunk)
        _sys.stderr.write(chunk)
    return _reference_sigmoid(x)
""",
    )
    assert lost(exercises) == set()


GRADESCOPE_RESULTS = Path("/autograder/results/results.json")


def _contents(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def test_result_files_cannot_be_forged(tmp_path):
    out = tmp_path / "report.json"
    forged = '{"score": 999}'
    results_before = _contents(GRADESCOPE_RESULTS)
    exercises = graded(
        tmp_path,
        f"""
import os as _os
for _path in ({str(out)!r}, {str(GRADESCOPE_RESULTS)!r}, {str(POLICY.parent / "gradebook.db")!r},
              {str(tmp_path / "grades.csv")!r}):
    try:
        _os.makedirs(_os.path.dirname(_path), exist_ok=True)
        with open(_path, "w") as _file:
            _file.write({forged!r})
    except OSError:
        pass
""",
    )
    assert lost(exercises) == set()
    assert not out.exists() and not (tmp_path / "grades.csv").exists()
    assert not (POLICY.parent / "gradebook.db").exists()
    assert _contents(GRADESCOPE_RESULTS) == results_before  # absent here, or Gradescope's own


@pytest.mark.parametrize(
    "returned, key",
    [
        ("np.full((x.shape[0], W_hh.shape[0]), np.nan)", "not_finite"),
        ("(x @ W_xh.T).tolist()", "wrong_type"),
        ("np.zeros((W_hh.shape[0], x.shape[0]))", "wrong_shape"),
        ("'h'", "wrong_type"),
    ],
)
def test_nan_wrong_type_and_wrong_shape_are_named(tmp_path, returned, key):
    exercises = graded(
        tmp_path,
        f"""
def rnn_step(x, h_prev, W_xh, W_hh, b_h):
    return {returned}
""",
    )
    assert {"rnn_step"} <= lost(exercises) <= {"rnn_step", "rnn_forward", "VanillaRNN"}
    assert exercises["rnn_step"].messages[1].key == key


def test_sleeping_past_the_limit_times_out_that_exercise_only(tmp_path):
    policy = policy_with(tmp_path, "time_limit_s = 20", "time_limit_s = 3")
    exercises = graded(
        tmp_path,
        """
import time as _time
def many_to_one_loss(log_probs, targets):
    _time.sleep(3600)
""",
        policy=policy,
    )
    assert lost(exercises) == {"many_to_one_loss"}
    assert exercises["many_to_one_loss"].status == "timeout"


def test_grading_twice_gives_the_same_report(tmp_path):
    folder = hostile_submission(
        tmp_path / "sub",
        """
def rnn_forward(xs, h0, W_xh, W_hh, b_h):
    return np.zeros((xs.shape[0], xs.shape[1], W_hh.shape[0]))
""",
    )
    reports = [grade(folder, only=ONLY)[1].to_json("pt") for _ in range(2)]
    assert json.dumps(reports[0], sort_keys=True) == json.dumps(reports[1], sort_keys=True)
    assert reports[0]["score"] < reports[0]["max_score"]


def test_paths_with_spaces_and_accents(tmp_path):
    folder = tmp_path / "turma A" / "aluna Conceição"
    folder.mkdir(parents=True)
    shutil.copy(SOLUTIONS / f"{BROKEN}.py", folder)
    _, report = grade(folder, only=BROKEN)
    assert report.score == report.max_score


def test_a_module_that_is_a_folder_is_that_modules_error(tmp_path):
    (tmp_path / "sub" / f"{BROKEN}.py").mkdir(parents=True)
    scores, _ = grade(tmp_path / "sub", only=BROKEN)
    assert {e.status for e in scores.values()} == {"error"}
    assert {(e.messages[0].key, e.messages[0].params["kind"]) for e in scores.values()} == {
        ("file_not_regular", "a folder")
    }

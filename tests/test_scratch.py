"""From scratch (issue 13): shortcuts lose exactly their exercise's points, naming the routine;
correct alternatives keep full marks; tampering with the watch is reported as such."""

from __future__ import annotations

import json
import shutil
import traceback

import pytest

from autograder.classroom import classroom
from autograder.cli import main
from autograder.exercises import scratch
from autograder.grading.notebook import run_check
from autograder.grading.policy import PolicyError, load_policy
from autograder.messages import Message
from autograder.sandbox import tracer_state, tracing
from conftest import POLICY, SOLUTIONS, grade, load_module, policy_with, submission
from scratch_alternatives import (
    BPTT_ALTERNATIVES,
    GATED_ALTERNATIVES,
    GATED_TAMPERING,
    RNN_BASICS_ALTERNATIVES,
    RNN_BASICS_TRACER_REPLACED,
)
from scratch_shortcuts import BPTT_SHORTCUTS, GATED_ROUTES, GATED_SCRIPTED, GATED_SHORTCUTS, RNN_BASICS_SHORTCUTS

SHORTCUTS = {
    "rnn_basics": RNN_BASICS_SHORTCUTS,
    "bptt": BPTT_SHORTCUTS,
    "gated_units": GATED_SHORTCUTS,
    "gated_routes": GATED_ROUTES,
    "gated_scripted": GATED_SCRIPTED,
}
ALTERNATIVES = (
    [("rnn_basics", code) for code in RNN_BASICS_ALTERNATIVES]
    + [("bptt", code) for code in BPTT_ALTERNATIVES]
    + [("gated_units", code) for code in GATED_ALTERNATIVES]
)


def _graded(tmp_path, module: str, code: str, helpers: dict | None = None):
    folder = submission(tmp_path / "sub", module, append=code)
    for name, text in (helpers or {}).items():
        (folder / name).write_text(text, encoding="utf-8")
    scores, _ = grade(folder, only=module)
    return scores


def _first(score) -> Message:
    return score.messages[0]


@pytest.mark.parametrize("name", list(SHORTCUTS))
def test_each_shortcut_loses_its_exercise_and_names_the_routine(tmp_path, name):
    code, expected, helpers = SHORTCUTS[name]
    module = "gated_units" if name.startswith("gated") else name
    scores = _graded(tmp_path, module, code, helpers)
    policy = load_policy(POLICY)
    for exercise, points in policy.modules[module].points.items():
        score = scores[f"{module}.{exercise}"]
        if exercise in expected:
            assert score.score == 0, (exercise, score)
            assert _first(score).key == "scratch_forbidden", (exercise, score.messages)
            assert _first(score).params["routine"] == expected[exercise], (exercise, score.messages)
            assert expected[exercise] in _first(score).render("pt") and "do zero" in _first(score).render("pt")
        else:
            assert score.score == points, (exercise, score)


@pytest.mark.parametrize("module,code", ALTERNATIVES, ids=[f"{m}-{i}" for i, (m, _) in enumerate(ALTERNATIVES)])
def test_correct_alternatives_keep_full_marks(tmp_path, module, code):
    scores = _graded(tmp_path, module, code)
    lost = {
        key: (s.score, s.max_score, [m.key for m in s.messages]) for key, s in scores.items() if s.score != s.max_score
    }
    assert not lost


def test_tampering_with_the_watch_scores_zero_as_tampering(tmp_path):
    code, expected = GATED_TAMPERING
    scores = _graded(tmp_path, "gated_units", code)
    for exercise, points in load_policy(POLICY).modules["gated_units"].points.items():
        score = scores[f"gated_units.{exercise}"]
        if exercise in expected:
            assert score.score == 0 and _first(score).key == "scratch_tampered", (exercise, score.messages)
            assert expected[exercise] in _first(score).params["what"], (exercise, score.messages)
        else:  # the watch was mended after each tampering: the next exercises are judged as usual
            assert score.score == points, (exercise, score)


def test_a_replaced_tracer_is_tampering_for_every_watched_exercise(tmp_path):
    scores = _graded(tmp_path, "rnn_basics", RNN_BASICS_TRACER_REPLACED)
    watched = load_policy(POLICY).modules["rnn_basics"].from_scratch
    for key, score in scores.items():
        exercise = key.split(".", 1)[1]
        if exercise in watched:
            assert score.score == 0 and _first(score).key == "scratch_tampered", (key, score.messages)
            assert _first(score).params["what"] == "no report from the watch"
        else:
            assert score.score == score.max_score, (key, score)


# -- the grader's verdict on the report (data from an untrusted process) ------------------------
def _armed():
    watch = scratch.ExerciseWatch("GRUCellScratch", "recurrent", ("torch.gru_cell", "torch.nn.GRUCell"))
    return watch, watch.spec()


def test_a_report_with_the_wrong_nonce_or_sequence_is_tampering():
    for forged in ({"nonce": "0" * 16, "seq": 1}, {"seq": 1}, "clean", None):
        watch, spec = _armed()
        report = forged if not isinstance(forged, dict) else {**forged, "reached": [], "tampered": []}
        with pytest.raises(scratch.ScratchViolation) as raised:
            watch.verify({"ok": True, "scratch": report})
        assert raised.value.kind == "tampered"
    watch, spec = _armed()
    with pytest.raises(scratch.ScratchViolation):  # replaying the report of an earlier request
        watch.verify(
            {"ok": True, "scratch": {"nonce": spec["nonce"], "seq": spec["seq"] - 1, "reached": [], "tampered": []}}
        )


def test_the_grader_decides_what_a_reached_routine_means():
    watch, spec = _armed()
    clean = {
        "nonce": spec["nonce"],
        "seq": spec["seq"],
        "tampered": [],
        "reached": [{"routine": "torch.sigmoid", "where": "f"}],
    }
    watch.verify({"ok": True, "scratch": clean})  # allowed here: no verdict
    spec = watch.spec()
    with pytest.raises(scratch.ScratchViolation) as raised:
        watch.verify(
            {
                "ok": True,
                "scratch": {
                    **clean,
                    "seq": spec["seq"],
                    "reached": [{"routine": "torch.gru_cell", "where": "forward"}],
                },
            }
        )
    assert (raised.value.kind, raised.value.routine, raised.value.where) == ("forbidden", "torch.gru_cell", "forward")
    texts = [m.render(language) for m in raised.value.messages() for language in ("pt", "en")]
    assert "forward chamou torch.gru_cell" in texts[0] and "called torch.gru_cell" in texts[1]


def test_any_torch_call_breaks_the_numpy_list_but_not_a_named_one():
    assert tracer_state.matches("torch.Tensor.numpy", ("torch",))
    assert tracer_state.matches("torch.nn.functional.linear", ("torch", "scipy.special.expit"))
    assert not tracer_state.matches("scipy.special.logit", ("torch", "scipy.special.expit"))
    assert not tracer_state.matches("torch.sigmoid", ("torch.gru_cell",))


# -- the policy ------------------------------------------------------------------------------------
def test_the_default_policy_restricts_the_from_scratch_exercises_of_the_contract():
    policy = load_policy(POLICY)
    assert policy.modules["gated_units"].from_scratch["GRUCellScratch"] == "recurrent"
    assert "torch.gru_cell" in policy.forbid["recurrent"] and "torch" in policy.forbid["numpy"]
    assert "many_to_one_loss" not in policy.modules["rnn_basics"].from_scratch
    assert policy.modules["rnn_basics"].from_scratch["rnncell_forward"] == "whole_sequence"
    assert not policy.modules["name_classifier"].from_scratch


@pytest.mark.parametrize(
    "old,new,problem",
    [
        ('sigmoid = "numpy"', 'sigmoid = "numpi"', "not a list of [from_scratch.forbid]"),
        ('sigmoid = "numpy"', 'sigmoidal = "numpy"', "not an exercise of rnn_basics"),
        (
            '"torch.gru_cell", "torch.lstm_cell"',
            '"torch.gru_cel", "torch.lstm_cell"',
            "unknown routine 'torch.gru_cel'",
        ),
        ('numpy = ["torch",', 'numpy = ["scipy.special.erf",', "unknown routine 'scipy.special.erf'"),
        ("[from_scratch.forbid]", "[from_scratch.forbidden]", "from_scratch.forbidden"),
    ],
)
def test_unknown_names_in_the_from_scratch_policy_are_errors(tmp_path, old, new, problem):
    with pytest.raises(PolicyError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        load_policy(policy_with(tmp_path, old, new))


def test_a_torch_function_outside_the_recurrent_list_can_be_forbidden(tmp_path):
    policy = load_policy(
        policy_with(tmp_path, 'whole_sequence = ["torch.nn.RNN",', 'whole_sequence = ["torch.einsum", "torch.nn.RNN",')
    )
    assert "torch.einsum" in policy.forbid["whole_sequence"]


# -- nbgrader's in-kernel grade_cell enforces the same (student code in this process) ----------
def _in_kernel(tmp_path, code: str, exercise: str, module: str = "gated_units"):
    namespace = vars(load_module(submission(tmp_path / exercise, module, append=code) / f"{module}.py"))
    outcome, _, _ = run_check(module, exercise, dict(namespace), hidden=False)
    return outcome


def test_grade_cell_enforces_in_the_kernel(tmp_path):
    assert _in_kernel(tmp_path, "", "GRUCellScratch").status == "passed"
    shortcut = _in_kernel(tmp_path, GATED_ROUTES[0], "GRUCellScratch")
    assert (shortcut.fraction, shortcut.messages[0].params["routine"]) == (0.0, "torch.gru_cell")
    tampered = _in_kernel(tmp_path, GATED_TAMPERING[0], "GRUCellScratch")
    assert tampered.fraction == 0.0 and tampered.messages[0].key == "scratch_tampered"
    scipy_bound_early = _in_kernel(
        tmp_path, "from scipy.special import expit\n\ndef sigmoid(x):\n    return expit(x)\n", "sigmoid", "rnn_basics"
    )
    assert scipy_bound_early.messages[0].params["routine"] == "scipy.special.expit"
    assert _in_kernel(tmp_path, "", "stacked_lstm_forward").status == "passed"


_HONEST_GRU = """
    h = x.new_zeros(x.shape[0], self.hidden_size) if h is None else h
    i_r, i_z, i_n = (x @ self.weight_ih.T + self.bias_ih).chunk(3, dim=1)
    h_r, h_z, h_n = (h @ self.weight_hh.T + self.bias_hh).chunk(3, dim=1)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    return (1 - z) * torch.tanh(i_n + r * h_n) + z * h
"""


@pytest.mark.parametrize(
    "before,inside,what",
    [
        ("import sys", "    sys.settrace(None)", "sys.settrace"),
        ("import ctypes", "    ctypes.CDLL(None).getpid()", "ctypes"),
        (
            "import sys\nsys.modules['autograder.sandbox.tracer_state']"
            ".torch_name.__code__ = (lambda func: 'x').__code__",
            "",
            "rewritten",
        ),
        ("torch.jit._state.enable()", "", "TorchScript turned back on"),
        ("", "    torch.overrides._pop_mode_temporarily().__enter__()", "_pop_mode"),
    ],
)
def test_other_ways_around_the_watch_are_tampering(tmp_path, before, inside, what):
    code = (
        f"{before}\n\n\ndef _forward(self, x, h=None):\n{inside}\n{_HONEST_GRU}\n\nGRUCellScratch.forward = _forward\n"
    )
    try:
        outcome = _in_kernel(tmp_path, code, "GRUCellScratch")
    finally:
        tracer_state.lasting.clear()  # this test process is the "kernel": leave it clean for the next tests
    assert outcome.fraction == 0.0 and outcome.messages[0].key == "scratch_tampered", outcome.messages
    assert what in outcome.messages[0].params["what"]
    assert _in_kernel(tmp_path / "after", "", "GRUCellScratch").status == "passed"  # mended


@pytest.mark.parametrize(
    "inside",
    [
        "    mode = torch._C._get_function_stack_at(torch._C._len_torch_function_stack() - 1)\n"
        "    mode.__exit__(None, None, None)\n    mode.__enter__()",
        "    import torch.utils._device as device\n    device._push_mode(device._pop_mode())",
        "    with torch._C.DisableTorchFunction():\n        pass",
    ],
)
def test_leaving_the_mode_by_other_doors_is_tampering(tmp_path, inside):
    code = f"\n\ndef _forward(self, x, h=None):\n{inside}\n{_HONEST_GRU}\n\nGRUCellScratch.forward = _forward\n"
    outcome = _in_kernel(tmp_path, code, "GRUCellScratch")
    assert outcome.fraction == 0.0 and outcome.messages[0].key == "scratch_tampered", outcome.messages


def test_torch_device_as_a_context_is_not_tampering(tmp_path):
    inside = _HONEST_GRU.replace("\n    ", "\n        ")  # one level deeper, under the `with`
    code = (
        f"\n\ndef _forward(self, x, h=None):\n    with torch.device('cpu'):\n{inside}\n\n"
        "GRUCellScratch.forward = _forward\n"
    )
    assert _in_kernel(tmp_path, code, "GRUCellScratch").status == "passed"


# -- everywhere the checks run: check (students) and grade-all (a class), with the JSON record --
def test_check_enforces_for_students(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # one table row per line
    folder = submission(tmp_path / "mine", "gated_units", append=GATED_ROUTES[0])
    assert main(["check", str(folder), "--only", "gated_units", "--lang", "en"]) == 1
    shown = " ".join(capsys.readouterr().out.split())
    assert "called torch.gru_cell" in shown and "write from scratch" in shown


def test_grade_all_records_the_routine_in_each_report(tmp_path):
    submissions = tmp_path / "submissions"
    shutil.copytree(SOLUTIONS, submissions / "honest", ignore=shutil.ignore_patterns("__pycache__"))
    code, expected, helpers = RNN_BASICS_SHORTCUTS
    cheat = submission(submissions / "cheat", "rnn_basics", append=code)
    for name, text in helpers.items():
        (cheat / name).write_text(text, encoding="utf-8")
    summary = classroom.grade_all(
        submissions, tmp_path / "results", policy_path=POLICY, only="rnn_basics", jobs=1, show_progress=False
    )
    assert sorted(summary.graded) == ["cheat", "honest"]
    honest, cheat = (
        json.loads((tmp_path / "results" / s / "report.json").read_text(encoding="utf-8")) for s in ("honest", "cheat")
    )
    assert honest["score"] == honest["max_score"]
    recorded = {
        e["id"].split(".")[1]: (e["messages"][0]["key"], e["messages"][0]["params"]["routine"])
        for e in cheat["exercises"]
        if e["messages"]
    }
    assert recorded == {exercise: ("scratch_forbidden", routine) for exercise, routine in expected.items()}
    assert cheat["score"] == cheat["max_score"] - sum(
        load_policy(POLICY).modules["rnn_basics"].points[e] for e in expected
    )


def test_a_result_that_computes_while_it_is_encoded_is_watched_too(tmp_path):
    lazy = """
class _Lazy(np.ndarray):
    def tobytes(self, order="C"):
        return torch.sigmoid(torch.from_numpy(np.asarray(self))).numpy().tobytes()


def sigmoid(x):
    return np.array(x, dtype=np.float64).view(_Lazy)
"""
    outcome = _in_kernel(tmp_path, lazy, "sigmoid", "rnn_basics")
    assert outcome.fraction == 0.0 and outcome.messages[0].params["routine"] == "torch.sigmoid", outcome.messages


def test_torch_calls_with_no_student_code_on_the_stack_are_the_graders_plumbing():
    import torch

    watch = tracing.watching({"nonce": "n", "seq": 1, "forbid": ["torch"]})

    def students_code():  # this test file is not under a library folder: it counts as the student's
        torch.zeros(2).clone()

    with watch:
        students_code()
        torch.ones(1)  # in the frame that started the watch: the server's own
    assert [r["routine"] for r in watch.report()["reached"]] == ["torch.zeros", "torch.Tensor.clone"]
    watch = tracing.watching({"nonce": "n", "seq": 2, "forbid": ["torch"]})
    with watch:
        tracer_state.torch_name(torch.zeros)  # the tracer's own code
        exec(compile("torch.zeros(1)", tracing.__file__, "exec"), {"torch": torch})  # a frame of the runtime's folder
    assert watch.report()["reached"] == []


def test_an_error_reply_shows_the_students_frames_and_none_of_the_tracers():
    """A student's exception raised through the tracer's torch function mode (patches.py) travels
    with the student's frame in its traceback and no frame of the runtime's own files."""
    import torch

    from autograder.sandbox import child

    def students_code():
        return torch.zeros(2, 3) @ torch.zeros(2, 3)  # shapes that cannot be multiplied

    with pytest.raises(RuntimeError) as raised, tracing.watching({"nonce": "n", "seq": 1, "forbid": ["torch"]}):
        students_code()
    frames = [frame.filename for frame in traceback.extract_tb(raised.value.__traceback__)]
    assert any(name.endswith("patches.py") for name in frames)  # the mode was on the way
    text = child._error_reply(raised.value)["error"]["traceback"]
    assert "students_code" in text and "@ torch.zeros(2, 3)" in text
    assert not any(name in text for name in ("patches.py", "tracing.py", "tracer_state.py", "child.py"))


def test_only_values_that_could_run_code_while_encoded_are_encoded_under_the_watch():
    import numpy as np
    import torch

    assert tracer_state.plain({"value": [np.zeros(2), (torch.zeros(1), 1.5, "s", None, True)]})
    tagged = torch.zeros(1)
    tagged.detach = lambda: torch.ones(1)
    assert not tracer_state.plain(np.zeros(2).view(type("Sub", (np.ndarray,), {})))
    assert not tracer_state.plain([tagged]) and not tracer_state.plain(torch.nn.Parameter(torch.zeros(1)))

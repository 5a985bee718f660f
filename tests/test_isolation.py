"""Broken submissions cost their own exercises only, and the grader always finishes."""

from __future__ import annotations

from autograder.exercises.contract import EXERCISES
from autograder.sandbox import portable
from conftest import SOLUTIONS, grade, policy_with, submission

MODULE = "rnn_basics"
FAST_LIMIT = ("time_limit_s = 20", "time_limit_s = 3")


def statuses(scores, module=MODULE):
    return {id_.split(".")[1]: e.status for id_, e in scores.items() if e.module == module}


def test_missing_module_is_reported_and_scores_zero(tmp_path):
    (tmp_path / "sub").mkdir()
    scores, report = grade(tmp_path / "sub", only=MODULE)
    assert set(statuses(scores).values()) == {"missing"}
    assert report.score == 0
    assert scores[f"{MODULE}.sigmoid"].messages[0].key == "missing_module"


def test_a_missing_name_costs_that_exercise_and_its_callers(tmp_path):
    code = (SOLUTIONS / f"{MODULE}.py").read_text().replace("def rnn_readout(", "def _renamed_readout(")
    scores, _ = grade(submission(tmp_path / "sub", MODULE, replace=code), only=MODULE)
    result = statuses(scores)
    assert result.pop("rnn_readout") == "missing"
    assert scores[f"{MODULE}.rnn_readout"].messages[0].key == "missing_name"
    assert result.pop("VanillaRNN") == "error"  # its step() calls rnn_readout: NameError
    assert scores[f"{MODULE}.VanillaRNN"].messages[0].params["exc_type"] == "NameError"
    assert set(result.values()) == {"passed"}


def test_exception_at_import_zeroes_the_module_with_its_message(tmp_path):
    scores, _ = grade(submission(tmp_path / "sub", MODULE, append="raise RuntimeError('oops at import')"), only=MODULE)
    assert set(statuses(scores).values()) == {"error"}
    message = scores[f"{MODULE}.rnn_step"].messages[0]
    assert message.key == "raised" and message.params["exc_type"] == "RuntimeError"
    assert "oops at import" in message.params["message"]


def test_endless_loop_in_one_exercise_times_out_that_exercise_only(tmp_path):
    policy = policy_with(tmp_path, *FAST_LIMIT)
    scores, _ = grade(
        submission(
            tmp_path / "sub",
            MODULE,
            append="""
        def rnn_readout(hs, W_hy, b_y):
            while True:
                pass
    """,
        ),
        only=MODULE,
        policy=policy,
    )
    result = statuses(scores)
    assert result.pop("rnn_readout") == "timeout"
    assert result.pop("VanillaRNN") == "timeout"  # it calls rnn_readout
    assert set(result.values()) == {"passed"}
    assert scores[f"{MODULE}.rnn_readout"].messages[0].params["seconds"] == "3"  # the policy's limit


def test_endless_loop_at_import_stops_within_the_limit(tmp_path, monkeypatch):
    policy = policy_with(tmp_path, "import_limit_s = 30", "import_limit_s = 4")
    process_class, attempts = portable.process_class(), []
    original_import = process_class._import

    def counted_import(self, module):
        attempts.append(module)
        return original_import(self, module)

    monkeypatch.setattr(process_class, "_import", counted_import)
    scores, _ = grade(
        submission(tmp_path / "sub", MODULE, append="while True:\n    pass\n"), only=MODULE, policy=policy
    )
    assert set(statuses(scores).values()) == {"timeout"}
    assert scores[f"{MODULE}.sigmoid"].messages[0].params["seconds"] == "4"
    assert attempts == [MODULE]  # one import attempt, not one per exercise


def test_memory_bomb_is_stopped_by_the_memory_limit(tmp_path):
    scores, _ = grade(
        submission(
            tmp_path / "sub",
            MODULE,
            append="""
        def rnn_step(x, h_prev, W_xh, W_hh, b_h):
            hoard = [bytearray(1 << 30) for _ in range(64)]
            return hoard
    """,
        ),
        only=MODULE,
    )
    result = statuses(scores)
    assert result.pop("rnn_step") == "error"
    assert scores[f"{MODULE}.rnn_step"].messages[0].key == "memory"
    assert result.pop("rnn_forward") == result.pop("VanillaRNN") == "error"
    assert set(result.values()) == {"passed"}


def test_killed_process_costs_one_exercise_and_the_next_gets_a_fresh_one(tmp_path):
    scores, _ = grade(
        submission(
            tmp_path / "sub",
            MODULE,
            append="""
        import os as _os
        def sigmoid(x):
            _os._exit(0)
    """,
        ),
        only=MODULE,
    )
    result = statuses(scores)
    assert scores[f"{MODULE}.sigmoid"].messages[0].key == "crash"
    assert result.pop("sigmoid") == "error"
    assert result.pop("rnn_readout") == result.pop("VanillaRNN") == "error"
    assert set(result.values()) == {"passed"}


def test_returning_objects_instead_of_data_is_a_clear_failure(tmp_path):
    scores, _ = grade(
        submission(
            tmp_path / "sub",
            MODULE,
            append="""
        class _Opaque:
            pass
        def rnn_step(x, h_prev, W_xh, W_hh, b_h):
            return _Opaque()
    """,
        ),
        only=MODULE,
    )
    message = scores[f"{MODULE}.rnn_step"].messages[1]
    assert message.key == "wrong_type" and message.params["got"] == "_Opaque"


def test_grader_process_is_untouched_by_monkeypatching(tmp_path):
    scores, _ = grade(
        submission(
            tmp_path / "sub",
            MODULE,
            append="""
        import numpy as _np
        _np.allclose = lambda *a, **k: True
        _np.testing.assert_allclose = lambda *a, **k: None
        import torch as _torch
        _torch.allclose = lambda *a, **k: True
        def rnn_step(x, h_prev, W_xh, W_hh, b_h):
            return _np.zeros((x.shape[0], W_hh.shape[0]))
    """,
        ),
        only=MODULE,
    )
    assert scores[f"{MODULE}.rnn_step"].status == "failed"
    assert len(EXERCISES[MODULE]) == len(statuses(scores))

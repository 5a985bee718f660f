"""rnn_basics end to end: the reference, the stubs, and the mistakes students make."""
from __future__ import annotations

import pytest

from autograder.cases import load_public_cases
from autograder.contract import EXERCISES
from conftest import grade, submission

MODULE = "rnn_basics"
IDS = {f"{MODULE}.{name}" for name in EXERCISES[MODULE]}


# (name, code appended to the reference, exercises it breaks, diagnosis expected on the first of them)
MISTAKES = [
    ("naive sigmoid overflows", """
        def sigmoid(x):
            return 1.0 / (1.0 + np.exp(-x))
     """, {"sigmoid"}, "diag_sigmoid_overflow"),
    ("rnn_step without bias", """
        def rnn_step(x, h_prev, W_xh, W_hh, b_h):
            return np.tanh(x @ W_xh.T + h_prev @ W_hh.T)
     """, {"rnn_step", "rnn_forward", "VanillaRNN"}, "diag_missing_bias"),
    ("rnn_forward ignores h0", """
        _reference_forward = rnn_forward
        def rnn_forward(xs, h0, W_xh, W_hh, b_h):
            return _reference_forward(xs, None, W_xh, W_hh, b_h)
     """, {"rnn_forward"}, "diag_h0_ignored"),
    ("readout with tanh", """
        def rnn_readout(hs, W_hy, b_y):
            return np.tanh(hs @ W_hy.T + b_y)
     """, {"rnn_readout", "VanillaRNN"}, "diag_readout_tanh"),
    ("VanillaRNN keeps its state between calls", """
        def _forward_without_reset(self, xs):
            if self.hidden.shape[0] != xs.shape[1]:
                self.hidden = np.zeros((xs.shape[1], self.W_hh.shape[0]))
            return np.stack([self.step(x) for x in xs])
        VanillaRNN.forward = _forward_without_reset
     """, {"VanillaRNN"}, "diag_state_not_reset"),
    ("many-to-one averages every step", """
        def many_to_one_loss(log_probs, targets):
            return torch.stack([F.nll_loss(step, targets) for step in log_probs]).mean()
     """, {"many_to_one_loss"}, "diag_loss_all_steps"),
    ("many-to-many averages over time", """
        def many_to_many_loss(log_probs, targets):
            return torch.stack([F.nll_loss(s, t) for s, t in zip(log_probs, targets)]).mean()
     """, {"many_to_many_loss"}, "diag_loss_time_mean"),
    ("one-to-many feeds the output back", """
        def one_to_many_forward(cell, readout, x, steps):
            h, outputs, inputs = None, [], x
            for _ in range(steps):
                h = cell(inputs, h)
                outputs.append(readout(h))
                inputs = outputs[-1]
            return torch.stack(outputs)
     """, {"one_to_many_forward"}, "diag_feedback_output"),
    ("rnncell_forward returns only the outputs", """
        def rnncell_forward(cell, xs, h0=None):
            h, outputs = h0, []
            for x in xs:
                h = cell(x, h)
                outputs.append(h)
            return torch.stack(outputs)
     """, {"rnncell_forward"}, "wrong_type"),
    ("rnn_forward modifies xs in place", """
        _reference_forward = rnn_forward
        def rnn_forward(xs, h0, W_xh, W_hh, b_h):
            hs = _reference_forward(xs, h0, W_xh, W_hh, b_h)
            xs *= 0
            return hs
     """, {"rnn_forward"}, "mutated_read_only"),
]


@pytest.mark.parametrize("name, code, broken, diagnosis", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_mistake_loses_its_exercises_and_no_other(tmp_path, name, code, broken, diagnosis):
    scores, _ = grade(submission(tmp_path / "sub", MODULE, append=code), only=MODULE)
    lost = {id_.split(".")[1] for id_ in IDS if scores[id_].score < scores[id_].max_score}
    assert lost == broken
    keys = {m.key for id_ in IDS if id_.split(".")[1] in broken for m in scores[id_].messages}
    assert diagnosis in keys, {id_: [m.key for m in scores[id_].messages] for id_ in IDS}


def test_feedback_names_shape_and_time_step(tmp_path):
    code = """
        _reference_forward = rnn_forward
        def rnn_forward(xs, h0, W_xh, W_hh, b_h):
            hs = _reference_forward(xs, h0, W_xh, W_hh, b_h)
            hs[1:] += 0.5
            return hs
        def rnn_readout(hs, W_hy, b_y):
            return sigmoid(hs @ W_hy.T + b_y)[..., :-1]
    """
    scores, _ = grade(submission(tmp_path / "sub", MODULE, append=code), only=MODULE)
    forward = scores[f"{MODULE}.rnn_forward"].messages
    assert [m.key for m in forward] == ["case_public", "mismatch", "first_bad_step"]
    assert forward[2].params["step"] == 1
    readout = scores[f"{MODULE}.rnn_readout"].messages
    assert readout[1].key == "wrong_shape" and readout[1].params["got"][-1] == readout[1].params["expected"][-1] - 1


def test_hidden_cases_catch_a_submission_fitted_to_the_public_fixtures(tmp_path):
    known = [(case["x"].tolist(), case["h"].tolist()) for case in load_public_cases(MODULE, "rnn_step")]
    code = f"""
        _KNOWN = [(np.array(x), np.array(h)) for x, h in {known!r}]
        def rnn_step(x, h_prev, W_xh, W_hh, b_h):
            for known_x, known_h in _KNOWN:
                if known_x.shape == x.shape and np.allclose(known_x, x):
                    return known_h
            return np.zeros((x.shape[0], W_hh.shape[0]))
    """
    folder = submission(tmp_path / "sub", MODULE, append=code)
    public, _ = grade(folder, only=MODULE, hidden=False)
    hidden, _ = grade(folder, only=MODULE)
    step = f"{MODULE}.rnn_step"
    assert public[step].status == "passed"
    assert hidden[step].status == "failed"
    assert hidden[step].messages[0].key == "case_hidden"

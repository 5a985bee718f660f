"""rnn_basics end to end: the reference, the stubs, and the mistakes students make."""

from __future__ import annotations

import pytest

from autograder.exercises.cases import load_public_cases
from autograder.exercises.contract import EXERCISES
from conftest import grade, submission
from mistakes import assert_lost_only_its_exercises_and_named, mistake, mistake_source, noise_code

MODULE = "rnn_basics"
IDS = {f"{MODULE}.{name}" for name in EXERCISES[MODULE]}


STABLE_SIGMOID = ("e = np.exp(-np.abs(x))\n    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",)
USES_SIGMOID = {"rnn_readout", "VanillaRNN"}
STEP = "return np.tanh(x @ W_xh.T + h_prev @ W_hh.T + b_h)"
USES_STEP = {"rnn_forward", "VanillaRNN"}
READOUT = "return sigmoid(hs @ W_hy.T + b_y)"
LOOP = "h = rnn_step(xs[t], h, W_xh, W_hh, b_h)\n        hs[t] = h"
CELL_LOOP = "h = cell(x, h)\n        outputs.append(h)"
TO_ONE = "return F.nll_loss(log_probs[-1], targets)"
TO_MANY = "return sum(F.nll_loss(step, target) for step, target in zip(log_probs, targets))"

CORPUS = [
    mistake(
        "naive sigmoid overflows",
        "sigmoid",
        "diag_sigmoid_overflow",
        (STABLE_SIGMOID[0], "return 1.0 / (1.0 + np.exp(-x))"),
    ),
    mistake(
        "sigmoid of -x",
        "sigmoid",
        "diag_sigmoid_sign",
        ("np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))", "np.where(x >= 0, e / (1.0 + e), 1.0 / (1.0 + e))"),
        also=USES_SIGMOID,
    ),
    mistake(
        "sigmoid written as tanh",
        "sigmoid",
        "diag_sigmoid_is_tanh",
        (STABLE_SIGMOID[0], "return np.tanh(x)"),
        also=USES_SIGMOID,
    ),
    mistake(
        "sigmoid as (1 + tanh(x)) / 2",
        "sigmoid",
        "diag_sigmoid_tanh_form",
        (STABLE_SIGMOID[0], "return 0.5 * (1.0 + np.tanh(x))"),
        also=USES_SIGMOID,
    ),
    mistake(
        "rnn_step with sigmoid",
        "rnn_step",
        "diag_rnn_step_sigmoid",
        (STEP, "return sigmoid(x @ W_xh.T + h_prev @ W_hh.T + b_h)"),
        also=USES_STEP,
    ),
    mistake(
        "rnn_step without bias",
        "rnn_step",
        "diag_missing_bias",
        (STEP, "return np.tanh(x @ W_xh.T + h_prev @ W_hh.T)"),
        also=USES_STEP,
    ),
    mistake(
        "rnn_step without tanh",
        "rnn_step",
        "diag_missing_tanh",
        (STEP, "return x @ W_xh.T + h_prev @ W_hh.T + b_h"),
        also=USES_STEP,
    ),
    mistake(
        "rnn_step forgets h_prev",
        "rnn_step",
        "diag_no_recurrence",
        (STEP, "return np.tanh(x @ W_xh.T + b_h)"),
        also=USES_STEP,
    ),
    mistake(
        "rnn_step with W_hh transposed",
        "rnn_step",
        "diag_transposed_weights",
        (STEP, "return np.tanh(x @ W_xh.T + h_prev @ W_hh + b_h)"),
        also=USES_STEP,
    ),
    mistake(
        "rnn_forward ignores h0",
        "rnn_forward",
        "diag_h0_ignored",
        ("h = np.zeros((B, W_hh.shape[0])) if h0 is None else h0", "h = np.zeros((B, W_hh.shape[0]))"),
    ),
    mistake(
        "rnn_forward stores the state before the step",
        "rnn_forward",
        "diag_states_shifted",
        (LOOP, "hs[t] = h\n        h = rnn_step(xs[t], h, W_xh, W_hh, b_h)"),
    ),
    mistake(
        "rnn_forward does not carry the state",
        "rnn_forward",
        "diag_state_not_carried",
        (LOOP, "hs[t] = rnn_step(xs[t], h, W_xh, W_hh, b_h)"),
    ),
    mistake(
        "readout with tanh",
        "rnn_readout",
        "diag_readout_tanh",
        (READOUT, "return np.tanh(hs @ W_hy.T + b_y)"),
        also={"VanillaRNN"},
    ),
    mistake(
        "readout without sigmoid",
        "rnn_readout",
        "diag_readout_no_sigmoid",
        (READOUT, "return hs @ W_hy.T + b_y"),
        also={"VanillaRNN"},
    ),
    mistake(
        "readout without bias",
        "rnn_readout",
        "diag_missing_bias",
        (READOUT, "return sigmoid(hs @ W_hy.T)"),
        also={"VanillaRNN"},
    ),
    mistake(
        "VanillaRNN keeps its state between calls",
        "VanillaRNN",
        "diag_state_not_reset",
        (
            "        self.hidden = np.zeros((xs.shape[1], self.W_hh.shape[0]))\n        return np.stack(",
            "        if self.hidden.shape[0] != xs.shape[1]:\n"
            "            self.hidden = np.zeros((xs.shape[1], self.W_hh.shape[0]))\n        return np.stack(",
        ),
    ),
    mistake(
        "VanillaRNN.step does not store the state",
        "VanillaRNN",
        "diag_hidden_not_updated",
        (
            "self.hidden = rnn_step(x, self.hidden, self.W_xh, self.W_hh, self.b_h)\n"
            "        return rnn_readout(self.hidden, self.W_hy, self.b_y)",
            "return rnn_readout(rnn_step(x, self.hidden, self.W_xh, self.W_hh, self.b_h), self.W_hy, self.b_y)",
        ),
    ),
    mistake(
        "VanillaRNN.forward leaves hidden at zero",
        "VanillaRNN",
        "diag_hidden_not_kept",
        (
            "        return np.stack([self.step(x) for x in xs])",
            "        hs = rnn_forward(xs, None, self.W_xh, self.W_hh, self.b_h)\n"
            "        return rnn_readout(hs, self.W_hy, self.b_y)",
        ),
    ),
    mistake(
        "rnncell_forward returns only the outputs",
        "rnncell_forward",
        "diag_outputs_only",
        ("return torch.stack(outputs), h", "return torch.stack(outputs)"),
    ),
    mistake("rnncell_forward ignores h0", "rnncell_forward", "diag_h0_ignored", ("    h = h0\n", "    h = None\n")),
    mistake(
        "rnncell_forward stores the state before the step",
        "rnncell_forward",
        "diag_states_shifted",
        (
            CELL_LOOP,
            "outputs.append(torch.zeros(len(x), cell.hidden_size, dtype=x.dtype) if h is None else h)\n"
            "        h = cell(x, h)",
        ),
    ),
    mistake(
        "rnncell_forward does not carry the state",
        "rnncell_forward",
        "diag_state_not_carried",
        (CELL_LOOP, "h = cell(x, h0)\n        outputs.append(h)"),
    ),
    mistake(
        "many-to-one averages every step",
        "many_to_one_loss",
        "diag_loss_all_steps",
        (TO_ONE, "return torch.stack([F.nll_loss(step, targets) for step in log_probs]).mean()"),
    ),
    mistake(
        "many-to-one reads the first step",
        "many_to_one_loss",
        "diag_loss_first_step",
        (TO_ONE, "return F.nll_loss(log_probs[0], targets)"),
    ),
    mistake(
        "many-to-one sums the batch",
        "many_to_one_loss",
        "diag_loss_batch_sum",
        (TO_ONE, "return F.nll_loss(log_probs[-1], targets, reduction='sum')"),
    ),
    mistake(
        "many-to-one with the sign flipped",
        "many_to_one_loss",
        "diag_loss_sign",
        (TO_ONE, "return log_probs[-1].gather(1, targets[:, None]).mean()"),
    ),
    mistake(
        "many-to-many averages over time",
        "many_to_many_loss",
        "diag_loss_time_mean",
        (TO_MANY, "return torch.stack([F.nll_loss(s, t) for s, t in zip(log_probs, targets)]).mean()"),
    ),
    mistake(
        "many-to-many reads the last step",
        "many_to_many_loss",
        "diag_loss_last_only",
        (TO_MANY, "return F.nll_loss(log_probs[-1], targets[-1])"),
    ),
    mistake(
        "many-to-many sums the batch",
        "many_to_many_loss",
        "diag_loss_batch_sum",
        (TO_MANY, "return sum(F.nll_loss(s, t, reduction='sum') for s, t in zip(log_probs, targets))"),
    ),
    mistake(
        "many-to-many with the sign flipped",
        "many_to_many_loss",
        "diag_loss_sign",
        (TO_MANY, "return -sum(F.nll_loss(step, target) for step, target in zip(log_probs, targets))"),
    ),
    mistake(
        "one-to-many feeds the output back",
        "one_to_many_forward",
        "diag_feedback_output",
        (
            "h = cell(x if t == 0 else torch.zeros_like(x), h)\n        outputs.append(readout(h))",
            "h = cell(x if t == 0 else outputs[-1], h)\n        outputs.append(readout(h))",
        ),
    ),
    mistake(
        "one-to-many gives x at every step",
        "one_to_many_forward",
        "diag_input_repeated",
        ("h = cell(x if t == 0 else torch.zeros_like(x), h)", "h = cell(x, h)"),
    ),
    mistake(
        "one-to-many does not carry the state",
        "one_to_many_forward",
        "diag_state_not_carried",
        ("h = cell(x if t == 0 else torch.zeros_like(x), h)", "h = cell(x if t == 0 else torch.zeros_like(x))"),
    ),
    mistake(
        "many-to-one averages every class",
        "many_to_one_loss",
        None,  # caught, not named
        (TO_ONE, "return -log_probs[-1].mean()"),
    ),
    mistake(
        "taxonomy: speech to text synchronised",
        "TAXONOMY",
        "diag_taxonomy_speech",
        ('"speech to text": "many_to_many",', '"speech to text": "many_to_many_synced",'),
    ),
    mistake(
        "taxonomy: named entities unsynchronised",
        "TAXONOMY",
        "diag_taxonomy_ner",
        ('"named-entity recognition": "many_to_many_synced",', '"named-entity recognition": "many_to_many",'),
    ),
    mistake(
        "taxonomy: captioning read as many to one",
        "TAXONOMY",
        "diag_taxonomy_image_captioning",
        ('"image captioning": "one_to_many",', '"image captioning": "many_to_one",'),
    ),
    mistake(
        "taxonomy: a shape that does not exist",
        "TAXONOMY",
        "taxonomy_unknown",
        ('"digit read row by row": "many_to_one",', '"digit read row by row": "many-to-one",'),
    ),
]


@pytest.mark.parametrize("mistake", CORPUS, ids=[m.name for m in CORPUS])
def test_a_mistake_loses_its_exercises_and_no_other_and_is_named(tmp_path, mistake):
    scores, _ = grade(submission(tmp_path / "sub", MODULE, replace=mistake_source(MODULE, mistake)), only=MODULE)
    lost = {id_.split(".")[1] for id_ in IDS if scores[id_].score < scores[id_].max_score}
    assert_lost_only_its_exercises_and_named(mistake, lost, {id_.split(".")[1]: scores[id_].messages for id_ in IDS})


OTHER_STYLE = """
def sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))

def rnn_step(x, h_prev, W_xh, W_hh, b_h):
    return np.tanh(np.einsum("bd,hd->bh", x, W_xh) + np.einsum("bk,hk->bh", h_prev, W_hh) + b_h)

def rnn_forward(xs, h0, W_xh, W_hh, b_h):
    states = [np.zeros((xs.shape[1], len(W_hh))) if h0 is None else h0]
    for x in xs:
        states.append(rnn_step(x, states[-1], W_xh, W_hh, b_h))
    return np.array(states[1:])

def rnn_readout(hs, W_hy, b_y):
    return sigmoid(np.tensordot(hs, W_hy, axes=([-1], [1])) + b_y)

def rnncell_forward(cell, xs, h0=None):
    h = torch.zeros(xs.shape[1], cell.hidden_size, dtype=xs.dtype) if h0 is None else h0
    outputs = torch.empty(xs.shape[0], xs.shape[1], cell.hidden_size, dtype=xs.dtype)
    for t in range(len(xs)):
        h = outputs[t] = cell(xs[t], h)
    return outputs, outputs[-1]

def many_to_one_loss(log_probs, targets):
    return F.cross_entropy(log_probs[-1], targets)       # log_softmax of log-probabilities changes nothing

def many_to_many_loss(log_probs, targets):
    T, B, C = log_probs.shape
    return F.nll_loss(log_probs.reshape(T * B, C), targets.reshape(T * B)) * T

def one_to_many_forward(cell, readout, x, steps):
    inputs = torch.cat([x[None], torch.zeros(steps - 1, *x.shape, dtype=x.dtype)])
    h, outputs = None, []
    for step in inputs:
        h = cell(step, h)
        outputs.append(readout(h))
    return torch.stack(outputs)
"""


def test_correct_code_in_another_style_scores_full_marks(tmp_path):
    scores, _ = grade(submission(tmp_path / "sub", MODULE, append=OTHER_STYLE), only=MODULE)
    for id_ in IDS:
        assert scores[id_].score == scores[id_].max_score, (id_, scores[id_].messages)


def test_results_right_up_to_floating_point_noise_pass_without_a_diagnosis(tmp_path):
    functions = [name for name in EXERCISES[MODULE] if name not in ("VanillaRNN", "TAXONOMY")]  # a class, a dict
    scores, _ = grade(submission(tmp_path / "sub", MODULE, append=noise_code(functions)), only=MODULE)
    for id_ in IDS:
        assert scores[id_].score == scores[id_].max_score and not scores[id_].messages, (id_, scores[id_].messages)


def test_a_wrong_result_that_is_no_known_mistake_gets_no_diagnosis(tmp_path):
    unknown = mistake("rnn_step off by a little", "rnn_step", None, (STEP, STEP + " * 0.999"), also=USES_STEP)
    scores, _ = grade(submission(tmp_path / "sub", MODULE, replace=mistake_source(MODULE, unknown)), only=MODULE)
    lost = {id_.split(".")[1] for id_ in IDS if scores[id_].score < scores[id_].max_score}
    assert_lost_only_its_exercises_and_named(unknown, lost, {id_.split(".")[1]: scores[id_].messages for id_ in IDS})


def test_modifying_an_argument_in_place_is_named(tmp_path):
    code = """
        _reference_forward = rnn_forward
        def rnn_forward(xs, h0, W_xh, W_hh, b_h):
            hs = _reference_forward(xs, h0, W_xh, W_hh, b_h)
            xs *= 0
            return hs
    """
    scores, _ = grade(submission(tmp_path / "sub", MODULE, append=code), only=MODULE)
    lost = {id_.split(".")[1] for id_ in IDS if scores[id_].score < scores[id_].max_score}
    assert lost == {"rnn_forward"} and "mutated_read_only" in [m.key for m in scores[f"{MODULE}.rnn_forward"].messages]


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

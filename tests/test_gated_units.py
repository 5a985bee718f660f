"""gated_units end to end: the reference, the stubs, correct code in another style, the mistakes
(with per-gate partial credit), and the given converters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autograder.exercises.cases import generate
from autograder.exercises.contract import EXERCISES
from conftest import ASSIGNMENTS, SOLUTIONS, grade, load_module, patched_source, submission
from mistakes import assert_lost_only_its_exercises_and_named, mistake, mistake_source, noise_code

MODULE = "gated_units"
IDS = {f"{MODULE}.{name}" for name in EXERCISES[MODULE]}


OTHER_STYLE = '''
import torch.nn.functional as F

def gru_gates(x, h_prev, p):
    W, U = np.concatenate([p["W_z"], p["W_r"]]), np.concatenate([p["U_z"], p["U_r"]])
    z, r = np.split(sigmoid(x @ W.T + h_prev @ U.T + np.concatenate([p["b_z"], p["b_r"]])), 2, axis=1)
    recurrent = np.einsum("bk,hk->bh", h_prev, p["U_h"]) + p["b_Uh"]
    return {"z": z, "r": r, "h_tilde": np.tanh(np.einsum("bd,hd->bh", x, p["W_h"]) + p["b_Wh"] + r * recurrent)}

def lstm_gates(x, h_prev, p):
    W = np.concatenate([np.concatenate([p["W_" + g], p["U_" + g]], axis=1) for g in "fico"])
    b = np.concatenate([p["b_" + g] for g in "fico"])
    f, i, c, o = np.split(np.concatenate([x, h_prev], axis=1) @ W.T + b, 4, axis=1)
    return {"f": sigmoid(f), "i": sigmoid(i), "c_tilde": np.tanh(c), "o": sigmoid(o)}

class GRUCellScratch(GRUCellScratch):
    """Computes in float64 and returns float64."""
    def forward(self, x, h=None):
        H = self.hidden_size
        h = torch.zeros(x.shape[0], H, dtype=torch.float64) if h is None else h.double()
        gi = F.linear(x.double(), self.weight_ih.double(), self.bias_ih.double())
        gh = F.linear(h, self.weight_hh.double(), self.bias_hh.double())
        r, z = torch.sigmoid(gi[:, :H] + gh[:, :H]), torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        return torch.lerp(n, h, z)

class LSTMCellScratch(LSTMCellScratch):
    """One matrix product on [x, h] with the weights concatenated."""
    def forward(self, x, state=None):
        if state is None:
            state = (x.new_zeros(len(x), self.hidden_size),) * 2
        gates = F.linear(torch.cat([x, state[0]], 1), torch.cat([self.weight_ih, self.weight_hh], 1),
                         self.bias_ih + self.bias_hh)
        i, f, g, o = gates.sigmoid().chunk(4, 1)
        c = f * state[1] + i * torch.tanh(gates.chunk(4, 1)[2])
        return o * c.tanh(), c

def stacked_lstm_forward(lstm, x, state=None):
    seq = x.transpose(0, 1) if lstm.batch_first else x
    directions = 2 if lstm.bidirectional else 1
    count = lstm.num_layers * directions
    h0, c0 = state if state is not None else (seq.new_zeros(count, seq.shape[1], lstm.hidden_size),) * 2
    last_h, last_c = [], []
    for layer in range(lstm.num_layers):
        outputs = []
        for direction in range(directions):
            suffix = f"_l{layer}" + "_reverse" * direction
            cell = LSTMCellScratch(seq.shape[2], lstm.hidden_size).to(seq.dtype)
            names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            cell.load_state_dict({k: getattr(lstm, k + suffix) for k in names})
            hc, by_step = (h0[layer * directions + direction], c0[layer * directions + direction]), {}
            for t in (reversed(range(len(seq))) if direction else range(len(seq))):
                hc = cell(seq[t], hc)
                by_step[t] = hc[0]
            outputs.append(torch.stack([by_step[t] for t in range(len(seq))]))
            last_h.append(hc[0])
            last_c.append(hc[1])
        seq = torch.cat(outputs, -1)
    return (seq.transpose(0, 1) if lstm.batch_first else seq), (torch.stack(last_h), torch.stack(last_c))
'''


def test_correct_code_in_another_style_scores_full_marks(tmp_path):
    scores, _ = grade(submission(tmp_path / "sub", MODULE, append=OTHER_STYLE), only=MODULE)
    for id_ in IDS:
        assert scores[id_].score == scores[id_].max_score, (id_, scores[id_].messages)


LSTM_USERS = {"lstm_step", "lstm_step_backward"}  # call lstm_gates
RESET = 'r * (h_prev @ p["U_h"].T + p["b_Uh"])'
GRU_STEP = 'return gates["z"] * h_prev + (1.0 - gates["z"]) * gates["h_tilde"]'
STEP_CELL = 'c = g["f"] * c_prev + g["i"] * g["c_tilde"]\n    return'
DC_TOTAL = 'dc_total = dc + dh * g["o"] * (1.0 - tanh_c ** 2)'
GRU_N = "n = torch.tanh(i_n + r * h_n)"
LSTM_CHUNK = "i, f, g, o = gates.chunk(4, dim=1)"
STACKED_RETURN = "    output = xs.transpose(0, 1) if lstm.batch_first else xs\n    return output, (torch.stack(h_n)"

CORPUS = [
    mistake(
        "GRU: paper's reset before the product",
        "gru_gates",
        "diag_gru_reset_before_matmul",
        (RESET, '(r * h_prev) @ p["U_h"].T + p["b_Uh"]'),
        also={"gru_step"},
    ),
    mistake(
        "GRU: b_Uh outside the reset",
        "gru_gates",
        "diag_gru_reset_bias_outside",
        (RESET, 'r * (h_prev @ p["U_h"].T) + p["b_Uh"]'),
        also={"gru_step"},
    ),
    mistake(
        "GRU: z and r swapped",
        "gru_gates",
        "diag_gate_swapped",
        ('return {"z": z, "r": r, "h_tilde": h_tilde}', 'return {"z": r, "r": z, "h_tilde": h_tilde}'),
        also={"gru_step"},
    ),
    mistake(
        "GRU step: z and 1 - z swapped",
        "gru_step",
        "diag_gru_z_swapped",
        (GRU_STEP, 'return (1.0 - gates["z"]) * h_prev + gates["z"] * gates["h_tilde"]'),
    ),
    mistake(
        "GRU step: no 1 - z on the candidate",
        "gru_step",
        "diag_gru_missing_one_minus_z",
        (GRU_STEP, 'return gates["z"] * h_prev + gates["h_tilde"]'),
    ),
    mistake(
        "GRU step: r in place of z",
        "gru_step",
        "diag_gate_swapped",
        (GRU_STEP, 'return gates["r"] * h_prev + (1.0 - gates["r"]) * gates["h_tilde"]'),
    ),
    mistake(
        "LSTM: sigmoid candidate",
        "lstm_gates",
        "diag_lstm_candidate_sigmoid",
        ('"c_tilde": np.tanh(pre("c"))', '"c_tilde": sigmoid(pre("c"))'),
        also=LSTM_USERS,
    ),
    mistake(
        "LSTM: f and i swapped",
        "lstm_gates",
        "diag_gate_swapped",
        (
            'return {"f": sigmoid(pre("f")), "i": sigmoid(pre("i"))',
            'return {"f": sigmoid(pre("i")), "i": sigmoid(pre("f"))',
        ),
        also=LSTM_USERS,
    ),
    mistake(
        "LSTM: forget bias + 1 (Keras)",
        "lstm_gates",
        "diag_lstm_forget_bias_plus_one",
        ('"f": sigmoid(pre("f"))', '"f": sigmoid(pre("f") + 1.0)'),
        also=LSTM_USERS,
    ),
    mistake(
        "LSTM step: h without tanh",
        "lstm_step",
        "diag_lstm_h_without_tanh",
        ('return g["o"] * np.tanh(c), c', 'return g["o"] * c, c'),
    ),
    mistake(
        "LSTM step: h from c_prev",
        "lstm_step",
        "diag_lstm_h_from_c_prev",
        ('return g["o"] * np.tanh(c), c', 'return g["o"] * np.tanh(c_prev), c'),
    ),
    mistake(
        "LSTM step: no input gate",
        "lstm_step",
        "diag_lstm_no_input_gate",
        (STEP_CELL, STEP_CELL.replace('g["i"] * g["c_tilde"]', 'g["c_tilde"]')),
    ),
    mistake(
        "LSTM step: f and i swapped in c",
        "lstm_step",
        "diag_gate_swapped",
        (STEP_CELL, 'c = g["i"] * c_prev + g["f"] * g["c_tilde"]\n    return'),
    ),
    mistake(
        "LSTM backward: dc ignored",
        "lstm_step_backward",
        "diag_lstm_dc_ignored",
        (DC_TOTAL, 'dc_total = dh * g["o"] * (1.0 - tanh_c ** 2)'),
    ),
    mistake(
        "LSTM backward: dh does not reach c",
        "lstm_step_backward",
        "diag_lstm_dh_not_into_c",
        (DC_TOTAL, "dc_total = dc"),
    ),
    mistake(
        "LSTM backward: no tanh' from h to c",
        "lstm_step_backward",
        "diag_lstm_no_tanh_grad",
        (DC_TOTAL, 'dc_total = dc + dh * g["o"]'),
    ),
    mistake(
        "LSTM backward: dc_prev without f",
        "lstm_step_backward",
        "diag_lstm_dc_prev_without_f",
        ('return dx, dh_prev, dc_total * g["f"], grads', "return dx, dh_prev, dc_total, grads"),
    ),
    mistake(
        "GRUCellScratch: gates read z, r, n",
        "GRUCellScratch",
        "diag_gru_gate_order",
        ("i_r, i_z, i_n = (x @", "i_z, i_r, i_n = (x @"),
        ("h_r, h_z, h_n = (h @", "h_z, h_r, h_n = (h @"),
    ),
    mistake(
        "GRUCellScratch: z and 1 - z swapped",
        "GRUCellScratch",
        "diag_gru_z_swapped",
        ("return (1 - z) * n + z * h", "return z * n + (1 - z) * h"),
    ),
    mistake(
        "GRUCellScratch: paper's reset",
        "GRUCellScratch",
        "diag_gru_reset_before_matmul",
        (GRU_N, "n = torch.tanh(i_n + (r * h) @ self.weight_hh.chunk(3)[2].T + self.bias_hh.chunk(3)[2])"),
    ),
    mistake(
        "GRUCellScratch: b_hn outside the reset",
        "GRUCellScratch",
        "diag_gru_reset_bias_outside",
        (GRU_N, "n = torch.tanh(i_n + r * (h @ self.weight_hh.chunk(3)[2].T) + self.bias_hh.chunk(3)[2])"),
    ),
    mistake(
        "GRUCellScratch: no bias_hh",
        "GRUCellScratch",
        "diag_missing_bias",
        ("(h @ self.weight_hh.T + self.bias_hh).chunk(3, dim=1)", "(h @ self.weight_hh.T).chunk(3, dim=1)"),
    ),
    mistake(
        "LSTMCellScratch: gates read i, f, o, g",
        "LSTMCellScratch",
        "diag_lstm_gate_order",
        (LSTM_CHUNK, "i, f, o, g = gates.chunk(4, dim=1)"),
    ),
    mistake(
        "LSTMCellScratch: gates read f, i, g, o",
        "LSTMCellScratch",
        "diag_lstm_gate_order",
        (LSTM_CHUNK, "f, i, g, o = gates.chunk(4, dim=1)"),
    ),
    mistake(
        "LSTMCellScratch: no bias_hh",
        "LSTMCellScratch",
        "diag_missing_bias",
        ("h @ self.weight_hh.T + self.bias_hh\n", "h @ self.weight_hh.T\n"),
    ),
    mistake(
        "LSTMCellScratch: h without tanh",
        "LSTMCellScratch",
        "diag_lstm_h_without_tanh",
        ("return torch.sigmoid(o) * torch.tanh(c), c", "return torch.sigmoid(o) * c, c"),
    ),
    mistake(
        "stacked LSTM: gates read i, f, o, g",
        "stacked_lstm_forward",
        "diag_lstm_gate_order",
        ("i, f, g, o = (xs[t] @", "i, f, o, g = (xs[t] @"),
    ),
    mistake(
        "stacked LSTM: reverse outputs not flipped back",
        "stacked_lstm_forward",
        "diag_lstm_reverse_not_flipped",
        ("out[t] = h", "out[T - 1 - t if direction else t] = h"),
    ),
    mistake(
        "stacked LSTM: reverse direction reads forwards",
        "stacked_lstm_forward",
        "diag_lstm_reverse_reads_forward",
        ("steps = range(T - 1, -1, -1) if direction else range(T)", "steps = range(T)"),
    ),
    mistake(
        "stacked LSTM: h_n stacked by direction",
        "stacked_lstm_forward",
        "diag_lstm_state_order",
        (
            STACKED_RETURN,
            "    h_n, c_n = h_n[0::directions] + h_n[1::directions], c_n[0::directions] + c_n[1::directions]\n"
            + STACKED_RETURN,
        ),
    ),
    mistake(
        "stacked LSTM: batch_first ignored",
        "stacked_lstm_forward",
        "diag_lstm_batch_first_ignored",
        ("xs = x.transpose(0, 1) if lstm.batch_first else x", "xs = x"),
        ("output = xs.transpose(0, 1) if lstm.batch_first else xs", "output = xs"),
    ),
    mistake(
        "stacked LSTM: initial state ignored",
        "stacked_lstm_forward",
        "diag_lstm_state_ignored",
        ("    if state is None:\n        zeros = xs.new_zeros", "    if True:\n        zeros = xs.new_zeros"),
    ),
    mistake(
        "LSTM: o computed with U_f (copy-paste)",
        "lstm_gates",
        None,  # caught, not named
        ('"o": sigmoid(pre("o"))', '"o": sigmoid(x @ p["W_o"].T + h_prev @ p["U_f"].T + p["b_o"])'),
        also=LSTM_USERS,
    ),
    mistake(
        "count: one bias vector",
        "count_parameters",
        "diag_count_one_bias",
        ("(2 * blocks if bias else 0)", "(blocks if bias else 0)"),
    ),
    mistake(
        "count: deep layers read H when bidirectional",
        "count_parameters",
        "diag_count_deep_inputs",
        ("else directions * hidden_size", "else hidden_size"),
    ),
    mistake(
        "count: GRU and LSTM gate blocks swapped",
        "count_parameters",
        "diag_count_gate_blocks",
        ('{"rnn": 1, "gru": 3, "lstm": 4}', '{"rnn": 1, "gru": 4, "lstm": 3}'),
    ),
    mistake(
        "count: the torch module built and counted",
        "count_parameters",
        "scratch_forbidden",
        append="""
            def count_parameters(kind, input_size, hidden_size, num_layers=1, bidirectional=False, bias=True):
                module = getattr(nn, kind.upper())(input_size, hidden_size, num_layers, bias=bias,
                                                   bidirectional=bidirectional)
                return sum(p.numel() for p in module.parameters())
            """,
    ),
]


@pytest.mark.parametrize("mistake", CORPUS, ids=[m.name for m in CORPUS])
def test_a_mistake_loses_its_exercises_and_no_other_and_is_named(tmp_path, mistake):
    scores, _ = grade(submission(tmp_path / "sub", MODULE, replace=mistake_source(MODULE, mistake)), only=MODULE)
    lost = {id_.split(".")[1] for id_ in IDS if scores[id_].score < scores[id_].max_score}
    assert_lost_only_its_exercises_and_named(mistake, lost, {id_.split(".")[1]: scores[id_].messages for id_ in IDS})


# (name, patches of the reference, {exercise: fraction of its points kept}): gates score one by one
PARTIAL = [
    (
        "paper's reset and a sigmoid candidate",
        [
            (RESET, '(r * h_prev) @ p["U_h"].T + p["b_Uh"]'),
            ('"c_tilde": np.tanh(pre("c"))', '"c_tilde": sigmoid(pre("c"))'),
        ],
        {"gru_gates": 2 / 3, "lstm_gates": 3 / 4},
    ),
    (
        "gates swapped",
        [
            ('return {"z": z, "r": r, "h_tilde": h_tilde}', 'return {"z": r, "r": z, "h_tilde": h_tilde}'),
            (
                'return {"f": sigmoid(pre("f")), "i": sigmoid(pre("i"))',
                'return {"f": sigmoid(pre("i")), "i": sigmoid(pre("f"))',
            ),
        ],
        {"gru_gates": 1 / 3, "lstm_gates": 2 / 4},
    ),
]


@pytest.mark.parametrize("name, patches, kept", PARTIAL, ids=[p[0] for p in PARTIAL])
def test_a_wrong_gate_costs_only_its_share_of_the_points(tmp_path, name, patches, kept):
    scores, _ = grade(submission(tmp_path / "sub", MODULE, replace=patched_source(MODULE, patches)), only=MODULE)
    for exercise, fraction in kept.items():
        score = scores[f"{MODULE}.{exercise}"]
        assert score.score == pytest.approx(fraction * score.max_score), (exercise, score.score)
        assert score.messages[0].key == "gates_partial"


def test_results_right_up_to_floating_point_noise_pass_without_a_diagnosis(tmp_path):
    functions = [name for name in EXERCISES[MODULE] if not name.endswith("Scratch")]
    scores, _ = grade(submission(tmp_path / "sub", MODULE, append=noise_code(functions)), only=MODULE)
    for id_ in IDS:
        assert scores[id_].score == scores[id_].max_score and not scores[id_].messages, (id_, scores[id_].messages)


def test_a_wrong_result_that_is_no_known_mistake_gets_no_diagnosis(tmp_path):
    unknown = mistake(
        "LSTM step: c scaled by 0.999",
        "lstm_step",
        None,
        (STEP_CELL, STEP_CELL.replace('g["c_tilde"]\n', 'g["c_tilde"] * 0.999\n')),
    )
    scores, _ = grade(submission(tmp_path / "sub", MODULE, replace=mistake_source(MODULE, unknown)), only=MODULE)
    lost = {id_.split(".")[1] for id_ in IDS if scores[id_].score < scores[id_].max_score}
    assert_lost_only_its_exercises_and_named(unknown, lost, {id_.split(".")[1]: scores[id_].messages for id_ in IDS})


def test_given_converters_make_the_numpy_steps_equal_torch_cells():
    reference = load_module(SOLUTIONS / f"{MODULE}.py")
    torch.manual_seed(0)
    x, h, c = (
        torch.randn(3, 4, dtype=torch.float64),
        torch.randn(3, 5, dtype=torch.float64),
        torch.randn(3, 5, dtype=torch.float64),
    )
    gru, lstm = torch.nn.GRUCell(4, 5).double(), torch.nn.LSTMCell(4, 5).double()
    with torch.no_grad():
        expected_gru, (expected_h, expected_c) = gru(x, h), lstm(x, (h, c))
    np.testing.assert_allclose(
        reference.gru_step(x.numpy(), h.numpy(), reference.gru_params_from_torch(gru)),
        expected_gru.numpy(),
        rtol=1e-12,
        atol=1e-12,
    )
    got_h, got_c = reference.lstm_step(x.numpy(), h.numpy(), c.numpy(), reference.lstm_params_from_torch(lstm))
    np.testing.assert_allclose(got_h, expected_h.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_c, expected_c.numpy(), rtol=1e-12, atol=1e-12)
    stub = load_module(ASSIGNMENTS / f"{MODULE}.py")  # given, not exercises: the stub's converters work
    assert stub.gru_params_from_torch(gru).keys() == reference.gru_params_from_torch(gru).keys()
    assert stub.lstm_params_from_torch(lstm).keys() == reference.lstm_params_from_torch(lstm).keys()


@pytest.mark.parametrize("index", range(4))
def test_the_layered_lstm_that_produces_mistakes_equals_torch_lstm_without_one(index):
    from autograder.exercises.cases import Case
    from autograder.exercises.diagnoses import layered_lstm

    case = Case("hidden", index, generate(MODULE, "stacked_lstm_forward", 99, index))
    for state, suffix in (((torch.from_numpy(case.h0), torch.from_numpy(case.c0)), ""), (None, "_from_zero")):
        got = layered_lstm(case, torch.from_numpy(case.x), state)
        for array, name in zip(got, ("output", "h_n", "c_n")):
            np.testing.assert_allclose(array, getattr(case, name + suffix), rtol=1e-12, atol=1e-12)

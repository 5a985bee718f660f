"""Checks of `gated_units`: gates and steps against torch.nn.GRUCell / LSTMCell, the scratch
modules loaded with a torch cell's state_dict, stacked_lstm_forward against torch.nn.LSTM.

gru_gates and lstm_gates score per gate (z, r, h_tilde; f, i, c_tilde, o). The torch parts
run in float32, as students get them, and are compared with float64 oracles under tol32.
"""

from __future__ import annotations

import numpy as np
import torch

from ...messages import Message
from ..cases.gated_units import (
    CELL_KEYS,
    GRU_KEYS,
    GRU_ORDER,
    KINDS,
    LSTM_BACKWARD_MISTAKES,
    LSTM_KEYS,
    LSTM_ORDER,
    cell_from_weights,
    gru_cell_from_params,
    lstm_backward_oracle,
    lstm_backward_with_mistake,
    lstm_cell_from_params,
    lstm_from_case,
    torch_gru_gates,
    torch_lstm_gates,
)
from ..expect import CheckFailure, PartialCredit, diagnose, expect_close, expect_not_mutated, fail

try:  # instructor-only: some mistakes' outputs are computed by code that would give the answer away
    from .. import diagnoses
except ImportError:  # the student bundle: those diagnoses are left out
    diagnoses = None
from .bptt import expect_dict, expect_outputs


def _params(case, keys) -> dict:
    return {key: getattr(case, "p_" + key) for key in keys}


def _f32(array) -> torch.Tensor:
    return torch.from_numpy(np.asarray(array, dtype=np.float32))


def _t(array) -> torch.Tensor:
    return torch.from_numpy(np.asarray(array, dtype=np.float64))


def _per_gate_credit(student, cases, tol, name: str, call, gates, variants_of):
    """Each gate scores on its own: it passes when it matches in every case.

    call(case) -> the student's dict; variants_of(case) -> {gate: [(Message, wrong values)]}.
    """
    wrong: dict[str, CheckFailure] = {}
    for case in cases:
        with case:
            got = call(case)
            if not isinstance(got, dict):
                fail("wrong_type", what=f"{name}(...)", expected=f"dict {list(gates)}", got=type(got).__name__)
            expect_not_mutated(student, name)
        variants = variants_of(case)
        for gate in gates:
            if gate in wrong:
                continue
            try:
                with case:
                    if gate not in got:
                        fail("wrong_type", what=f"{name}(...)['{gate}']", expected="numpy.ndarray", got="missing key")
                    try:
                        expect_close(got[gate], getattr(case, gate), f"{name}(...)['{gate}']", tol)
                    except CheckFailure as failure:
                        raise diagnose(failure, got[gate], variants.get(gate, []), tol) from None
            except CheckFailure as failure:
                wrong[gate] = failure
    if wrong:
        messages = [
            Message(
                "gates_partial", {"passed": len(gates) - len(wrong), "total": len(gates), "wrong": ", ".join(wrong)}
            )
        ]
        raise PartialCredit(
            (len(gates) - len(wrong)) / len(gates),
            *messages,
            *(m for failure in wrong.values() for m in failure.messages),
        )


def _swapped(case, gate, others):
    return [(Message("diag_gate_swapped", {"gate": gate, "other": other}), getattr(case, other)) for other in others]


def check_gru_gates(student, cases, tol):
    def variants(case):
        paper = torch_gru_gates(
            gru_cell_from_params(_params(case, GRU_KEYS)), case.x, case.h_prev, reset_before_matmul=True
        )
        outside = torch_gru_gates(
            gru_cell_from_params(_params(case, GRU_KEYS)), case.x, case.h_prev, reset_bias_outside=True
        )
        return {
            "z": _swapped(case, "z", ["r"]),
            "r": _swapped(case, "r", ["z"]),
            "h_tilde": [
                (Message("diag_gru_reset_before_matmul"), paper["n"]),
                (Message("diag_gru_reset_bias_outside"), outside["n"]),
            ],
        }

    _per_gate_credit(
        student,
        cases,
        tol,
        "gru_gates",
        lambda case: student.gru_gates(case.x, case.h_prev, _params(case, GRU_KEYS)),
        ("z", "r", "h_tilde"),
        variants,
    )


def check_lstm_gates(student, cases, tol):
    gates = ("f", "i", "c_tilde", "o")

    def variants(case):
        torch_gates = torch_lstm_gates(
            lstm_cell_from_params(_params(case, LSTM_KEYS)), case.x, case.h_prev, np.zeros_like(case.h_prev)
        )
        found = {gate: _swapped(case, gate, [g for g in gates if g != gate]) for gate in gates}
        found["c_tilde"].insert(0, (Message("diag_lstm_candidate_sigmoid"), torch_gates["g_as_sigmoid"]))
        found["f"].insert(0, (Message("diag_lstm_forget_bias_plus_one"), torch_gates["f_plus_one"]))
        return found

    _per_gate_credit(
        student,
        cases,
        tol,
        "lstm_gates",
        lambda case: student.lstm_gates(case.x, case.h_prev, _params(case, LSTM_KEYS)),
        gates,
        variants,
    )


def _gru_mistakes(cell, x, h) -> list:
    """What the common GRU step mistakes return for one step of a float64 GRUCell."""
    right = torch_gru_gates(cell, x, h)
    paper = torch_gru_gates(cell, x, h, reset_before_matmul=True)
    outside = torch_gru_gates(cell, x, h, reset_bias_outside=True)
    z = right["z"]
    return [
        (Message("diag_gru_z_swapped"), z * right["n"] + (1 - z) * h),
        (Message("diag_gru_reset_before_matmul"), (1 - z) * paper["n"] + z * h),
        (Message("diag_gru_reset_bias_outside"), (1 - z) * outside["n"] + z * h),
        (Message("diag_gru_missing_one_minus_z"), right["n"] + z * h),
        (Message("diag_gate_swapped", {"gate": "z", "other": "r"}), (1 - right["r"]) * right["n"] + right["r"] * h),
    ]


def check_gru_step(student, cases, tol):
    for case in cases:
        with case:
            p = _params(case, GRU_KEYS)
            got = student.gru_step(case.x, case.h_prev, p)
            try:
                expect_close(got, case.h, "h", tol)
            except CheckFailure as failure:
                raise diagnose(failure, got, _gru_mistakes(gru_cell_from_params(p), case.x, case.h_prev), tol) from None
            expect_not_mutated(student, "gru_step")


def lstm_step_mistakes(gates: dict, c_prev) -> list:
    """(h, c) of the usual slips: h without tanh, h from c_prev, no input gate, f and i swapped."""
    f, i, g, o, c = (gates[k] for k in ("f", "i", "g", "o", "c_next"))
    without_input, swapped = f * c_prev + g, i * c_prev + f * g
    return [
        (Message("diag_lstm_h_without_tanh"), [o * c, c]),
        (Message("diag_lstm_h_from_c_prev"), [o * np.tanh(c_prev), c]),
        (Message("diag_lstm_no_input_gate"), [o * np.tanh(without_input), without_input]),
        (Message("diag_gate_swapped", {"gate": "f", "other": "i"}), [o * np.tanh(swapped), swapped]),
    ]


def check_lstm_step(student, cases, tol):
    for case in cases:
        with case:
            p = _params(case, LSTM_KEYS)
            got = student.lstm_step(case.x, case.h_prev, case.c_prev, p)
            gates = torch_lstm_gates(lstm_cell_from_params(p), case.x, case.h_prev, case.c_prev)
            expect_outputs(
                got, ("h", "c"), [case.h, case.c], tol, lstm_step_mistakes(gates, case.c_prev), what="lstm_step(...)"
            )
            expect_not_mutated(student, "lstm_step")


def _flat_backward(dx, dh_prev, dc_prev, grads) -> list:
    return [dx, dh_prev, dc_prev, *(grads[k] for k in LSTM_KEYS)]


def lstm_backward_mistakes(case, p) -> list:
    """dc ignored, and the mistakes of LSTM_BACKWARD_MISTAKES, as the flat outputs they give."""
    inputs = (p, case.x, case.h_prev, case.c_prev, case.dh)
    return [
        (Message("diag_lstm_dc_ignored"), _flat_backward(*lstm_backward_oracle(*inputs, np.zeros_like(case.dc)))),
        *(
            (Message(f"diag_lstm_{mistake}"), _flat_backward(*lstm_backward_with_mistake(*inputs, case.dc, mistake)))
            for mistake in LSTM_BACKWARD_MISTAKES
        ),
    ]


def check_lstm_step_backward(student, cases, tol):
    for case in cases:
        with case:
            p = _params(case, LSTM_KEYS)
            got = student.lstm_step_backward(case.dh, case.dc, case.x, case.h_prev, case.c_prev, p)
            if not isinstance(got, (tuple, list)) or len(got) != 4:
                fail(
                    "wrong_type",
                    what="lstm_step_backward(...)",
                    expected="(dx, dh_prev, dc_prev, grads)",
                    got=type(got).__name__,
                )
            grads = expect_dict(got[3], p, "grads")
            flat = [*got[:3], *(grads[k] for k in LSTM_KEYS)]
            names = ("dx", "dh_prev", "dc_prev", *(f"grads['{k}']" for k in LSTM_KEYS))
            expected = [case.dx, case.dh_prev, case.dc_prev, *(getattr(case, "d_" + k) for k in LSTM_KEYS)]
            expect_outputs(flat, names, expected, tol, lstm_backward_mistakes(case, p))
            expect_not_mutated(student, "lstm_step_backward")


def _permuted(kind: str, case, order) -> torch.nn.Module:
    """The float64 cell a student gets when reading torch's gate blocks in `order` (a mistake)."""
    torch_order = GRU_ORDER if kind == "gru" else LSTM_ORDER
    picks = [order.index(gate) for gate in torch_order]
    weights = {}
    for key in CELL_KEYS:
        blocks = np.split(getattr(case, key), len(torch_order))
        weights[key] = np.concatenate([blocks[i] for i in picks])
    return cell_from_weights(kind, weights)


def _expect_state_dict(module, kind: str, D: int, H: int, what: str):
    rows = (3 if kind == "gru" else 4) * H
    shapes = {"weight_ih": (rows, D), "weight_hh": (rows, H), "bias_ih": (rows,), "bias_hh": (rows,)}
    state = expect_dict(module.state_dict(), shapes, f"{what}.state_dict()")
    for key, shape in shapes.items():
        got = tuple(getattr(state[key], "shape", ()))
        if got != shape:
            fail("wrong_shape", what=f"{what}.state_dict()['{key}']", expected=shape, got=got)


def _scratch_module(student, kind: str, case):
    D, H = case.x.shape[1], case.h.shape[1]
    name = "GRUCellScratch" if kind == "gru" else "LSTMCellScratch"
    module = getattr(student, name)(D, H)
    _expect_state_dict(module, kind, D, H, f"{name}({D}, {H})")
    module.load_state_dict({key: _f32(getattr(case, key)) for key in CELL_KEYS})
    return module


def check_GRUCellScratch(student, cases, tol32):
    for case in cases:
        with case:
            module = _scratch_module(student, "gru", case)
            cell = cell_from_weights("gru", vars(case))
            for h, expected, what in (
                (case.h, case.h_next, "forward(x, h)"),
                (None, case.h_from_zero, "forward(x, h=None)"),
            ):
                got = module(_f32(case.x), None if h is None else _f32(h))
                h_used = np.zeros_like(case.h) if h is None else h
                try:
                    expect_close(got, expected, what, tol32, kind="tensor")
                except CheckFailure as failure:
                    with torch.no_grad():
                        z_first = _permuted("gru", case, ("z", "r", "n"))(_t(case.x), _t(h_used)).numpy()
                        no_bias_hh = _without_bias_hh("gru", case)(_t(case.x), _t(h_used)).numpy()
                    raise diagnose(
                        failure,
                        got,
                        [
                            (Message("diag_gru_gate_order", {"order": "z, r, n"}), z_first),
                            *_gru_mistakes(cell, case.x, h_used),
                            (Message("diag_missing_bias", {"bias": "bias_hh"}), no_bias_hh),
                        ],
                        tol32,
                    ) from None
                expect_not_mutated(student, f"GRUCellScratch.{what}")


def _without_bias_hh(kind: str, case) -> torch.nn.Module:
    """The float64 cell a student gets by leaving bias_hh out (a mistake)."""
    return cell_from_weights(
        kind, {**{key: getattr(case, key) for key in CELL_KEYS}, "bias_hh": np.zeros_like(case.bias_hh)}
    )


def _lstm_cell_mistakes(case, state64) -> list:
    """(h, c) of an LSTMCell read in the wrong gate order, without bias_hh, or with h = o * c."""
    x = _t(case.x)
    variants = []
    with torch.no_grad():
        for order in (("i", "f", "o", "g"), ("f", "i", "g", "o")):
            wrong = [t.numpy() for t in _permuted("lstm", case, order)(x, state64)]
            variants.append((Message("diag_lstm_gate_order", {"order": ", ".join(order)}), wrong))
        variants.append(
            (
                Message("diag_missing_bias", {"bias": "bias_hh"}),
                [t.numpy() for t in _without_bias_hh("lstm", case)(x, state64)],
            )
        )
    h, c = (np.zeros_like(case.h), np.zeros_like(case.c)) if state64 is None else (case.h, case.c)
    gates = torch_lstm_gates(cell_from_weights("lstm", vars(case)), case.x, h, c)
    variants.append((Message("diag_lstm_h_without_tanh"), [gates["o"] * gates["c_next"], gates["c_next"]]))
    return variants


def check_LSTMCellScratch(student, cases, tol32):
    for case in cases:
        with case:
            module = _scratch_module(student, "lstm", case)
            for state, expected, what in (
                ((case.h, case.c), (case.h_next, case.c_next), "forward(x, (h, c))"),
                (None, (case.h_from_zero, case.c_from_zero), "forward(x, state=None)"),
            ):
                got = module(_f32(case.x), None if state is None else tuple(map(_f32, state)))
                state64 = tuple(map(_t, state)) if state is not None else None
                variants = _lstm_cell_mistakes(case, state64)
                expect_outputs(
                    got, (f"{what} -> h", f"{what} -> c"), expected, tol32, variants, kind="tensor", what=what
                )
                expect_not_mutated(student, f"LSTMCellScratch.{what}")


def check_stacked_lstm_forward(student, cases, tol32):
    for case in cases:
        with case:
            lstm = lstm_from_case(case, torch.float32)
            x64, given = _t(case.x), (_t(case.h0), _t(case.c0))
            for state, suffix in ((None, "_from_zero"), (given, "")):  # from None first: x alone shows batch_first
                got = student.stacked_lstm_forward(
                    lstm, _f32(case.x), None if state is None else (_f32(case.h0), _f32(case.c0))
                )
                if not isinstance(got, (tuple, list)) or len(got) != 2 or not isinstance(got[1], (tuple, list)):
                    fail(
                        "wrong_type",
                        what="stacked_lstm_forward(...)",
                        expected="(output, (h_n, c_n))",
                        got=type(got).__name__,
                    )
                variants = diagnoses.stacked_lstm_mistakes(case, x64, state) if diagnoses else []
                config = (
                    f"num_layers={int(case.num_layers)}, bidirectional={bool(case.bidirectional)}, "
                    f"batch_first={bool(case.batch_first)}, state={'(h_0, c_0)' if state else 'None'}"
                )
                try:
                    expect_outputs(
                        [got[0], *got[1]] if len(got[1]) == 2 else got,
                        ("output", "h_n", "c_n"),
                        [getattr(case, name + suffix) for name in ("output", "h_n", "c_n")],
                        tol32,
                        variants,
                        kind="tensor",
                        time_axes={"output": 1 if case.batch_first else 0},
                        what="stacked_lstm_forward(...)",
                    )
                except CheckFailure as failure:
                    raise failure.with_context(Message("lstm_config", {"config": config})) from None
                expect_not_mutated(student, "stacked_lstm_forward")


def check_count_parameters(student, cases):
    for case in cases:
        with case:
            for kind_index, D, H, layers, bidirectional, bias, expected in case.configs.tolist():
                kind, bidirectional, bias = KINDS[kind_index], bool(bidirectional), bool(bias)
                what = (
                    f'count_parameters("{kind}", {D}, {H}, num_layers={layers}, '
                    f"bidirectional={bidirectional}, bias={bias})"
                )
                got = student.count_parameters(kind, D, H, num_layers=layers, bidirectional=bidirectional, bias=bias)
                if isinstance(got, bool) or not isinstance(got, (int, np.integer)):
                    fail("wrong_type", what=what, expected="int", got=type(got).__name__)
                if int(got) != expected:
                    failure = CheckFailure(
                        Message("count_mismatch", {"what": what, "expected": expected, "got": int(got)})
                    )
                    variants = (
                        diagnoses.count_parameters_mistakes(kind, D, H, layers, bidirectional, bias)
                        if diagnoses
                        else []
                    )
                    raise next((failure.adding(message) for message, wrong in variants if wrong == int(got)), failure)

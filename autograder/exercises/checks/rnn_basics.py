"""Checks of `rnn_basics`: the numpy RNN, torch.nn.RNNCell loops and the taxonomy's losses."""

from __future__ import annotations

import numpy as np
import torch

from ...messages import Message
from ...sandbox.proxies import StudentFailure
from ..cases.rnn_basics import rnn_cell, torch_rnn
from ..expect import CheckFailure, as_array, diagnose, expect_close, expect_not_mutated, fail


def _sigmoid(z):
    return torch.sigmoid(torch.from_numpy(np.asarray(z, dtype=np.float64))).numpy()


def _tensor(array, dtype=torch.float64):
    return torch.from_numpy(np.asarray(array)).to(dtype)


def _overflows(student, x) -> bool:
    """Whether sigmoid(x) overflows, seen from outside the student's process: with overflow
    trapped, the child dies of SIGFPE (warnings silenced in the student's code still trap)."""
    try:
        student.sigmoid.trapping_overflow(x)
    except StudentFailure as failure:
        if failure.kind == "crash" and "SIGFPE" in failure.message:
            return True
        raise
    return False


def sigmoid_mistakes(case) -> list:
    """sigma(-x), tanh(x) and (1 + tanh(x)) / 2 = sigma(2x): what the usual slips return."""
    return [
        (Message("diag_sigmoid_sign"), _sigmoid(-case.x)),
        (Message("diag_sigmoid_is_tanh"), np.tanh(case.x)),
        (Message("diag_sigmoid_tanh_form"), _sigmoid(2 * case.x)),
    ]


def check_sigmoid(student, cases, tol):
    for case in cases:
        with case:
            got = student.sigmoid(case.x)
            try:
                expect_close(got, case.y, "sigmoid(x)", tol)
                if student.warnings:
                    fail("not_warning_free", name="sigmoid", detail=student.warnings[0], x="±1000")
                if _overflows(student, case.x):  # the child's "no warnings" is not taken on trust
                    fail("not_warning_free", name="sigmoid", detail="floating-point overflow (SIGFPE)", x="±1000")
            except CheckFailure as failure:
                not_finite = isinstance(got, np.ndarray) and got.dtype.kind == "f" and not np.isfinite(got).all()
                overflow = bool(student.warnings) or not_finite or failure.messages[0].key == "not_warning_free"
                if overflow:
                    raise failure.adding(Message("diag_sigmoid_overflow")) from None
                raise diagnose(failure, got, sigmoid_mistakes(case), tol) from None
            expect_not_mutated(student, "sigmoid")


def rnn_step_mistakes(case) -> list:
    """No tanh, sigmoid for tanh, no bias, h_prev left out, transposed weights (when square)."""
    pre = case.x @ case.W_xh.T + case.h_prev @ case.W_hh.T
    variants = [
        (Message("diag_missing_tanh"), pre + case.b_h),
        (Message("diag_rnn_step_sigmoid"), _sigmoid(pre + case.b_h)),
        (Message("diag_missing_bias", {"bias": "b_h"}), np.tanh(pre)),
        (Message("diag_no_recurrence"), np.tanh(case.x @ case.W_xh.T + case.b_h)),
    ]
    variants.append(
        (
            Message("diag_transposed_weights"),  # W_hh is square: transposing it runs
            np.tanh(case.x @ case.W_xh.T + case.h_prev @ case.W_hh + case.b_h),
        )
    )
    if case.W_xh.shape[0] == case.W_xh.shape[1]:
        variants.append(
            (Message("diag_transposed_weights"), np.tanh(case.x @ case.W_xh + case.h_prev @ case.W_hh + case.b_h))
        )
    return variants


def check_rnn_step(student, cases, tol):
    for case in cases:
        with case:
            got = student.rnn_step(case.x, case.h_prev, case.W_xh, case.W_hh, case.b_h)
            variants = rnn_step_mistakes(case)
            try:
                expect_close(got, case.h, "h", tol)
            except CheckFailure as failure:
                raise diagnose(failure, got, variants, tol) from None
            expect_not_mutated(student, "rnn_step")


def sequence_mistakes(xs, h0, h0_given, hs, *weights) -> list:
    """A recurrent loop's usual slips: h0 ignored (when given), each state stored one step late
    (hs[t] = the state before step t), the state not carried (every step from h0)."""
    variants = [(Message("diag_h0_ignored"), torch_rnn(xs, None, *weights)[0])] if h0_given else []
    not_carried = np.concatenate([torch_rnn(x[None], h0, *weights)[0] for x in xs])
    return variants + [
        (Message("diag_states_shifted"), np.concatenate([h0[None], hs[:-1]])),
        (Message("diag_state_not_carried"), not_carried),
    ]


def check_rnn_forward(student, cases, tol):
    for case in cases:
        with case:
            h0 = case.h0 if case.h0_given else None
            got = student.rnn_forward(case.xs, h0, case.W_xh, case.W_hh, case.b_h)
            try:
                expect_close(got, case.hs, "hs", tol, time_axis=0)
            except CheckFailure as failure:
                raise diagnose(
                    failure,
                    got,
                    sequence_mistakes(case.xs, case.h0, case.h0_given, case.hs, case.W_xh, case.W_hh, case.b_h),
                    tol,
                ) from None
            expect_not_mutated(student, "rnn_forward")


def check_rnn_readout(student, cases, tol):
    for case in cases:
        with case:
            got = student.rnn_readout(case.hs, case.W_hy, case.b_y)
            logits = case.hs @ case.W_hy.T
            try:
                expect_close(got, case.ys, "ys", tol)
            except CheckFailure as failure:
                raise diagnose(
                    failure,
                    got,
                    [
                        (Message("diag_readout_tanh"), np.tanh(logits + case.b_y)),
                        (Message("diag_readout_no_sigmoid"), logits + case.b_y),
                        (Message("diag_missing_bias", {"bias": "b_y"}), _sigmoid(logits)),
                    ],
                    tol,
                ) from None


def _check_shapes(rnn, case):
    H, D = case.W_xh.shape
    O = case.W_hy.shape[0]
    for name, shape in (("W_xh", (H, D)), ("W_hh", (H, H)), ("b_h", (H,)), ("W_hy", (O, H)), ("b_y", (O,))):
        value = as_array(getattr(rnn, name), f"VanillaRNN.{name}", "ndarray")
        if value.shape != shape:
            fail("wrong_shape", what=f"VanillaRNN({D}, {H}, {O}).{name}", expected=shape, got=value.shape)


def check_VanillaRNN(student, cases, tol):
    for case in cases:
        with case:
            H, D = case.W_xh.shape
            rnn = student.VanillaRNN(D, H, case.W_hy.shape[0])
            _check_shapes(rnn, case)
            for name in ("W_xh", "W_hh", "b_h", "W_hy", "b_y"):
                setattr(rnn, name, getattr(case, name))
            first = rnn.forward(case.xs1)
            try:
                expect_close(first, case.ys1, "forward(xs)", tol, time_axis=0)
            except CheckFailure as failure:
                raise diagnose(
                    failure, first, [(Message("diag_hidden_not_updated"), _each_step_from_zero(case))], tol
                ) from None
            _expect_hidden_kept(rnn.hidden, case.hidden1, tol)
            second = rnn.forward(case.xs2)
            try:
                expect_close(second, case.ys2, "forward(xs) called a 2nd time", tol, time_axis=0)
            except CheckFailure as failure:
                raise diagnose(failure, second, [(Message("diag_state_not_reset"), case.ys2_not_reset)], tol) from None
            rnn.hidden = np.zeros((case.x_step1.shape[0], H))
            expect_close(rnn.step(case.x_step1), case.y_step1, "step(x) from a zero hidden", tol)
            second = rnn.step(case.x_step2)
            try:
                expect_close(second, case.y_step2, "step(x) called a 2nd time", tol)
            except CheckFailure as failure:
                raise diagnose(
                    failure, second, [(Message("diag_hidden_not_updated"), _from_zero_step(case))], tol
                ) from None
            expect_close(rnn.hidden, case.hidden_step2, "hidden after two step(x)", tol)


def _expect_hidden_kept(hidden, expected, tol):
    """`hidden` after forward is the last state; all zeros means forward never stored it."""
    try:
        expect_close(hidden, expected, "hidden after forward(xs)", tol)
    except CheckFailure as failure:
        zeros = isinstance(hidden, np.ndarray) and hidden.size and not np.any(hidden)
        raise (failure.adding(Message("diag_hidden_not_kept")) if zeros else failure) from None


def _each_step_from_zero(case):
    """forward(xs1) when step never stores its state: every step starts from zero."""
    weights = (case.W_xh, case.W_hh, case.b_h)
    hs = np.concatenate([torch_rnn(x[None], None, *weights)[0] for x in case.xs1])
    return _sigmoid(hs @ case.W_hy.T + case.b_y)


def _from_zero_step(case):
    hs, _ = torch_rnn(case.x_step2[None], None, case.W_xh, case.W_hh, case.b_h)
    return _sigmoid(hs[0] @ case.W_hy.T + case.b_y)


def _pair(got, what: str):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        failure = CheckFailure(
            Message("wrong_type", {"what": what, "expected": "(outputs, h_T)", "got": type(got).__name__})
        )
        raise failure.adding(Message("diag_outputs_only")) if hasattr(got, "shape") else failure
    return got


def check_rnncell_forward(student, cases, tol):
    for case in cases:
        with case:
            h0 = _tensor(case.h0) if case.h0_given else None
            got = student.rnncell_forward(rnn_cell(case), _tensor(case.xs), h0)
            outputs, h_T = _pair(got, "rnncell_forward(cell, xs, h0)")
            try:
                expect_close(outputs, case.outputs, "outputs", tol, kind="tensor", time_axis=0)
            except CheckFailure as failure:
                raise diagnose(
                    failure,
                    outputs,
                    sequence_mistakes(
                        case.xs,
                        case.h0,
                        case.h0_given,
                        case.outputs,
                        case.weight_ih,
                        case.weight_hh,
                        case.bias_ih,
                        case.bias_hh,
                    ),
                    tol,
                ) from None
            expect_close(h_T, case.h_T, "h_T", tol, kind="tensor")
            expect_not_mutated(student, "rnncell_forward")


def _loss_check(student, cases, tol, name, variant_keys):
    for case in cases:
        with case:
            got = getattr(student, name)(_tensor(case.log_probs), torch.from_numpy(case.targets))
            try:
                expect_close(got, case.loss, "loss", tol, kind="tensor")
            except CheckFailure as failure:
                raise diagnose(
                    failure,
                    got,
                    [(Message(key), getattr(case, field)) for key, field in variant_keys]
                    + [(Message("diag_loss_sign"), -case.loss)],
                    tol,
                ) from None
            expect_not_mutated(student, name)


def check_many_to_one_loss(student, cases, tol):
    _loss_check(
        student,
        cases,
        tol,
        "many_to_one_loss",
        [
            ("diag_loss_all_steps", "loss_all_steps"),
            ("diag_loss_first_step", "loss_first_step"),
            ("diag_loss_batch_sum", "loss_batch_sum"),
        ],
    )


def check_many_to_many_loss(student, cases, tol):
    _loss_check(
        student,
        cases,
        tol,
        "many_to_many_loss",
        [
            ("diag_loss_time_mean", "loss_time_mean"),
            ("diag_loss_last_only", "loss_last_only"),
            ("diag_loss_batch_sum", "loss_batch_sum"),
        ],
    )


def check_one_to_many_forward(student, cases, tol):
    for case in cases:
        with case:
            readout = torch.nn.Linear(*case.W_out.shape[::-1]).double()
            readout.load_state_dict({"weight": _tensor(case.W_out), "bias": _tensor(case.b_out)})
            got = student.one_to_many_forward(rnn_cell(case), readout, _tensor(case.x), int(case.steps))
            try:
                expect_close(got, case.ys, "outputs", tol, kind="tensor", time_axis=0)
            except CheckFailure as failure:
                raise diagnose(
                    failure,
                    got,
                    [
                        (Message("diag_feedback_output"), case.ys_fed_back),
                        (Message("diag_input_repeated"), _input_repeated(case)),
                        (Message("diag_state_not_carried"), _state_dropped(case)),
                    ],
                    tol,
                ) from None
            expect_not_mutated(student, "one_to_many_forward")


def _input_repeated(case) -> np.ndarray:
    """One-to-many with x given at every step instead of only at step 0 (a mistake)."""
    inputs = np.repeat(case.x[None], int(case.steps), axis=0)
    hs, _ = torch_rnn(inputs, None, case.weight_ih, case.weight_hh, case.bias_ih, case.bias_hh)
    return hs @ case.W_out.T + case.b_out


def _state_dropped(case) -> np.ndarray:
    """One-to-many with every step from a zero state: steps 1.. read zeros from zero (a mistake)."""
    inputs = np.zeros((int(case.steps), *case.x.shape))
    inputs[0] = case.x
    weights = (case.weight_ih, case.weight_hh, case.bias_ih, case.bias_hh)
    hs = np.concatenate([torch_rnn(x[None], None, *weights)[0] for x in inputs])
    return hs @ case.W_out.T + case.b_out


from .taxonomy import check_TAXONOMY  # noqa: E402,F401  (collected with this module's checks)

"""Checks of `rnn_basics`: the numpy RNN, torch.nn.RNNCell loops and the taxonomy's losses."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..cases.rnn_basics import rnn_cell, torch_rnn
from ..expect import CheckFailure, as_array, diagnose, expect_close, expect_not_mutated, fail
from ..messages import Message
from ..sandbox import StudentFailure


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
                raise (failure.adding(Message("diag_sigmoid_overflow")) if overflow else failure) from None
            expect_not_mutated(student, "sigmoid")


def check_rnn_step(student, cases, tol):
    for case in cases:
        with case:
            got = student.rnn_step(case.x, case.h_prev, case.W_xh, case.W_hh, case.b_h)
            pre = case.x @ case.W_xh.T + case.h_prev @ case.W_hh.T
            variants = [(Message("diag_missing_tanh"), pre + case.b_h),
                        (Message("diag_missing_bias", {"bias": "b_h"}), np.tanh(pre))]
            if case.W_xh.shape[0] == case.W_xh.shape[1]:
                variants.append((Message("diag_transposed_weights"),
                                 np.tanh(case.x @ case.W_xh + case.h_prev @ case.W_hh + case.b_h)))
            try:
                expect_close(got, case.h, "h", tol)
            except CheckFailure as failure:
                raise diagnose(failure, got, variants, tol) from None
            expect_not_mutated(student, "rnn_step")


def check_rnn_forward(student, cases, tol):
    for case in cases:
        with case:
            h0 = case.h0 if case.h0_given else None
            got = student.rnn_forward(case.xs, h0, case.W_xh, case.W_hh, case.b_h)
            try:
                expect_close(got, case.hs, "hs", tol, time_axis=0)
            except CheckFailure as failure:
                from_zero, _ = torch_rnn(case.xs, None, case.W_xh, case.W_hh, case.b_h)
                variants = [(Message("diag_h0_ignored"), from_zero)] if case.h0_given else []
                raise diagnose(failure, got, variants, tol) from None
            expect_not_mutated(student, "rnn_forward")


def check_rnn_readout(student, cases, tol):
    for case in cases:
        with case:
            got = student.rnn_readout(case.hs, case.W_hy, case.b_y)
            logits = case.hs @ case.W_hy.T
            try:
                expect_close(got, case.ys, "ys", tol)
            except CheckFailure as failure:
                raise diagnose(failure, got, [
                    (Message("diag_readout_tanh"), np.tanh(logits + case.b_y)),
                    (Message("diag_missing_bias", {"bias": "b_y"}), _sigmoid(logits))], tol) from None


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
            expect_close(rnn.forward(case.xs1), case.ys1, "forward(xs)", tol, time_axis=0)
            expect_close(rnn.hidden, case.hidden1, "hidden after forward(xs)", tol)
            second = rnn.forward(case.xs2)
            try:
                expect_close(second, case.ys2, "forward(xs) called a 2nd time", tol, time_axis=0)
            except CheckFailure as failure:
                raise diagnose(failure, second, [(Message("diag_state_not_reset"), case.ys2_not_reset)],
                               tol) from None
            rnn.hidden = np.zeros((case.x_step1.shape[0], H))
            expect_close(rnn.step(case.x_step1), case.y_step1, "step(x) from a zero hidden", tol)
            second = rnn.step(case.x_step2)
            try:
                expect_close(second, case.y_step2, "step(x) called a 2nd time", tol)
            except CheckFailure as failure:
                raise diagnose(failure, second, [(Message("diag_hidden_not_updated"), _from_zero_step(case))],
                               tol) from None
            expect_close(rnn.hidden, case.hidden_step2, "hidden after two step(x)", tol)


def _from_zero_step(case):
    hs, _ = torch_rnn(case.x_step2[None], None, case.W_xh, case.W_hh, case.b_h)
    return _sigmoid(hs[0] @ case.W_hy.T + case.b_y)


def _pair(got, what: str):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        fail("wrong_type", what=what, expected="(outputs, h_T)", got=type(got).__name__)
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
                zero = torch_rnn(case.xs, None, case.weight_ih, case.weight_hh, case.bias_ih, case.bias_hh)[0]
                raise diagnose(failure, outputs, [(Message("diag_h0_ignored"), zero)] if case.h0_given else [],
                               tol) from None
            expect_close(h_T, case.h_T, "h_T", tol, kind="tensor")
            expect_not_mutated(student, "rnncell_forward")


def _loss_check(student, cases, tol, name, variant_keys):
    for case in cases:
        with case:
            got = getattr(student, name)(_tensor(case.log_probs), torch.from_numpy(case.targets))
            try:
                expect_close(got, case.loss, "loss", tol, kind="tensor")
            except CheckFailure as failure:
                raise diagnose(failure, got, [(Message(key), getattr(case, field))
                                              for key, field in variant_keys], tol) from None
            expect_not_mutated(student, name)


def check_many_to_one_loss(student, cases, tol):
    _loss_check(student, cases, tol, "many_to_one_loss", [
        ("diag_loss_all_steps", "loss_all_steps"), ("diag_loss_first_step", "loss_first_step"),
        ("diag_loss_batch_sum", "loss_batch_sum")])


def check_many_to_many_loss(student, cases, tol):
    _loss_check(student, cases, tol, "many_to_many_loss", [
        ("diag_loss_time_mean", "loss_time_mean"), ("diag_loss_last_only", "loss_last_only"),
        ("diag_loss_batch_sum", "loss_batch_sum")])


def check_one_to_many_forward(student, cases, tol):
    for case in cases:
        with case:
            readout = torch.nn.Linear(*case.W_out.shape[::-1]).double()
            readout.load_state_dict({"weight": _tensor(case.W_out), "bias": _tensor(case.b_out)})
            got = student.one_to_many_forward(rnn_cell(case), readout, _tensor(case.x), int(case.steps))
            try:
                expect_close(got, case.ys, "outputs", tol, kind="tensor", time_axis=0)
            except CheckFailure as failure:
                raise diagnose(failure, got, [(Message("diag_feedback_output"), case.ys_fed_back)], tol) from None
            expect_not_mutated(student, "one_to_many_forward")

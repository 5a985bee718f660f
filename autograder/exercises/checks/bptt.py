"""Checks of `bptt`: gradients against torch autograd, clipping against clip_grad_norm_.

A failing result is compared with what common mistakes produce (computed with the same
oracles, the mistake switched on) to name the mistake.
"""

from __future__ import annotations

import numpy as np

from ...messages import Message
from ..cases.bptt import (
    GRAD_NAMES,
    jacobian_norms_oracle,
    model_gradients,
    preactivation_gradients,
    readout_loss_oracle,
    unrolled_rnn_backward,
)
from ..expect import CheckFailure, diagnose, expect_close, expect_not_mutated, fail

try:  # instructor-only: some mistakes' outputs are computed by code that would give the answer away
    from .. import diagnoses
except ImportError:  # the student bundle: those diagnoses are left out
    diagnoses = None


def expect_outputs(got, names, expected, tol, variants=(), *, kind="ndarray", time_axes=None, what=""):
    """`got` is a tuple of len(names) results, each close to `expected[i]`.

    `variants` are (Message, outputs of a mistake) pairs; a failing result is compared with
    the same position of each mistake's outputs. `time_axes` maps a name to its time axis.
    """
    if not isinstance(got, (tuple, list)) or len(got) != len(names):
        length = f" of {len(got)}" if isinstance(got, (tuple, list)) else ""
        fail("wrong_type", what=what, expected=f"({', '.join(names)})", got=type(got).__name__ + length)
    time_axes = time_axes or {}
    for index, name in enumerate(names):
        try:
            expect_close(got[index], expected[index], name, tol, kind=kind, time_axis=time_axes.get(name))
        except CheckFailure as failure:
            raise diagnose(
                failure,
                got[index],
                [(message, outputs[index]) for message, outputs in variants if outputs is not None],
                tol,
            ) from None


def expect_dict(got, expected: dict, what: str):
    """`got` is a dict with exactly the keys of `expected`."""
    if not isinstance(got, dict):
        fail("wrong_type", what=what, expected=f"dict {sorted(expected)}", got=type(got).__name__)
    if set(got) != set(expected):
        fail("wrong_type", what=what, expected=f"dict {sorted(expected)}", got=f"dict {sorted(got)}")
    return got


STEP_OUTPUTS = ("dx", "dh_prev", "dW_xh", "dW_hh", "db_h")


def step_backward_mistakes(case) -> list:
    """No tanh', tanh' of h_prev, db averaged over the batch, dW_hh from h instead of h_prev,
    weight gradients transposed, dh_prev through W_hh.T: each as the five outputs it gives."""
    weights = (case.x, case.h_prev, case.W_xh, case.W_hh)
    right = [getattr(case, n) for n in STEP_OUTPUTS]
    da = unrolled_rnn_backward(case.dh[None], case.x[None], case.h_prev, case.W_xh, case.W_hh, case.b_h)["da"][0]
    square = case.W_xh.shape[0] == case.W_xh.shape[1]
    return [
        (Message("diag_bptt_no_tanh_grad"), preactivation_gradients(case.dh, *weights)),
        (Message("diag_bptt_tanh_grad_of_h_prev"), preactivation_gradients(case.dh * (1 - case.h_prev**2), *weights)),
        (Message("diag_bptt_bias_grad_mean"), [*right[:4], case.db_h / len(case.x)]),
        (
            Message("diag_bptt_dW_hh_uses_h"),
            [*right[:3], preactivation_gradients(da, case.x, case.h, case.W_xh, case.W_hh)[3], right[4]],
        ),
        (
            Message("diag_bptt_weight_grad_transposed"),
            [*right[:2], case.dW_xh.T if square else right[2], case.dW_hh.T, right[4]],
        ),
        (
            Message("diag_transposed_weights"),
            [right[0], preactivation_gradients(da, case.x, case.h_prev, case.W_xh, case.W_hh.T)[1], *right[2:]],
        ),
    ]


def check_rnn_step_backward(student, cases, tol):
    for case in cases:
        with case:
            got = student.rnn_step_backward(case.dh, case.x, case.h_prev, case.h, case.W_xh, case.W_hh)
            expect_outputs(
                got,
                STEP_OUTPUTS,
                [getattr(case, n) for n in STEP_OUTPUTS],
                tol,
                step_backward_mistakes(case),
                what="rnn_step_backward(...)",
            )
            expect_not_mutated(student, "rnn_step_backward")


SEQUENCE_OUTPUTS = ("dxs", "dh0", "dW_xh", "dW_hh", "db_h")


def _summed(grads: dict, steps=slice(None)) -> list:
    return [grads["dxs"], grads["dh0"], *(grads[n][steps].sum(0) for n in ("dW_xh", "dW_hh", "db_h"))]


def _with_dW_hh(grads: dict, dW_hh) -> list:
    return [*_summed(grads)[:3], dW_hh, grads["db_h"].sum(0)]


def check_rnn_backward(student, cases, tol):
    for case in cases:
        with case:
            h0 = case.h0 if case.h0_given else None
            got = student.rnn_backward(case.dhs, case.xs, h0, case.hs, case.W_xh, case.W_hh)
            inputs = (case.dhs, case.xs, case.h0, case.W_xh, case.W_hh, case.b_h)
            right = unrolled_rnn_backward(*inputs)
            variants = [
                (Message("diag_bptt_no_carry"), _summed(unrolled_rnn_backward(*inputs, carry=False))),
                (Message("diag_bptt_weight_grads_not_summed"), _summed(right, slice(0, 1))),
                (Message("diag_bptt_weight_grads_not_summed"), _summed(right, slice(-1, None))),
                (
                    Message("diag_bptt_dW_hh_uses_h"),
                    _with_dW_hh(right, np.einsum("tbh,tbk->hk", right["da"], right["hs"])),
                ),
            ]
            if case.h0_given:  # the first step's h_prev taken as zeros: its dW_hh term is lost
                variants.append((Message("diag_h0_ignored"), _with_dW_hh(right, right["dW_hh"][1:].sum(0))))
            expect_outputs(
                got,
                SEQUENCE_OUTPUTS,
                [getattr(case, n) for n in SEQUENCE_OUTPUTS],
                tol,
                variants,
                time_axes={"dxs": 0},
                what="rnn_backward(...)",
            )
            expect_not_mutated(student, "rnn_backward")


READOUT_OUTPUTS = ("loss", "dhs", "dW_hy", "db_y")


def check_softmax_readout_loss(student, cases, tol):
    for case in cases:
        with case:
            got = student.softmax_readout_loss(case.hs, case.W_hy, case.b_y, case.targets)
            try:
                expect_outputs(
                    got,
                    READOUT_OUTPUTS,
                    [case.loss, case.dhs, case.dW_hy, case.db_y],
                    tol,
                    readout_mistakes(case),
                    time_axes={"dhs": 0},
                    what="softmax_readout_loss(...)",
                )
            except CheckFailure as failure:
                overflow = bool(student.warnings) or not _all_finite(got)
                raise failure.adding(Message("diag_softmax_overflow")) if overflow else failure from None
            expect_not_mutated(student, "softmax_readout_loss")


def _all_finite(values) -> bool:
    try:
        return all(np.isfinite(np.asarray(value, dtype=np.float64)).all() for value in values)
    except (TypeError, ValueError):
        return True  # not numbers at all: a type mistake, not an overflow


def readout_mistakes(case) -> list:
    """Gradients not divided by B (loss right), the loss and gradients summed over the batch or
    averaged over time, the one-hot left out of the logits' gradient."""
    inputs = (case.hs, case.W_hy, case.b_y, case.targets)
    summed = readout_loss_oracle(*inputs, batch_reduction="sum")
    return [
        (Message("diag_bptt_grads_not_divided"), [case.loss, *summed[1:]]),
        (Message("diag_bptt_loss_time_mean"), readout_loss_oracle(*inputs, time_reduction="mean")),
        (Message("diag_bptt_loss_batch_sum"), summed),
        (Message("diag_softmax_grad_no_onehot"), readout_loss_oracle(*inputs, gradient_without_targets=True)),
    ]


def _flat(loss, grads: dict) -> list:
    return [loss, *(grads[n] for n in GRAD_NAMES)]


def check_loss_and_gradients(student, cases, tol):
    for case in cases:
        with case:
            params = {name: getattr(case, "p_" + name) for name in GRAD_NAMES}
            h0 = case.h0 if case.h0_given else None
            got = student.loss_and_gradients(case.xs, case.targets, h0, params)
            if not isinstance(got, (tuple, list)) or len(got) != 2:
                fail("wrong_type", what="loss_and_gradients(...)", expected="(loss, grads)", got=type(got).__name__)
            grads = expect_dict(got[1], params, "grads")
            variants = [
                (
                    Message("diag_bptt_loss_time_mean"),
                    _flat(*model_gradients(case.xs, case.targets, h0, params, time_reduction="mean")),
                ),
                (
                    Message("diag_missing_bias", {"bias": "b_h"}),
                    _flat(*model_gradients(case.xs, case.targets, h0, params, bias=False)),
                ),
            ]
            if case.h0_given:
                variants.append(
                    (Message("diag_h0_ignored"), _flat(*model_gradients(case.xs, case.targets, None, params)))
                )
            expect_outputs(
                [got[0], *(grads[n] for n in GRAD_NAMES)],
                ("loss", *(f"grads['{n}']" for n in GRAD_NAMES)),
                [case.loss, *(getattr(case, "d_" + n) for n in GRAD_NAMES)],
                tol,
                variants,
            )
            expect_not_mutated(student, "loss_and_gradients")


def _clipped_variants(grads: dict, max_norm: float) -> list:
    """What the common clipping mistakes return: [(Message, [total, *clipped arrays])]."""
    norms = {n: float(np.sqrt(np.sum(g**2))) for n, g in grads.items()}
    total = float(np.sqrt(sum(v**2 for v in norms.values())))
    coef = max_norm / (total + 1e-6)
    per_array = [total, *(g * min(1.0, max_norm / (norms[n] + 1e-6)) for n, g in grads.items())]
    clipped = [g * min(1.0, coef) for g in grads.values()]
    return [
        (Message("diag_clip_per_array"), per_array),
        (Message("diag_clip_not_capped"), [total, *(g * coef for g in grads.values())]),
        (Message("diag_clip_norm_after"), [total * min(1.0, coef), *clipped]),
    ]


def check_clip_gradients(student, cases, tol):
    for case in cases:
        with case:
            grads = {name: getattr(case, "g_" + name) for name in GRAD_NAMES}
            for label in ("clip", "keep"):
                max_norm = float(getattr(case, "max_norm_" + label))
                got = student.clip_gradients(grads, max_norm)
                what = f"clip_gradients(grads, max_norm={max_norm:.4g})"
                if not isinstance(got, (tuple, list)) or len(got) != 2:
                    fail("wrong_type", what=what, expected="(clipped_grads, total_norm)", got=type(got).__name__)
                clipped = expect_dict(got[0], grads, "clipped_grads")
                expect_outputs(
                    [got[1], *(clipped[n] for n in GRAD_NAMES)],
                    ("total_norm", *(f"clipped_grads['{n}'] ({what})" for n in GRAD_NAMES)),
                    [getattr(case, "total_" + label), *(getattr(case, f"{label}_{n}") for n in GRAD_NAMES)],
                    tol,
                    _clipped_variants(grads, max_norm),
                )
                expect_not_mutated(student, "clip_gradients")


def check_jacobian_norms(student, cases, tol):
    for case in cases:
        with case:
            got = student.jacobian_norms(case.W_hh, case.hs)
            try:
                expect_close(got, case.norms, "norms", tol, time_axis=0)
            except CheckFailure as failure:
                derivative = 1 - case.hs**2
                _, frobenius = jacobian_norms_oracle(
                    case.W_hh, case.W_xh, case.b_h, case.xs, np.zeros(case.W_hh.shape[0]), norm="fro"
                )
                frobenius_from_one = np.append(frobenius[:-1], 1.0)  # norms[T-1] = 1 kept from the identity
                variants = [
                    (Message("diag_jacobian_frobenius"), frobenius),
                    (Message("diag_jacobian_frobenius"), frobenius_from_one),
                ]
                if diagnoses:
                    variants += diagnoses.jacobian_mistakes(case.W_hh, derivative)
                raise diagnose(failure, got, variants, tol) from None
            expect_not_mutated(student, "jacobian_norms")

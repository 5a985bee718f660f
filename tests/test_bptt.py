"""bptt end to end: the reference, the stubs, correct code in another style, and the mistakes."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.exercises.cases import generate, load_public_cases
from autograder.exercises.contract import EXERCISES
from conftest import grade, load_reference, submission
from mistakes import assert_lost_only_its_exercises_and_named, mistake, mistake_source, noise_code

MODULE = "bptt"
IDS = {f"{MODULE}.{name}" for name in EXERCISES[MODULE]}


OTHER_STYLE = """
import functools

def rnn_step_backward(dh, x, h_prev, h, W_xh, W_hh):
    da = np.einsum("bh,bh->bh", dh, 1 - np.square(h))
    return (np.einsum("bh,hd->bd", da, W_xh), np.einsum("bh,hk->bk", da, W_hh),
            np.einsum("bh,bd->hd", da, x), np.einsum("bh,bk->hk", da, h_prev), np.einsum("bh->h", da))

def rnn_backward(dhs, xs, h0, hs, W_xh, W_hh):
    states = [np.zeros_like(hs[0]) if h0 is None else h0] + list(hs)
    carried, per_step, dxs = np.zeros_like(hs[0]), [], [None] * len(xs)
    for t in range(len(xs) - 1, -1, -1):
        dxs[t], carried, *weights = rnn_step_backward(dhs[t] + carried, xs[t], states[t], states[t + 1], W_xh, W_hh)
        per_step.append(weights)
    return (np.stack(dxs), carried, *(sum(step[i] for step in per_step) for i in range(3)))

def softmax_readout_loss(hs, W_hy, b_y, targets):
    loss, dhs, dW_hy, db_y = 0.0, np.zeros_like(hs), np.zeros_like(W_hy), np.zeros_like(b_y)
    for t in range(hs.shape[0]):
        logits = hs[t] @ W_hy.T + b_y
        top = logits.max(axis=1, keepdims=True)
        probs = np.exp(logits - top) / np.exp(logits - top).sum(axis=1, keepdims=True)
        onehot = np.eye(W_hy.shape[0])[targets[t]]
        loss -= np.mean(np.log(probs[onehot == 1]))
        dlogits = (probs - onehot) / hs.shape[1]
        dhs[t], dW_hy, db_y = dlogits @ W_hy, dW_hy + dlogits.T @ hs[t], db_y + dlogits.sum(axis=0)
    return loss, dhs, dW_hy, db_y

def clip_gradients(grads, max_norm):
    total = np.linalg.norm(np.concatenate([g.ravel() for g in grads.values()]))
    scale = max_norm / (total + 1e-6)
    return {k: (g * scale if scale < 1 else g.copy()) for k, g in grads.items()}, total

def jacobian_norms(W_hh, hs):
    factors = [np.diag(1 - h ** 2) @ W_hh for h in hs]
    products = [functools.reduce(np.matmul, factors[:k:-1], np.eye(len(W_hh))) for k in range(len(hs))]
    return np.array([np.linalg.svd(p, compute_uv=False)[0] for p in products])
"""


def test_correct_code_in_another_style_scores_full_marks(tmp_path):
    scores, _ = grade(submission(tmp_path / "sub", MODULE, append=OTHER_STYLE), only=MODULE)
    for id_ in IDS:
        assert scores[id_].score == scores[id_].max_score, (id_, scores[id_].messages)


CLIP_IN_PLACE = """
def clip_gradients(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    for g in grads.values():
        g *= min(1.0, max_norm / (total + 1e-6))
    return grads, total
"""
GRADIENT_CHAIN = {"rnn_backward", "loss_and_gradients"}  # call rnn_step_backward
STEP_RETURN = "return da @ W_xh, da @ W_hh, da.T @ x, da.T @ h_prev, da.sum(axis=0)"
LOSS = "loss = -log_probs[t_index, b_index, targets].sum() / B"
READOUT_CALL = 'loss, dhs, dW_hy, db_y = softmax_readout_loss(hs, params["W_hy"], params["b_y"], targets)'
CLIP_COEF = "coef = min(1.0, max_norm / (total + 1e-6))"
JACOBIAN_PRODUCT = "product = product @ ((1.0 - hs[k + 1] ** 2)[:, None] * W_hh)"

CORPUS = [
    mistake(
        "no tanh'",
        "rnn_step_backward",
        "diag_bptt_no_tanh_grad",
        ("da = dh * (1.0 - h ** 2)", "da = dh"),
        also=GRADIENT_CHAIN,
    ),
    mistake(
        "tanh' taken at h_prev",
        "rnn_step_backward",
        "diag_bptt_tanh_grad_of_h_prev",
        ("da = dh * (1.0 - h ** 2)", "da = dh * (1.0 - h_prev ** 2)"),
        also=GRADIENT_CHAIN,
    ),
    mistake(
        "db averaged over the batch",
        "rnn_step_backward",
        "diag_bptt_bias_grad_mean",
        (STEP_RETURN, STEP_RETURN.replace("da.sum(axis=0)", "da.mean(axis=0)")),
        also=GRADIENT_CHAIN,
    ),
    mistake(
        "dW_hh from the current state",
        "rnn_step_backward",
        "diag_bptt_dW_hh_uses_h",
        (STEP_RETURN, STEP_RETURN.replace("da.T @ h_prev", "da.T @ h")),
        also=GRADIENT_CHAIN,
    ),
    mistake(
        "dW_hh transposed",
        "rnn_step_backward",
        "diag_bptt_weight_grad_transposed",
        (STEP_RETURN, STEP_RETURN.replace("da.T @ h_prev", "h_prev.T @ da")),
        also=GRADIENT_CHAIN,
    ),
    mistake(
        "dh_prev through W_hh.T",
        "rnn_step_backward",
        "diag_transposed_weights",
        (STEP_RETURN, STEP_RETURN.replace("da @ W_hh,", "da @ W_hh.T,")),
        also=GRADIENT_CHAIN,
    ),
    mistake(
        "no carry between steps",
        "rnn_backward",
        "diag_bptt_no_carry",
        ("rnn_step_backward(dhs[t] + dh_next,", "rnn_step_backward(dhs[t],"),
        also={"loss_and_gradients"},
    ),
    mistake(
        "weight gradients overwritten",
        "rnn_backward",
        "diag_bptt_weight_grads_not_summed",
        ("dW_xh += dW_x", "dW_xh = dW_x"),
        also={"loss_and_gradients"},
    ),
    mistake(
        "h_prev taken one step late",
        "rnn_backward",
        "diag_bptt_dW_hh_uses_h",
        ("h_prev = hs[t - 1] if t > 0 else h0", "h_prev = hs[t]"),
        also={"loss_and_gradients"},
    ),
    mistake(
        "rnn_backward ignores h0",
        "rnn_backward",
        "diag_h0_ignored",
        ("h0 = np.zeros((B, H)) if h0 is None else h0", "h0 = np.zeros((B, H))"),
        also={"loss_and_gradients"},
    ),
    mistake(
        "loss averaged over time",
        "softmax_readout_loss",
        "diag_bptt_loss_time_mean",
        (LOSS, LOSS.replace("/ B", "/ (B * T)")),
        ("dlogits /= B", "dlogits /= B * T"),
        also={"loss_and_gradients"},
    ),
    mistake(
        "loss summed over the batch",
        "softmax_readout_loss",
        "diag_bptt_loss_batch_sum",
        (LOSS, LOSS.replace(" / B", "")),
        ("    dlogits /= B\n", ""),
        also={"loss_and_gradients"},
    ),
    mistake(
        "gradients not divided by B",
        "softmax_readout_loss",
        "diag_bptt_grads_not_divided",
        ("    dlogits /= B\n", ""),
        also={"loss_and_gradients"},
    ),
    mistake(
        "one-hot left out of dlogits",
        "softmax_readout_loss",
        "diag_softmax_grad_no_onehot",
        ("    dlogits[t_index, b_index, targets] -= 1.0\n", ""),
        also={"loss_and_gradients"},
    ),
    mistake(
        "softmax without the max shift",
        "softmax_readout_loss",
        "diag_softmax_overflow",
        ("shifted = logits - logits.max(axis=-1, keepdims=True)", "shifted = logits"),
    ),
    mistake(
        "the model ignores h0",
        "loss_and_gradients",
        "diag_h0_ignored",
        (
            "h = np.zeros((xs.shape[1], W_hh.shape[0])) if h0 is None else h0",
            "h = np.zeros((xs.shape[1], W_hh.shape[0]))",
        ),
        ("= rnn_backward(dhs, xs, h0,", "= rnn_backward(dhs, xs, None,"),
    ),
    mistake(
        "the model averages the loss over time",
        "loss_and_gradients",
        "diag_bptt_loss_time_mean",
        (READOUT_CALL, READOUT_CALL + "\n    loss, dhs, dW_hy, db_y = (v / len(xs) for v in (loss, dhs, dW_hy, db_y))"),
    ),
    mistake(
        "the model's forward without b_h",
        "loss_and_gradients",
        "diag_missing_bias",
        ("h = np.tanh(x @ W_xh.T + h @ W_hh.T + b_h)", "h = np.tanh(x @ W_xh.T + h @ W_hh.T)"),
    ),
    mistake(
        "clipping per array",
        "clip_gradients",
        "diag_clip_per_array",
        (
            "return {name: g * coef for name, g in grads.items()}, total",
            "return {n: g * min(1.0, max_norm / (np.sqrt(np.sum(g ** 2)) + 1e-6)) for n, g in grads.items()}, total",
        ),
    ),
    mistake(
        "clipping coefficient not capped",
        "clip_gradients",
        "diag_clip_not_capped",
        (CLIP_COEF, "coef = max_norm / (total + 1e-6)"),
    ),
    mistake(
        "norm returned after clipping",
        "clip_gradients",
        "diag_clip_norm_after",
        ("for name, g in grads.items()}, total", "for name, g in grads.items()}, total * coef"),
    ),
    mistake(
        "Frobenius norm",
        "jacobian_norms",
        "diag_jacobian_frobenius",
        ("np.linalg.norm(product, ord=2)", "np.linalg.norm(product)"),
    ),
    mistake(
        "Jacobian without tanh'",
        "jacobian_norms",
        "diag_jacobian_no_tanh_grad",
        (JACOBIAN_PRODUCT, "product = product @ W_hh"),
    ),
    mistake(
        "Jacobian with tanh' one step off",
        "jacobian_norms",
        "diag_jacobian_off_by_one",
        ("(1.0 - hs[k + 1] ** 2)", "(1.0 - hs[k] ** 2)"),
    ),
    mistake(
        "Jacobian multiplied in reverse order",
        "jacobian_norms",
        "diag_jacobian_order",
        (JACOBIAN_PRODUCT, "product = ((1.0 - hs[k + 1] ** 2)[:, None] * W_hh) @ product"),
    ),
    mistake(
        "BPTT loop run forwards in time",
        "rnn_backward",
        None,  # caught, not named
        ("for t in reversed(range(T)):", "for t in range(T):"),
        also={"loss_and_gradients"},
    ),
]


@pytest.mark.parametrize("mistake", CORPUS, ids=[m.name for m in CORPUS])
def test_a_mistake_loses_its_exercises_and_no_other_and_is_named(tmp_path, mistake):
    scores, _ = grade(submission(tmp_path / "sub", MODULE, replace=mistake_source(MODULE, mistake)), only=MODULE)
    lost = {id_.split(".")[1] for id_ in IDS if scores[id_].score < scores[id_].max_score}
    assert_lost_only_its_exercises_and_named(mistake, lost, {id_.split(".")[1]: scores[id_].messages for id_ in IDS})


def test_clipping_in_place_is_named(tmp_path):
    scores, _ = grade(submission(tmp_path / "sub", MODULE, append=CLIP_IN_PLACE), only=MODULE)
    lost = {id_.split(".")[1] for id_ in IDS if scores[id_].score < scores[id_].max_score}
    assert lost == {"clip_gradients"} and "mutated_read_only" in [
        m.key for m in scores[f"{MODULE}.clip_gradients"].messages
    ]


def test_results_right_up_to_floating_point_noise_pass_without_a_diagnosis(tmp_path):
    scores, _ = grade(submission(tmp_path / "sub", MODULE, append=noise_code(EXERCISES[MODULE])), only=MODULE)
    for id_ in IDS:
        assert scores[id_].score == scores[id_].max_score and not scores[id_].messages, (id_, scores[id_].messages)


def test_a_wrong_result_that_is_no_known_mistake_gets_no_diagnosis(tmp_path):
    unknown = mistake(
        "da scaled by 0.999",
        "rnn_step_backward",
        None,
        ("da = dh * (1.0 - h ** 2)", "da = dh * (1.0 - h ** 2) * 0.999"),
        also=GRADIENT_CHAIN,
    )
    scores, _ = grade(submission(tmp_path / "sub", MODULE, replace=mistake_source(MODULE, unknown)), only=MODULE)
    lost = {id_.split(".")[1] for id_ in IDS if scores[id_].score < scores[id_].max_score}
    assert_lost_only_its_exercises_and_named(unknown, lost, {id_.split(".")[1]: scores[id_].messages for id_ in IDS})


def test_feedback_says_which_output_and_step_are_wrong(tmp_path):
    code = """
        _reference_backward = rnn_backward
        def rnn_backward(dhs, xs, h0, hs, W_xh, W_hh):
            dxs, dh0, dW_xh, dW_hh, db_h = _reference_backward(dhs, xs, h0, hs, W_xh, W_hh)
            dxs[-1] *= 2.0
            return dxs, dh0, dW_xh, dW_hh, db_h
    """
    scores, _ = grade(submission(tmp_path / "sub", MODULE, append=code), only=MODULE, hidden=False)
    messages = scores[f"{MODULE}.rnn_backward"].messages
    assert [m.key for m in messages] == ["case_public", "mismatch", "first_bad_step"]
    assert messages[1].params["what"] == "dxs"
    assert messages[2].params["step"] == len(load_public_cases(MODULE, "rnn_backward")[0]["xs"]) - 1


def test_finite_differences_confirm_the_autograd_oracle_and_reject_a_wrong_gradient():
    from autograder.exercises.cases.bptt import assert_finite_differences, model_loss

    case = generate(MODULE, "loss_and_gradients", 12345, 0)  # generating runs the same cross-check
    params = {k[2:]: v for k, v in case.items() if k.startswith("p_")}
    grads = {k[2:]: v for k, v in case.items() if k.startswith("d_")}

    def loss_of(p):
        return model_loss(case["xs"], case["targets"], case["h0"], p).item()

    assert_finite_differences(loss_of, params, grads, np.random.default_rng(1))
    with pytest.raises(AssertionError, match="finite differences"):
        assert_finite_differences(loss_of, params, {**grads, "W_hy": grads["W_hy"] * 1.01}, np.random.default_rng(1))


def test_jacobian_norms_vanish_below_and_explode_above_radius_one():
    from autograder.exercises.plots import rnn_states, scaled_recurrent_matrix

    reference, rng = load_reference(MODULE), np.random.default_rng(0)
    W_xh, xs = rng.normal(size=(8, 3)), rng.normal(0, 1e-4, (25, 3))
    for radius, shrinks in ((0.7, True), (1.4, False)):
        W_hh = scaled_recurrent_matrix(rng, 8, radius)
        norms = reference.jacobian_norms(W_hh, rnn_states(W_hh, W_xh, xs))
        assert norms[-1] == 1.0
        assert (norms[0] < 1e-2) if shrinks else (norms[0] > 1e2), (radius, norms[0])


def test_plot_helper_writes_a_png(tmp_path):
    from autograder.exercises.plots import plot_jacobian_norms

    path = tmp_path / "jacobian.png"
    figure = plot_jacobian_norms(load_reference(MODULE).jacobian_norms, path, steps=12, language="en")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    axes = figure.axes[0]
    assert axes.get_yscale() == "log" and len(axes.get_lines()) == 3  # two radii and the line at 1


@pytest.mark.parametrize(
    "locale", ["rnn_basics", "bptt", "gated_units", "name_classifier", "forecast", "pixel_gru", "practical", "reports"]
)
def test_every_message_formats_in_both_languages_with_the_same_fields(locale):
    import string
    import tomllib

    from autograder.messages import LOCALE

    for key, templates in tomllib.loads((LOCALE / f"{locale}.toml").read_text(encoding="utf-8")).items():
        fields = {
            lang: {name for _, name, _, _ in string.Formatter().parse(templates[lang]) if name} for lang in ("pt", "en")
        }
        assert fields["pt"] == fields["en"], key
        for lang in ("pt", "en"):
            templates[lang].format(**dict.fromkeys(fields[lang], 1))  # raises on a stray brace

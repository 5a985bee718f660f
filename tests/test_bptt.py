"""bptt end to end: the reference, the stubs, correct code in another style, and the mistakes."""
from __future__ import annotations

import numpy as np
import pytest

from autograder.cases import generate, load_public_cases
from autograder.contract import EXERCISES
from conftest import SOLUTIONS, grade, load_reference, patched_source, submission

MODULE = "bptt"
IDS = {f"{MODULE}.{name}" for name in EXERCISES[MODULE]}


OTHER_STYLE = '''
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
'''


def test_correct_code_in_another_style_scores_full_marks(tmp_path):
    scores, _ = grade(submission(tmp_path / "sub", MODULE, append=OTHER_STYLE), only=MODULE)
    for id_ in IDS:
        assert scores[id_].score == scores[id_].max_score, (id_, scores[id_].messages)


CLIP_PER_ARRAY = """
def clip_gradients(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    return {k: g * min(1.0, max_norm / (np.sqrt(np.sum(g ** 2)) + 1e-6)) for k, g in grads.items()}, total
"""
CLIP_IN_PLACE = """
def clip_gradients(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    for g in grads.values():
        g *= min(1.0, max_norm / (total + 1e-6))
    return grads, total
"""
GRADIENT_CHAIN = {"rnn_step_backward", "rnn_backward", "loss_and_gradients"}
# (name, patches of the reference, code appended, {exercise: diagnosis}, every exercise that loses points)
# Each bundle's mistakes sit in exercises that do not call one another, so one grading tests several.
BUNDLES = [
    ("no tanh', clipping per array, Frobenius norm",
     [("da = dh * (1.0 - h ** 2)", "da = dh"), ("np.linalg.norm(product, ord=2)", "np.linalg.norm(product)")],
     CLIP_PER_ARRAY,
     {"rnn_step_backward": "diag_bptt_no_tanh_grad", "clip_gradients": "diag_clip_per_array",
      "jacobian_norms": "diag_jacobian_frobenius"},
     GRADIENT_CHAIN | {"clip_gradients", "jacobian_norms"}),
    ("no carry, loss averaged over time, coefficient not capped, no tanh' in the Jacobian",
     [("rnn_step_backward(dhs[t] + dh_next,", "rnn_step_backward(dhs[t],"),
      ("loss = -log_probs[t_index, b_index, targets].sum() / B", "loss = -log_probs[t_index, b_index, targets].sum() / (B * T)"),
      ("dlogits /= B", "dlogits /= B * T"),
      ("coef = min(1.0, max_norm / (total + 1e-6))", "coef = max_norm / (total + 1e-6)"),
      ("((1.0 - hs[k + 1] ** 2)[:, None] * W_hh)", "W_hh")], "",
     {"rnn_backward": "diag_bptt_no_carry", "softmax_readout_loss": "diag_bptt_loss_time_mean",
      "clip_gradients": "diag_clip_not_capped", "jacobian_norms": "diag_jacobian_no_tanh_grad"},
     {"rnn_backward", "softmax_readout_loss", "loss_and_gradients", "clip_gradients", "jacobian_norms"}),
    ("weight gradients overwritten, loss summed over the batch, norm after clipping, Jacobian off by one",
     [("dW_xh += dW_x", "dW_xh = dW_x"),
      ("loss = -log_probs[t_index, b_index, targets].sum() / B", "loss = -log_probs[t_index, b_index, targets].sum()"),
      ("dlogits /= B", "dlogits /= 1"),
      ("for name, g in grads.items()}, total", "for name, g in grads.items()}, total * coef"),
      ("(1.0 - hs[k + 1] ** 2)", "(1.0 - hs[k] ** 2)")], "",
     {"rnn_backward": "diag_bptt_weight_grads_not_summed", "softmax_readout_loss": "diag_bptt_loss_batch_sum",
      "clip_gradients": "diag_clip_norm_after", "jacobian_norms": "diag_jacobian_off_by_one"},
     {"rnn_backward", "softmax_readout_loss", "loss_and_gradients", "clip_gradients", "jacobian_norms"}),
    ("tanh' taken at h_prev", [("da = dh * (1.0 - h ** 2)", "da = dh * (1.0 - h_prev ** 2)")], "",
     {"rnn_step_backward": "diag_bptt_tanh_grad_of_h_prev"}, GRADIENT_CHAIN),
    ("the model ignores h0, gradients clipped in place",
     [("h = np.zeros((xs.shape[1], W_hh.shape[0])) if h0 is None else h0", "h = np.zeros((xs.shape[1], W_hh.shape[0]))"),
      ("= rnn_backward(dhs, xs, h0,", "= rnn_backward(dhs, xs, None,")], CLIP_IN_PLACE,
     {"loss_and_gradients": "diag_h0_ignored", "clip_gradients": "mutated_read_only"}, {"loss_and_gradients", "clip_gradients"}),
]


@pytest.mark.parametrize("name, patches, code, diagnoses, broken", BUNDLES, ids=[b[0] for b in BUNDLES])
def test_mistakes_lose_their_exercises_only_and_are_named(tmp_path, name, patches, code, diagnoses, broken):
    folder = submission(tmp_path / "sub", MODULE, replace=patched_source(MODULE, patches), append=code)
    scores, _ = grade(folder, only=MODULE)
    lost = {id_.split(".")[1] for id_ in IDS if scores[id_].score < scores[id_].max_score}
    assert lost == broken, {id_: [m.key for m in scores[id_].messages] for id_ in IDS}
    for exercise, diagnosis in diagnoses.items():
        keys = [m.key for m in scores[f"{MODULE}.{exercise}"].messages]
        assert diagnosis in keys, (exercise, keys)


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
    from autograder.cases.bptt import assert_finite_differences, model_loss
    case = generate(MODULE, "loss_and_gradients", 12345, 0)  # generating runs the same cross-check
    params = {k[2:]: v for k, v in case.items() if k.startswith("p_")}
    grads = {k[2:]: v for k, v in case.items() if k.startswith("d_")}

    def loss_of(p):
        return model_loss(case["xs"], case["targets"], case["h0"], p).item()
    assert_finite_differences(loss_of, params, grads, np.random.default_rng(1))
    with pytest.raises(AssertionError, match="finite differences"):
        assert_finite_differences(loss_of, params, {**grads, "W_hy": grads["W_hy"] * 1.01}, np.random.default_rng(1))


def test_jacobian_norms_vanish_below_and_explode_above_radius_one():
    from autograder.plots import rnn_states, scaled_recurrent_matrix
    reference, rng = load_reference(MODULE), np.random.default_rng(0)
    W_xh, xs = rng.normal(size=(8, 3)), rng.normal(0, 1e-4, (25, 3))
    for radius, shrinks in ((0.7, True), (1.4, False)):
        W_hh = scaled_recurrent_matrix(rng, 8, radius)
        norms = reference.jacobian_norms(W_hh, rnn_states(W_hh, W_xh, xs))
        assert norms[-1] == 1.0
        assert (norms[0] < 1e-2) if shrinks else (norms[0] > 1e2), (radius, norms[0])


def test_plot_helper_writes_a_png(tmp_path):
    from autograder.plots import plot_jacobian_norms
    path = tmp_path / "jacobian.png"
    figure = plot_jacobian_norms(load_reference(MODULE).jacobian_norms, path, steps=12, language="en")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    axes = figure.axes[0]
    assert axes.get_yscale() == "log" and len(axes.get_lines()) == 3  # two radii and the line at 1


@pytest.mark.parametrize("locale", ["bptt", "gated_units"])
def test_every_message_formats_in_both_languages_with_the_same_fields(locale):
    import string
    import tomllib
    from autograder.messages import LOCALE
    for key, templates in tomllib.loads((LOCALE / f"{locale}.toml").read_text(encoding="utf-8")).items():
        fields = {lang: {name for _, name, _, _ in string.Formatter().parse(templates[lang]) if name}
                  for lang in ("pt", "en")}
        assert fields["pt"] == fields["en"], key
        for lang in ("pt", "en"):
            templates[lang].format(**{name: "x" for name in fields[lang]})  # raises on a stray brace

"""Cases of `rnn_basics`, with expected values from torch.nn.RNN, RNNCell and nll_loss."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from . import generator

MODULE = "rnn_basics"


def _sizes(rng):
    """Small random sizes: T, B, D, H, O."""
    return tuple(int(n) for n in rng.integers([2, 1, 2, 2, 1], [7, 5, 7, 7, 5]))


def _normal(rng, *shape, scale=1.0):
    return rng.normal(0.0, scale, shape)


def _t(array):
    return torch.from_numpy(np.asarray(array, dtype=np.float64))


def torch_rnn(xs, h0, W_xh, W_hh, b_ih, b_hh=None) -> tuple[np.ndarray, np.ndarray]:
    """The oracle: torch.nn.RNN (tanh) in float64. Returns (hs (T, B, H), h_T (B, H))."""
    H, D = W_xh.shape
    rnn = torch.nn.RNN(D, H, nonlinearity="tanh").double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(_t(W_xh))
        rnn.weight_hh_l0.copy_(_t(W_hh))
        rnn.bias_ih_l0.copy_(_t(b_ih))
        rnn.bias_hh_l0.copy_(_t(np.zeros(H) if b_hh is None else b_hh))
        hs, h_n = rnn(_t(xs), None if h0 is None else _t(h0)[None])
    return hs.numpy(), h_n[0].numpy()


def _rnn_weights(rng, D, H):
    return {
        "W_xh": _normal(rng, H, D, scale=0.6),
        "W_hh": _normal(rng, H, H, scale=0.6),
        "b_h": _normal(rng, H, scale=0.3),
    }


@generator(MODULE, "sigmoid")
def sigmoid_case(rng):
    x = np.concatenate([_normal(rng, 12, scale=6.0), [-1000.0, -745.5, -40.0, 0.0, 40.0, 1000.0]])
    x = rng.permutation(x).reshape(3, 6)
    return {"x": x, "y": torch.sigmoid(_t(x)).numpy()}


@generator(MODULE, "rnn_step")
def rnn_step_case(rng):
    _, B, D, H, _ = _sizes(rng)
    case = {"x": _normal(rng, B, D), "h_prev": np.tanh(_normal(rng, B, H)), **_rnn_weights(rng, D, H)}
    _, case["h"] = torch_rnn(case["x"][None], case["h_prev"], case["W_xh"], case["W_hh"], case["b_h"])
    return case


@generator(MODULE, "rnn_forward")
def rnn_forward_case(rng):
    T, B, D, H, _ = _sizes(rng)
    h0_given = bool(rng.integers(2))
    case = {
        "xs": _normal(rng, T, B, D),
        "h0": np.tanh(_normal(rng, B, H)) if h0_given else np.zeros((B, H)),
        "h0_given": np.array(h0_given),
        **_rnn_weights(rng, D, H),
    }
    case["hs"], _ = torch_rnn(case["xs"], case["h0"], case["W_xh"], case["W_hh"], case["b_h"])
    return case


@generator(MODULE, "rnn_readout")
def rnn_readout_case(rng):
    T, B, _, H, O = _sizes(rng)
    shape = (T, B, H) if rng.integers(2) else (B, H)
    case = {"hs": np.tanh(_normal(rng, *shape)), "W_hy": _normal(rng, O, H), "b_y": _normal(rng, O)}
    case["ys"] = torch.sigmoid(F.linear(_t(case["hs"]), _t(case["W_hy"]), _t(case["b_y"]))).numpy()
    return case


@generator(MODULE, "VanillaRNN")
def vanilla_rnn_case(rng):
    T, B, D, H, O = _sizes(rng)
    case = {
        **_rnn_weights(rng, D, H),
        "W_hy": _normal(rng, O, H),
        "b_y": _normal(rng, O),
        "xs1": _normal(rng, T, B, D),
        "xs2": _normal(rng, T + 1, B, D),
        "x_step1": _normal(rng, B, D),
        "x_step2": _normal(rng, B, D),
    }

    def readout(hs):
        return torch.sigmoid(F.linear(_t(hs), _t(case["W_hy"]), _t(case["b_y"]))).numpy()

    weights = (case["W_xh"], case["W_hh"], case["b_h"])
    hs1, _ = torch_rnn(case["xs1"], None, *weights)
    hs2, _ = torch_rnn(case["xs2"], None, *weights)
    hs2_continued, _ = torch_rnn(case["xs2"], hs1[-1], *weights)
    steps, _ = torch_rnn(np.stack([case["x_step1"], case["x_step2"]]), None, *weights)
    case.update(
        ys1=readout(hs1),
        ys2=readout(hs2),
        ys2_not_reset=readout(hs2_continued),
        hidden1=hs1[-1],
        y_step1=readout(steps[0]),
        y_step2=readout(steps[1]),
        hidden_step2=steps[1],
    )
    return case


def _cell_weights(rng, D, H):
    return {
        "weight_ih": _normal(rng, H, D, scale=0.6),
        "weight_hh": _normal(rng, H, H, scale=0.6),
        "bias_ih": _normal(rng, H, scale=0.3),
        "bias_hh": _normal(rng, H, scale=0.3),
    }


def rnn_cell(case, prefix: str = "") -> torch.nn.RNNCell:
    """A float64 torch.nn.RNNCell holding a case's weights (a dict or a Case)."""
    case = case if isinstance(case, dict) else vars(case)
    H, D = case[prefix + "weight_ih"].shape
    cell = torch.nn.RNNCell(D, H).double()
    cell.load_state_dict({k: _t(case[prefix + k]) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})
    return cell


@generator(MODULE, "rnncell_forward")
def rnncell_forward_case(rng):
    T, B, D, H, _ = _sizes(rng)
    h0_given = bool(rng.integers(2))
    case = {
        **_cell_weights(rng, D, H),
        "xs": _normal(rng, T, B, D),
        "h0": np.tanh(_normal(rng, B, H)) if h0_given else np.zeros((B, H)),
        "h0_given": np.array(h0_given),
    }
    case["outputs"], case["h_T"] = torch_rnn(
        case["xs"], case["h0"], case["weight_ih"], case["weight_hh"], case["bias_ih"], case["bias_hh"]
    )
    return case


def _log_probs(rng, T, B, C):
    return F.log_softmax(_t(_normal(rng, T, B, C, scale=2.0)), dim=-1).numpy()


@generator(MODULE, "many_to_one_loss")
def many_to_one_case(rng):
    T, B, _, C, _ = _sizes(rng)
    B += 1
    log_probs, targets = _log_probs(rng, T, B, C), rng.integers(0, C, B)
    lp, tg = _t(log_probs), torch.from_numpy(targets)
    return {
        "log_probs": log_probs,
        "targets": targets,
        "loss": F.nll_loss(lp[-1], tg).numpy(),
        "loss_all_steps": np.mean([F.nll_loss(step, tg).item() for step in lp]),
        "loss_first_step": F.nll_loss(lp[0], tg).numpy(),
        "loss_batch_sum": F.nll_loss(lp[-1], tg, reduction="sum").numpy(),
    }


@generator(MODULE, "many_to_many_loss")
def many_to_many_case(rng):
    T, B, _, C, _ = _sizes(rng)
    B += 1
    log_probs, targets = _log_probs(rng, T, B, C), rng.integers(0, C, (T, B))
    per_step = np.array([F.nll_loss(lp, tg).item() for lp, tg in zip(_t(log_probs), torch.from_numpy(targets))])
    return {
        "log_probs": log_probs,
        "targets": targets,
        "loss": per_step.sum(),
        "loss_time_mean": per_step.mean(),
        "loss_last_only": per_step[-1],
        "loss_batch_sum": per_step.sum() * B,
    }


@generator(MODULE, "one_to_many_forward")
def one_to_many_case(rng):
    steps, B, D, H, _ = _sizes(rng)
    steps, O = steps + 1, D  # O == D: feeding outputs back (a common mistake) then runs and is named
    case = {
        **_cell_weights(rng, D, H),
        "W_out": _normal(rng, O, H),
        "b_out": _normal(rng, O),
        "x": _normal(rng, B, D),
        "steps": np.array(steps),
    }
    inputs = np.zeros((steps, B, D))
    inputs[0] = case["x"]
    hs, _ = torch_rnn(inputs, None, case["weight_ih"], case["weight_hh"], case["bias_ih"], case["bias_hh"])
    case["ys"] = F.linear(_t(hs), _t(case["W_out"]), _t(case["b_out"])).numpy()
    cell, h, x, fed_back = rnn_cell(case), None, _t(case["x"]), []
    with torch.no_grad():
        for _ in range(steps):
            h = cell(x, h)
            x = F.linear(h, _t(case["W_out"]), _t(case["b_out"]))
            fed_back.append(x.numpy())
    case["ys_fed_back"] = np.stack(fed_back)
    return case

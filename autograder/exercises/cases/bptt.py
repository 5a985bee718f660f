"""Cases of `bptt`: every expected gradient comes from torch autograd in float64.

The oracles build the forward pass in torch and call backward; `assert_finite_differences`
cross-checks them with centred finite differences at generation time (a second opinion
that costs a few forward passes). The checks reuse the oracles, with one mistake switched
on, to compute what a common wrong implementation returns.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from . import generator

MODULE = "bptt"
GRAD_NAMES = ("W_xh", "W_hh", "b_h", "W_hy", "b_y")
LARGE_LOGIT = 1000.0  # added to b_y in softmax_readout_loss's cases (as sigmoid is tested at x = ±1000)


def _sizes(rng):
    """Small random sizes: T, B, D, H, C."""
    return tuple(int(n) for n in rng.integers([2, 1, 2, 2, 2], [7, 5, 6, 7, 6]))


def _normal(rng, *shape, scale=1.0):
    return rng.normal(0.0, scale, shape)


def _leaf(array):
    return torch.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def _grad(tensor):
    return np.zeros(tuple(tensor.shape)) if tensor.grad is None else tensor.grad.numpy().copy()


def unrolled_rnn_backward(dhs, xs, h0, W_xh, W_hh, b_h, *, carry=True):
    """Autograd of L = sum_t <dhs[t], hs[t]> through the RNN, with per-step weight copies.

    Each step uses its own leaf copy of the weights, so the weights' gradient of every step
    is available separately. carry=False cuts the path through h_{t-1} (a mistake).
    Returns a dict: hs, dxs, dh0, da (T, B, H) the gradient of each step's pre-activation,
    and dW_xh, dW_hh, db_h each of shape (T, ...) per step.
    """
    T = len(xs)
    xs_t, h0_t = _leaf(xs), _leaf(h0)
    copies = {name: [_leaf(w) for _ in range(T)] for name, w in (("W_xh", W_xh), ("W_hh", W_hh), ("b_h", b_h))}
    h, hs, pre = h0_t, [], []
    for t in range(T):
        h_in = h if carry or t == 0 else h.detach()
        pre.append(F.linear(xs_t[t], copies["W_xh"][t]) + F.linear(h_in, copies["W_hh"][t]) + copies["b_h"][t])
        pre[-1].retain_grad()
        h = torch.tanh(pre[-1])
        hs.append(h)
    hs = torch.stack(hs)
    (hs * torch.from_numpy(np.asarray(dhs, dtype=np.float64))).sum().backward()
    out = {"hs": hs.detach().numpy(), "dxs": _grad(xs_t), "dh0": _grad(h0_t), "da": np.stack([_grad(a) for a in pre])}
    for name, leaves in copies.items():
        out["d" + name if name != "b_h" else "db_h"] = np.stack([_grad(w) for w in leaves])
    return out


def preactivation_gradients(da, x, h_prev, W_xh, W_hh) -> tuple:
    """Autograd of <da, x W_xh^T + h_prev W_hh^T + b>: what a step's backward gives for a given da.

    Returns (dx, dh_prev, dW_xh, dW_hh, db). With da = dh * (1 - h^2) this is the right
    answer; the checks feed it the da of a mistake (no tanh', tanh' of h_prev).
    """
    leaves = [_leaf(a) for a in (x, h_prev, W_xh, W_hh, np.zeros(W_hh.shape[0]))]
    x_t, h_t, W_x, W_h, b = leaves
    (
        torch.from_numpy(np.asarray(da, dtype=np.float64)) * (F.linear(x_t, W_x) + F.linear(h_t, W_h) + b)
    ).sum().backward()
    return tuple(_grad(leaf) for leaf in leaves)


def readout_loss_oracle(
    hs, W_hy, b_y, targets, *, time_reduction="sum", batch_reduction="mean", gradient_without_targets=False
):
    """Autograd of the many-to-many cross-entropy: (loss, dhs, dW_hy, db_y).

    gradient_without_targets: the gradients of sum_t mean_b logsumexp(logits) instead, i.e. with
    dlogits = p / B, the one-hot of the targets left out (a mistake); the loss stays right.
    """
    hs_t, W, b = _leaf(hs), _leaf(W_hy), _leaf(b_y)
    logits = F.linear(hs_t, W, b)
    per_step = torch.stack(
        [
            F.cross_entropy(step, torch.from_numpy(np.asarray(target)), reduction=batch_reduction)
            for step, target in zip(logits, targets)
        ]
    )
    loss = per_step.sum() if time_reduction == "sum" else per_step.mean()
    objective = torch.logsumexp(logits, dim=-1).mean(dim=1).sum() if gradient_without_targets else loss
    objective.backward()
    return loss.item(), _grad(hs_t), _grad(W), _grad(b)


def model_loss(xs, targets, h0, params) -> torch.Tensor:
    """The whole many-to-many model in torch (float64): torch.nn.RNN, linear readout, CE."""
    D = xs.shape[2]
    H = params["W_hh"].shape[0]
    rnn = torch.nn.RNN(D, H).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(params["W_xh"]))
        rnn.weight_hh_l0.copy_(torch.from_numpy(params["W_hh"]))
        rnn.bias_ih_l0.copy_(torch.from_numpy(params["b_h"]))
        rnn.bias_hh_l0.zero_()
    hs, _ = rnn(torch.from_numpy(xs), None if h0 is None else torch.from_numpy(h0)[None])
    logits = F.linear(hs, torch.from_numpy(params["W_hy"]), torch.from_numpy(params["b_y"]))
    return sum(F.cross_entropy(step, torch.from_numpy(target)) for step, target in zip(logits, targets))


def model_gradients(xs, targets, h0, params, *, time_reduction="sum", bias=True) -> tuple[float, dict]:
    """(loss, grads) of the many-to-many model by autograd. time_reduction="mean" averages the
    steps' losses, bias=False leaves b_h out of the forward pass (two mistakes)."""
    leaves = {name: _leaf(params[name]) for name in GRAD_NAMES}
    B = xs.shape[1]
    h = torch.zeros(B, params["W_hh"].shape[0], dtype=torch.float64) if h0 is None else torch.from_numpy(h0)
    loss = 0.0
    b_h = leaves["b_h"] if bias else leaves["b_h"] - leaves["b_h"].detach()  # value 0, gradient still db_h
    for x, target in zip(torch.from_numpy(xs), targets):
        h = torch.tanh(F.linear(x, leaves["W_xh"]) + F.linear(h, leaves["W_hh"]) + b_h)
        loss = loss + F.cross_entropy(F.linear(h, leaves["W_hy"], leaves["b_y"]), torch.from_numpy(target))
    loss = loss / len(xs) if time_reduction == "mean" else loss
    loss.backward()
    if time_reduction != "sum" or not bias:
        return loss.item(), {name: _grad(leaf) for name, leaf in leaves.items()}
    reference = model_loss(xs, targets, h0, params).item()  # torch.nn.RNN agrees with the unrolled graph
    if not np.isclose(reference, loss.item(), rtol=1e-12, atol=1e-12):
        raise AssertionError("oracle: unrolled loss differs from torch.nn.RNN's")
    return loss.item(), {name: _grad(leaf) for name, leaf in leaves.items()}


def assert_finite_differences(loss_of, arrays: dict, grads: dict, rng, probes: int = 3, eps: float = 1e-6):
    """Second opinion: centred differences of the scalar `loss_of(arrays)` at a few entries."""
    for name, array in arrays.items():
        for _ in range(probes):
            index = tuple(int(rng.integers(n)) for n in array.shape)
            plus, minus = {k: v.copy() for k, v in arrays.items()}, {k: v.copy() for k, v in arrays.items()}
            plus[name][index] += eps
            minus[name][index] -= eps
            numeric = (loss_of(plus) - loss_of(minus)) / (2 * eps)
            if not np.isclose(numeric, grads[name][index], rtol=1e-5, atol=1e-7):
                raise AssertionError(
                    f"oracle: autograd d/d{name}{list(index)} = {grads[name][index]} "
                    f"but finite differences give {numeric}"
                )


def _rnn_weights(rng, D, H, spectral_radius=None):
    W_hh = _normal(rng, H, H, scale=0.6)
    if spectral_radius is not None:
        W_hh *= spectral_radius / np.max(np.abs(np.linalg.eigvals(W_hh)))
    return {"W_xh": _normal(rng, H, D, scale=0.6), "W_hh": W_hh, "b_h": _normal(rng, H, scale=0.3)}


@generator(MODULE, "rnn_step_backward")
def rnn_step_backward_case(rng):
    _, B, D, H, _ = _sizes(rng)
    case = {
        "x": _normal(rng, B, D),
        "h_prev": np.tanh(_normal(rng, B, H)),
        "dh": _normal(rng, B, H),
        **_rnn_weights(rng, D, H),
    }
    grads = unrolled_rnn_backward(
        case["dh"][None], case["x"][None], case["h_prev"], case["W_xh"], case["W_hh"], case["b_h"]
    )
    case.update(
        h=grads["hs"][0],
        dx=grads["dxs"][0],
        dh_prev=grads["dh0"],
        dW_xh=grads["dW_xh"][0],
        dW_hh=grads["dW_hh"][0],
        db_h=grads["db_h"][0],
    )
    return case


@generator(MODULE, "rnn_backward")
def rnn_backward_case(rng):
    T, B, D, H, _ = _sizes(rng)
    T += 1
    h0_given = bool(rng.integers(2))
    case = {
        "xs": _normal(rng, T, B, D),
        "dhs": _normal(rng, T, B, H),
        "h0_given": np.array(h0_given),
        "h0": np.tanh(_normal(rng, B, H)) if h0_given else np.zeros((B, H)),
        **_rnn_weights(rng, D, H),
    }
    grads = unrolled_rnn_backward(case["dhs"], case["xs"], case["h0"], case["W_xh"], case["W_hh"], case["b_h"])
    case.update(
        hs=grads["hs"],
        dxs=grads["dxs"],
        dh0=grads["dh0"],
        dW_xh=grads["dW_xh"].sum(0),
        dW_hh=grads["dW_hh"].sum(0),
        db_h=grads["db_h"].sum(0),
    )

    def loss_of(a):
        hs = unrolled_rnn_backward(case["dhs"], a["xs"], a["h0"], a["W_xh"], a["W_hh"], case["b_h"])["hs"]
        return float((hs * case["dhs"]).sum())

    assert_finite_differences(
        loss_of,
        {k: case[k] for k in ("xs", "h0", "W_xh", "W_hh")},
        {"xs": case["dxs"], "h0": case["dh0"], "W_xh": case["dW_xh"], "W_hh": case["dW_hh"]},
        rng,
        probes=2,
    )
    return case


@generator(MODULE, "softmax_readout_loss")
def softmax_readout_loss_case(rng):
    T, B, _, H, C = _sizes(rng)
    B += 1
    # logits near LARGE_LOGIT: a softmax that exponentiates them unshifted overflows
    case = {
        "hs": np.tanh(_normal(rng, T, B, H)),
        "W_hy": _normal(rng, C, H),
        "b_y": _normal(rng, C) + LARGE_LOGIT,
        "targets": rng.integers(0, C, (T, B)),
    }
    case["loss"], case["dhs"], case["dW_hy"], case["db_y"] = readout_loss_oracle(
        case["hs"], case["W_hy"], case["b_y"], case["targets"]
    )
    assert_finite_differences(
        lambda a: readout_loss_oracle(a["hs"], a["W_hy"], a["b_y"], case["targets"])[0],
        {k: case[k] for k in ("hs", "W_hy", "b_y")},
        {"hs": case["dhs"], "W_hy": case["dW_hy"], "b_y": case["db_y"]},
        rng,
        probes=2,
    )
    return case


@generator(MODULE, "loss_and_gradients")
def loss_and_gradients_case(rng):
    T, B, D, H, C = _sizes(rng)
    h0_given = bool(rng.integers(2))
    params = {**_rnn_weights(rng, D, H), "W_hy": _normal(rng, C, H), "b_y": _normal(rng, C)}
    case = {
        "xs": _normal(rng, T, B, D),
        "targets": rng.integers(0, C, (T, B)),
        "h0_given": np.array(h0_given),
        "h0": np.tanh(_normal(rng, B, H)) if h0_given else np.zeros((B, H)),
        **{"p_" + k: v for k, v in params.items()},
    }
    case["loss"], grads = model_gradients(case["xs"], case["targets"], case["h0"], params)
    case.update({"d_" + k: v for k, v in grads.items()})
    assert_finite_differences(
        lambda p: model_loss(case["xs"], case["targets"], case["h0"], p).item(), params, grads, rng, probes=2
    )
    return case


@generator(MODULE, "clip_gradients")
def clip_gradients_case(rng):
    _, _, D, H, C = _sizes(rng)
    grads = {
        "W_xh": _normal(rng, H, D),
        "W_hh": _normal(rng, H, H),
        "b_h": _normal(rng, H),
        "W_hy": _normal(rng, C, H),
        "b_y": _normal(rng, C),
    }
    case = {"g_" + k: v for k, v in grads.items()}
    # one max_norm below the norm (clips) and one above it (leaves the gradients as they are)
    for label, factor in (("clip", rng.uniform(0.2, 0.7)), ("keep", rng.uniform(1.5, 3.0))):
        params = {k: torch.from_numpy(v.copy()).requires_grad_() for k, v in grads.items()}
        for name, p in params.items():
            p.grad = torch.from_numpy(grads[name].copy())
        max_norm = float(torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in params.values()]))) * factor
        total = torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm)
        case.update(
            {
                f"max_norm_{label}": np.array(max_norm),
                f"total_{label}": np.array(total.item()),
                **{f"{label}_{k}": p.grad.numpy() for k, p in params.items()},
            }
        )
    return case


def jacobian_norms_oracle(W_hh, W_xh, b_h, xs, h0, norm=2) -> tuple[np.ndarray, np.ndarray]:
    """States of one sequence and the norms of dh_{T-1}/dh_k (spectral by default), by autograd."""
    W_hh_t, W_xh_t, b_t = (torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in (W_hh, W_xh, b_h))
    xs_t = torch.from_numpy(xs)

    def step(h, x):
        return torch.tanh(F.linear(x, W_xh_t) + F.linear(h, W_hh_t) + b_t)

    def last_state_from(k):
        def run(h):
            for x in xs_t[k + 1 :]:
                h = step(h, x)
            return h

        return run

    hs, h = [], torch.from_numpy(h0)
    for x in xs_t:
        h = step(h, x)
        hs.append(h)
    norms = [
        torch.linalg.matrix_norm(torch.autograd.functional.jacobian(last_state_from(k), hs[k]), ord=norm).item()
        for k in range(len(xs))
    ]
    return torch.stack(hs).numpy(), np.array(norms)


@generator(MODULE, "jacobian_norms")
def jacobian_norms_case(rng):
    T, _, D, H, _ = _sizes(rng)
    T += 3
    radius = rng.choice([0.6, 1.0, 1.6])
    weights = _rnn_weights(rng, D, H, spectral_radius=radius)
    xs = _normal(rng, T, D, scale=0.5)
    hs, norms = jacobian_norms_oracle(weights["W_hh"], weights["W_xh"], weights["b_h"], xs, np.zeros(H))
    return {**weights, "xs": xs, "hs": hs, "norms": norms}

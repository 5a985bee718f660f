"""Cases of `gated_units`: expected values from torch.nn.GRUCell, LSTMCell, LSTM and autograd.

Gate values come from torch's documented equations applied to a float64 cell's own weights,
and every time they are used the step they imply is asserted equal to the cell's output.
The torch parts are checked in float32 (what students get) against float64 oracles run on
the same float32-rounded values.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from . import generator

MODULE = "gated_units"
GRU_KEYS = ("W_z", "U_z", "b_z", "W_r", "U_r", "b_r", "W_h", "U_h", "b_Wh", "b_Uh")
LSTM_KEYS = ("W_f", "U_f", "b_f", "W_i", "U_i", "b_i", "W_c", "U_c", "b_c", "W_o", "U_o", "b_o")
CELL_KEYS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
GRU_ORDER, LSTM_ORDER = ("r", "z", "n"), ("i", "f", "g", "o")  # torch's gate blocks in weight_ih/hh


def _sizes(rng):
    """Small random sizes: B, D, H."""
    return tuple(int(n) for n in rng.integers([1, 2, 2], [5, 6, 6]))


def _normal(rng, *shape, scale=1.0):
    return rng.normal(0.0, scale, shape)


def _as_float32(array):
    """The float64 array of the float32 value a student's tensor will hold."""
    return np.asarray(array, dtype=np.float32).astype(np.float64)


def _t(array):
    return torch.from_numpy(np.asarray(array, dtype=np.float64))


def gate_params(rng, keys, D, H) -> dict:
    return {k: _normal(rng, *((H, D) if k[0] == "W" else (H, H) if k[0] == "U" else (H,)), scale=0.7) for k in keys}


def gru_cell_from_params(p) -> torch.nn.GRUCell:
    """A float64 GRUCell equal to the lecture's GRU with parameters p (torch order r, z, n)."""
    H, D = p["W_z"].shape
    zero = np.zeros(H)
    cell = torch.nn.GRUCell(D, H).double()
    cell.load_state_dict(
        {
            "weight_ih": _t(np.concatenate([p["W_r"], p["W_z"], p["W_h"]])),
            "weight_hh": _t(np.concatenate([p["U_r"], p["U_z"], p["U_h"]])),
            "bias_ih": _t(np.concatenate([p["b_r"], p["b_z"], p["b_Wh"]])),
            "bias_hh": _t(np.concatenate([zero, zero, p["b_Uh"]])),
        }
    )
    return cell


def lstm_cell_from_params(p) -> torch.nn.LSTMCell:
    """A float64 LSTMCell equal to the lecture's LSTM with parameters p (torch order i, f, g, o)."""
    H, D = p["W_f"].shape
    order = ("i", "f", "c", "o")
    cell = torch.nn.LSTMCell(D, H).double()
    cell.load_state_dict(
        {
            "weight_ih": _t(np.concatenate([p["W_" + g] for g in order])),
            "weight_hh": _t(np.concatenate([p["U_" + g] for g in order])),
            "bias_ih": _t(np.concatenate([p["b_" + g] for g in order])),
            "bias_hh": _t(np.zeros(4 * H)),
        }
    )
    return cell


def cell_from_weights(kind: str, weights: dict, dtype=torch.float64):
    """A torch.nn.GRUCell or LSTMCell ("gru" / "lstm") holding the given weights."""
    H, D = weights["weight_hh"].shape[1], weights["weight_ih"].shape[1]
    cell = (torch.nn.GRUCell if kind == "gru" else torch.nn.LSTMCell)(D, H).to(dtype)
    cell.load_state_dict({k: _t(weights[k]).to(dtype) for k in CELL_KEYS})
    return cell


def torch_gru_gates(cell, x, h, *, reset_before_matmul=False, reset_bias_outside=False) -> dict:
    """r, z, n of a GRUCell by torch's equations; reset_before_matmul is the paper's variant,
    reset_bias_outside a mistake: r * (h W_hn^T) + b_hn, the reset not applied to b_hn."""
    x, h = _t(x), _t(h)
    w_ir, w_iz, w_in = cell.weight_ih.detach().chunk(3)
    w_hr, w_hz, w_hn = cell.weight_hh.detach().chunk(3)
    b_ir, b_iz, b_in = cell.bias_ih.detach().chunk(3)
    b_hr, b_hz, b_hn = cell.bias_hh.detach().chunk(3)
    r = torch.sigmoid(F.linear(x, w_ir, b_ir) + F.linear(h, w_hr, b_hr))
    z = torch.sigmoid(F.linear(x, w_iz, b_iz) + F.linear(h, w_hz, b_hz))
    recurrent = F.linear(r * h, w_hn, b_hn) if reset_before_matmul else r * F.linear(h, w_hn, b_hn)
    if reset_bias_outside:
        recurrent = r * F.linear(h, w_hn) + b_hn
    n = torch.tanh(F.linear(x, w_in, b_in) + recurrent)
    if not (reset_before_matmul or reset_bias_outside):
        with torch.no_grad():
            assert torch.allclose((1 - z) * n + z * h, cell(x, h), rtol=1e-12, atol=1e-12), (
                "GRU gates disagree with GRUCell"
            )
    return {"r": r.numpy(), "z": z.numpy(), "n": n.numpy()}


def torch_lstm_gates(cell, x, h, c) -> dict:
    """i, f, g, o of an LSTMCell by torch's equations, checked against the cell's (h, c).

    Also c_next, and two mistakes: g_as_sigmoid, the candidate with a sigmoid instead of tanh,
    and f_plus_one, the forget gate with an extra +1 in its bias (Keras' unit_forget_bias).
    """
    x, h, c = _t(x), _t(h), _t(c)
    with torch.no_grad():
        gates = F.linear(x, cell.weight_ih, cell.bias_ih) + F.linear(h, cell.weight_hh, cell.bias_hh)
        i, f_pre, g_pre, o = gates.chunk(4, dim=1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f_pre), torch.tanh(g_pre), torch.sigmoid(o)
        c_next = f * c + i * g
        h_cell, c_cell = cell(x, (h, c))
    assert torch.allclose(o * torch.tanh(c_next), h_cell, rtol=1e-12, atol=1e-12), "LSTM gates disagree with LSTMCell"
    assert torch.allclose(c_next, c_cell, rtol=1e-12, atol=1e-12), "LSTM gates disagree with LSTMCell"
    return {
        "i": i.numpy(),
        "f": f.numpy(),
        "g": g.numpy(),
        "o": o.numpy(),
        "c_next": c_next.numpy(),
        "g_as_sigmoid": torch.sigmoid(g_pre).numpy(),
        "f_plus_one": torch.sigmoid(f_pre + 1).numpy(),
    }


def lstm_backward_oracle(p, x, h_prev, c_prev, dh, dc) -> tuple:
    """Autograd through a float64 LSTMCell: (dx, dh_prev, dc_prev, grads keyed like p)."""
    cell = lstm_cell_from_params(p)
    leaves = [torch.tensor(a, requires_grad=True) for a in (x, h_prev, c_prev)]
    h, c = cell(leaves[0], (leaves[1], leaves[2]))
    torch.autograd.backward((h, c), (_t(dh), _t(dc)))
    grads = {}
    for gate, w_ih, w_hh, b_ih in zip(
        ("i", "f", "c", "o"), cell.weight_ih.grad.chunk(4), cell.weight_hh.grad.chunk(4), cell.bias_ih.grad.chunk(4)
    ):
        grads.update({"W_" + gate: w_ih.numpy(), "U_" + gate: w_hh.numpy(), "b_" + gate: b_ih.numpy()})
    return (*(leaf.grad.numpy() for leaf in leaves), grads)


LSTM_BACKWARD_MISTAKES = ("dh_not_into_c", "no_tanh_grad", "dc_prev_without_f")


def lstm_backward_with_mistake(p, x, h_prev, c_prev, dh, dc, mistake: str) -> tuple:
    """Autograd through an LSTM step built so that its gradients carry one of LSTM_BACKWARD_MISTAKES:
    dh_not_into_c (h = o * tanh(c) passes nothing to c), no_tanh_grad (dh reaches c without
    1 - tanh(c)^2), dc_prev_without_f (dc_prev = dc_total, the forget gate left out).
    The forward values are the right ones. Returns (dx, dh_prev, dc_prev, grads keyed like p)."""
    leaves = {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for k, v in p.items()}
    x_t, h_t, c_t = (torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in (x, h_prev, c_prev))

    def pre(gate):
        return F.linear(x_t, leaves["W_" + gate]) + F.linear(h_t, leaves["U_" + gate]) + leaves["b_" + gate]

    f, i, g, o = torch.sigmoid(pre("f")), torch.sigmoid(pre("i")), torch.tanh(pre("c")), torch.sigmoid(pre("o"))
    kept = f * c_t.detach() + (c_t - c_t.detach()) if mistake == "dc_prev_without_f" else f * c_t
    c = kept + i * g
    tanh_c = {"dh_not_into_c": torch.tanh(c).detach(), "no_tanh_grad": torch.tanh(c).detach() + (c - c.detach())}.get(
        mistake, torch.tanh(c)
    )
    torch.autograd.backward((o * tanh_c, c), (_t(dh), _t(dc)))
    return x_t.grad.numpy(), h_t.grad.numpy(), c_t.grad.numpy(), {k: v.grad.numpy() for k, v in leaves.items()}


def _prefixed(prefix: str, values: dict) -> dict:
    return {prefix + k: v for k, v in values.items()}


def _gru_case(rng):
    B, D, H = _sizes(rng)
    p = gate_params(rng, GRU_KEYS, D, H)
    return p, {"x": _normal(rng, B, D), "h_prev": np.tanh(_normal(rng, B, H)), **_prefixed("p_", p)}


def _lstm_case(rng):
    B, D, H = _sizes(rng)
    p = gate_params(rng, LSTM_KEYS, D, H)
    return p, {
        "x": _normal(rng, B, D),
        "h_prev": np.tanh(_normal(rng, B, H)),
        "c_prev": _normal(rng, B, H),
        **_prefixed("p_", p),
    }


@generator(MODULE, "gru_gates")
def gru_gates_case(rng):
    p, case = _gru_case(rng)
    gates = torch_gru_gates(gru_cell_from_params(p), case["x"], case["h_prev"])
    return {**case, "z": gates["z"], "r": gates["r"], "h_tilde": gates["n"]}


@generator(MODULE, "gru_step")
def gru_step_case(rng):
    p, case = _gru_case(rng)
    with torch.no_grad():
        case["h"] = gru_cell_from_params(p)(_t(case["x"]), _t(case["h_prev"])).numpy()
    return case


@generator(MODULE, "lstm_gates")
def lstm_gates_case(rng):
    p, case = _lstm_case(rng)
    gates = torch_lstm_gates(lstm_cell_from_params(p), case["x"], case["h_prev"], case["c_prev"])
    return {**case, "f": gates["f"], "i": gates["i"], "c_tilde": gates["g"], "o": gates["o"]}


@generator(MODULE, "lstm_step")
def lstm_step_case(rng):
    p, case = _lstm_case(rng)
    with torch.no_grad():
        h, c = lstm_cell_from_params(p)(_t(case["x"]), (_t(case["h_prev"]), _t(case["c_prev"])))
    return {**case, "h": h.numpy(), "c": c.numpy()}


@generator(MODULE, "lstm_step_backward")
def lstm_step_backward_case(rng):
    p, case = _lstm_case(rng)
    case.update(dh=_normal(rng, *case["h_prev"].shape), dc=_normal(rng, *case["c_prev"].shape))
    dx, dh_prev, dc_prev, grads = lstm_backward_oracle(
        p, case["x"], case["h_prev"], case["c_prev"], case["dh"], case["dc"]
    )
    _assert_finite_differences(p, case, {"x": dx, "h_prev": dh_prev, "c_prev": dc_prev, **grads}, rng)
    return {**case, "dx": dx, "dh_prev": dh_prev, "dc_prev": dc_prev, **_prefixed("d_", grads)}


def _assert_finite_differences(p, case, grads, rng, eps=1e-6):
    """Second opinion on the autograd oracle: centred differences at one entry of each array."""

    def loss(values):
        with torch.no_grad():
            h, c = lstm_cell_from_params({k: values[k] for k in LSTM_KEYS})(
                _t(values["x"]), (_t(values["h_prev"]), _t(values["c_prev"]))
            )
        return float((h.numpy() * case["dh"]).sum() + (c.numpy() * case["dc"]).sum())

    values = {**p, "x": case["x"], "h_prev": case["h_prev"], "c_prev": case["c_prev"]}
    for name, array in values.items():
        index = tuple(int(rng.integers(n)) for n in array.shape)
        shifted = []
        for sign in (1, -1):
            moved = {k: v.copy() for k, v in values.items()}
            moved[name][index] += sign * eps
            shifted.append(loss(moved))
        numeric = (shifted[0] - shifted[1]) / (2 * eps)
        if not np.isclose(numeric, grads[name][index], rtol=1e-5, atol=1e-7):
            raise AssertionError(f"oracle: autograd d/d{name} = {grads[name][index]}, finite differences {numeric}")


def _scratch_case(rng, kind: str):
    B, D, H = _sizes(rng)
    gates = 3 if kind == "gru" else 4
    weights = {
        "weight_ih": _normal(rng, gates * H, D, scale=0.6),
        "weight_hh": _normal(rng, gates * H, H, scale=0.6),
        "bias_ih": _normal(rng, gates * H, scale=0.3),
        "bias_hh": _normal(rng, gates * H, scale=0.3),
    }
    case = {k: _as_float32(v) for k, v in weights.items()}
    case.update(x=_as_float32(_normal(rng, B, D)), h=_as_float32(np.tanh(_normal(rng, B, H))))
    if kind == "lstm":
        case["c"] = _as_float32(_normal(rng, B, H))
    return case, cell_from_weights(kind, case)


@generator(MODULE, "GRUCellScratch")
def gru_cell_scratch_case(rng):
    case, cell = _scratch_case(rng, "gru")
    with torch.no_grad():
        case["h_next"] = cell(_t(case["x"]), _t(case["h"])).numpy()
        case["h_from_zero"] = cell(_t(case["x"])).numpy()
    return case


@generator(MODULE, "LSTMCellScratch")
def lstm_cell_scratch_case(rng):
    case, cell = _scratch_case(rng, "lstm")
    with torch.no_grad():
        case["h_next"], case["c_next"] = (t.numpy() for t in cell(_t(case["x"]), (_t(case["h"]), _t(case["c"]))))
        case["h_from_zero"], case["c_from_zero"] = (t.numpy() for t in cell(_t(case["x"])))
    return case


def lstm_from_case(case, dtype=torch.float64) -> torch.nn.LSTM:
    """The torch.nn.LSTM a stacked_lstm_forward case describes (weights stored as w_<name>)."""
    data = case if isinstance(case, dict) else vars(case)
    weights = {k[2:]: v for k, v in data.items() if k.startswith("w_")}
    lstm = torch.nn.LSTM(
        int(weights["weight_ih_l0"].shape[1]),
        int(weights["weight_hh_l0"].shape[1]),
        num_layers=int(data["num_layers"]),
        bidirectional=bool(data["bidirectional"]),
        batch_first=bool(data["batch_first"]),
    ).to(dtype)
    lstm.load_state_dict({k: _t(v).to(dtype) for k, v in weights.items()})
    return lstm.eval()


@generator(MODULE, "stacked_lstm_forward")
def stacked_lstm_forward_case(rng):
    """One LSTM, run from the given state (output, h_n, c_n) and from None (the same with _from_zero)."""
    T, B, D, H = (int(n) for n in rng.integers([2, 1, 2, 2], [6, 4, 5, 5]))
    layers, bidirectional, batch_first = int(rng.integers(1, 4)), bool(rng.random() < 0.75), bool(rng.integers(2))
    template = torch.nn.LSTM(D, H, num_layers=layers, bidirectional=bidirectional)
    case = {
        "num_layers": np.array(layers),
        "bidirectional": np.array(bidirectional),
        "batch_first": np.array(batch_first),
    }
    for name, value in template.state_dict().items():
        case["w_" + name] = _as_float32(_normal(rng, *value.shape, scale=0.5))
    directions = 2 if bidirectional else 1
    case["x"] = _as_float32(_normal(rng, *((B, T, D) if batch_first else (T, B, D))))
    case["h0"] = _as_float32(np.tanh(_normal(rng, layers * directions, B, H)))
    case["c0"] = _as_float32(_normal(rng, layers * directions, B, H))
    lstm = lstm_from_case(case)
    with torch.no_grad():
        for suffix, state in (("", (_t(case["h0"]), _t(case["c0"]))), ("_from_zero", None)):
            output, (h_n, c_n) = lstm(_t(case["x"]), state)
            case.update({"output" + suffix: output.numpy(), "h_n" + suffix: h_n.numpy(), "c_n" + suffix: c_n.numpy()})
    return case


KINDS = ("rnn", "gru", "lstm")


@generator(MODULE, "count_parameters")
def count_parameters_case(rng):
    """Six configurations, two per kind: the first deep and bidirectional with biases (where every
    usual slip shows), the second random. Expected counts come from torch's modules themselves."""
    rows = []
    for kind_index in (0, 1, 2, 0, 1, 2):
        deep = len(rows) < 3
        D, H = (int(n) for n in rng.integers([1, 1], [40, 40]))
        layers = int(rng.integers(2, 5)) if deep else int(rng.integers(1, 4))
        bidirectional = True if deep else bool(rng.integers(2))
        bias = True if deep else bool(rng.random() < 0.6)
        module = getattr(torch.nn, KINDS[kind_index].upper())(
            D, H, num_layers=layers, bidirectional=bidirectional, bias=bias
        )
        rows.append((kind_index, D, H, layers, bidirectional, bias, sum(p.numel() for p in module.parameters())))
    return {"configs": np.array(rows, dtype=np.int64)}

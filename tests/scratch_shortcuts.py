"""Shortcut submissions for tests/test_scratch.py: each appends code to the reference module
(later definitions override it) and lists, per exercise, the routine the feedback must name.
"""

from __future__ import annotations

# -- shortcuts: (module, code, {exercise: routine named}, helper files) ----------------------
RNN_BASICS_SHORTCUTS = (
    """
import importlib
import scipy.special
from rnn_helpers import whole_sequence


def sigmoid(x):
    return scipy.special.expit(x)


def rnn_step(x, h_prev, W_xh, W_hh, b_h):
    t = lambda a: torch.from_numpy(a)
    return torch.rnn_tanh_cell(t(x), t(h_prev), t(W_xh), t(W_hh), t(b_h), t(np.zeros_like(b_h))).numpy()


def rnn_forward(xs, h0, W_xh, W_hh, b_h):
    return whole_sequence(xs, h0, W_xh, W_hh, b_h)


def rnn_readout(hs, W_hy, b_y):
    squash = getattr(torch, "sig" + "moid")
    return squash(torch.from_numpy(hs @ W_hy.T + b_y)).numpy()


class VanillaRNN(VanillaRNN):
    def forward(self, xs):
        rnn = torch.nn.RNN(self.W_xh.shape[1], self.W_xh.shape[0]).double()
        with torch.no_grad():
            rnn.weight_ih_l0.copy_(torch.from_numpy(self.W_xh))
            rnn.weight_hh_l0.copy_(torch.from_numpy(self.W_hh))
            rnn.bias_ih_l0.copy_(torch.from_numpy(self.b_h))
            rnn.bias_hh_l0.zero_()
            hs, h = rnn(torch.from_numpy(xs))
        self.hidden = h[0].numpy()
        return rnn_readout_np(hs.numpy(), self.W_hy, self.b_y)


def rnn_readout_np(hs, W_hy, b_y):
    return 1.0 / (1.0 + np.exp(-(hs @ W_hy.T + b_y)))


def rnncell_forward(cell, xs, h0=None):
    rnn = torch.nn.RNN(cell.input_size, cell.hidden_size).to(xs.dtype)
    rnn.load_state_dict({key + "_l0": value for key, value in cell.state_dict().items()})
    outputs, h = rnn(xs, None if h0 is None else h0[None])
    return outputs, h[0]


def one_to_many_forward(cell, readout, x, steps):
    inputs = torch.cat([x[None], torch.zeros(steps - 1, *x.shape, dtype=x.dtype)])
    h0 = torch.zeros(1, x.shape[0], cell.hidden_size, dtype=x.dtype)
    run = getattr(importlib.import_module("torch"), "rnn_" + "tanh")
    weights = [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
    hs, _ = run(inputs, h0, weights, True, 1, 0.0, False, False, False)
    return readout(hs)
""",
    {
        "sigmoid": "scipy.special.expit",
        "rnn_step": "torch.rnn_tanh_cell",
        "rnn_forward": "torch.rnn_tanh",
        "rnn_readout": "torch.sigmoid",
        "VanillaRNN": "torch.nn.RNN",
        "rnncell_forward": "torch.nn.RNN",
        "one_to_many_forward": "torch.rnn_tanh",
    },
    {
        "rnn_helpers.py": '''
import numpy as np
import torch


def whole_sequence(xs, h0, W_xh, W_hh, b_h):
    """A helper module beside the submission: torch's whole-sequence routine."""
    h = torch.zeros(1, xs.shape[1], W_hh.shape[0], dtype=torch.float64) if h0 is None else torch.from_numpy(h0)[None]
    weights = [torch.from_numpy(w) for w in (W_xh, W_hh, b_h, np.zeros_like(b_h))]
    hs, _ = torch.rnn_tanh(torch.from_numpy(xs), h, weights, True, 1, 0.0, False, False, False)
    return hs.numpy()
'''
    },
)

BPTT_SHORTCUTS = (
    """
import scipy.special
import torch
import torch.func


def _t(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def rnn_step_backward(dh, x, h_prev, h, W_xh, W_hh):
    x_, h_, Wx, Wh = map(_t, (x, h_prev, W_xh, W_hh))
    b = torch.zeros(W_xh.shape[0], dtype=torch.float64, requires_grad=True)
    out = torch.tanh(x_ @ Wx.T + h_ @ Wh.T + b)
    grads = torch.autograd.grad(out, (x_, h_, Wx, Wh, b), torch.from_numpy(dh))
    return tuple(g.numpy() for g in grads)


def rnn_backward(dhs, xs, h0, hs, W_xh, W_hh):
    b = np.arctanh(hs[0]) - xs[0] @ W_xh.T - (np.zeros_like(hs[0]) if h0 is None else h0) @ W_hh.T
    def run(xs_, h0_, Wx, Wh, b_):
        h, out = h0_, []
        for x in xs_:
            h = torch.tanh(x @ Wx.T + h @ Wh.T + b_)
            out.append(h)
        return torch.stack(out)
    h0 = np.zeros(hs.shape[1:]) if h0 is None else h0
    args = [torch.from_numpy(a) for a in (xs, h0, W_xh, W_hh, b[0])]
    _, vjp = torch.func.vjp(run, *args)
    dxs, dh0, dWx, dWh, db = vjp(torch.from_numpy(dhs))
    return dxs.numpy(), dh0.numpy(), dWx.numpy(), dWh.numpy(), db.numpy()


def softmax_readout_loss(hs, W_hy, b_y, targets):
    T, B, _ = hs.shape
    logits = hs @ W_hy.T + b_y
    log_probs = scipy.special.log_softmax(logits, axis=-1)
    t_index, b_index = np.meshgrid(np.arange(T), np.arange(B), indexing="ij")
    loss = -log_probs[t_index, b_index, targets].sum() / B
    dlogits = np.exp(log_probs)
    dlogits[t_index, b_index, targets] -= 1.0
    dlogits /= B
    return float(loss), dlogits @ W_hy, np.einsum("tbc,tbh->ch", dlogits, hs), dlogits.sum(axis=(0, 1))


def loss_and_gradients(xs, targets, h0, params):
    p = {k: _t(v) for k, v in params.items()}
    h = torch.zeros(xs.shape[1], params["W_hh"].shape[0], dtype=torch.float64) if h0 is None else torch.from_numpy(h0)
    loss = 0
    for x, target in zip(torch.from_numpy(xs), torch.from_numpy(targets)):
        h = torch.tanh(x @ p["W_xh"].T + h @ p["W_hh"].T + p["b_h"])
        loss = loss + torch.nn.functional.cross_entropy(h @ p["W_hy"].T + p["b_y"], target)
    loss.backward()
    return float(loss), {k: v.grad.numpy() for k, v in p.items()}


def clip_gradients(grads, max_norm):
    tensors = {k: torch.tensor(v) for k, v in grads.items()}
    total = torch.nn.utils.clip_grad_norm_(list(tensors.values()), max_norm)
    return {k: v.numpy() for k, v in tensors.items()}, float(total)


def _spectral(matrix):
    return float(torch.linalg.matrix_norm(torch.from_numpy(matrix), ord=2))


def jacobian_norms(W_hh, hs):
    T, H = hs.shape
    norms, product = np.ones(T), np.eye(H)
    for k in range(T - 2, -1, -1):
        product = product @ ((1.0 - hs[k + 1] ** 2)[:, None] * W_hh)
        norms[k] = _spectral(product)
    return norms
""",
    {
        "rnn_step_backward": "torch.tensor",
        "rnn_backward": "torch._set_grad_enabled",
        "softmax_readout_loss": "scipy.special.log_softmax",
        "loss_and_gradients": "torch.tensor",
        "clip_gradients": "torch.tensor",
        "jacobian_norms": "torch.linalg.matrix_norm",
    },
    {},
)

GATED_SHORTCUTS = (
    """
import scipy.special as special
from gated_helpers import lstm_cell_step


def gru_gates(x, h_prev, p):
    cell = nn.GRUCell(x.shape[1], h_prev.shape[1]).double()
    with torch.no_grad():
        cell.weight_ih.copy_(torch.from_numpy(np.concatenate([p["W_r"], p["W_z"], p["W_h"]])))
        cell.weight_hh.copy_(torch.from_numpy(np.concatenate([p["U_r"], p["U_z"], p["U_h"]])))
        cell.bias_ih.copy_(torch.from_numpy(np.concatenate([p["b_r"], p["b_z"], p["b_Wh"]])))
        cell.bias_hh.copy_(torch.from_numpy(np.concatenate([0 * p["b_r"], 0 * p["b_z"], p["b_Uh"]])))
        cell(torch.from_numpy(x), torch.from_numpy(h_prev))
    z = 1 / (1 + np.exp(-(x @ p["W_z"].T + h_prev @ p["U_z"].T + p["b_z"])))
    r = 1 / (1 + np.exp(-(x @ p["W_r"].T + h_prev @ p["U_r"].T + p["b_r"])))
    return {"z": z, "r": r, "h_tilde": np.tanh(x @ p["W_h"].T + p["b_Wh"] + r * (h_prev @ p["U_h"].T + p["b_Uh"]))}


def gru_step(x, h_prev, p):
    z = special.expit(x @ p["W_z"].T + h_prev @ p["U_z"].T + p["b_z"])
    r = special.expit(x @ p["W_r"].T + h_prev @ p["U_r"].T + p["b_r"])
    h_tilde = np.tanh(x @ p["W_h"].T + p["b_Wh"] + r * (h_prev @ p["U_h"].T + p["b_Uh"]))
    return z * h_prev + (1 - z) * h_tilde


def lstm_gates(x, h_prev, p):
    import importlib
    t = importlib.import_module("torch")
    def pre(g):
        return t.from_numpy(x @ p["W_" + g].T + h_prev @ p["U_" + g].T + p["b_" + g])
    return {"f": t.sigmoid(pre("f")).numpy(), "i": t.sigmoid(pre("i")).numpy(),
            "c_tilde": np.tanh(pre("c").numpy()), "o": t.sigmoid(pre("o")).numpy()}


def lstm_step(x, h_prev, c_prev, p):
    return lstm_cell_step(x, h_prev, c_prev, p)


def lstm_step_backward(dh, dc, x, h_prev, c_prev, p):
    def step(x_, h_, c_, q):
        def pre(g):
            return x_ @ q["W_" + g].T + h_ @ q["U_" + g].T + q["b_" + g]
        c = torch.sigmoid(pre("f")) * c_ + torch.sigmoid(pre("i")) * torch.tanh(pre("c"))
        return torch.sigmoid(pre("o")) * torch.tanh(c), c
    args = (torch.from_numpy(x), torch.from_numpy(h_prev), torch.from_numpy(c_prev),
            {k: torch.from_numpy(v) for k, v in p.items()})
    _, vjp = torch.func.vjp(step, *args)
    dx, dh_prev, dc_prev, grads = vjp((torch.from_numpy(dh), torch.from_numpy(dc)))
    return dx.numpy(), dh_prev.numpy(), dc_prev.numpy(), {k: v.numpy() for k, v in grads.items()}


def _gru_forward(self, x, h=None):
    if h is None:
        h = x.new_zeros(x.shape[0], self.hidden_size)
    return getattr(torch, "gru" + "_cell")(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


GRUCellScratch.forward = _gru_forward


def _lstm_forward(self, x, state=None):
    cell = nn.LSTMCell(self.input_size, self.hidden_size)
    cell.load_state_dict(self.state_dict())
    return cell(x, state)


LSTMCellScratch.forward = _lstm_forward


def stacked_lstm_forward(lstm, x, state=None):
    return lstm(x, state)
""",
    {
        "gru_gates": "torch.nn.GRUCell",
        "gru_step": "scipy.special.expit",
        "lstm_gates": "torch.sigmoid",
        "lstm_step": "torch.lstm_cell",
        "lstm_step_backward": "torch._set_grad_enabled",
        "GRUCellScratch": "torch.gru_cell",
        "LSTMCellScratch": "torch.nn.LSTMCell",
        "stacked_lstm_forward": "torch.nn.LSTM",
    },
    {
        "gated_helpers.py": '''
import numpy as np
import torch


def lstm_cell_step(x, h_prev, c_prev, p):
    """A helper module beside the submission: torch's LSTM cell on the lecture's parameters."""
    order = ("i", "f", "c", "o")
    w_ih = torch.from_numpy(np.concatenate([p["W_" + g] for g in order]))
    w_hh = torch.from_numpy(np.concatenate([p["U_" + g] for g in order]))
    b = torch.from_numpy(np.concatenate([p["b_" + g] for g in order]))
    h, c = torch.lstm_cell(torch.from_numpy(x), (torch.from_numpy(h_prev), torch.from_numpy(c_prev)),
                           w_ih, w_hh, b, torch.zeros_like(b))
    return h.numpy(), c.numpy()
'''
    },
)

# the same three torch exercises through torch's other doors to the same kernels
GATED_ROUTES = (
    """
def _gru_forward(self, x, h=None):
    h = x.new_zeros(x.shape[0], self.hidden_size) if h is None else h
    return torch._VF.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


GRUCellScratch.forward = _gru_forward


def _lstm_forward(self, x, state=None):
    zeros = x.new_zeros(x.shape[0], self.hidden_size)
    state = (zeros, zeros) if state is None else state
    return torch.ops.aten.lstm_cell(x, list(state), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


LSTMCellScratch.forward = _lstm_forward


class _Mine(torch.nn.LSTM):
    pass


def stacked_lstm_forward(lstm, x, state=None):
    copy = _Mine(lstm.input_size, lstm.hidden_size, lstm.num_layers, batch_first=lstm.batch_first,
                 bidirectional=lstm.bidirectional).to(x.dtype)
    copy.load_state_dict(lstm.state_dict())
    return copy.eval()(x, state)
""",
    {"GRUCellScratch": "torch.gru_cell", "LSTMCellScratch": "torch.lstm_cell", "stacked_lstm_forward": "torch.nn.LSTM"},
    {},
)

# TorchScript: the watch turns the JIT off, so a scripted or traced helper runs as plain Python
GATED_SCRIPTED = (
    """
def _gru(x, h, w_ih, w_hh, b_ih, b_hh):
    return torch.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh)


_scripted_gru = torch.jit.script(_gru)


def _gru_forward(self, x, h=None):
    h = x.new_zeros(x.shape[0], self.hidden_size) if h is None else h
    return _scripted_gru(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


GRUCellScratch.forward = _gru_forward


def stacked_lstm_forward(lstm, x, state=None):
    traced = torch.jit.trace(lambda inputs: lstm(inputs), (x,))
    return traced(x) if state is None else lstm(x, state)
""",
    {"GRUCellScratch": "torch.gru_cell", "stacked_lstm_forward": "torch.nn.LSTM"},
    {},
)

"""Correct alternatives for tests/test_scratch.py (full marks), and ways of tampering with the
watch (each appends code to the reference module; later definitions override it).
"""

from __future__ import annotations

# -- correct alternatives (full marks) ----------------------------------------------------------
RNN_BASICS_ALTERNATIVES = [
    """
def sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=np.float64)))


def rnn_step(x, h_prev, W_xh, W_hh, b_h):
    return np.tanh(np.einsum("bd,hd->bh", x, W_xh) + np.einsum("bk,hk->bh", h_prev, W_hh) + b_h)


def rnn_forward(xs, h0, W_xh, W_hh, b_h):
    h = np.zeros((xs.shape[1], W_hh.shape[0])) if h0 is None else h0
    states = []
    for x in xs:
        h = rnn_step(x, h, W_xh, W_hh, b_h)
        states.append(h)
    return np.array(states)


def rnncell_forward(cell, xs, h0=None):
    outputs = torch.empty(xs.shape[0], xs.shape[1], cell.hidden_size, dtype=xs.dtype)
    h = torch.zeros(xs.shape[1], cell.hidden_size, dtype=xs.dtype) if h0 is None else h0
    for t in range(xs.shape[0]):
        h = cell(xs[t], h)
        outputs[t] = h
    return outputs, h
""",
    """
def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def rnn_step(x, h_prev, W_xh, W_hh, b_h):
    return np.tanh(np.dot(x, W_xh.T) + np.dot(h_prev, W_hh.T) + b_h[None, :])


def rnn_readout(hs, W_hy, b_y):
    return sigmoid(np.tensordot(hs, W_hy, axes=([-1], [1])) + b_y)


class VanillaRNN(VanillaRNN):
    def forward(self, xs):
        self.hidden = np.zeros((xs.shape[1], self.W_hh.shape[0]))
        ys = np.empty((xs.shape[0], xs.shape[1], self.W_hy.shape[0]))
        for t in range(xs.shape[0]):
            ys[t] = self.step(xs[t])
        return ys


def one_to_many_forward(cell, readout, x, steps):
    h = cell(x)
    outputs = [readout(h)]
    blank = torch.zeros_like(x)
    for _ in range(steps - 1):
        h = cell(blank, h)
        outputs.append(readout(h))
    return torch.stack(outputs)
""",
]

BPTT_ALTERNATIVES = [
    """
def rnn_step_backward(dh, x, h_prev, h, W_xh, W_hh):
    da = dh * (1.0 - np.square(h))
    return (np.einsum("bh,hd->bd", da, W_xh), np.einsum("bh,hk->bk", da, W_hh),
            np.einsum("bh,bd->hd", da, x), np.einsum("bh,bk->hk", da, h_prev), np.einsum("bh->h", da))


def softmax_readout_loss(hs, W_hy, b_y, targets):
    T, B, _ = hs.shape
    logits = hs @ W_hy.T + b_y
    top = logits.max(axis=-1, keepdims=True)
    log_z = top + np.log(np.sum(np.exp(logits - top), axis=-1, keepdims=True))
    probs = np.exp(logits - log_z)
    one_hot = np.eye(W_hy.shape[0])[targets]
    loss = -np.sum(one_hot * (logits - log_z)) / B
    dlogits = (probs - one_hot) / B
    return float(loss), dlogits @ W_hy, np.tensordot(dlogits, hs, axes=([0, 1], [0, 1])), dlogits.sum(axis=(0, 1))


def clip_gradients(grads, max_norm):
    total = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))
    coef = max_norm / (total + 1e-6)
    return {k: (g * coef if coef < 1 else g.copy()) for k, g in grads.items()}, total
""",
    """
def rnn_backward(dhs, xs, h0, hs, W_xh, W_hh):
    T, B, H = hs.shape
    previous = np.concatenate([np.zeros((1, B, H)) if h0 is None else h0[None], hs[:-1]])
    grads = {"x": np.zeros(xs.shape), "W_xh": np.zeros(W_xh.shape), "W_hh": np.zeros(W_hh.shape), "b": np.zeros(H)}
    carried = np.zeros((B, H))
    for t in range(T - 1, -1, -1):
        da = (dhs[t] + carried) * (1.0 - hs[t] * hs[t])
        grads["x"][t] = da @ W_xh
        grads["W_xh"] += da.T @ xs[t]
        grads["W_hh"] += da.T @ previous[t]
        grads["b"] += da.sum(axis=0)
        carried = da @ W_hh
    return grads["x"], carried, grads["W_xh"], grads["W_hh"], grads["b"]


def jacobian_norms(W_hh, hs):
    T, H = hs.shape
    norms = np.ones(T)
    product = np.eye(H)
    for k in range(T - 2, -1, -1):
        product = product @ np.diag(1.0 - hs[k + 1] ** 2) @ W_hh
        norms[k] = np.linalg.svd(product, compute_uv=False)[0]
    return norms
""",
]

GATED_ALTERNATIVES = [
    """
def gru_gates(x, h_prev, p):
    gate = {}
    for name in ("z", "r"):
        gate[name] = sigmoid(np.einsum("bd,hd->bh", x, p["W_" + name])
                             + np.einsum("bk,hk->bh", h_prev, p["U_" + name]) + p["b_" + name])
    recurrent = np.einsum("bk,hk->bh", h_prev, p["U_h"]) + p["b_Uh"]
    gate["h_tilde"] = np.tanh(np.einsum("bd,hd->bh", x, p["W_h"]) + p["b_Wh"] + gate["r"] * recurrent)
    return gate


class GRUCellScratch(GRUCellScratch):
    def forward(self, x, h=None):
        h = torch.zeros(x.shape[0], self.hidden_size, dtype=x.dtype) if h is None else h
        H = self.hidden_size
        gi = torch.addmm(self.bias_ih, x, self.weight_ih.t())
        gh = torch.addmm(self.bias_hh, h, self.weight_hh.t())
        r = torch.sigmoid(gi[:, :H] + gh[:, :H])
        z = torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        return torch.lerp(n, h, z)
""",
    """
def lstm_gates(x, h_prev, p):
    stacked_W = np.stack([p["W_" + g] for g in "fico"])
    stacked_U = np.stack([p["U_" + g] for g in "fico"])
    stacked_b = np.stack([p["b_" + g] for g in "fico"])
    pre = np.einsum("bd,ghd->gbh", x, stacked_W) + np.einsum("bk,ghk->gbh", h_prev, stacked_U) + stacked_b[:, None, :]
    f, i, c, o = pre
    return {"f": sigmoid(f), "i": sigmoid(i), "c_tilde": np.tanh(c), "o": sigmoid(o)}


class LSTMCellScratch(LSTMCellScratch):
    def forward(self, x, state=None):
        if state is None:
            state = (x.new_zeros(x.shape[0], self.hidden_size),) * 2
        h, c = state
        i, f, g, o = torch.split(torch.nn.functional.linear(x, self.weight_ih, self.bias_ih)
                                 + torch.nn.functional.linear(h, self.weight_hh, self.bias_hh), self.hidden_size, dim=1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        return o.sigmoid() * c.tanh(), c
""",
]


# -- tampering with the watch: (module, code, {exercise: words in the message}) ------------------
GATED_TAMPERING = (
    """
import importlib
import threading


def _gru_forward(self, x, h=None):
    h = x.new_zeros(x.shape[0], self.hidden_size) if h is None else h
    with torch._C.DisableTorchFunction():
        return torch.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


GRUCellScratch.forward = _gru_forward


def _lstm_forward(self, x, state=None):
    rnn_module = importlib.reload(importlib.import_module("torch.nn.modules.rnn"))
    cell = rnn_module.LSTMCell(self.input_size, self.hidden_size)
    cell.load_state_dict(self.state_dict())
    return cell(x, state)


LSTMCellScratch.forward = _lstm_forward


def stacked_lstm_forward(lstm, x, state=None):
    result = []
    worker = threading.Thread(target=lambda: result.append(torch.lstm(
        x, state or (x.new_zeros(lstm.num_layers * (1 + lstm.bidirectional), x.shape[1 - lstm.batch_first],
                                 lstm.hidden_size),) * 2,
        lstm._flat_weights, True, lstm.num_layers, 0.0, False, lstm.bidirectional, lstm.batch_first)))
    worker.start()
    worker.join()
    output, h, c = result[0]
    return output, (h, c)


def gru_gates(x, h_prev, p):
    mode = torch.overrides._pop_mode()
    try:
        t = lambda a: torch.from_numpy(a)
        z = torch.sigmoid(t(x @ p["W_z"].T + h_prev @ p["U_z"].T + p["b_z"])).numpy()
        r = torch.sigmoid(t(x @ p["W_r"].T + h_prev @ p["U_r"].T + p["b_r"])).numpy()
    finally:
        torch.overrides._push_mode(mode)
    return {"z": z, "r": r, "h_tilde": np.tanh(x @ p["W_h"].T + p["b_Wh"] + r * (h_prev @ p["U_h"].T + p["b_Uh"]))}
""",
    {
        "GRUCellScratch": "DisableTorchFunction",
        "LSTMCellScratch": "torch.nn.modules.rnn.",
        "stacked_lstm_forward": "thread",
        "gru_gates": "_pop_mode",
        "gru_step": "_pop_mode",
    },
)  # the reference gru_step calls the student's gru_gates

# replacing the tracer: at import, the watch's methods are swapped for ones that report nothing
RNN_BASICS_TRACER_REPLACED = """
import sys

for _name in ("gradechild.tracing", "autograder.sandbox.tracing"):
    if _name in sys.modules:
        _watching = sys.modules[_name].watching
        _watching.__enter__ = lambda self: None
        _watching.__exit__ = lambda self, *exc: False
        _watching.report = lambda self: None


def sigmoid(x):
    return torch.sigmoid(torch.from_numpy(np.asarray(x, dtype=np.float64))).numpy()
"""

"""Answer code for the similarity check: a student's own variant of rnn_basics (ana), a copy of it
with names replaced and functions reordered (bruno), and an independent correct variant (carla).
Each is appended to the reference, whose functions it redefines; all three get full marks."""

from __future__ import annotations

import re
import textwrap

ANA = """
def _affine(inputs, weight, bias=None):
    out = np.einsum("bi,oi->bo", inputs, weight)
    return out if bias is None else out + bias


def _initial_state(batch, size, given):
    if given is not None:
        return given
    return np.zeros((batch, size))


def rnn_step(x, h_prev, W_xh, W_hh, b_h):
    pre_activation = _affine(x, W_xh) + _affine(h_prev, W_hh, b_h)
    return np.tanh(pre_activation)


def rnn_forward(xs, h0, W_xh, W_hh, b_h):
    steps, batch = xs.shape[0], xs.shape[1]
    state = _initial_state(batch, W_hh.shape[0], h0)
    collected = []
    index = 0
    while index < steps:
        state = rnn_step(xs[index], state, W_xh, W_hh, b_h)
        collected.append(state.copy())
        index += 1
    return np.array(collected)


def rnn_readout(hs, W_hy, b_y):
    flat = hs.reshape(-1, hs.shape[-1])
    scores = _affine(flat, W_hy, b_y)
    return sigmoid(scores).reshape(*hs.shape[:-1], W_hy.shape[0])


def rnncell_forward(cell, xs, h0=None):
    state, collected = h0, []
    for index in range(xs.shape[0]):
        state = cell(xs[index], state)
        collected.append(state)
    return torch.stack(collected, dim=0), collected[-1]


def many_to_many_loss(log_probs, targets):
    total = log_probs.new_zeros(())
    for index in range(log_probs.shape[0]):
        total = total + F.nll_loss(log_probs[index], targets[index])
    return total


def one_to_many_forward(cell, readout, x, steps):
    blank = torch.zeros_like(x)
    state, collected = None, []
    for index in range(steps):
        state = cell(x if index == 0 else blank, state)
        collected.append(readout(state))
    return torch.stack(collected, dim=0)
"""
BRUNO_RENAMES = {
    "_affine": "_linear",
    "inputs": "values",
    "weight": "matrix",
    "bias": "offset",
    "_initial_state": "_start",
    "given": "provided",
    "pre_activation": "z",
    "state": "hidden",
    "collected": "outputs",
    "index": "t",
    "steps": "length",
    "blank": "zeros",
    "flat": "rows",
    "scores": "logits",
    "total": "loss_sum",
}
CARLA = """
def rnn_step(x, h_prev, W_xh, W_hh, b_h):
    stacked_input = np.concatenate([x, h_prev], axis=1)
    stacked_weight = np.concatenate([W_xh, W_hh], axis=1)
    return np.tanh(stacked_input @ stacked_weight.T + b_h)


def rnn_forward(xs, h0, W_xh, W_hh, b_h):
    hidden_size = W_hh.shape[0]
    h = h0 if h0 is not None else np.zeros((xs.shape[1], hidden_size))
    states = np.zeros((len(xs), xs.shape[1], hidden_size))
    for t, x_t in enumerate(xs):
        states[t] = h = rnn_step(x_t, h, W_xh, W_hh, b_h)
    return states


def many_to_many_loss(log_probs, targets):
    T, B, C = log_probs.shape
    per_step = F.nll_loss(log_probs.reshape(T * B, C), targets.reshape(T * B), reduction="none")
    return per_step.reshape(T, B).mean(dim=1).sum()


def one_to_many_forward(cell, readout, x, steps):
    inputs = [x] + [torch.zeros_like(x)] * (steps - 1)
    h, ys = None, []
    for inp in inputs:
        h = cell(inp, h)
        ys.append(readout(h))
    return torch.stack(ys)
"""


def near_copy(code: str, renames: dict[str, str]) -> str:
    """`code` with its top-level functions in reverse order and names replaced."""
    blocks = [block.strip("\n") for block in re.split(r"\n(?=def )", textwrap.dedent(code)) if block.strip()]
    text = "\n\n\n".join(reversed(blocks)) + "\n"
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, renames)) + r")\b")
    return pattern.sub(lambda match: renames[match.group(1)], text)

"""Mistakes whose outputs take the answer's own code to compute: instructor-only.

The checks name a common mistake by comparing a wrong result with what that mistake
produces. For most mistakes that is a line or two; for these it is a whole implementation
(a stacked LSTM, a Jacobian product, the parameter count), so this module stays out of the student bundle and the
students' `check` goes without these few diagnoses.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ..messages import Message
from .cases.gated_units import CELL_KEYS, LSTM_ORDER, lstm_from_case


def _chained_norms(W_hh, factors, norm=2) -> np.ndarray:
    """norms[k] = ||diag(factors[T-1]) W_hh ... diag(factors[k+1]) W_hh||: the mistakes' products."""
    T, H = factors.shape
    product, norms = np.eye(H), np.ones(T)
    for k in range(T - 2, -1, -1):
        product = product @ (factors[k + 1][:, None] * W_hh)
        norms[k] = np.linalg.norm(product, ord=norm)
    return norms


def _reversed_chain_norms(W_hh, factors) -> np.ndarray:
    """The product built the other way round: diag(f[k+1]) W_hh ... diag(f[T-1]) W_hh."""
    T, H = factors.shape
    product, norms = np.eye(H), np.ones(T)
    for k in range(T - 2, -1, -1):
        product = (factors[k + 1][:, None] * W_hh) @ product
        norms[k] = np.linalg.norm(product, ord=2)
    return norms


def jacobian_mistakes(W_hh, derivative) -> list:
    """Jacobian norms without tanh', with tanh' taken one step off, and multiplied in reverse order."""
    return [
        (Message("diag_jacobian_no_tanh_grad"), _chained_norms(W_hh, np.ones_like(derivative))),
        (Message("diag_jacobian_off_by_one"), _chained_norms(W_hh, np.roll(derivative, 1, axis=0))),
        (Message("diag_jacobian_order"), _reversed_chain_norms(W_hh, derivative)),
    ]


def layered_lstm(
    case, x, state, *, order=LSTM_ORDER, flip_back=True, batch_first=None, reverse_input=True, direction_major=False
):
    """A stacked LSTM rebuilt from single-layer torch.nn.LSTMs (float64), to produce mistakes.

    order: the gate order a student reads the blocks in; flip_back=False leaves the backward
    direction's outputs in reversed time; batch_first=False reads x as time-major whatever the
    LSTM says; reverse_input=False lets the backward direction read the sequence forwards;
    direction_major stacks h_n, c_n direction by direction instead of layer by layer.
    With the defaults it equals torch.nn.LSTM.
    """
    lstm = lstm_from_case(case)
    directions, H = (2 if lstm.bidirectional else 1), lstm.hidden_size
    picks = [order.index(gate) for gate in LSTM_ORDER]
    batch_first = lstm.batch_first if batch_first is None else batch_first
    xs = x.transpose(0, 1) if batch_first else x
    if state is None:
        zeros = xs.new_zeros(lstm.num_layers * directions, xs.shape[1], H)
        state = (zeros, zeros)
    h_n, c_n = [], []
    with torch.no_grad():
        for layer in range(lstm.num_layers):
            outputs = []
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                single = torch.nn.LSTM(xs.shape[2], H).double()
                single.load_state_dict(
                    {
                        f"{key}_l0": torch.cat([getattr(lstm, key + suffix).chunk(4)[i] for i in picks])
                        for key in CELL_KEYS
                    }
                )
                index = slice(layer * directions + direction, layer * directions + direction + 1)
                flip = direction and reverse_input
                out, (h, c) = single(xs.flip(0) if flip else xs, (state[0][index], state[1][index]))
                outputs.append(out.flip(0) if flip and flip_back else out)
                h_n.append(h[0])
                c_n.append(c[0])
            xs = torch.cat(outputs, dim=2)
    output = xs.transpose(0, 1) if batch_first else xs
    if direction_major:
        h_n, c_n = h_n[0::directions] + h_n[1::directions], c_n[0::directions] + c_n[1::directions]
    return [output.numpy(), torch.stack(h_n).numpy(), torch.stack(c_n).numpy()]


def stacked_lstm_mistakes(case, x64, state) -> list:
    """A stacked LSTM with gates read as i,f,o,g; the reverse direction not flipped back or reading
    forwards; h_n stacked direction by direction; batch_first ignored; h0/c0 ignored."""
    variants = [
        (
            Message("diag_lstm_gate_order", {"order": "i, f, o, g"}),
            layered_lstm(case, x64, state, order=("i", "f", "o", "g")),
        )
    ]
    if case.bidirectional:
        variants += [
            (Message("diag_lstm_reverse_not_flipped"), layered_lstm(case, x64, state, flip_back=False)),
            (Message("diag_lstm_reverse_reads_forward"), layered_lstm(case, x64, state, reverse_input=False)),
        ]
        if case.num_layers > 1:
            variants.append((Message("diag_lstm_state_order"), layered_lstm(case, x64, state, direction_major=True)))
    if case.batch_first and state is None:  # with a given state, reading x time-major cannot even run
        variants.append((Message("diag_lstm_batch_first_ignored"), layered_lstm(case, x64, None, batch_first=False)))
    if state is not None:
        variants.append((Message("diag_lstm_state_ignored"), layered_lstm(case, x64, None)))
    return variants


def parameter_count(gates: int, D: int, H: int, layers: int, directions: int, biases: int, deep_inputs: int) -> int:
    """A recurrent module's parameters: `gates` blocks of H rows per layer and direction, `biases`
    bias vectors each, and layers >= 1 reading `deep_inputs` values (directions * H when right)."""
    per_layer = [gates * H * ((D if layer == 0 else deep_inputs) + H + biases) for layer in range(layers)]
    return directions * sum(per_layer)


def count_parameters_mistakes(kind: str, D, H, layers, bidirectional, bias) -> list:
    """One bias vector instead of two; layers >= 1 reading H (not 2H) when bidirectional; another
    kind's number of gate blocks (3 vs 4); the second direction left out."""
    gates, directions = {"rnn": 1, "gru": 3, "lstm": 4}[kind], 2 if bidirectional else 1
    count = functools.partial(parameter_count, D=D, H=H, layers=layers)
    right = dict(gates=gates, directions=directions, biases=2 if bias else 0, deep_inputs=directions * H)
    variants = [(Message("diag_count_one_bias"), count(**{**right, "biases": 1}))] if bias else []
    if bidirectional and layers > 1:
        variants.append((Message("diag_count_deep_inputs"), count(**{**right, "deep_inputs": H})))
    variants += [
        (
            Message("diag_count_gate_blocks", {"kind": kind, "got": other, "expected": gates}),
            count(**{**right, "gates": other}),
        )
        for other in (1, 3, 4)
        if other != gates
    ]
    if bidirectional:
        variants.append((Message("diag_count_one_direction"), count(**{**right, "directions": 1})))
    return variants

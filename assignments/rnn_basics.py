# Gerado a partir da solução de referência por `make stubs`: complete cada exercício.
"""Recurrent networks from scratch: the vanilla RNN, RNNCell and the RNN taxonomy.

Lecture 4 (Unidade Recorrente, RNNCell, Taxonomia). Sequences are time-major:
xs has shape (T, B, D) = (seq_len, batch, input_size). Weights use PyTorch's layout
(out_features, in_features), so a batch of row vectors x is multiplied as x @ W.T.
Nothing a function receives is modified in place.
"""
import contextlib

import numpy as np
import torch
import torch.nn.functional as F


def sigmoid(x):
    """Elementwise logistic function, sigma(x) = 1 / (1 + exp(-x)).

    Finite and warning-free for any float input, x = +-1000 included.
    x: array of any shape -> array of the same shape.
    """
    raise NotImplementedError('Dica: exp(-|x|) nunca estoura; trate x >= 0 e x < 0 separadamente.')


def rnn_step(x, h_prev, W_xh, W_hh, b_h):
    """One step of a vanilla RNN: h = tanh(x W_xh^T + h_prev W_hh^T + b_h).

    x: (B, D), h_prev: (B, H), W_xh: (H, D), W_hh: (H, H), b_h: (H,) -> h: (B, H)
    """
    raise NotImplementedError('Dica: cabe em uma linha; os pesos têm forma (saída, entrada), então multiplique por W.T.')


def rnn_forward(xs, h0, W_xh, W_hh, b_h):
    """Run `rnn_step` over a whole sequence.

    xs: (T, B, D), h0: (B, H) or None (zeros) -> hs: (T, B, H), hs[t] the state after step t
    """
    raise NotImplementedError('Dica: comece de h0 (ou zeros (B, H)), chame rnn_step para cada t e empilhe os estados.')


def rnn_readout(hs, W_hy, b_y):
    """Output layer y = sigmoid(h W_hy^T + b_y), applied over the last axis.

    hs: (..., H), W_hy: (O, H), b_y: (O,) -> ys: (..., O)
    """
    raise NotImplementedError('Dica: a mesma conta de uma camada linear, seguida da sua sigmoid.')


class VanillaRNN:
    """The lecture's RNN: h_t = tanh(x_t W_xh^T + h_{t-1} W_hh^T + b_h), y_t = sigmoid(h_t W_hy^T + b_y).

    Attributes: W_xh (H, D), W_hh (H, H), b_h (H,), W_hy (O, H), b_y (O,), and
    hidden, the current state (B, H). `forward` starts from a zero state on every call.
    """

    def __init__(self, input_size, hidden_size, output_size, rng=None):
        raise NotImplementedError('Dica: pesos pequenos e aleatórios (rng.normal * 0.1), biases e hidden zerados.')

    def step(self, x):
        """One time step from self.hidden: x (B, D) -> y (B, O); updates self.hidden (B, H)."""
        raise NotImplementedError('Dica: rnn_step a partir de self.hidden, guarde o novo estado e aplique rnn_readout.')

    def forward(self, xs):
        """Whole sequence from a zero state: xs (T, B, D) -> ys (T, B, O)."""
        raise NotImplementedError('Dica: zere self.hidden com forma (B, H) e chame step para cada t.')


def rnncell_forward(cell, xs, h0=None):
    """Loop a torch.nn.RNNCell over time.

    cell: torch.nn.RNNCell(D, H), xs: (T, B, D), h0: (B, H) or None
    -> (outputs (T, B, H), h_T (B, H)), like torch.nn.RNN's (output, h_n[0]).
    """
    raise NotImplementedError('Dica: h = cell(xs[t], h) para cada t; torch.stack junta as saídas.')


def many_to_one_loss(log_probs, targets):
    """Many-to-one: the mean negative log-likelihood of the **last** step only.

    log_probs: (T, B, C) log-probabilities, targets: (B,) class indices -> scalar tensor
    """
    raise NotImplementedError('Dica: F.nll_loss sobre log_probs[-1].')


def many_to_many_loss(log_probs, targets):
    """Many-to-many: the sum over t of the batch-mean negative log-likelihood at step t.

    log_probs: (T, B, C), targets: (T, B) -> scalar tensor
    """
    raise NotImplementedError('Dica: some F.nll_loss(log_probs[t], targets[t]) para todo t.')


def one_to_many_forward(cell, readout, x, steps):
    """One-to-many: one input at step 0, zeros afterwards; read out every state.

    cell: an RNN cell (D -> H), readout: a module (H -> O), x: (B, D), steps: int
    -> (steps, B, O), readout(h_t) stacked over t = 0 .. steps-1
    """
    raise NotImplementedError('Dica: a entrada é x em t=0 e torch.zeros_like(x) depois; aplique readout a cada h.')


TAXONOMY = {
    # The taxonomy: the shape of each problem. Replace every None by "one_to_many", "many_to_one",
    # "many_to_many" (a sequence read, then another written, of another length) or
    # "many_to_many_synced" (one output at every input step).
    "image captioning": None,
    "sentiment analysis": None,
    "speech to text": None,
    "named-entity recognition": None,
    "name to nationality": None,
    "forecasting the next values": None,
    "digit read row by row": None,
}
with contextlib.suppress(NotImplementedError):   # given: the rest of the module works before you answer
    raise NotImplementedError('Dica: pergunte-se quantas entradas e quantas saídas cada problema tem, e se há uma saída por passo de entrada.')

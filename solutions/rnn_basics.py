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
    # Dica: exp(-|x|) nunca estoura; trate x >= 0 e x < 0 separadamente.
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    ### END SOLUTION


def rnn_step(x, h_prev, W_xh, W_hh, b_h):
    """One step of a vanilla RNN: h = tanh(x W_xh^T + h_prev W_hh^T + b_h).

    x: (B, D), h_prev: (B, H), W_xh: (H, D), W_hh: (H, H), b_h: (H,) -> h: (B, H)
    """
    # Dica: cabe em uma linha; os pesos têm forma (saída, entrada), então multiplique por W.T.
    ### BEGIN SOLUTION
    return np.tanh(x @ W_xh.T + h_prev @ W_hh.T + b_h)
    ### END SOLUTION


def rnn_forward(xs, h0, W_xh, W_hh, b_h):
    """Run `rnn_step` over a whole sequence.

    xs: (T, B, D), h0: (B, H) or None (zeros) -> hs: (T, B, H), hs[t] the state after step t
    """
    # Dica: comece de h0 (ou zeros (B, H)), chame rnn_step para cada t e empilhe os estados.
    ### BEGIN SOLUTION
    T, B, _ = xs.shape
    h = np.zeros((B, W_hh.shape[0])) if h0 is None else h0
    hs = np.empty((T, B, W_hh.shape[0]))
    for t in range(T):
        h = rnn_step(xs[t], h, W_xh, W_hh, b_h)
        hs[t] = h
    return hs
    ### END SOLUTION


def rnn_readout(hs, W_hy, b_y):
    """Output layer y = sigmoid(h W_hy^T + b_y), applied over the last axis.

    hs: (..., H), W_hy: (O, H), b_y: (O,) -> ys: (..., O)
    """
    # Dica: a mesma conta de uma camada linear, seguida da sua sigmoid.
    ### BEGIN SOLUTION
    return sigmoid(hs @ W_hy.T + b_y)
    ### END SOLUTION


class VanillaRNN:
    """The lecture's RNN: h_t = tanh(x_t W_xh^T + h_{t-1} W_hh^T + b_h), y_t = sigmoid(h_t W_hy^T + b_y).

    Attributes: W_xh (H, D), W_hh (H, H), b_h (H,), W_hy (O, H), b_y (O,), and
    hidden, the current state (B, H). `forward` starts from a zero state on every call.
    """

    def __init__(self, input_size, hidden_size, output_size, rng=None):
        # Dica: pesos pequenos e aleatórios (rng.normal * 0.1), biases e hidden zerados.
        ### BEGIN SOLUTION
        rng = np.random.default_rng() if rng is None else rng
        self.W_xh = rng.normal(0.0, 0.1, (hidden_size, input_size))
        self.W_hh = rng.normal(0.0, 0.1, (hidden_size, hidden_size))
        self.b_h = np.zeros(hidden_size)
        self.W_hy = rng.normal(0.0, 0.1, (output_size, hidden_size))
        self.b_y = np.zeros(output_size)
        self.hidden = np.zeros((1, hidden_size))
        ### END SOLUTION

    def step(self, x):
        """One time step from self.hidden: x (B, D) -> y (B, O); updates self.hidden (B, H)."""
        # Dica: rnn_step a partir de self.hidden, guarde o novo estado e aplique rnn_readout.
        ### BEGIN SOLUTION
        self.hidden = rnn_step(x, self.hidden, self.W_xh, self.W_hh, self.b_h)
        return rnn_readout(self.hidden, self.W_hy, self.b_y)
        ### END SOLUTION

    def forward(self, xs):
        """Whole sequence from a zero state: xs (T, B, D) -> ys (T, B, O)."""
        # Dica: zere self.hidden com forma (B, H) e chame step para cada t.
        ### BEGIN SOLUTION
        self.hidden = np.zeros((xs.shape[1], self.W_hh.shape[0]))
        return np.stack([self.step(x) for x in xs])
        ### END SOLUTION


def rnncell_forward(cell, xs, h0=None):
    """Loop a torch.nn.RNNCell over time.

    cell: torch.nn.RNNCell(D, H), xs: (T, B, D), h0: (B, H) or None
    -> (outputs (T, B, H), h_T (B, H)), like torch.nn.RNN's (output, h_n[0]).
    """
    # Dica: h = cell(xs[t], h) para cada t; torch.stack junta as saídas.
    ### BEGIN SOLUTION
    h = h0
    outputs = []
    for x in xs:
        h = cell(x, h)
        outputs.append(h)
    return torch.stack(outputs), h
    ### END SOLUTION


def many_to_one_loss(log_probs, targets):
    """Many-to-one: the mean negative log-likelihood of the **last** step only.

    log_probs: (T, B, C) log-probabilities, targets: (B,) class indices -> scalar tensor
    """
    # Dica: F.nll_loss sobre log_probs[-1].
    ### BEGIN SOLUTION
    return F.nll_loss(log_probs[-1], targets)
    ### END SOLUTION


def many_to_many_loss(log_probs, targets):
    """Many-to-many: the sum over t of the batch-mean negative log-likelihood at step t.

    log_probs: (T, B, C), targets: (T, B) -> scalar tensor
    """
    # Dica: some F.nll_loss(log_probs[t], targets[t]) para todo t.
    ### BEGIN SOLUTION
    return sum(F.nll_loss(step, target) for step, target in zip(log_probs, targets))
    ### END SOLUTION


def one_to_many_forward(cell, readout, x, steps):
    """One-to-many: one input at step 0, zeros afterwards; read out every state.

    cell: an RNN cell (D -> H), readout: a module (H -> O), x: (B, D), steps: int
    -> (steps, B, O), readout(h_t) stacked over t = 0 .. steps-1
    """
    # Dica: a entrada é x em t=0 e torch.zeros_like(x) depois; aplique readout a cada h.
    ### BEGIN SOLUTION
    h = None
    outputs = []
    for t in range(steps):
        h = cell(x if t == 0 else torch.zeros_like(x), h)
        outputs.append(readout(h))
    return torch.stack(outputs)
    ### END SOLUTION


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
    # Dica: pergunte-se quantas entradas e quantas saídas cada problema tem, e se há uma saída por passo de entrada.
    ### BEGIN SOLUTION
    TAXONOMY.update({
        "image captioning": "one_to_many",
        "sentiment analysis": "many_to_one",
        "speech to text": "many_to_many",
        "named-entity recognition": "many_to_many_synced",
        "name to nationality": "many_to_one",
        "forecasting the next values": "many_to_one",
        "digit read row by row": "many_to_one",
    })
    ### END SOLUTION

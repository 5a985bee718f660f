"""Gated recurrent units: GRU and LSTM gates, their torch modules, stacked bidirectional LSTMs.

Lecture 4 (GRU, LSTM). The numpy parts use float64 arrays and parameters as plain dicts in
the lecture's notation: W_* input weights (H, D), U_* recurrent weights (H, H), b_* (H,).
GRU: W_z U_z b_z, W_r U_r b_r, W_h U_h b_Wh b_Uh. LSTM: W_f U_f b_f, W_i U_i b_i,
W_c U_c b_c, W_o U_o b_o. The torch parts follow torch.nn.GRUCell / LSTMCell exactly,
including their gate orders (r, z, n) and (i, f, g, o). Nothing received is modified.
"""
import numpy as np
import torch
from torch import nn

def sigmoid(x):
    """Given: a stable logistic function, 1 / (1 + exp(-x)) = (1 + tanh(x / 2)) / 2."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _numpy_parameters(cell, count):
    """Given: a cell's weights as float64 arrays, split into `count` gate blocks."""
    def blocks(tensor):
        if tensor is None:
            return [np.zeros(cell.hidden_size)] * count
        return np.split(tensor.detach().cpu().double().numpy(), count)
    return (blocks(cell.weight_ih), blocks(cell.weight_hh), blocks(cell.bias_ih), blocks(cell.bias_hh))


def gru_params_from_torch(cell):
    """Given (not an exercise): the parameters of a torch.nn.GRUCell in the lecture's notation.

    torch stacks the gates in the order r, z, n (n is the candidate h_tilde) and keeps two
    biases; r and z only ever use their sum, while n keeps b_Wh and b_Uh apart because the
    reset gate multiplies (h U_h^T + b_Uh). With these, gru_step(x, h, p) == cell(x, h).
    """
    (W_r, W_z, W_h), (U_r, U_z, U_h), (bi_r, bi_z, bi_n), (bh_r, bh_z, bh_n) = _numpy_parameters(cell, 3)
    return {"W_z": W_z, "U_z": U_z, "b_z": bi_z + bh_z, "W_r": W_r, "U_r": U_r, "b_r": bi_r + bh_r,
            "W_h": W_h, "U_h": U_h, "b_Wh": bi_n, "b_Uh": bh_n}


def lstm_params_from_torch(cell):
    """Given (not an exercise): the parameters of a torch.nn.LSTMCell in the lecture's notation.

    torch stacks the gates in the order i, f, g, o (g is the candidate c_tilde); each
    gate's two biases are summed. With these, lstm_step(x, h, c, p) == cell(x, (h, c)).
    """
    (W_i, W_f, W_c, W_o), (U_i, U_f, U_c, U_o), bias_ih, bias_hh = _numpy_parameters(cell, 4)
    b_i, b_f, b_c, b_o = (a + b for a, b in zip(bias_ih, bias_hh))
    return {"W_f": W_f, "U_f": U_f, "b_f": b_f, "W_i": W_i, "U_i": U_i, "b_i": b_i,
            "W_c": W_c, "U_c": U_c, "b_c": b_c, "W_o": W_o, "U_o": U_o, "b_o": b_o}


def gru_gates(x, h_prev, p):
    """The GRU's update gate z, reset gate r and candidate state h_tilde (PyTorch's variant).

    z = sigmoid(x W_z^T + h_prev U_z^T + b_z)
    r = sigmoid(x W_r^T + h_prev U_r^T + b_r)
    h_tilde = tanh(x W_h^T + b_Wh + r * (h_prev U_h^T + b_Uh))
    x: (B, D), h_prev: (B, H), p: dict of GRU parameters -> dict z, r, h_tilde, each (B, H)
    """
    # Dica: o reset r multiplica (h_prev @ U_h.T + b_Uh) inteiro, depois da multiplicação por U_h.
    ### BEGIN SOLUTION
    z = sigmoid(x @ p["W_z"].T + h_prev @ p["U_z"].T + p["b_z"])
    r = sigmoid(x @ p["W_r"].T + h_prev @ p["U_r"].T + p["b_r"])
    h_tilde = np.tanh(x @ p["W_h"].T + p["b_Wh"] + r * (h_prev @ p["U_h"].T + p["b_Uh"]))
    return {"z": z, "r": r, "h_tilde": h_tilde}
    ### END SOLUTION


def gru_step(x, h_prev, p):
    """One GRU step: h = z * h_prev + (1 - z) * h_tilde (PyTorch's convention).

    x: (B, D), h_prev: (B, H) -> h: (B, H)
    """
    # Dica: z perto de 1 mantém o estado anterior.
    ### BEGIN SOLUTION
    gates = gru_gates(x, h_prev, p)
    return gates["z"] * h_prev + (1.0 - gates["z"]) * gates["h_tilde"]
    ### END SOLUTION


def lstm_gates(x, h_prev, p):
    """The LSTM's forget f, input i, candidate c_tilde and output o gates.

    f, i, o = sigmoid(x W_*^T + h_prev U_*^T + b_*); c_tilde = tanh(x W_c^T + h_prev U_c^T + b_c)
    x: (B, D), h_prev: (B, H), p: dict of LSTM parameters -> dict f, i, c_tilde, o, each (B, H)
    """
    # Dica: quatro camadas lineares de x e h_prev; só c_tilde usa tanh.
    ### BEGIN SOLUTION
    def pre(gate):
        return x @ p["W_" + gate].T + h_prev @ p["U_" + gate].T + p["b_" + gate]
    return {"f": sigmoid(pre("f")), "i": sigmoid(pre("i")), "c_tilde": np.tanh(pre("c")), "o": sigmoid(pre("o"))}
    ### END SOLUTION


def lstm_step(x, h_prev, c_prev, p):
    """One LSTM step: c = f * c_prev + i * c_tilde, h = o * tanh(c).

    x: (B, D), h_prev, c_prev: (B, H) -> (h, c), each (B, H)
    """
    # Dica: use lstm_gates; a saída h passa a memória c por uma tanh.
    ### BEGIN SOLUTION
    g = lstm_gates(x, h_prev, p)
    c = g["f"] * c_prev + g["i"] * g["c_tilde"]
    return g["o"] * np.tanh(c), c
    ### END SOLUTION


def lstm_step_backward(dh, dc, x, h_prev, c_prev, p):
    """Backward pass of `lstm_step`.

    dh, dc: (B, H), the gradients reaching this step's h and c (dc from the next step).
    -> (dx (B, D), dh_prev (B, H), dc_prev (B, H), grads: dict keyed like p, same shapes)
    """
    # Dica: c recebe dc e também dh através de h = o * tanh(c); as derivadas são σ(1-σ) nas portas e 1-tanh² no candidato.
    ### BEGIN SOLUTION
    g = lstm_gates(x, h_prev, p)
    c = g["f"] * c_prev + g["i"] * g["c_tilde"]
    tanh_c = np.tanh(c)
    dc_total = dc + dh * g["o"] * (1.0 - tanh_c ** 2)
    dpre = {"f": dc_total * c_prev * g["f"] * (1.0 - g["f"]),
            "i": dc_total * g["c_tilde"] * g["i"] * (1.0 - g["i"]),
            "c": dc_total * g["i"] * (1.0 - g["c_tilde"] ** 2),
            "o": dh * tanh_c * g["o"] * (1.0 - g["o"])}
    dx, dh_prev, grads = np.zeros(x.shape), np.zeros(h_prev.shape), {}
    for gate, da in dpre.items():
        dx += da @ p["W_" + gate]
        dh_prev += da @ p["U_" + gate]
        grads.update({"W_" + gate: da.T @ x, "U_" + gate: da.T @ h_prev, "b_" + gate: da.sum(axis=0)})
    return dx, dh_prev, dc_total * g["f"], grads
    ### END SOLUTION


class GRUCellScratch(nn.Module):
    """torch.nn.GRUCell from elementwise operations, with torch's parameter names and shapes.

    weight_ih (3H, D), weight_hh (3H, H), bias_ih (3H,), bias_hh (3H,), gates stacked r, z, n,
    so a GRUCell's state_dict loads into it. forward(x (B, D), h (B, H) or None) -> h (B, H).
    """

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        # Dica: quatro nn.Parameter com os nomes e formas do GRUCell; inicialize uniforme em ±1/sqrt(H).
        ### BEGIN SOLUTION
        bound = hidden_size ** -0.5
        shapes = {"weight_ih": (3 * hidden_size, input_size), "weight_hh": (3 * hidden_size, hidden_size),
                  "bias_ih": (3 * hidden_size,), "bias_hh": (3 * hidden_size,)}
        for name, shape in shapes.items():
            setattr(self, name, nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))
        ### END SOLUTION

    def forward(self, x, h=None):
        # Dica: .chunk(3, dim=1) separa r, z, n; o reset multiplica a parte recorrente de n, bias incluído.
        ### BEGIN SOLUTION
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        i_r, i_z, i_n = (x @ self.weight_ih.T + self.bias_ih).chunk(3, dim=1)
        h_r, h_z, h_n = (h @ self.weight_hh.T + self.bias_hh).chunk(3, dim=1)
        r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h
        ### END SOLUTION


class LSTMCellScratch(nn.Module):
    """torch.nn.LSTMCell from elementwise operations, with torch's parameter names and shapes.

    weight_ih (4H, D), weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,), gates stacked
    i, f, g, o. forward(x (B, D), state (h, c) or None) -> (h, c), each (B, H).
    """

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        # Dica: como no GRUCellScratch, com 4H linhas.
        ### BEGIN SOLUTION
        bound = hidden_size ** -0.5
        shapes = {"weight_ih": (4 * hidden_size, input_size), "weight_hh": (4 * hidden_size, hidden_size),
                  "bias_ih": (4 * hidden_size,), "bias_hh": (4 * hidden_size,)}
        for name, shape in shapes.items():
            setattr(self, name, nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))
        ### END SOLUTION

    def forward(self, x, state=None):
        # Dica: a ordem das portas no PyTorch é i, f, g, o.
        ### BEGIN SOLUTION
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        h, c = state
        gates = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
        ### END SOLUTION


def stacked_lstm_forward(lstm, x, state=None):
    """Reproduce lstm(x, state) for a torch.nn.LSTM in eval mode, from its parameters alone.

    Any num_layers, bidirectional or not, batch_first or not (proj_size = 0, with biases).
    The parameters of layer l are weight_ih_l{l}, weight_hh_l{l}, bias_ih_l{l}, bias_hh_l{l},
    with the suffix _reverse for the backward direction, which reads the sequence from the
    end; its outputs stay aligned with the time steps they belong to. Layer l + 1 reads the
    concatenated (forward, backward) outputs of layer l.
    x: (T, B, D), or (B, T, D) when batch_first; state: (h_0, c_0), each
    (num_layers * directions, B, H), or None (zeros)
    -> (output (T, B, directions * H) or (B, T, ...) when batch_first, (h_n, c_n))
    """
    # Dica: para cada camada e direção, um laço no tempo (ao contrário na direção _reverse), depois concatene.
    ### BEGIN SOLUTION
    directions = 2 if lstm.bidirectional else 1
    H, layers = lstm.hidden_size, lstm.num_layers
    xs = x.transpose(0, 1) if lstm.batch_first else x
    T, B = xs.shape[:2]
    if state is None:
        zeros = xs.new_zeros(layers * directions, B, H)
        state = (zeros, zeros)
    h_n, c_n = [], []
    for layer in range(layers):
        outputs = []
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            w_ih, w_hh, b_ih, b_hh = (getattr(lstm, name + suffix) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            h, c = state[0][layer * directions + direction], state[1][layer * directions + direction]
            steps = range(T - 1, -1, -1) if direction else range(T)
            out = [None] * T
            for t in steps:
                i, f, g, o = (xs[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                out[t] = h
            outputs.append(torch.stack(out))
            h_n.append(h)
            c_n.append(c)
        xs = torch.cat(outputs, dim=2)
    output = xs.transpose(0, 1) if lstm.batch_first else xs
    return output, (torch.stack(h_n), torch.stack(c_n))
    ### END SOLUTION


def count_parameters(kind, input_size, hidden_size, num_layers=1, bidirectional=False, bias=True):
    """The number of parameters of torch.nn.RNN / GRU / LSTM (kind "rnn", "gru", "lstm") built
    with these arguments, as an int: what sum(p.numel() for p in module.parameters()) gives.

    Each layer and direction has weight_ih (G*H, D_in), weight_hh (G*H, H) and, with bias,
    two bias vectors bias_ih and bias_hh (G*H,), where G is the number of gate blocks (rnn 1,
    gru 3, lstm 4). D_in is input_size in layer 0; layers >= 1 read the previous layer's
    output, directions * H wide.
    """
    # Dica: G blocos (rnn 1, gru 3, lstm 4) por camada e direção: weight_ih (G·H, D_in), weight_hh (G·H, H) e dois vetores de bias; da 2ª camada em diante D_in = direções·H.
    ### BEGIN SOLUTION
    blocks = {"rnn": 1, "gru": 3, "lstm": 4}[kind] * hidden_size
    directions = 1 + int(bool(bidirectional))
    total = 0
    for layer in range(num_layers):
        inputs = input_size if layer == 0 else directions * hidden_size
        per_direction = blocks * inputs + blocks * hidden_size + (2 * blocks if bias else 0)
        total += directions * per_direction
    return total
    ### END SOLUTION

"""Cases of `name_classifier`: names to encode, and NameRNN weights with expected log-probabilities.

The expected outputs come from torch.nn.RNNCell and torch.nn.Linear in float64; `ref.*`
arrays are the reference's state dict, loaded into the student's NameRNN by the check.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..datasets import name_dataset
from . import generator

MODULE = "name_classifier"
# Characters outside any Latin alphabet: each must be encoded as ALPHABET's last character.
UNKNOWN_NAMES = ("Σωκράτης", "Nguyễn-李", "Zoë Ōno")


def _t(array):
    return torch.from_numpy(np.asarray(array, dtype=np.float64))


@generator(MODULE, "name_to_tensor")
def name_to_tensor_case(rng):
    data = name_dataset()
    picked = [data.names[i] for i in rng.choice(len(data.names), 5, replace=False)]
    names = picked + ["Gottfried", "O'Neill-Łukasz", str(rng.choice(UNKNOWN_NAMES))]
    return {"names": np.array(names)}


def name_rnn_outputs(ref: dict, x: np.ndarray, lengths: np.ndarray) -> dict:
    """The oracle: log-probabilities at each name's last character, and the usual wrong variants."""
    H, D = ref["cell.weight_ih"].shape
    cell = torch.nn.RNNCell(D, H).double()
    readout = torch.nn.Linear(H, ref["readout.weight"].shape[0]).double()
    cell.load_state_dict({k.removeprefix("cell."): _t(v) for k, v in ref.items() if k.startswith("cell.")})
    readout.load_state_dict({k.removeprefix("readout."): _t(v) for k, v in ref.items() if k.startswith("readout.")})
    with torch.no_grad():
        h, states = None, []
        for x_t in _t(x):
            h = cell(x_t, h)
            states.append(h)
        states = torch.stack(states)
        logits = readout(states[torch.from_numpy(lengths) - 1, torch.arange(x.shape[1])])
        padded_logits = readout(states[-1])
    return {
        "log_probs": F.log_softmax(logits, dim=1).numpy(),
        "logits": logits.numpy(),
        "probs": F.softmax(logits, dim=1).numpy(),
        "padded_last": F.log_softmax(padded_logits, dim=1).numpy(),
    }


@generator(MODULE, "NameRNN")
def name_rnn_case(rng):
    D, H, C = (int(n) for n in rng.choice(np.arange(2, 9), 3, replace=False))
    T, B = int(rng.integers(3, 7)), int(rng.integers(3, 6))
    lengths = rng.integers(1, T + 1, B)
    lengths[0], lengths[1] = T, int(rng.integers(1, T))  # one full-length name, one padded
    x = rng.normal(0.0, 1.0, (T, B, D)) * (np.arange(T)[:, None] < lengths[None, :])[:, :, None]
    ref = {
        "cell.weight_ih": rng.normal(0, 0.6, (H, D)),
        "cell.weight_hh": rng.normal(0, 0.6, (H, H)),
        "cell.bias_ih": rng.normal(0, 0.3, H),
        "cell.bias_hh": rng.normal(0, 0.3, H),
        "readout.weight": rng.normal(0, 1.0, (C, H)),
        "readout.bias": rng.normal(0, 0.3, C),
    }
    case = {"x": x, "lengths": lengths.astype(np.int64), **{f"ref.{k}": v for k, v in ref.items()}}
    case.update(name_rnn_outputs(ref, x, lengths))
    case["log_probs_full"] = case["padded_last"]  # lengths=None means every name is T long
    return case

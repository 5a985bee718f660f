"""Cases of `forecast`: windows of short series, and Forecaster weights with expected forecasts.

The expected forecasts come from torch.nn.LSTM(batch_first=True) and torch.nn.Linear in
float64; `ref.*` arrays are the reference's state dict, loaded into the student's Forecaster.
"""

from __future__ import annotations

import numpy as np
import torch

from . import generator

MODULE = "forecast"


def _t(array):
    return torch.from_numpy(np.asarray(array, dtype=np.float64))


@generator(MODULE, "make_windows")
def make_windows_case(rng):
    window, horizon = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    series = rng.normal(0.0, 10.0, int(rng.integers(window + horizon + 1, 16)))
    spans = np.lib.stride_tricks.sliding_window_view(series.astype(np.float32), window + horizon)
    X, Y = spans[:, :window, None], spans[:, window:]  # an independent oracle: numpy's own windows
    Y_overlap = spans[:, window - 1 : window - 1 + horizon]  # targets that overlap the window by one
    return {
        "series": series,
        "window": np.array(window),
        "horizon": np.array(horizon),
        "X": X,
        "Y": Y,
        "Y_overlap": Y_overlap,
    }


def lstm_forecast(ref: dict, x: np.ndarray, batch_first: bool = True, step: int | str = -1) -> np.ndarray:
    """The oracle: Linear(LSTM(x)[:, step]) with the reference's weights (float64).

    step="mean" reads the mean over time, step="last_row" the outputs of the batch's last row
    (outputs[-1], what time-major code reads): two mistakes.
    """
    hidden, layers = ref["lstm.weight_hh_l0"].shape[1], sum(k.startswith("lstm.weight_ih") for k in ref)
    lstm = torch.nn.LSTM(1, hidden, layers, batch_first=batch_first).double()
    head = torch.nn.Linear(hidden, ref["head.weight"].shape[0]).double()
    lstm.load_state_dict({k.removeprefix("lstm."): _t(v) for k, v in ref.items() if k.startswith("lstm.")})
    head.load_state_dict({k.removeprefix("head."): _t(v) for k, v in ref.items() if k.startswith("head.")})
    with torch.no_grad():
        outputs, _ = lstm(_t(x))
        read = {"mean": lambda: outputs.mean(dim=1), "last_row": lambda: outputs[-1]}.get(
            step, lambda: outputs[:, step]
        )
        return head(read()).numpy()


@generator(MODULE, "Forecaster")
def forecaster_case(rng):
    hidden, layers, horizon = int(rng.integers(2, 6)), int(rng.integers(1, 3)), int(rng.integers(1, 4))
    B, window = int(rng.integers(2, 5)), int(rng.integers(3, 7))
    ref = {}
    for layer in range(layers):
        inputs = 1 if layer == 0 else hidden
        ref.update(
            {
                f"lstm.weight_ih_l{layer}": rng.normal(0, 0.6, (4 * hidden, inputs)),
                f"lstm.weight_hh_l{layer}": rng.normal(0, 0.6, (4 * hidden, hidden)),
                f"lstm.bias_ih_l{layer}": rng.normal(0, 0.3, 4 * hidden),
                f"lstm.bias_hh_l{layer}": rng.normal(0, 0.3, 4 * hidden),
            }
        )
    ref.update({"head.weight": rng.normal(0, 1.0, (horizon, hidden)), "head.bias": rng.normal(0, 0.3, horizon)})
    x = rng.normal(0.0, 1.0, (B, window, 1))
    return {
        "x": x,
        "hidden": np.array(hidden),
        "layers": np.array(layers),
        "horizon": np.array(horizon),
        **{f"ref.{k}": v for k, v in ref.items()},
        "forecast": lstm_forecast(ref, x),
        "first_step": lstm_forecast(ref, x, step=0),
        "time_major": lstm_forecast(ref, x, batch_first=False),
    }


@generator(MODULE, "WindowMLP")
def window_mlp_case(rng):
    """Sizes (window, hidden, horizon), all different so that each weight is known by its shape,
    and a batch of windows. The weights are the student's own (read from its state_dict)."""
    window, hidden, horizon = (int(n) for n in rng.choice(np.arange(2, 13), size=3, replace=False))
    return {
        "window": np.array(window),
        "hidden": np.array(hidden),
        "horizon": np.array(horizon),
        "x": rng.normal(0.0, 1.0, (int(rng.integers(2, 6)), window, 1)).astype(np.float32),
    }

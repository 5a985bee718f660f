"""Is WindowMLP's margin over persistence stable enough to grade? Measured over seeds.

Trains the reference WindowMLP (solutions/forecast.py) on the CO2 series exactly as the
reference Forecaster is trained (the change from the window's last value, divided by the
spread of one step's change; Adam, 6 epochs of mini-batches of 64, the rate annealed to 0)
with several seeds, and prints its MSE relative to persistence on the public validation
stretch and on the hidden test stretch, seed by seed, with their mean, spread and worst.

    .venv/bin/python bench/window_mlp_margin.py [--seeds 5] [--hidden-size 64]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.exercises.practical import series_task  # noqa: E402
from autograder.grading.policy import DEFAULT_POLICY, load_policy  # noqa: E402


def _reference():
    spec = importlib.util.spec_from_file_location("reference_forecast", ROOT / "solutions" / "forecast.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train_mlp(reference, series: np.ndarray, task, hidden_size: int, seed: int):
    """A WindowMLP trained on `series` (raw scale); returns it with its scale."""
    torch.manual_seed(seed)
    X, Y = reference.make_windows(series, task.window, task.horizon)
    last = X[:, -1:, 0]
    scale = float(np.std(np.diff(series))) or 1.0
    inputs, targets = ((X[:, :, 0] - last) / scale)[:, :, None], (Y - last) / scale
    model = reference.WindowMLP(task.window, hidden_size, task.horizon)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    batches = [b for _ in range(6) for b in torch.randperm(len(inputs)).split(64)]
    for step, batch in enumerate(batches):
        for group in optimizer.param_groups:
            group["lr"] = 3e-3 * (1 - step / len(batches))
        loss = F.mse_loss(model(inputs[batch]), targets[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), scale


def mse_ratio(model, scale: float, task) -> float:
    histories = np.stack([task.history(s) for s in task.starts])
    targets = np.stack([task.target(s) for s in task.starts])
    last = histories[:, -1:]
    with torch.no_grad():
        change = model(torch.as_tensor((histories - last) / scale, dtype=torch.float32)[:, :, None]).numpy()
    forecasts = last + change * scale
    return float(np.mean((forecasts - targets) ** 2) / np.mean((targets - last) ** 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--hidden-size", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    reference, policy = _reference(), load_policy(DEFAULT_POLICY).modules["forecast"]
    full, zero = policy.tables["mse_ratio"]["full"], policy.tables["mse_ratio"]["zero"]
    print(
        f"WindowMLP(window, {args.hidden_size}, horizon) on the CO2 series; policy: full credit at ratio <= {full},"
        f" none at >= {zero}"
    )
    for stretch, hidden in (("validation (public)", False), ("test (hidden)", True)):
        task = series_task(policy, hidden)
        ratios = np.array(
            [
                mse_ratio(*train_mlp(reference, task.known, task, args.hidden_size, seed), task)
                for seed in range(args.seeds)
            ]
        )
        print(
            f"{stretch:20} ratios {' '.join(f'{r:.3f}' for r in ratios)}  mean {ratios.mean():.3f}  "
            f"std {ratios.std(ddof=1):.3f}  worst {ratios.max():.3f}"
        )


if __name__ == "__main__":
    main()

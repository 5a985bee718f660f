"""Forecasting a time series with an LSTM (lecture: Forecast.py).

From the last `window` values of a series, predict the next `horizon` values. The model
reads a window as a sequence of scalars, batch-first: x is (B, window, 1); a linear layer
on the LSTM's last step gives the `horizon` forecasts.
"""
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def make_windows(series, window, horizon):
    """Sliding windows of a series and the values that follow each.

    series: (N,) -> X: (M, window, 1) float32 tensor, Y: (M, horizon) float32 tensor,
    M = N - window - horizon + 1; X[m, :, 0] = series[m : m+window] and
    Y[m] = series[m+window : m+window+horizon].
    """
    # Dica: a janela m são os window valores a partir da posição m e o alvo os horizon valores logo depois dela; converta para float32.
    ### BEGIN SOLUTION
    series = np.asarray(series, dtype=np.float32)
    count = len(series) - window - horizon + 1
    X = np.stack([series[m:m + window] for m in range(count)])
    Y = np.stack([series[m + window:m + window + horizon] for m in range(count)])
    return torch.from_numpy(X[:, :, None]), torch.from_numpy(Y)
    ### END SOLUTION


class Forecaster(nn.Module):
    """LSTM(1, hidden_size, num_layers, batch_first=True) -> Linear(hidden_size, horizon) on the last step.

    x: (B, window, 1) -> (B, horizon)
    """

    def __init__(self, hidden_size, num_layers=1, horizon=1):
        super().__init__()
        # Dica: nn.LSTM(1, hidden_size, num_layers, batch_first=True) e nn.Linear(hidden_size, horizon).
        ### BEGIN SOLUTION
        self.lstm = nn.LSTM(1, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, horizon)
        ### END SOLUTION

    def forward(self, x):
        # Dica: out, _ = self.lstm(x); a previsão vem do último passo, out[:, -1].
        ### BEGIN SOLUTION
        outputs, _ = self.lstm(x)                   # (B, window, hidden_size)
        return self.head(outputs[:, -1])
        ### END SOLUTION


class WindowMLP(nn.Module):
    """The lecture's MLP over a fixed window (the n-gram idea): no recurrence, the window's
    values are just `window` input features.

    Linear(window, hidden_size) -> ReLU -> Linear(hidden_size, horizon);
    x: (B, window, 1) -> (B, horizon)
    """

    def __init__(self, window, hidden_size, horizon):
        super().__init__()
        # Dica: duas camadas nn.Linear: (window -> hidden_size) e (hidden_size -> horizon).
        ### BEGIN SOLUTION
        self.hidden = nn.Linear(window, hidden_size)
        self.head = nn.Linear(hidden_size, horizon)
        ### END SOLUTION

    def forward(self, x):
        # Dica: achate cada janela em um vetor de window valores (x.flatten(1)), depois Linear, ReLU, Linear.
        ### BEGIN SOLUTION
        return self.head(torch.relu(self.hidden(x.flatten(1))))
        ### END SOLUTION


SEED = 0   # torch.manual_seed(SEED) when training starts makes runs repeatable


def train_forecaster(series, *, window, horizon, time_budget_s, device):
    """Train a Forecaster on `series` (N,) in its raw scale; stop before `time_budget_s` seconds.

    The model learns the *change* from each window's last value, divided by `scale` (the
    spread of one step's change), and keeps `scale` so that `predict_next` can undo it.
    Optional: a list of each epoch's mean loss in `model.loss_history` is drawn in the feedback.
    """
    # Dica: escale como (janela - último valor) / escala e o alvo idem; guarde a escala no modelo (register_buffer); Adam e F.mse_loss por algumas épocas, parando antes de time_budget_s.
    ### BEGIN SOLUTION
    start = time.monotonic()
    torch.manual_seed(SEED)
    X, Y = make_windows(series, window, horizon)
    last = X[:, -1:, 0]                                       # (M, 1)
    scale = float(np.std(np.diff(np.asarray(series, dtype=np.float64)))) or 1.0
    inputs, targets = ((X[:, :, 0] - last) / scale)[:, :, None].to(device), ((Y - last) / scale).to(device)
    model = Forecaster(64, horizon=horizon)
    model.register_buffer("scale", torch.tensor(scale))      # saved with the model, moved with it
    model = model.to(device)
    model.loss_history = []                                   # each epoch's mean loss
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch_size, epochs = 64, 6
    step, steps = 0, epochs * ((len(inputs) + batch_size - 1) // batch_size)
    for epoch in range(epochs):
        losses = []
        for batch in torch.randperm(len(inputs), device=device).split(batch_size):
            done = max(step / steps, (time.monotonic() - start) / (0.9 * time_budget_s))
            if done >= 1:
                return model.eval()
            for group in optimizer.param_groups:    # anneal to 0 by the last step or the deadline
                group["lr"] = 3e-3 * (1 - done)
            loss = F.mse_loss(model(inputs[batch]), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            step += 1
        model.loss_history.append(sum(losses) / len(losses))
    return model.eval()
    ### END SOLUTION


def predict_next(model, histories, *, device):
    """Forecasts (M, horizon) in the raw scale from `histories` (M, window) in the raw scale."""
    # Dica: aplique a mesma escala do treino (relativa ao último valor), rode o modelo e desfaça a escala.
    ### BEGIN SOLUTION
    histories = torch.as_tensor(np.asarray(histories, dtype=np.float32)).to(device)
    last = histories[:, -1:]
    with torch.no_grad():
        change = model(((histories - last) / model.scale)[:, :, None])
    return (last + change * model.scale).cpu().numpy().astype(np.float64)
    ### END SOLUTION

# Gerado a partir da solução de referência por `make stubs`: complete cada exercício.
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
    raise NotImplementedError('Dica: a janela m são os window valores a partir da posição m e o alvo os horizon valores logo depois dela; converta para float32.')


class Forecaster(nn.Module):
    """LSTM(1, hidden_size, num_layers, batch_first=True) -> Linear(hidden_size, horizon) on the last step.

    x: (B, window, 1) -> (B, horizon)
    """

    def __init__(self, hidden_size, num_layers=1, horizon=1):
        super().__init__()
        raise NotImplementedError('Dica: nn.LSTM(1, hidden_size, num_layers, batch_first=True) e nn.Linear(hidden_size, horizon).')

    def forward(self, x):
        raise NotImplementedError('Dica: out, _ = self.lstm(x); a previsão vem do último passo, out[:, -1].')


class WindowMLP(nn.Module):
    """The lecture's MLP over a fixed window (the n-gram idea): no recurrence, the window's
    values are just `window` input features.

    Linear(window, hidden_size) -> ReLU -> Linear(hidden_size, horizon);
    x: (B, window, 1) -> (B, horizon)
    """

    def __init__(self, window, hidden_size, horizon):
        super().__init__()
        raise NotImplementedError('Dica: duas camadas nn.Linear: (window -> hidden_size) e (hidden_size -> horizon).')

    def forward(self, x):
        raise NotImplementedError('Dica: achate cada janela em um vetor de window valores (x.flatten(1)), depois Linear, ReLU, Linear.')


SEED = 0   # torch.manual_seed(SEED) when training starts makes runs repeatable


def train_forecaster(series, *, window, horizon, time_budget_s, device):
    """Train a Forecaster on `series` (N,) in its raw scale; stop before `time_budget_s` seconds.

    The model learns the *change* from each window's last value, divided by `scale` (the
    spread of one step's change), and keeps `scale` so that `predict_next` can undo it.
    Optional: a list of each epoch's mean loss in `model.loss_history` is drawn in the feedback.
    """
    raise NotImplementedError('Dica: escale como (janela - último valor) / escala e o alvo idem; guarde a escala no modelo (register_buffer); Adam e F.mse_loss por algumas épocas, parando antes de time_budget_s.')


def predict_next(model, histories, *, device):
    """Forecasts (M, horizon) in the raw scale from `histories` (M, window) in the raw scale."""
    raise NotImplementedError('Dica: aplique a mesma escala do treino (relativa ao último valor), rode o modelo e desfaça a escala.')

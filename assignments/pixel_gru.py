# Gerado a partir da solução de referência por `make stubs`: complete cada exercício.
"""Digits read row by row by a GRU (lecture: PixelGRU.py).

An image (H, W) is a sequence of H rows, each a vector of W pixels: at step t the GRU reads
row t. After the last row, a linear layer turns the state into one score per class.
Images are batch-first: (B, H, W) = (batch, rows = time steps, pixels per row).
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class PixelGRU(nn.Module):
    """GRU(input_size, hidden_size, num_layers, batch_first=True) -> Linear on the last step.

    images: (B, H, W) with W == input_size -> logits: (B, num_classes)
    """

    def __init__(self, input_size=28, hidden_size=128, num_layers=1, num_classes=10):
        super().__init__()
        raise NotImplementedError('Dica: nn.GRU(input_size, hidden_size, num_layers, batch_first=True) e nn.Linear(hidden_size, num_classes).')

    def forward(self, images):
        raise NotImplementedError('Dica: cada linha da imagem é um passo: passe images direto à GRU e classifique a saída do último passo, out[:, -1].')


SEED = 0   # torch.manual_seed(SEED) when training starts makes runs repeatable


def train_pixel_gru(images, labels, *, time_budget_s, device):
    """Train a PixelGRU on `images` (N, H, W) float32 in [0, 1] and `labels` (N,) int64.

    Stops before `time_budget_s` seconds; returns the trained model (on `device`). Optional:
    a list of each epoch's mean loss in `model.loss_history` is drawn in the feedback.
    """
    raise NotImplementedError('Dica: PixelGRU(input_size=W, hidden_size=64), Adam, mini-batches e F.cross_entropy; pare antes de time_budget_s.')


def predict_digits(model, images, *, device):
    """The most probable class of each image: an int64 tensor (N,)."""
    raise NotImplementedError('Dica: model(images) sob torch.no_grad() e argmax(dim=1); devolva na CPU.')

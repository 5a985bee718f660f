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
        # Dica: nn.GRU(input_size, hidden_size, num_layers, batch_first=True) e nn.Linear(hidden_size, num_classes).
        ### BEGIN SOLUTION
        self.gru = nn.GRU(input_size, hidden_size, num_layers, batch_first=True)
        self.classifier = nn.Linear(hidden_size, num_classes)
        ### END SOLUTION

    def forward(self, images):
        # Dica: cada linha da imagem é um passo: passe images direto à GRU e classifique a saída do último passo, out[:, -1].
        ### BEGIN SOLUTION
        outputs, _ = self.gru(images)               # (B, H, hidden_size)
        return self.classifier(outputs[:, -1])
        ### END SOLUTION


SEED = 0   # torch.manual_seed(SEED) when training starts makes runs repeatable


def train_pixel_gru(images, labels, *, time_budget_s, device):
    """Train a PixelGRU on `images` (N, H, W) float32 in [0, 1] and `labels` (N,) int64.

    Stops before `time_budget_s` seconds; returns the trained model (on `device`). Optional:
    a list of each epoch's mean loss in `model.loss_history` is drawn in the feedback.
    """
    # Dica: PixelGRU(input_size=W, hidden_size=64), Adam, mini-batches e F.cross_entropy; pare antes de time_budget_s.
    ### BEGIN SOLUTION
    start = time.monotonic()
    torch.manual_seed(SEED)
    images = torch.as_tensor(images, dtype=torch.float32).to(device)
    labels = torch.as_tensor(labels, dtype=torch.int64).to(device)
    model = PixelGRU(input_size=images.shape[2], hidden_size=64).to(device)
    model.loss_history = []                                   # each epoch's mean loss
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-2)
    batch_size, epochs = 128, 12
    step, steps = 0, epochs * ((len(images) + batch_size - 1) // batch_size)
    for epoch in range(epochs):
        losses = []
        for batch in torch.randperm(len(images), device=device).split(batch_size):
            done = max(step / steps, (time.monotonic() - start) / (0.9 * time_budget_s))
            if done >= 1:
                return model.eval()
            for group in optimizer.param_groups:    # anneal to 0 by the last step or the deadline
                group["lr"] = 2e-2 * (1 - done)
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            step += 1
        model.loss_history.append(sum(losses) / len(losses))
    return model.eval()
    ### END SOLUTION


def predict_digits(model, images, *, device):
    """The most probable class of each image: an int64 tensor (N,)."""
    # Dica: model(images) sob torch.no_grad() e argmax(dim=1); devolva na CPU.
    ### BEGIN SOLUTION
    with torch.no_grad():
        images = torch.as_tensor(images, dtype=torch.float32).to(device)
        return model(images).argmax(dim=1).cpu()
    ### END SOLUTION

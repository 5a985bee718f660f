"""Lecture figures: how much of the last step's gradient reaches earlier steps (bptt).

`plot_jacobian_norms(jacobian_norms)` runs an RNN whose W_hh is scaled to a spectral radius
below and above 1 and draws the norms of dh_{T-1}/dh_k on a log scale: they shrink
geometrically (vanishing gradients) or grow (exploding gradients). Pass it any
implementation of `bptt.jacobian_norms` (yours, in the notebook). Uses matplotlib's
object API only, so it never changes the notebook's backend.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

TEXT = {
    "pt": {
        "title": r"Norma de $\partial h_{T-1} / \partial h_k$ com $W_{hh}$ de raio espectral $\rho$",
        "x": "passo k",
        "y": "norma espectral (escala log)",
        "label": r"$\rho$ = {radius:g}",
    },
    "en": {
        "title": r"Norm of $\partial h_{T-1} / \partial h_k$ with $W_{hh}$ of spectral radius $\rho$",
        "x": "step k",
        "y": "spectral norm (log scale)",
        "label": r"$\rho$ = {radius:g}",
    },
}


def scaled_recurrent_matrix(rng, hidden_size: int, radius: float) -> np.ndarray:
    """A random (H, H) matrix rescaled so that its largest |eigenvalue| is `radius`."""
    W = rng.normal(0.0, 1.0, (hidden_size, hidden_size))
    return W * (radius / np.max(np.abs(np.linalg.eigvals(W))))


def rnn_states(W_hh, W_xh, xs) -> np.ndarray:
    """States (T, H) of one sequence xs (T, D) through torch.nn.RNN (tanh, no bias, h0 = 0)."""
    H, D = W_xh.shape
    rnn = torch.nn.RNN(D, H, bias=False).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(W_xh))
        rnn.weight_hh_l0.copy_(torch.from_numpy(W_hh))
        hs, _ = rnn(torch.from_numpy(xs)[:, None, :])
    return hs[:, 0, :].numpy()


def plot_jacobian_norms(
    jacobian_norms,
    path=None,
    *,
    radii=(0.8, 1.25),
    steps=30,
    hidden_size=16,
    input_size=4,
    input_scale=1e-4,
    seed=0,
    language="pt",
) -> Figure:
    """Draw jacobian_norms(W_hh, hs) for W_hh scaled to each spectral radius in `radii`.

    jacobian_norms: a function (W_hh (H, H), hs (T, H)) -> (T,). With `path`, the figure is
    also written there (PNG by its extension). Small inputs keep the states near zero,
    where tanh is almost linear and the norms follow ρ^(T-1-k).
    """
    rng = np.random.default_rng(seed)
    W_xh = rng.normal(0.0, 1.0, (hidden_size, input_size))
    xs = rng.normal(0.0, input_scale, (steps, input_size))
    text = TEXT[language]
    figure = Figure(figsize=(6.4, 4.0), layout="constrained")
    axes = figure.add_subplot()
    for radius in radii:
        W_hh = scaled_recurrent_matrix(rng, hidden_size, radius)
        norms = np.asarray(jacobian_norms(W_hh, rnn_states(W_hh, W_xh, xs)), dtype=np.float64)
        axes.semilogy(np.arange(steps), norms, marker="o", markersize=3, label=text["label"].format(radius=radius))
    axes.axhline(1.0, color="gray", linewidth=0.8, linestyle="--")
    axes.set(title=text["title"], xlabel=text["x"], ylabel=text["y"])
    axes.legend()
    if path is not None:
        figure.savefig(path, dpi=110)
    return figure

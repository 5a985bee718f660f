"""Cases of `pixel_gru`: PixelGRU weights and images with the expected logits.

The expected logits come from torch.nn.GRU(batch_first=True) and torch.nn.Linear in float64;
`ref.*` arrays are the reference's state dict, loaded into the student's PixelGRU.
"""

from __future__ import annotations

import numpy as np
import torch

from . import generator

MODULE = "pixel_gru"


def _t(array):
    return torch.from_numpy(np.asarray(array, dtype=np.float64))


def gru_logits(ref: dict, images: np.ndarray, step: int | str = -1, batch_first: bool = True) -> np.ndarray:
    """The oracle: Linear(GRU(images)[:, step]), one image row per time step (float64).

    Mistakes: step="mean" (the mean over time), step="first_layer" (h_n[0], the first layer's
    last state), batch_first=False (the batch read as time).
    """
    hidden, layers = ref["gru.weight_hh_l0"].shape[1], sum(k.startswith("gru.weight_ih") for k in ref)
    gru = torch.nn.GRU(images.shape[2], hidden, layers, batch_first=batch_first).double()
    classifier = torch.nn.Linear(hidden, ref["classifier.weight"].shape[0]).double()
    gru.load_state_dict({k.removeprefix("gru."): _t(v) for k, v in ref.items() if k.startswith("gru.")})
    classifier.load_state_dict(
        {k.removeprefix("classifier."): _t(v) for k, v in ref.items() if k.startswith("classifier.")}
    )
    with torch.no_grad():
        outputs, h_n = gru(_t(images))
        read = {"mean": lambda: outputs.mean(dim=1), "first_layer": lambda: h_n[0]}.get(step, lambda: outputs[:, step])
        return classifier(read()).numpy()


@generator(MODULE, "PixelGRU")
def pixel_gru_case(rng):
    hidden, layers, classes = int(rng.integers(2, 6)), int(rng.integers(1, 3)), int(rng.integers(2, 6))
    rows, width = int(rng.integers(3, 7)), int(rng.integers(3, 7))
    B = int(rng.integers(2, 5))
    ref = {}
    for layer in range(layers):
        inputs = width if layer == 0 else hidden
        ref.update(
            {
                f"gru.weight_ih_l{layer}": rng.normal(0, 0.6, (3 * hidden, inputs)),
                f"gru.weight_hh_l{layer}": rng.normal(0, 0.6, (3 * hidden, hidden)),
                f"gru.bias_ih_l{layer}": rng.normal(0, 0.3, 3 * hidden),
                f"gru.bias_hh_l{layer}": rng.normal(0, 0.3, 3 * hidden),
            }
        )
    ref.update(
        {"classifier.weight": rng.normal(0, 1.0, (classes, hidden)), "classifier.bias": rng.normal(0, 0.3, classes)}
    )
    images = rng.uniform(0.0, 1.0, (B, rows, width))
    square_images = rng.uniform(0.0, 1.0, (B, width, width))  # where reading columns would also run
    return {
        "images": images,
        "square_images": square_images,
        "hidden": np.array(hidden),
        "layers": np.array(layers),
        "classes": np.array(classes),
        **{f"ref.{k}": v for k, v in ref.items()},
        "logits": gru_logits(ref, images),
        "square_logits": gru_logits(ref, square_images),
        "square_columns": gru_logits(ref, square_images.transpose(0, 2, 1)),
        "first_step": gru_logits(ref, images, step=0),
    }

"""The draws that decide what a practical task scores, and its label-preserving changes.

Every draw that decides which examples are scored (the test split, where the series' scored
windows start) and every change made to the data comes from `data_seed`: the hidden seed when
grading, the public seed for the students' `check`. The student bundle holds no hidden seed,
so running the task builders on the public datasets gives other test sets than grading's, and
the changes make an exact lookup of the public data miss:

- digits: each image moved by up to one pixel (only where no ink leaves the frame), its ink
  scaled by a factor in [0.85, 1], light Gaussian noise, clipped to [0, 1]; the training images
  get the same kind of change, so the task stays the same;
- series: the scored histories go through a hidden affine map `a·x + b` (`a` within 3 % of 1,
  `b` within 2 % of the series' range) and the forecasts are scored after undoing it;
- names: nothing. A name's spelling is its label's evidence (capitals, "ß", "ł"), and any
  change of case or accents is undone by normalising before a lookup: the names rely on the
  hidden split, the refusal of embedded data and the recurrent model (README, "The practical
  tasks").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

INK = 1e-6  # a pixel at most this bright is blank
NOISE_STD = 0.03
INK_SCALE = (0.85, 1.0)
SERIES_SCALE = 0.03  # |a - 1| at most
SERIES_OFFSET = 0.02  # |b| at most, as a fraction of the series' range


def data_seed(base_seed: int, module: str, purpose: str) -> int:
    """A seed for one draw of one module, derived from the public or the hidden seed."""
    digest = hashlib.sha256(f"{base_seed}:{module}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _blank(images: np.ndarray, axis: int, side: int) -> np.ndarray:
    """(N,) whether each image's edge row (axis 1) or column (axis 2) at `side` (0 or -1) is blank."""
    edge = images[:, side, :] if axis == 1 else images[:, :, side]
    return (edge <= INK).all(axis=1)


def _shifts(images: np.ndarray, rng: np.random.Generator, axis: int) -> np.ndarray:
    """(N,) moves in {-1, 0, 1} along `axis`, 0 where the move would push ink out of the frame."""
    moves = rng.integers(-1, 2, size=len(images))
    allowed = np.where(moves > 0, _blank(images, axis, -1), _blank(images, axis, 0))
    return np.where(allowed, moves, 0)


def shifted_noisy_images(images: np.ndarray, seed: int) -> np.ndarray:
    """`images` (N, H, W) float32 in [0, 1] → a changed copy (N, H, W) float32 in [0, 1]:
    each moved by up to a pixel per axis where no ink leaves, ink scaled, noised, clipped."""
    rng = np.random.default_rng(seed)
    images = np.asarray(images, dtype=np.float32)
    rows, columns = _shifts(images, rng, 1), _shifts(images, rng, 2)
    moved = np.empty_like(images)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            chosen = (rows == dy) & (columns == dx)
            moved[chosen] = np.roll(images[chosen], (dy, dx), axis=(1, 2))
    scale = rng.uniform(*INK_SCALE, size=(len(images), 1, 1)).astype(np.float32)
    noise = rng.normal(0.0, NOISE_STD, size=images.shape).astype(np.float32)
    return np.clip(moved * scale + noise, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class AffineMap:
    """x -> scale·x + offset, and back."""

    scale: float
    offset: float

    def apply(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=np.float64) * self.scale + self.offset

    def undo(self, values: np.ndarray) -> np.ndarray:
        return (np.asarray(values, dtype=np.float64) - self.offset) / self.scale


def series_map(series: np.ndarray, seed: int) -> AffineMap:
    """The hidden affine map of a series' scored histories: scale within SERIES_SCALE of 1,
    offset within SERIES_OFFSET of the series' range (never exactly the identity)."""
    rng = np.random.default_rng(seed)
    sign = rng.choice([-1.0, 1.0], size=2)
    spread = float(np.ptp(series)) or 1.0
    scale = 1.0 + sign[0] * rng.uniform(0.2, 1.0) * SERIES_SCALE
    offset = sign[1] * rng.uniform(0.2, 1.0) * SERIES_OFFSET * spread
    return AffineMap(float(scale), float(offset))

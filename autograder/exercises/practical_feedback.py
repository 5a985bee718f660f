"""What the practical checks say beyond the score.

Pipeline mistakes are named from what the student's process returns (its predictions, the
time its training took, the loss history it may record) and never from the scored labels:
a failure that looks like a bug says so, instead of reading as weak training. Plot data for
the feedback reports (autograder/exercises/artifacts.py) come from the public validation split in
`check`; from the hidden test only aggregates that reveal no test target are attached.
"""

from __future__ import annotations

import numpy as np

from ..messages import Message
from ..sandbox.proxies import StudentFailure

CONSTANT_SHARE = 0.8  # predictions this concentrated on one class look like a pipeline bug
SHORT_TRAINING = 0.01  # a training that returns within this fraction of its budget stopped early
LEVEL_FACTOR = 10.0  # forecasts further from the last values than this many typical changes: wrong scale
MAX_CURVE_POINTS = 2000
MAX_IMAGES = 16


# -- diagnoses --------------------------------------------------------------------------------
def reported_losses(model) -> list[float] | None:
    """`model.loss_history`: the training losses the student's train function may record (optional)."""
    try:
        value = model.loss_history
    except (StudentFailure, AttributeError):
        return None
    if not isinstance(value, (list, tuple)):
        return None
    try:
        return [float(v) for v in value[-MAX_CURVE_POINTS:]]
    except (TypeError, ValueError):
        return None


def training_diagnoses(seconds: float, budget_s: float, losses: list[float] | None) -> list[Message]:
    """A training that stopped at once: a loss history of at most one entry, or (without one) a
    training that returned within SHORT_TRAINING of its budget."""
    if (losses is not None and len(losses) <= 1) or (losses is None and seconds < SHORT_TRAINING * budget_s):
        return [Message("diag_training_short", {"seconds": round(seconds, 2), "budget": budget_s})]
    return []


def constant_class_diagnoses(predictions: np.ndarray, class_names) -> list[Message]:
    """Predictions (nearly) all one class, from the predictions alone."""
    if not len(predictions):
        return []
    counts = np.bincount(predictions, minlength=len(class_names))
    top = int(np.argmax(counts))
    share = counts[top] / len(predictions)
    if share < CONSTANT_SHARE:
        return []
    return [Message("diag_constant_predictions", {"share": 100 * float(share), "label": str(class_names[top])})]


def forecast_diagnoses(forecasts: np.ndarray, histories: np.ndarray) -> list[Message]:
    """Forecasts (M, horizon) far off the level of their histories (M, window): not in the raw scale."""
    last = histories[:, -1:]
    typical_change = np.mean(np.abs(np.diff(histories, axis=1))) * forecasts.shape[1]
    if np.mean(np.abs(forecasts - last)) > LEVEL_FACTOR * max(typical_change, 1e-12):
        return [
            Message(
                "diag_fc_not_raw_scale", {"mean_forecast": float(forecasts.mean()), "mean_last": float(last.mean())}
            )
        ]
    return []


# -- plot data --------------------------------------------------------------------------------
def attach_losses(artifacts: dict, losses: list[float] | None) -> None:
    if losses:
        artifacts["training"] = {"kind": "curve", "series": {"loss": losses}, "title": "plot_training_loss"}


def attach_confusion(artifacts: dict, labels: np.ndarray, predictions: np.ndarray, class_names) -> None:
    """Counts of (true, predicted) classes: an aggregate, safe to show for hidden data too."""
    n = len(class_names)
    matrix = np.zeros((n, n), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels, dtype=np.int64), predictions), 1)
    artifacts["confusion"] = {"kind": "confusion", "labels": [str(c) for c in class_names], "matrix": matrix}


def attach_misclassified(artifacts: dict, images, labels: np.ndarray, predictions: np.ndarray) -> None:
    """Up to MAX_IMAGES public images the model got wrong, captioned `true → predicted`."""
    wrong = np.flatnonzero(labels != predictions)[:MAX_IMAGES]
    if len(wrong):
        artifacts["misclassified"] = {
            "kind": "images",
            "images": [np.asarray(images[i]) for i in wrong],
            "captions": [f"{labels[i]} → {predictions[i]}" for i in wrong],
        }


def attach_forecast(
    artifacts: dict, history: np.ndarray, truth: np.ndarray, forecasts: np.ndarray, persistence: np.ndarray
) -> None:
    """The public validation stretch: what came before, the truth, the forecasts and persistence."""
    artifacts["forecast"] = {
        "kind": "forecast",
        "history": history,
        "truth": truth,
        "prediction": forecasts,
        "persistence": persistence,
    }


def attach_error_by_step(artifacts: dict, forecasts: np.ndarray, targets: np.ndarray, histories: np.ndarray) -> None:
    """Mean squared error per horizon step, of the model and of persistence: aggregates only."""
    persistence = np.mean((targets - histories[:, -1:]) ** 2, axis=0)
    artifacts["error_by_step"] = {
        "kind": "curve",
        "title": "plot_error_by_step",
        "x_label": "plot_horizon_step",
        "series": {"model": np.mean((forecasts - targets) ** 2, axis=0), "persistence": persistence},
        "log_y": True,
    }

"""Draw the feedback reports' artifacts (autograder/exercises/artifacts.py) as PNG images (matplotlib, Agg)."""

from __future__ import annotations

import base64
import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ..messages import Message, catalog

FIGURE_INCHES = (6.0, 3.6)
DPI = 90


def _label(key: str, language: str) -> str:
    return Message(key).render(language)


def _maybe_key(text: str, language: str) -> str:
    """`text` rendered when it is a message key, else as it is."""
    return _label(text, language) if text in catalog() else text


def _curve(axes, artifact, language):
    for name, values in artifact["series"].items():
        values = [math.nan if v is None else v for v in values]
        axes.plot(range(1, len(values) + 1), values, marker="." if len(values) < 40 else None, label=name)
    axes.set_xlabel(_maybe_key(artifact.get("x_label") or "plot_epoch", language))
    if artifact.get("y_label"):
        axes.set_ylabel(artifact["y_label"])
    if artifact.get("log_y"):
        axes.set_yscale("log")
    axes.grid(alpha=0.3)
    axes.legend()


def _confusion(axes, artifact, language):
    matrix = np.asarray(artifact["matrix"], dtype=float)
    labels = artifact["labels"]
    image = axes.imshow(matrix, cmap="Blues")
    axes.figure.colorbar(image, ax=axes, fraction=0.046)
    ticks = range(len(labels))
    axes.set_xticks(ticks, labels, rotation=90 if len(labels) > 6 else 0, fontsize=7 if len(labels) > 10 else 9)
    axes.set_yticks(ticks, labels, fontsize=7 if len(labels) > 10 else 9)
    axes.set_xlabel(_label("plot_predicted", language))
    axes.set_ylabel(_label("plot_true", language))
    if len(labels) <= 12:
        threshold = matrix.max() / 2 if matrix.size else 0
        for (row, column), value in np.ndenumerate(matrix):
            axes.text(
                column,
                row,
                f"{value:g}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if value > threshold else "black",
            )


def _forecast(axes, artifact, language):
    history = artifact.get("history") or []
    start = len(history)
    if history:
        axes.plot(range(start), history, color="gray", label=_label("plot_history", language))
    steps = range(start, start + len(artifact["truth"]))
    axes.plot(steps, artifact["truth"], color="black", label=_label("plot_truth", language))
    axes.plot(
        range(start, start + len(artifact["prediction"])),
        artifact["prediction"],
        color="tab:orange",
        linestyle="--",
        label=_label("plot_prediction", language),
    )
    if artifact.get("persistence"):
        axes.plot(
            range(start, start + len(artifact["persistence"])),
            artifact["persistence"],
            color="tab:green",
            linestyle=":",
            label=_label("plot_persistence", language),
        )
    axes.set_xlabel(artifact.get("x_label") or _label("plot_time_step", language))
    axes.grid(alpha=0.3)
    axes.legend()


def _images(figure, artifact):
    images = artifact["images"][:16]
    captions = artifact.get("captions") or [""] * len(images)
    columns = min(8, len(images)) or 1
    rows = math.ceil(len(images) / columns) or 1
    figure.set_size_inches(1.2 * columns, 1.4 * rows)
    for index, (image, caption) in enumerate(zip(images, captions)):
        axes = figure.add_subplot(rows, columns, index + 1)
        axes.imshow(np.asarray(image, dtype=float), cmap="gray_r")
        axes.set_title(str(caption), fontsize=8)
        axes.axis("off")


def render_png(artifact: dict, language: str) -> bytes:
    """One artifact as PNG bytes."""
    figure = plt.figure(figsize=FIGURE_INCHES, dpi=DPI)
    try:
        kind = artifact["kind"]
        if kind == "images":
            _images(figure, artifact)
        else:
            axes = figure.add_subplot(1, 1, 1)
            {"curve": _curve, "confusion": _confusion, "forecast": _forecast}[kind](axes, artifact, language)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")

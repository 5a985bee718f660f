"""The class report's figures (matplotlib, Agg), each returned as PNG bytes.

Each kind of figure has its own colour, so a screenshot shows which ones were drawn.
"""

from __future__ import annotations

import io
import textwrap

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure

from ...messages import Message

DPI = 90
OUTCOME_COLOURS = {
    "full": "#2ca02c",
    "partial": "#ffbb78",
    "zero": "#d62728",
    "not_attempted": "#c7c7c7",
    "failed_runs": "#9467bd",
}
TOTALS_COLOUR, MISTAKES_COLOUR, METRIC_COLOUR = "#1f77b4", "#8c564b", "#17becf"
TRAINING_COLOUR, SIMILARITY_COLOUR = "#bcbd22", "#e377c2"
SIMILARITY_PALETTE = (SIMILARITY_COLOUR, "#7f7f7f", "#aec7e8", "#98df8a", "#ff9896", "#c5b0d5")
FULL_LINE, ZERO_LINE, THRESHOLD_LINE = "#006d2c", "#a50f15", "#000000"
MAX_MISTAKE_BARS = 15


def _text(key: str, language: str, **params) -> str:
    return Message(key, params).render(language)


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")  # makes room for outside legends


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def outcome_bars(module: str, summaries, language: str) -> bytes:
    """One horizontal bar per exercise, split into the share of students of each outcome."""
    figure = _figure(7.5, 0.4 * len(summaries) + 1.4)
    axes = figure.add_subplot()
    names = [s.name.split(".", 1)[-1] for s in summaries][::-1]
    left = [0.0] * len(names)
    for outcome, colour in OUTCOME_COLOURS.items():
        shares = [s.outcomes()[outcome] / s.count if s.count else 0.0 for s in summaries][::-1]
        axes.barh(names, shares, left=left, color=colour, label=_text(f"class_outcome_{outcome}", language))
        left = [a + b for a, b in zip(left, shares)]
    axes.set_xlim(0, 1)
    axes.set_xlabel(_text("class_axis_share", language))
    axes.set_title(_text("class_plot_outcomes", language, module=module))
    axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _png(figure)


def totals_histogram(total, language: str) -> bytes:
    figure = _figure(7.5, 3.2)
    axes = figure.add_subplot()
    bins = max(1, min(20, int(total.max_score) or 1))
    axes.hist(total.points, bins=bins, range=(0, total.max_score or 1), color=TOTALS_COLOUR, edgecolor="white")
    axes.set(
        title=_text("class_plot_totals", language),
        xlabel=_text("class_axis_points", language),
        ylabel=_text("class_axis_students", language),
    )
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)


def mistake_bars(mistakes, labels: list[str], language: str) -> bytes:
    """The most frequent diagnosed mistakes; `labels` the rendered text of each."""
    shown = list(zip(mistakes, labels))[:MAX_MISTAKE_BARS][::-1]
    figure = _figure(11, 0.5 * len(shown) + 1.2)
    axes = figure.add_subplot()
    names = [textwrap.fill(textwrap.shorten(f"{m.exercise.split('.', 1)[-1]}: {label}", 110), 60) for m, label in shown]
    bars = axes.barh(range(len(shown)), [m.students for m, _ in shown], color=MISTAKES_COLOUR)
    axes.bar_label(bars, padding=3, fontsize=9)
    axes.set_yticks(range(len(shown)), names, fontsize=9)
    axes.set(title=_text("class_plot_mistakes", language), xlabel=_text("class_axis_students", language))
    axes.xaxis.get_major_locator().set_params(integer=True)
    return _png(figure)


def metric_histogram(metric, language: str) -> bytes:
    """The class's values of one metric, with the full-credit and no-credit thresholds."""
    figure = _figure(7.5, 3.2)
    axes = figure.add_subplot()
    axes.hist(metric.values, bins=20, color=METRIC_COLOUR, edgecolor="white")
    for value, colour, key in (
        (metric.full, FULL_LINE, "class_line_full"),
        (metric.zero, ZERO_LINE, "class_line_zero"),
    ):
        if value is not None:
            axes.axvline(
                value, color=colour, linestyle="--", linewidth=2.5, label=f"{_text(key, language)} ({value:g})"
            )
    axes.set(
        title=_text("class_plot_metric", language, exercise=metric.exercise, metric=metric.label(language)),
        xlabel=metric.label(language),
        ylabel=_text("class_axis_students", language),
    )
    axes.legend(fontsize=8)
    return _png(figure)


def training_histogram(metric, language: str) -> bytes:
    figure = _figure(7.5, 3.0)
    axes = figure.add_subplot()
    axes.hist(metric.training_seconds, bins=20, color=TRAINING_COLOUR, edgecolor="white")
    axes.set(
        title=_text("class_plot_training", language, exercise=metric.exercise),
        xlabel=_text("class_axis_seconds", language),
        ylabel=_text("class_axis_students", language),
    )
    return _png(figure)


def similarity_scatter(overlaps: dict[str, list[tuple[float, int]]], settings: dict, language: str) -> bytes:
    """Each pair of students that shares code: shared tokens against similarity, both thresholds
    drawn; the flagged pairs lie above and right of them."""
    figure = _figure(11, 3.6)
    axes = figure.add_subplot()
    for index, (module, points) in enumerate(item for item in overlaps.items() if item[1]):
        axes.scatter(
            [max(p[1], 1) for p in points],
            [p[0] for p in points],
            s=36,
            alpha=0.7,
            label=module,
            color=SIMILARITY_PALETTE[index % len(SIMILARITY_PALETTE)],
        )
    axes.set_xscale("log")
    axes.axhline(
        settings["threshold"],
        color=THRESHOLD_LINE,
        linestyle="--",
        linewidth=1,
        label=f"{_text('class_line_threshold', language)} ({settings['threshold']:g})",
    )
    axes.axvline(
        settings["min_shared_tokens"],
        color=THRESHOLD_LINE,
        linestyle=":",
        linewidth=1,
        label=f"{_text('class_line_min_shared', language)} ({settings['min_shared_tokens']})",
    )
    axes.set_ylim(0, 1.05)
    axes.set(
        title=_text("class_plot_similarity", language),
        xlabel=_text("class_axis_shared", language),
        ylabel=_text("class_axis_similarity", language),
    )
    axes.legend(fontsize=7, loc="lower right")
    return _png(figure)

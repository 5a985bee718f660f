"""Everything the class report shows, computed once from a results folder (then rendered twice)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...messages import Message
from . import plots, stats
from .results import ClassResults, read_answers, read_results
from .similarity import ModuleSimilarity, compare_module
from .token_cache import CACHE, TokenCache


@dataclass
class Figure:
    title: str
    png: bytes
    wide: bool = False  # across the whole page in the HTML


@dataclass
class ClassReport:
    results: ClassResults
    exercises: dict[str, stats.Summary]
    modules: dict[str, stats.Summary]
    total: stats.Summary
    mistakes: list[stats.Mistake]
    metrics: list[stats.Metric]
    flags: list[stats.Flag]
    similarity_settings: dict
    similarity: dict[str, ModuleSimilarity] = field(default_factory=dict)
    similarity_problem: str | None = None
    figures: list[Figure] = field(default_factory=list)


def mistake_text(mistake: stats.Mistake, language: str) -> str:
    return Message(mistake.key, mistake.params).render(language)


def _stub(stubs: Path, module: str) -> str | None:
    path = Path(stubs) / f"{module}.py"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _similarity(results: ClassResults, modules, settings: dict, stubs: Path) -> dict[str, ModuleSimilarity]:
    tokens = TokenCache(results.folder / CACHE)
    similarity = {
        module: compare_module(module, read_answers(results, module), _stub(stubs, module), tokens=tokens, **settings)
        for module in modules
    }
    tokens.prune()
    return similarity


def _figures(report: ClassReport, language: str) -> list[Figure]:
    def text(key, **params):
        return Message(key, params).render(language)

    figures = [Figure(text("class_plot_totals"), plots.totals_histogram(report.total, language))]
    for module, summaries in stats.exercises_by_module(report.exercises).items():
        figures.append(
            Figure(text("class_plot_outcomes", module=module), plots.outcome_bars(module, summaries, language))
        )
    if report.mistakes:
        labels = [mistake_text(m, language) for m in report.mistakes]
        figures.append(
            Figure(text("class_plot_mistakes"), plots.mistake_bars(report.mistakes, labels, language), wide=True)
        )
    for metric in report.metrics:
        figures.append(
            Figure(
                text("class_plot_metric", exercise=metric.exercise, metric=metric.label(language)),
                plots.metric_histogram(metric, language),
            )
        )
        if metric.training_seconds:
            figures.append(
                Figure(
                    text("class_plot_training", exercise=metric.exercise), plots.training_histogram(metric, language)
                )
            )
    overlaps = {module: result.overlaps for module, result in report.similarity.items()}
    if any(overlaps.values()):
        figures.append(
            Figure(
                text("class_plot_similarity"),
                plots.similarity_scatter(overlaps, report.similarity_settings, language),
                wide=True,
            )
        )
    return figures


def build_class_report(results_folder, similarity_settings: dict, language: str, stubs: Path) -> ClassReport:
    results = read_results(results_folder)
    report = ClassReport(
        results,
        stats.exercise_summaries(results),
        stats.module_summaries(results),
        stats.total_summary(results),
        stats.mistakes(results),
        stats.metrics(results),
        stats.flags(results),
        dict(similarity_settings),
    )
    try:
        report.similarity = _similarity(results, stats.modules_of(results), similarity_settings, stubs)
    except ImportError as error:  # copydetect not installed (e.g. the student bundle)
        report.similarity_problem = f"{type(error).__name__}: {error}"
    report.figures = _figures(report, language)
    return report

"""The class report as Markdown (tables, readable as text) and as self-contained HTML (the same
tables, the plots inlined as PNG, the copied fragments side by side)."""

from __future__ import annotations

import base64
import html
import itertools
import statistics

from ...messages import Message
from .build import ClassReport, mistake_text
from .stats import Summary, flag_counts

POINTS_COLUMNS = (
    "class_col_exercise",
    "class_col_max",
    "class_col_mean",
    "class_col_median",
    "class_col_full",
    "class_col_not_attempted",
    "class_col_failed_runs",
    "class_col_distribution",
)

DISTINCT_VALUES_SHOWN = 6
PAIR_COLUMNS = ("class_col_module", "class_col_pair", "class_col_similarity", "class_col_shares", "class_col_shared")


def _t(key: str, language: str, **params) -> str:
    return Message(key, params).render(language)


def _percent(share: float) -> str:
    return f"{100 * share:.0f} %"


def _distribution(summary: Summary) -> str:
    """Students per points value, or per quarter of the range when there are many values."""
    counts = summary.distribution()
    if len(counts) <= DISTINCT_VALUES_SHOWN:
        return " · ".join(f"{points:g}: {count}" for points, count in counts)
    edges = [summary.max_score * q / 4 for q in range(5)]
    bins = [
        sum(c for p, c in counts if low <= p < high or (high == edges[-1] and p == high))
        for low, high in itertools.pairwise(edges)
    ]
    return " · ".join(
        f"[{low:g}, {high:g}{']' if high == edges[-1] else ')'}: {n}"
        for (low, high), n in zip(itertools.pairwise(edges), bins)
    )


def points_row(summary: Summary, name: str) -> list[str]:
    return [
        name,
        f"{summary.max_score:g}",
        f"{summary.mean:.2f}",
        f"{summary.median:g}",
        _percent(summary.full_share),
        _percent(summary.not_attempted_share),
        _percent(summary.failed_runs_share),
        _distribution(summary),
    ]


def points_rows(report: ClassReport) -> list[tuple[bool, list[str]]]:
    """(is a module's or the total's row, cells) in table order."""
    rows = []
    for module, total in report.modules.items():
        rows.append((True, points_row(total, module)))
        rows += [
            (False, points_row(s, s.name.split(".", 1)[-1]))
            for s in report.exercises.values()
            if s.name.split(".", 1)[0] == module
        ]
    rows.append((True, points_row(report.total, "total")))
    return rows


def mistake_rows(report: ClassReport, language: str) -> list[list[str]]:
    graded = len(report.results.graded) or 1
    return [
        [m.exercise, mistake_text(m, language), str(m.students), _percent(m.students / graded)] for m in report.mistakes
    ]


def metric_lines(report: ClassReport, language: str) -> list[str]:
    lines = []
    for metric in report.metrics:
        values = metric.values
        text = _t(
            "class_metric_row",
            language,
            count=len(values),
            mean=statistics.fmean(values),
            median=statistics.median(values),
            low=min(values),
            high=max(values),
            full=metric.full if metric.full is not None else float("nan"),
            zero=metric.zero if metric.zero is not None else float("nan"),
        )
        if metric.training_seconds:
            text += "; " + _t(
                "class_training_row",
                language,
                median=statistics.median(metric.training_seconds),
                high=max(metric.training_seconds),
            )
        lines.append(f"{metric.exercise} — {metric.label(language)}: {text}")
    return lines


def flag_text(flag, language: str) -> str:
    if flag.kind == "shortcut":
        return f"{_t('class_flag_shortcut', language)}: {Message.from_json(flag.message).render(language)}"
    if flag.kind == "grading_failed":
        return _t("class_flag_grading_failed", language, **flag.message)
    return _t(f"class_flag_{flag.kind}", language)


def flag_rows(report: ClassReport, language: str) -> list[list[str]]:
    return [[flag.student, flag_text(flag, language), flag.exercise] for flag in report.flags]


def flag_summary(report: ClassReport, language: str) -> str:
    counts = flag_counts(report.flags)
    named = ", ".join(
        f"{_t(f'class_flag_{kind}', language, reason='…')}: {count}" for kind, count in sorted(counts.items())
    )
    return _t("class_flag_counts", language, counts=named)


def pair_rows(report: ClassReport) -> list[list[str]]:
    return [
        [
            pair.module,
            f"{pair.first} ↔ {pair.second}",
            _percent(pair.similarity),
            f"{_percent(pair.shares[0])} / {_percent(pair.shares[1])}",
            str(pair.shared_tokens),
        ]
        for result in report.similarity.values()
        for pair in result.pairs
    ]


def overview(report: ClassReport, language: str) -> str:
    results = report.results
    return _t(
        "class_overview",
        language,
        graded=len(results.graded),
        students=len(results.students),
        failed=len(results.failures),
        mean=report.total.mean,
        max_score=report.total.max_score,
        median=report.total.median,
    )


def similarity_note(report: ClassReport, language: str) -> str:
    if report.similarity_problem:
        return _t("class_similarity_unavailable", language, reason=report.similarity_problem)
    return _t("class_similarity_note", language, **report.similarity_settings)


# -- Markdown ------------------------------------------------------------------------------------
def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(headers: list[str], rows: list[list[str]], bold: list[bool] | None = None) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for index, row in enumerate(rows):
        cells = [_md_cell(c) for c in row]
        if bold and bold[index]:
            cells = [f"**{c}**" if c else c for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _md_fragments(report: ClassReport) -> list[str]:
    lines = []
    for result in report.similarity.values():
        for pair in result.pairs:
            lines += [f"#### {result.module}: {pair.first} ↔ {pair.second} ({_percent(pair.similarity)})", ""]
            for student, fragment in zip((pair.first, pair.second), pair.fragments):
                lines += [f"{student}:", "", "```python", fragment, "```", ""]
    return lines


def render_markdown(report: ClassReport, language: str) -> str:
    t = lambda key, **params: _t(key, language, **params)  # noqa: E731
    rows = points_rows(report)
    lines = [
        f"# {t('class_title')}",
        "",
        overview(report, language),
        "",
        f"## {t('class_points')}",
        "",
        t("class_points_note"),
        "",
    ]
    lines += _md_table([t(c) for c in POINTS_COLUMNS], [r for _, r in rows], [b for b, _ in rows])
    lines += ["", f"## {t('class_mistakes')}", ""]
    mistakes = mistake_rows(report, language)
    lines += (
        _md_table(
            [t("class_col_exercise"), t("class_col_mistake"), t("class_col_students"), t("class_col_share")], mistakes
        )
        if mistakes
        else [t("class_mistakes_none")]
    )
    lines += ["", f"## {t('class_metrics')}", ""]
    lines += [f"- {line}" for line in metric_lines(report, language)] or [t("class_metrics_none")]
    lines += ["", f"## {t('class_flags')}", ""]
    if report.flags:
        lines += [flag_summary(report, language), ""]
        lines += _md_table(
            [t("class_col_student"), t("class_col_flag"), t("class_col_exercise")], flag_rows(report, language)
        )
    else:
        lines.append(t("class_flags_none"))
    lines += ["", f"## {t('class_similarity')}", "", similarity_note(report, language), ""]
    pairs = pair_rows(report)
    if pairs:
        lines += _md_table([t(c) for c in PAIR_COLUMNS], pairs)
        lines += [""] + _md_fragments(report)
    elif not report.similarity_problem:
        lines.append(t("class_similarity_none"))
    lines += ["", f"{t('class_plots')}: class.html", "", "---", f"*{t('class_hidden_note')}*", ""]
    return "\n".join(lines)


# -- HTML ----------------------------------------------------------------------------------------
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
table { border-collapse: collapse; width: 100%; margin: .5em 0 1.5em; }
th, td { border-bottom: 1px solid #ddd; padding: .3em .5em; text-align: left; vertical-align: top; }
td.n { text-align: right; white-space: nowrap; }
tr.strong td { background: #f3f3f3; font-weight: bold; }
.note { color: #555; font-size: .9em; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; margin-bottom: 1.5em; }
.pair pre { background: #f6f8fa; padding: .6em; overflow-x: auto; font-size: .8em; margin: 0; }
.plots { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
figure { margin: 0; } figure.wide { grid-column: 1 / -1; text-align: center; }
figure img { max-width: 100%; border: 1px solid #eee; }
"""


def _html_table(headers: list[str], rows: list[list[str]], bold: list[bool] | None = None, numeric=()) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for index, row in enumerate(rows):
        cells = "".join(
            f'<td class="n">{esc(c)}</td>' if i in numeric else f"<td>{esc(c)}</td>" for i, c in enumerate(row)
        )
        body.append(f'<tr class="strong">{cells}</tr>' if bold and bold[index] else f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _html_fragments(report: ClassReport) -> str:
    esc = html.escape
    parts = []
    for result in report.similarity.values():
        for pair in result.pairs:
            columns = "".join(
                f"<div><strong>{esc(student)}</strong><pre>{esc(fragment)}</pre></div>"
                for student, fragment in zip((pair.first, pair.second), pair.fragments)
            )
            parts.append(
                f"<h4>{esc(result.module)}: {esc(pair.first)} ↔ {esc(pair.second)} "
                f'({_percent(pair.similarity)})</h4><div class="pair">{columns}</div>'
            )
    return "".join(parts)


def _html_figures(report: ClassReport) -> str:
    esc = html.escape
    return "".join(
        f'<figure{" class=wide" if f.wide else ""}><img alt="{esc(f.title)}" src="data:image/png;base64,'
        f'{base64.b64encode(f.png).decode("ascii")}"></figure>'
        for f in report.figures
    )


def render_html(report: ClassReport, language: str) -> str:
    esc = html.escape
    t = lambda key, **params: _t(key, language, **params)  # noqa: E731
    rows = points_rows(report)
    parts = [
        f"<h1>{esc(t('class_title'))}</h1><p>{esc(overview(report, language))}</p>",
        f'<h2>{esc(t("class_plots"))}</h2><div class="plots">{_html_figures(report)}</div>',
        f'<h2>{esc(t("class_points"))}</h2><p class="note">{esc(t("class_points_note"))}</p>',
        _html_table([t(c) for c in POINTS_COLUMNS], [r for _, r in rows], [b for b, _ in rows], range(1, 7)),
        f"<h2>{esc(t('class_mistakes'))}</h2>",
    ]
    mistakes = mistake_rows(report, language)
    parts.append(
        _html_table(
            [t("class_col_exercise"), t("class_col_mistake"), t("class_col_students"), t("class_col_share")],
            mistakes,
            numeric=(2, 3),
        )
        if mistakes
        else f"<p>{esc(t('class_mistakes_none'))}</p>"
    )
    metrics = metric_lines(report, language)
    parts.append(
        f"<h2>{esc(t('class_metrics'))}</h2>"
        + (
            f"<ul>{''.join(f'<li>{esc(m)}</li>' for m in metrics)}</ul>"
            if metrics
            else f"<p>{esc(t('class_metrics_none'))}</p>"
        )
    )
    parts.append(f"<h2>{esc(t('class_flags'))}</h2>")
    parts.append(
        f"<p>{esc(flag_summary(report, language))}</p>"
        + _html_table(
            [t("class_col_student"), t("class_col_flag"), t("class_col_exercise")], flag_rows(report, language)
        )
        if report.flags
        else f"<p>{esc(t('class_flags_none'))}</p>"
    )
    parts.append(f'<h2>{esc(t("class_similarity"))}</h2><p class="note">{esc(similarity_note(report, language))}</p>')
    pairs = pair_rows(report)
    if pairs:
        parts.append(_html_table([t(c) for c in PAIR_COLUMNS], pairs, numeric=(2, 3, 4)) + _html_fragments(report))
    elif not report.similarity_problem:
        parts.append(f"<p>{esc(t('class_similarity_none'))}</p>")
    parts.append(f'<p class="note">{esc(t("class_hidden_note"))}</p>')
    return (
        f'<!DOCTYPE html>\n<html lang="{language}"><head><meta charset="utf-8"><title>{esc(t("class_title"))}'
        f"</title><style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n"
    )

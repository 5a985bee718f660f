"""Feedback reports for one student, in Markdown and self-contained HTML (plots inlined as PNG).

Both are rendered from the JSON report (`Report.to_json`): the score table, then for each
exercise that did not pass what was expected and what came back and the likely diagnosis,
then the plots the checks attached (autograder/exercises/artifacts.py). Messages about hidden cases
lose their values (`student_messages`): a report never shows hidden data.
"""

from __future__ import annotations

import dataclasses
import html
from dataclasses import dataclass, field
from pathlib import Path

from ..exercises.artifacts import problem
from ..messages import Message, catalog
from .report import HEADINGS, STATUS_TEXT, pending_note, write_text_atomically
from .scoring import Report

HIDDEN_VALUES = {
    "mismatch": ("mismatch_hidden", ("what", "where", "rel", "rtol", "atol")),
    # what student code raised on a hidden case may hold its inputs (repr(argument))
    "raised": ("raised_hidden", ("name", "exc_type")),
    "not_implemented": ("not_implemented_hidden", ("name",)),
}


def student_messages(messages: list[Message]) -> list[Message]:
    """`messages` with the values of hidden cases (expected, got) left out."""
    if not any(m.key == "case_hidden" for m in messages):
        return list(messages)
    shown = []
    for message in messages:
        key, kept = HIDDEN_VALUES.get(message.key, (message.key, None))
        shown.append(Message(key, {k: v for k, v in message.params.items() if kept is None or k in kept}))
    return shown


def redacted(report: Report) -> Report:
    """`report` as a student may see it: `student_messages` in every exercise."""
    return dataclasses.replace(
        report, exercises=[dataclasses.replace(e, messages=student_messages(e.messages)) for e in report.exercises]
    )


@dataclass
class Plot:
    title: str
    data_uri: str | None = None
    unavailable: str | None = None


@dataclass
class ExerciseView:
    name: str
    module: str
    points: str
    status: str
    status_text: str
    findings: list[str] = field(default_factory=list)
    diagnoses: list[str] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)


def _plots(artifacts: dict, language: str) -> list[Plot]:
    from .report_plots import png_data_uri, render_png  # matplotlib only when there is something to draw

    plots = []
    for name, artifact in artifacts.items():
        title_key = artifact.get("title") or f"plot_{artifact.get('kind')}" if isinstance(artifact, dict) else ""
        title = Message(title_key).render(language) if title_key in catalog() else name
        reason = problem(artifact)
        if reason is None:
            try:
                plots.append(Plot(title, png_data_uri(render_png(artifact, language))))
                continue
            except (TypeError, ValueError, KeyError, IndexError) as error:
                reason = f"{type(error).__name__}: {error}"[:200]
        plots.append(Plot(title, unavailable=Message("report_plot_unavailable", {"reason": reason}).render(language)))
    return plots


def _findings(messages: list[Message], language: str) -> list[str]:
    """Rendered messages except diagnoses, each case label joined to the finding that follows it."""
    findings, label = [], ""
    for message in messages:
        if message.key.startswith("case_"):
            label = message.render(language) + ": "
        elif not message.key.startswith("diag_"):
            findings.append(label + message.render(language))
            label = ""
    return findings + ([label.rstrip(": ")] if label else [])


def exercise_views(report: dict, language: str) -> list[ExerciseView]:
    views = []
    for exercise in report["exercises"]:
        messages = student_messages([Message.from_json(m) for m in exercise.get("messages", [])])
        views.append(
            ExerciseView(
                name=exercise["id"].split(".", 1)[-1],
                module=exercise["module"],
                points=f"{exercise['score']:g}/{exercise['max_score']:g}",
                status=exercise["status"],
                status_text=STATUS_TEXT[language][exercise["status"]],
                findings=_findings(messages, language),
                diagnoses=[m.render(language) for m in messages if m.key.startswith("diag_")],
                plots=_plots(exercise.get("artifacts") or {}, language),
            )
        )
    return views


def _total(report: dict, language: str) -> str:
    percent = 100.0 * report["score"] / report["max_score"] if report["max_score"] else 0.0
    return Message(
        "report_total", {"score": report["score"], "max_score": report["max_score"], "percent": percent}
    ).render(language)


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(report: dict, student: str, language: str, views: list[ExerciseView] | None = None) -> str:
    views = views or exercise_views(report, language)
    exercise_h, points_h, status_h, message_h, _, _ = HEADINGS[language]
    lines = [
        f"# {Message('report_title', {'student': student}).render(language)}",
        "",
        f"**{_total(report, language)}**",
        "",
        *([pending_note(report, language), ""] if report.get("pending") else []),
        f"| {exercise_h} | {points_h} | {status_h} | {message_h} |",
        "|---|---:|---|---|",
    ]
    module_totals = report.get("modules", {})
    current = None
    for view in views:
        if view.module != current:
            current = view.module
            totals = module_totals.get(current, {})
            lines.append(f"| **{current}** | **{totals.get('score', 0):g}/{totals.get('max_score', 0):g}** | | |")
        lines.append(f"| {view.name} | {view.points} | {view.status_text} | {_cell('; '.join(view.findings))} |")
    lines += ["", f"## {Message('report_details').render(language)}", ""]
    failing = [view for view in views if view.status != "passed"]
    for view in failing:
        lines.append(f"### {view.module}.{view.name} — {view.status_text} ({view.points})")
        lines += [f"- {finding}" for finding in view.findings]
        lines += [f"- **{Message('report_diagnosis').render(language)}:** {d}" for d in view.diagnoses]
        lines.append("")
    if not failing:
        lines += [Message("report_all_passed").render(language), ""]
    plotted = [view for view in views if view.plots]
    if plotted:
        lines += [f"## {Message('report_plots').render(language)}", ""]
    for view in plotted:
        for plot in view.plots:
            lines.append(f"### {view.module}.{view.name}: {plot.title}")
            lines += ["", f"![{plot.title}]({plot.data_uri})" if plot.data_uri else plot.unavailable, ""]
    lines += ["---", f"*{Message('report_hidden_note').render(language)}*", ""]
    return "\n".join(lines)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .35em .6em; text-align: left; vertical-align: top; }
td.points { text-align: right; white-space: nowrap; }
tr.module td { background: #f3f3f3; font-weight: bold; }
.passed { color: #1a7f37; } .failed, .error { color: #cf222e; } .timeout { color: #9a6700; } .missing { color: #777; }
.diagnosis { background: #fff8c5; padding: .1em .3em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
.note { color: #666; font-size: .9em; }
"""


def render_html(report: dict, student: str, language: str, views: list[ExerciseView] | None = None) -> str:
    esc = html.escape
    views = views or exercise_views(report, language)
    exercise_h, points_h, status_h, message_h, _, _ = HEADINGS[language]
    title = Message("report_title", {"student": student}).render(language)
    rows = []
    current = None
    for view in views:
        if view.module != current:
            current = view.module
            totals = report.get("modules", {}).get(current, {})
            rows.append(
                f'<tr class="module"><td>{esc(current)}</td><td class="points">'
                f"{totals.get('score', 0):g}/{totals.get('max_score', 0):g}</td><td></td><td></td></tr>"
            )
        rows.append(
            f'<tr><td>{esc(view.name)}</td><td class="points">{view.points}</td>'
            f'<td class="{view.status}">{esc(view.status_text)}</td><td>{esc("; ".join(view.findings))}</td></tr>'
        )
    details = []
    for view in (v for v in views if v.status != "passed"):
        items = [f"<li>{esc(f)}</li>" for f in view.findings]
        items += [
            f'<li><span class="diagnosis">{esc(Message("report_diagnosis").render(language))}: {esc(d)}</span></li>'
            for d in view.diagnoses
        ]
        details.append(
            f'<h3>{esc(view.module)}.{esc(view.name)} — <span class="{view.status}">'
            f"{esc(view.status_text)}</span> ({view.points})</h3><ul>{''.join(items)}</ul>"
        )
    if not details:
        details.append(f"<p>{esc(Message('report_all_passed').render(language))}</p>")
    figures = [
        f"<figure><figcaption>{esc(view.module)}.{esc(view.name)}: {esc(plot.title)}</figcaption>"
        + (
            f'<img alt="{esc(plot.title)}" src="{plot.data_uri}">'
            if plot.data_uri
            else f"<p>{esc(plot.unavailable)}</p>"
        )
        + "</figure>"
        for view in views
        for plot in view.plots
    ]
    plots_section = f"<h2>{esc(Message('report_plots').render(language))}</h2>{''.join(figures)}" if figures else ""
    return (
        f'<!DOCTYPE html>\n<html lang="{language}"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1><p><strong>{esc(_total(report, language))}</strong></p>"
        + (f'<p class="pending">{esc(pending_note(report, language))}</p>' if report.get("pending") else "")
        + f"<table><thead><tr><th>{exercise_h}</th><th>{points_h}</th>"
        f"<th>{status_h}</th><th>{message_h}</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        f"<h2>{esc(Message('report_details').render(language))}</h2>{''.join(details)}{plots_section}"
        f'<p class="note">{esc(Message("report_hidden_note").render(language))}</p></body></html>\n'
    )


def write_feedback(report: dict, student: str, folder: Path, language: str) -> list[Path]:
    """report.md and report.html in `folder`, each written atomically."""
    folder = Path(folder)
    written = []
    views = exercise_views(report, language)  # plots drawn once for both formats
    for name, text in (
        ("report.md", render_markdown(report, student, language, views)),
        ("report.html", render_html(report, student, language, views)),
    ):
        write_text_atomically(text, folder / name)
        written.append(folder / name)
    return written

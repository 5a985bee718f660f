"""Stage 5 — report: the score table in the terminal, the JSON report, Gradescope's format."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..messages import Message, render_all
from .scoring import Report

STATUS_TEXT = {
    "pt": {
        "passed": "ok",
        "failed": "falhou",
        "error": "erro",
        "timeout": "tempo esgotado",
        "missing": "ausente",
        "pending": "a corrigir",
    },
    "en": {
        "passed": "passed",
        "failed": "failed",
        "error": "error",
        "timeout": "timeout",
        "missing": "missing",
        "pending": "by hand",
    },
}
STATUS_STYLE = {
    "passed": "green",
    "failed": "red",
    "error": "red",
    "timeout": "yellow",
    "missing": "dim",
    "pending": "cyan",
}
UNCONFINED = {
    "pt": "Atenção: o código do aluno rodou sem confinamento ({reason}).",
    "en": "Note: student code ran without confinement ({reason}).",
}
HEADINGS = {
    "pt": ("Exercício", "Pontos", "Situação", "Mensagem", "Total", "Nota de"),
    "en": ("Exercise", "Points", "Status", "Message", "Total", "Score of"),
}


def _points(value: float) -> str:
    return f"{value:g}"


def score_table(report: Report, language: str, title: str) -> Table:
    exercise_h, points_h, status_h, message_h, total_h, _ = HEADINGS[language]
    table = Table(title=escape(title), show_lines=False, expand=False)
    table.add_column(exercise_h, no_wrap=True)
    table.add_column(points_h, justify="right", no_wrap=True)
    table.add_column(status_h, no_wrap=True)
    table.add_column(message_h, overflow="fold")
    modules = report.modules()
    current = None
    for e in report.exercises:
        if e.module != current:
            _add_pending_rows(table, report, current, language)
            current = e.module
            got, top = modules[current]
            table.add_row(
                f"[bold]{current}[/bold]", f"[bold]{_points(got)}/{_points(top)}[/bold]", "", "", end_section=False
            )
        style = STATUS_STYLE[e.status]
        table.add_row(
            f"  {e.exercise}",
            f"{_points(e.score)}/{_points(e.max_score)}",
            f"[{style}]{STATUS_TEXT[language][e.status]}[/{style}]",
            escape(render_all(e.messages, language)),
        )
    _add_pending_rows(table, report, current, language)
    percent = 100.0 * report.score / report.max_score if report.max_score else 0.0
    table.add_section()
    table.add_row(
        f"[bold]{total_h}[/bold]",
        f"[bold]{_points(report.score)}/{_points(report.max_score)}[/bold]",
        f"[bold]{percent:.0f} %[/bold]",
        "",
    )
    if report.pending:
        table.add_row(
            f"  + {len(report.pending)} ✎",
            f"–/{_points(report.pending_max_score)}",
            f"[cyan]{STATUS_TEXT[language]['pending']}[/cyan]",
            "",
        )
    return table


def _add_pending_rows(table: Table, report: Report, module: str | None, language: str) -> None:
    """A module's written answers: their points, pending (not in the total above)."""
    for answer in (p for p in report.pending if p.module == module):
        table.add_row(
            f"  {answer.name} ✎",
            f"–/{_points(answer.max_score)}",
            f"[cyan]{STATUS_TEXT[language]['pending']}[/cyan]",
            "",
        )


def print_report(report: Report, language: str, title: str, console: Console | None = None) -> None:
    console = console or Console()
    console.print(score_table(report, language, title))
    note = unconfined_note(report, language)
    if note:
        console.print(f"[yellow]{escape(note)}[/yellow]")


def unconfined_note(report: Report, language: str) -> str:
    """A line saying the grading ran unconfined (empty when it was confined)."""
    if not report.sandbox or report.sandbox.get("confined", True):
        return ""
    return UNCONFINED[language].format(reason=report.sandbox.get("reason") or "?")


def gradescope_json(report: Report, language: str) -> dict:
    """Gradescope's results.json: the total and one test per exercise."""
    tests = []
    for number, e in enumerate(report.exercises, start=1):
        tests.append(
            {
                "name": e.id,
                "number": str(number),
                "score": e.score,
                "max_score": e.max_score,
                "status": "passed" if e.status == "passed" else "failed",
                "output": render_all(e.messages, language) or STATUS_TEXT[language][e.status],
                "visibility": "visible",
            }
        )
    results = {"score": report.score, "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}
    notes = [
        note for note in (unconfined_note(report, language), pending_note(report.to_json(language), language)) if note
    ]
    if notes:
        results["output"] = "\n".join(notes)
    return results


def pending_note(report: dict, language: str) -> str:
    """A line naming the written answers still to be graded by hand (empty when there are none)."""
    pending = report.get("pending") or []
    if not pending:
        return ""
    return Message(
        "report_pending",
        {
            "count": len(pending),
            "points": report.get("pending_max_score", 0),
            "names": ", ".join(p["id"] for p in pending),
        },
    ).render(language)


def write_text_atomically(text: str, path: Path) -> None:
    """Write through a temporary file and a rename: a kill leaves the old file or the new one."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def write_json_atomically(data: dict, path: Path) -> None:
    write_text_atomically(json.dumps(data, indent=2, ensure_ascii=False), path)

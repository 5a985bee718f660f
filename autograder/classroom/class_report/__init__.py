"""The class report: what the whole class got wrong, who was flagged, whose code looks copied.

`grade-all` writes it at the end, and `python -m autograder class-report RESULTS_DIR` rebuilds it
from a results folder without grading again: RESULTS_DIR/class.md (tables, readable as text)
and class.html (the same, plots inlined). It reads the results only (results.py); only
classroom.py and cli.py import this package, and importing it is cheap: matplotlib and
copydetect are loaded when a report is built.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ... import PROJECT

STUBS = PROJECT / "assignments"


def snapshot_answers(students, results_folder, modules, caps=None) -> None:
    """Keep each student's graded code in RESULTS_DIR/<student>/answers/ (see results.py)."""
    from .results import snapshot_answers as snapshot

    snapshot(students, Path(results_folder), modules, caps)


def write_class_report(results_folder, similarity_settings: dict, language: str, stubs=STUBS) -> list[Path]:
    """class.md and class.html in `results_folder`, each written atomically."""
    from ...grading.report import write_text_atomically
    from .build import build_class_report
    from .render import render_html, render_markdown

    folder = Path(results_folder)
    report = build_class_report(folder, similarity_settings, language, Path(stubs))
    written = []
    for name, text in (("class.md", render_markdown(report, language)), ("class.html", render_html(report, language))):
        write_text_atomically(text, folder / name)
        written.append(folder / name)
    return written


def cmd_class_report(args) -> int:
    from ...grading.policy import load_policy
    from .results import ResultsError

    policy = load_policy(args.policy)
    try:
        written = write_class_report(args.results, policy.similarity, args.lang or policy.language, args.stubs)
    except ResultsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


def add_command(commands) -> None:
    """`python -m autograder class-report RESULTS_DIR` (registered by cli.py)."""
    parser = commands.add_parser("class-report", help="rebuild class.md/class.html from grade-all's results folder")
    parser.add_argument("results", help="the results folder of grade-all (grades.csv, <student>/report.json)")
    parser.add_argument("--lang", choices=("pt", "en"), help="report language (default: the policy's)")
    parser.add_argument("--stubs", default=str(STUBS), help="the stubs whose code the similarity check ignores")
    parser.set_defaults(run=cmd_class_report)

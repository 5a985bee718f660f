"""The class gradebook: `grades.csv`, one row per student, built from the students' JSON reports."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..exercises.contract import exercise_id
from ..grading.report import write_text_atomically

PENDING = "pending"  # a written answer's cell: graded by hand (nbgrader's formgrader), not here


def gradebook_columns(policy, modules: list[str]) -> list[str]:
    """`student`, then per module its exercises, its written answers (always `pending`) and the
    module's auto-graded total, then `total` (auto-graded)."""
    columns = ["student"]
    for module in modules:
        columns += [exercise_id(module, exercise) for exercise in policy.modules[module].points]
        columns += [exercise_id(module, answer) for answer in policy.modules[module].written]
        columns.append(module)
    return columns + ["total"]


def gradebook_row(student: str, report: dict | None) -> dict:
    """A student's cells; only `student` when there is no report (grading failed)."""
    row = {"student": student}
    if report is None:
        return row
    row.update({e["id"]: f"{e['score']:g}" for e in report["exercises"]})
    row.update({p["id"]: PENDING for p in report.get("pending", [])})
    row.update({module: f"{totals['score']:g}" for module, totals in report["modules"].items()})
    row["total"] = f"{report['score']:g}"
    return row


def read_report(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_gradebook(path: Path, columns: list[str], reports: dict[str, dict | None]) -> Path:
    """`reports`: student -> JSON report (None when missing); rows sorted by student."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for student in sorted(reports):
        writer.writerow(gradebook_row(student, reports[student]))
    write_text_atomically(buffer.getvalue(), path)
    return Path(path)

"""What a `grade-all` results folder holds, read back: the gradebook's students, their JSON
reports, the manifest's grading failures, and the answer code kept for the similarity check.

    RESULTS_DIR/grades.csv, manifest.json, <student>/report.json, <student>/answers/<module>.py
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ...grading.submission import SubmissionError, load_submission

GRADEBOOK, MANIFEST, ANSWERS = "grades.csv", "manifest.json", "answers"


@dataclass
class ClassResults:
    folder: Path
    students: list[str]  # every row of grades.csv, in its order
    reports: dict[str, dict] = field(default_factory=dict)  # the graded ones
    failures: dict[str, str] = field(default_factory=dict)  # student -> why there is no report

    @property
    def graded(self) -> list[str]:
        return [s for s in self.students if s in self.reports]


class ResultsError(ValueError):
    """RESULTS_DIR is not the output of grade-all."""


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _gradebook_rows(folder: Path) -> list[dict]:
    try:
        with open(folder / GRADEBOOK, encoding="utf-8", newline="") as file:
            return list(csv.DictReader(file))
    except OSError:
        raise ResultsError(f"{folder}: no {GRADEBOOK} (not a grade-all results folder)") from None


def _failure_reason(entry: dict) -> str:
    """Only what is safe to show: a grading log's last line may quote hidden values."""
    detail = entry.get("detail") or ""
    return detail if detail.startswith("stopped after") else "grading.log"


def read_results(folder: str | Path) -> ClassResults:
    """A student counts as graded when grades.csv has their total (as grade-all decided)."""
    folder = Path(folder)
    rows = _gradebook_rows(folder)
    manifest = (_json(folder / MANIFEST) or {}).get("students", {})
    results = ClassResults(folder, [row["student"] for row in rows])
    for row in rows:
        student = row["student"]
        report = _json(folder / student / "report.json") if row.get("total") else None
        if report is None:
            results.failures[student] = _failure_reason(manifest.get(student, {}))
        else:
            results.reports[student] = report
    return results


def snapshot_answers(students, results_folder: Path, modules, caps=None) -> None:
    """Keep each student's graded code in RESULTS_DIR/<student>/answers/ (submission.py writes
    each module there as graded: a .py file, or a notebook's answer and setup cells), so the
    class report needs nothing but the results. `caps`: the policy's SandboxPolicy."""
    for name, folder in students:
        target = Path(results_folder) / name / ANSWERS
        shutil.rmtree(target, ignore_errors=True)
        try:
            load_submission(folder, modules, target, **({"caps": caps} if caps is not None else {}))
        except SubmissionError:
            shutil.rmtree(target, ignore_errors=True)


def read_answers(results: ClassResults, module: str) -> dict[str, str]:
    """student -> the module's code as graded, for the graded students that have it."""
    answers = {}
    for student in results.graded:
        path = results.folder / student / ANSWERS / f"{module}.py"
        if path.is_file():
            answers[student] = path.read_text(encoding="utf-8", errors="replace")
    return answers

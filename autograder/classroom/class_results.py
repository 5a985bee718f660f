"""A grade-all run's results folder, whoever grades the students (classroom.py's fork server or
cluster.py's Dask workers): the students found, the hashes that decide who is graded again,
the manifest, each student's outcome written atomically, the gradebook and the class report."""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from .. import PACKAGE
from ..grading.feedback import write_feedback
from ..grading.report import write_json_atomically, write_text_atomically
from . import class_report
from .gradebook import gradebook_columns, read_report, write_gradebook
from .progress import progress_display

MANIFEST, GRADEBOOK, WORK, LOCK = "manifest.json", "grades.csv", ".work", ".lock"
IGNORED_PARTS = {"__pycache__", ".ipynb_checkpoints", ".git"}
REPORT_FILES = ("report.json", "report.md", "report.html", "grading.log")


class ClassroomError(ValueError):
    """The run as a whole cannot start (bad folder, another run in progress)."""


@dataclass(frozen=True)
class Student:
    name: str
    folder: Path
    files_hash: str


@dataclass
class Summary:
    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    identical: list[list[str]] = field(default_factory=list)
    seconds: float = 0.0
    gradebook: Path | None = None
    class_report: list[Path] = field(default_factory=list)


def _hash_files(paths, root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.relative_to(root).as_posix()):
        data = path.read_bytes()
        digest.update(f"{path.relative_to(root).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def files_hash(folder: Path) -> str:
    """sha256 over the sorted relative paths and bytes of every file under `folder`."""
    files = [p for p in folder.rglob("*") if p.is_file() and not IGNORED_PARTS & set(p.relative_to(folder).parts)]
    return _hash_files(files, folder)


def grader_hash() -> str:
    """sha256 over the grader's own files (its code, locale, fixtures): the kit as installed."""
    grader = [
        p
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix in (".py", ".toml", ".npz", ".ini") and "__pycache__" not in p.parts
    ]
    return _hash_files(grader, PACKAGE)


def settings_hash(policy_path: Path, options: dict) -> str:
    """What else decides a grade: the policy, the grader's own files and the options."""
    digest = hashlib.sha256(Path(policy_path).read_bytes())
    digest.update(grader_hash().encode())
    digest.update(json.dumps(options, sort_keys=True).encode())
    return digest.hexdigest()


def find_students(submissions: Path, assignment: str | None, results: Path | None = None) -> list[Student]:
    if not submissions.is_dir():
        raise ClassroomError(f"{submissions}: not a folder of student folders")
    students = []
    for entry in sorted(submissions.iterdir()):
        if entry.is_dir() and not entry.name.startswith(".") and entry.resolve() != (results and results.resolve()):
            folder = entry / assignment if assignment else entry
            students.append(Student(entry.name, folder, files_hash(folder) if folder.is_dir() else "missing"))
    return students


def identical_groups(students: list[Student]) -> list[list[str]]:
    by_hash: dict[str, list[str]] = {}
    for student in students:
        by_hash.setdefault(student.files_hash, []).append(student.name)
    return [names for key, names in by_hash.items() if len(names) > 1 and key != "missing"]


class Manifest:
    def __init__(self, path: Path):
        self.path = path
        data = read_report(path) or {}
        self.students: dict[str, dict] = data.get("students", {})

    def is_current(self, student: Student, settings: str, results: Path) -> bool:
        entry = self.students.get(student.name, {})
        return (
            entry.get("status") == "graded"
            and entry.get("files") == student.files_hash
            and entry.get("settings") == settings
            and (results / student.name / "report.json").is_file()
        )

    def record(self, student: Student, settings: str, **fields) -> None:
        self.students[student.name] = {"files": student.files_hash, "settings": settings, **fields}
        write_json_atomically({"format": 1, "students": self.students}, self.path)


@dataclass
class Outcome:
    """One student's grading as the coordinator records it, wherever it ran: `report` (the
    parsed report.json) is None when grading failed, `detail` then says why; `feedback` holds
    report.md and report.html when they were rendered elsewhere (None: render them here)."""

    student: Student
    seconds: float
    log: str
    report: dict | None
    detail: str = ""
    feedback: dict[str, str] | None = None
    worker: str | None = None


class ClassRun:
    """The coordinator's side of one grade-all run, whoever grades the students (the local fork
    server, or a cluster): the lock on RESULTS_DIR, the manifest, the progress display, each
    student's files written atomically, and at the end the gradebook and the class report."""

    def __init__(
        self,
        submissions: Path,
        results: Path,
        policy,
        modules: list[str],
        options: dict,
        *,
        force: bool,
        show_progress: bool,
    ):
        self.results, self.policy, self.modules, self.language = results, policy, modules, options["language"]
        self.students = find_students(submissions, options["assignment"], results)
        results.mkdir(parents=True, exist_ok=True)
        self.lock = open(results / LOCK, "w")  # noqa: SIM115  (held, and locked, until close())
        try:
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.lock.close()
            raise ClassroomError(f"{results}: another grade-all is writing here") from None
        shutil.rmtree(results / WORK, ignore_errors=True)  # left by a killed run
        (results / WORK).mkdir()
        self.settings = settings_hash(policy.path, options)
        self.manifest = Manifest(results / MANIFEST)
        self.summary = Summary(identical=identical_groups(self.students))
        self.pending: deque[Student] = deque()
        for student in self.students:
            if not force and self.manifest.is_current(student, self.settings, results):
                self.summary.skipped.append(student.name)
            else:
                self.pending.append(student)
        self.display = progress_display(len(self.students), show_progress)
        self.show_counts(running=0)
        if self.summary.skipped:
            self.display.log(f"{len(self.summary.skipped)} unchanged since their last grading: skipped")

    def show_counts(self, running: int) -> None:
        summary = self.summary
        self.display.update(
            done=len(summary.skipped) + len(summary.graded) + len(summary.failed),
            running=running,
            failed=len(summary.failed),
        )

    def _install(self, outcome: Outcome) -> None:
        """Write the student's log, feedback and report into RESULTS_DIR/<student>/ (report.json last)."""
        target = self.results / outcome.student.name
        target.mkdir(parents=True, exist_ok=True)
        write_text_atomically(outcome.log, target / "grading.log")
        if outcome.report is None:
            for name in REPORT_FILES[:3]:
                (target / name).unlink(missing_ok=True)
            return
        if outcome.feedback is None:
            write_feedback(outcome.report, outcome.student.name, target, self.language)
        else:
            for name in REPORT_FILES[1:3]:
                write_text_atomically(outcome.feedback[name], target / name)
        write_json_atomically(outcome.report, target / "report.json")

    def record(self, outcome: Outcome, running: int) -> None:
        """Install one student's outcome, then note it in the manifest and on the display."""
        self._install(outcome)
        name, report, where = outcome.student.name, outcome.report, {"worker": outcome.worker} if outcome.worker else {}
        if report is None:
            self.manifest.record(
                outcome.student, self.settings, status="failed", seconds=outcome.seconds, detail=outcome.detail, **where
            )
            self.summary.failed.append(name)
            self.show_counts(running)
            self.display.log(f"failed   {name}: {outcome.detail}")
        else:
            self.manifest.record(
                outcome.student,
                self.settings,
                status="graded",
                seconds=outcome.seconds,
                score=report["score"],
                max_score=report["max_score"],
                **where,
            )
            self.summary.graded.append(name)
            self.show_counts(running)
            self.display.log(f"graded   {name}: {report['score']:g}/{report['max_score']:g} ({outcome.seconds:g} s)")

    def close(self, finished: bool) -> Summary:
        """The gradebook (always), the class report (when every student was handled), the lock."""
        try:
            self.display.close()
            results, students = self.results, self.students
            reports = {
                s.name: read_report(results / s.name / "report.json")
                if self.manifest.is_current(s, self.settings, results)
                else None
                for s in students
            }
            self.summary.gradebook = write_gradebook(
                results / GRADEBOOK, gradebook_columns(self.policy, self.modules), reports
            )
            shutil.rmtree(results / WORK, ignore_errors=True)
            if finished:
                class_report.snapshot_answers(
                    [(s.name, s.folder) for s in students if s.folder.is_dir()],
                    results,
                    self.modules,
                    self.policy.sandbox,
                )
                self.summary.class_report = class_report.write_class_report(
                    results, self.policy.similarity, self.language
                )
        finally:
            self.lock.close()
        return self.summary

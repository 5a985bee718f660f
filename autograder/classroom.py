"""`grade-all`: grade a whole class, one student per worker process, resumable.

SUBMISSIONS_DIR holds one folder per student (or nbgrader's `<student>/<assignment>/` with
`--assignment`). Each student is graded by `python -m autograder grade` in its own process
(its own session, killed when this process dies or after a wall-time cap derived from the
policy), so a crash or hang of one student's grading never touches another's. Those processes
are forked from a server that has already imported the grader (torch, pytest): each starts in
milliseconds instead of seconds, and starts from the same state. Results:

    RESULTS_DIR/<student>/report.json, report.md, report.html, grading.log
    RESULTS_DIR/<student>/answers/<module>.py   the code as graded (for the class report)
    RESULTS_DIR/grades.csv       the gradebook (gradebook.py)
    RESULTS_DIR/manifest.json    per student: hash of the files, of the settings, status
    RESULTS_DIR/class.md, class.html   the class report (class_report/), when the run finishes

Every file is written atomically. A student whose files and settings (policy, grader code,
options) have the same hashes as in the manifest is not graded again unless `force`; so an
interrupted run (Ctrl-C, kill -9) continues where it stopped.
"""
from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from . import class_report, contract
from .feedback import write_feedback
from .gradebook import gradebook_columns, read_report, write_gradebook
from .policy import load_policy
from .progress import progress_display
from .report import write_json_atomically, write_text_atomically

PACKAGE = Path(__file__).resolve().parent
MANIFEST, GRADEBOOK, WORK, LOCK = "manifest.json", "grades.csv", ".work", ".lock"
IGNORED_PARTS = {"__pycache__", ".ipynb_checkpoints", ".git"}
REPORT_FILES = ("report.json", "report.md", "report.html", "grading.log")
# Without a fork server (not Linux/macOS) each student gets a fresh interpreter running the same
# `_grade_in_worker`: argv is the log's path, grade-all's pid, then the `grade` command.
WORKER_BOOTSTRAP = ("import sys; from autograder.classroom import _grade_in_worker; "
                    "_grade_in_worker(sys.argv[3:], sys.argv[1], int(sys.argv[2]))")
PRELOAD = ["autograder.cli", "torch", "pytest", *(f"autograder.{stage}.{module}" for module in contract.MODULES
                                                  for stage in ("checks", "cases"))]
WORKER_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}   # the checks need no installed plugin


def _fork_server():
    """multiprocessing's fork server with the grader preloaded; None where there is none."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    from multiprocessing import forkserver
    forkserver.ensure_running()  # it imports PRELOAD while the class is scanned
    return context


def _grade_in_worker(command: list[str], log_path: str, grade_all_pid: int) -> None:
    """A worker: grade one student (`python -m autograder` with `command`), output to its log.

    It dies with its parent (PR_SET_PDEATHSIG): grade-all, or the fork server, which exits when
    grade-all does; it gives up if grade-all is already gone.
    """
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    try:
        os.kill(grade_all_pid, 0)
    except ProcessLookupError:
        os._exit(3)
    os.setsid()
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.environ.update(WORKER_ENV)
    from .cli import main
    sys.exit(main(command))


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
    grader = [p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix in (".py", ".toml", ".npz", ".ini")
              and "__pycache__" not in p.parts]
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


def student_time_cap(policy, modules: list[str]) -> float:
    """Wall seconds after which one student's grading is stopped: twice the sum of the policy's
    limits (import, then each exercise plus a restart of the child) and a start-up margin."""
    budget = sum(policy.import_limit_s + len(policy.modules[m].points) * (policy.modules[m].time_limit_s + 15)
                 for m in modules)
    return 120 + 2 * budget


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
        return (entry.get("status") == "graded" and entry.get("files") == student.files_hash
                and entry.get("settings") == settings and (results / student.name / "report.json").is_file())

    def record(self, student: Student, settings: str, **fields) -> None:
        self.students[student.name] = {"files": student.files_hash, "settings": settings, **fields}
        write_json_atomically({"format": 1, "students": self.students}, self.path)


class _Worker:
    """One student's grading, in a process forked from the fork server (or a fresh interpreter)."""

    def __init__(self, student: Student, command: list[str], workdir: Path, server):
        self.student, self.workdir, self.started = student, workdir, time.monotonic()
        self.log_path = workdir / "grading.log"
        if server is not None:
            self.process = server.Process(target=_grade_in_worker, args=(command, str(self.log_path), os.getpid()))
            self.process.start()
        else:
            env = {**os.environ,
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE.parent), os.environ.get("PYTHONPATH")]))}
            with open(self.log_path, "wb") as log:  # until the worker points its own output there
                self.process = subprocess.Popen(
                    [sys.executable, "-c", WORKER_BOOTSTRAP, str(self.log_path), str(os.getpid()), *command],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.pid = self.process.pid

    def run_to_end(self, cap: float) -> bool:
        """Wait until it exits, killing it after `cap` wall seconds; True if it was killed."""
        while self.exit_code() is None:
            if time.monotonic() - self.started > cap:
                self.kill()
                return True
            time.sleep(0.05)
        return False

    def exit_code(self) -> int | None:
        """None while it runs."""
        if isinstance(self.process, subprocess.Popen):
            return self.process.poll()
        return self.process.exitcode

    def kill(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)   # the worker's session: what it started outside the child
        except (ProcessLookupError, PermissionError):
            pass
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)     # not yet in its own session
        if isinstance(self.process, subprocess.Popen):
            self.process.wait()
        else:
            self.process.join()


def _worker_command(student: Student, report: Path, *, policy_path, only, device, language,
                    unconfined=False) -> list[str]:
    command = ["--policy", str(policy_path), "grade", str(student.folder.resolve()), "--out", str(report),
               "--device", device, "--lang", language]
    return command + (["--only", only] if only else []) + (["--unconfined"] if unconfined else [])


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


def worker_outcome(worker: _Worker, timed_out: bool, cap: float) -> Outcome:
    """What a finished worker left in its folder (grading.log, report.json)."""
    log = (worker.workdir / "grading.log").read_text(encoding="utf-8", errors="replace")
    report = read_report(worker.workdir / "report.json") if worker.exit_code() == 0 else None
    detail = "" if report is not None else f"stopped after {cap:g} s" if timed_out else _last_line(log)
    return Outcome(worker.student, round(time.monotonic() - worker.started, 1), log, report, detail)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


class ClassRun:
    """The coordinator's side of one grade-all run, whoever grades the students (the local fork
    server, or a cluster): the lock on RESULTS_DIR, the manifest, the progress display, each
    student's files written atomically, and at the end the gradebook and the class report."""

    def __init__(self, submissions: Path, results: Path, policy, modules: list[str], options: dict, *,
                 force: bool, show_progress: bool):
        self.results, self.policy, self.modules, self.language = results, policy, modules, options["language"]
        self.students = find_students(submissions, options["assignment"], results)
        results.mkdir(parents=True, exist_ok=True)
        self.lock = open(results / LOCK, "w")
        try:
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.lock.close()
            raise ClassroomError(f"{results}: another grade-all is writing here") from None
        shutil.rmtree(results / WORK, ignore_errors=True)   # left by a killed run
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
        self.display.update(done=len(summary.skipped) + len(summary.graded) + len(summary.failed),
                            running=running, failed=len(summary.failed))

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
            self.manifest.record(outcome.student, self.settings, status="failed", seconds=outcome.seconds,
                                 detail=outcome.detail, **where)
            self.summary.failed.append(name)
            self.show_counts(running)
            self.display.log(f"failed   {name}: {outcome.detail}")
        else:
            self.manifest.record(outcome.student, self.settings, status="graded", seconds=outcome.seconds,
                                 score=report["score"], max_score=report["max_score"], **where)
            self.summary.graded.append(name)
            self.show_counts(running)
            self.display.log(f"graded   {name}: {report['score']:g}/{report['max_score']:g} ({outcome.seconds:g} s)")

    def close(self, finished: bool) -> Summary:
        """The gradebook (always), the class report (when every student was handled), the lock."""
        try:
            self.display.close()
            results, students = self.results, self.students
            reports = {s.name: read_report(results / s.name / "report.json")
                       if self.manifest.is_current(s, self.settings, results) else None for s in students}
            self.summary.gradebook = write_gradebook(results / GRADEBOOK, gradebook_columns(self.policy, self.modules),
                                                     reports)
            shutil.rmtree(results / WORK, ignore_errors=True)
            if finished:
                class_report.snapshot_answers([(s.name, s.folder) for s in students if s.folder.is_dir()], results,
                                              self.modules, self.policy.sandbox)
                self.summary.class_report = class_report.write_class_report(results, self.policy.similarity,
                                                                            self.language)
        finally:
            self.lock.close()
        return self.summary


def _grade_locally(run: ClassRun, server, *, jobs: int, cap: float, command_options: dict) -> None:
    """Grade run.pending with the local fork server (or fresh interpreters), `jobs` students at a time."""
    running: list[_Worker] = []
    try:
        while run.pending or running:
            while run.pending and len(running) < jobs:
                student = run.pending.popleft()
                workdir = Path(tempfile.mkdtemp(dir=run.results / WORK))
                command = _worker_command(student, workdir / "report.json", **command_options)
                running.append(_Worker(student, command, workdir, server))
            time.sleep(0.05)
            for worker in list(running):
                timed_out = worker.exit_code() is None and time.monotonic() - worker.started > cap
                if timed_out:
                    worker.kill()
                if worker.exit_code() is not None:
                    running.remove(worker)
                    run.record(worker_outcome(worker, timed_out, cap), len(running))
                    shutil.rmtree(worker.workdir, ignore_errors=True)
            run.show_counts(len(running))
    finally:
        for worker in running:                       # interrupted: nothing half-done is kept
            worker.kill()


def grade_all(submissions, results, *, policy_path, only=None, jobs=None, force=False, device="cpu",
              language=None, assignment=None, timeout=None, show_progress=True, unconfined=False,
              scheduler=None, cluster=None) -> Summary:
    """Grade every student of SUBMISSIONS into RESULTS: with the local fork server, or with
    `scheduler` (a Dask scheduler's address) / `cluster` ("local:N") on a Dask cluster."""
    from .cli import selected_modules
    from .runner import confinement
    started = time.monotonic()
    submissions, results = Path(submissions), Path(results)
    policy = load_policy(policy_path)
    modules = selected_modules(only, policy)
    language = language or policy.language
    cap = timeout or student_time_cap(policy, modules)
    options = {"only": modules, "device": device, "language": language, "assignment": assignment,
               "unconfined": unconfined}
    command_options = dict(policy_path=policy.path, only=",".join(modules), device=device, language=language,
                           unconfined=unconfined)
    if scheduler or cluster:
        from .cluster import connect   # Dask is imported here only (the optional extra)
        executor = connect(scheduler=scheduler, cluster=cluster, policy=policy, unconfined=unconfined)
    else:
        confinement(hidden=True, unconfined=unconfined)   # refused for the whole class, before any student
        executor, server = None, _fork_server()           # it imports PRELOAD while the class is scanned
    run = ClassRun(submissions, results, policy, modules, options, force=force, show_progress=show_progress)
    finished = False
    try:
        if executor is None:
            _grade_locally(run, server, jobs=max(1, jobs or os.cpu_count() or 1), cap=cap,
                           command_options=command_options)
        else:
            executor.grade(run, cap=cap, command_options=command_options)
        finished = True
    finally:
        if executor is not None:
            executor.close()
        summary = run.close(finished=finished)
    summary.seconds = round(time.monotonic() - started, 1)
    return summary


def cmd_grade_all(args) -> int:
    from .cli import UsageError, resolve_device
    if args.scheduler and args.cluster:
        raise UsageError("--scheduler and --cluster: give one of them")
    distributed = args.scheduler or args.cluster
    try:   # on a cluster each worker resolves --device auto itself
        summary = grade_all(args.submissions, args.out, policy_path=args.policy, only=args.only, jobs=args.jobs,
                            force=args.force, device=args.device if distributed else resolve_device(args.device),
                            language=args.lang, assignment=args.assignment, timeout=args.timeout,
                            unconfined=args.unconfined, scheduler=args.scheduler, cluster=args.cluster)
    except KeyboardInterrupt:
        print("interrupted: the students graded so far are kept; run the same command to continue",
              file=sys.stderr)
        return 130
    print(f"graded {len(summary.graded)}, unchanged {len(summary.skipped)}, failed {len(summary.failed)} "
          f"in {summary.seconds:g} s; gradebook: {summary.gradebook}")
    print(f"class report: {', '.join(map(str, summary.class_report))}")
    for names in summary.identical:
        print(f"identical submissions: {', '.join(names)}")
    if summary.failed:
        print(f"grading failed (see <student>/grading.log; rerun to retry): {', '.join(summary.failed)}")
    return 1 if summary.failed else 0


def add_command(commands) -> None:
    """`python -m autograder grade-all SUBMISSIONS_DIR --out RESULTS_DIR` (registered by cli.py)."""
    parser = commands.add_parser("grade-all", help="grade every student folder of a class in parallel (resumable)")
    parser.add_argument("submissions", help="folder with one sub-folder per student")
    parser.add_argument("--out", required=True, help="results folder: reports, grades.csv, manifest.json")
    parser.add_argument("--jobs", type=int, default=os.cpu_count(),
                        help="students graded at once (default: cores; on a cluster, its workers decide)")
    parser.add_argument("--only", help="comma-separated modules to grade (default: all in the policy)")
    parser.add_argument("--force", action="store_true", help="grade again students whose files did not change")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--lang", choices=("pt", "en"), help="feedback language (default: the policy's)")
    parser.add_argument("--assignment", help="nbgrader layout: grade <student>/<ASSIGNMENT>/")
    parser.add_argument("--timeout", type=float, help="wall seconds per student (default: from the policy)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="grade on the Dask cluster of this scheduler (tcp://host:8786; needs .[cluster])")
    parser.add_argument("--cluster", metavar="local:N", help="grade on a Dask cluster of N local worker processes")
    from .cli import add_unconfined_option
    add_unconfined_option(parser)
    parser.set_defaults(run=cmd_grade_all)

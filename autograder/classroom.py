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
interrupted run (Ctrl-C, kill -9) continues where it stopped. That bookkeeping is
class_results.py's; with `--scheduler`/`--cluster` the students are graded on a Dask cluster
instead (cluster.py), each by the same `_Worker` on a worker machine (cluster_task.py).
"""
from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import contract, isolation, template_client
from .class_results import (IGNORED_PARTS, PACKAGE, WORK, ClassroomError, ClassRun, Outcome, Student, Summary,
                            files_hash, find_students, read_report, settings_hash)
from .policy import load_policy
from .sandbox import child_environment

__all__ = ["IGNORED_PARTS", "ClassroomError", "Outcome", "Summary", "files_hash", "find_students", "grade_all",
           "settings_hash"]   # files_hash … settings_hash: class_results.py's, named here as before

# Without a fork server (not Linux/macOS) each student gets a fresh interpreter running the same
# `_grade_in_worker`: argv is the log's path, grade-all's pid, then the `grade` command.
WORKER_BOOTSTRAP = ("import sys; from autograder.classroom import _grade_in_worker; "
                    "_grade_in_worker(sys.argv[3:], sys.argv[1], int(sys.argv[2]))")
PRELOAD = ["autograder.cli", "torch", "pytest", "autograder.report_plots", "autograder.preload",
           *(f"autograder.{stage}.{module}" for module in contract.MODULES for stage in ("checks", "cases"))]
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


def _grade_in_worker(command: list[str], log_path: str, grade_all_pid: int, environment: dict | None = None) -> None:
    """A worker: grade one student (`python -m autograder` with `command`), output to its log;
    `environment` adds to its variables (the warm template's address, when there is one).

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
    gc.freeze()   # what the fork server imported is never scanned by this worker's collector (nor copied)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.environ.update({**WORKER_ENV, **(environment or {})})
    from .cli import main
    sys.exit(main(command))


def student_time_cap(policy, modules: list[str]) -> float:
    """Wall seconds after which one student's grading is stopped: twice the sum of the policy's
    limits (import, then each exercise plus a restart of the child) and a start-up margin."""
    budget = sum(policy.import_limit_s + len(policy.modules[m].points) * (policy.modules[m].time_limit_s + 15)
                 for m in modules)
    return 120 + 2 * budget


class _Worker:
    """One student's grading, in a process forked from the fork server (or a fresh interpreter)."""

    def __init__(self, student: Student, command: list[str], workdir: Path, server, environment: dict | None = None):
        self.student, self.workdir, self.started = student, workdir, time.monotonic()
        self.log_path = workdir / "grading.log"
        if server is not None:
            self.process = server.Process(target=_grade_in_worker,
                                          args=(command, str(self.log_path), os.getpid(), environment))
            self.process.start()
        else:
            env = {**os.environ, **(environment or {}),
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


def worker_outcome(worker: _Worker, timed_out: bool, cap: float) -> Outcome:
    """What a finished worker left in its folder (grading.log, report.json); a worker stopped
    before it opened its log left none."""
    log_path = worker.workdir / "grading.log"
    log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.is_file() else ""
    report = read_report(worker.workdir / "report.json") if worker.exit_code() == 0 else None
    detail = "" if report is not None else f"stopped after {cap:g} s" if timed_out else _last_line(log)
    return Outcome(worker.student, round(time.monotonic() - worker.started, 1), log, report, detail)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _grade_locally(run: ClassRun, server, *, jobs: int, cap: float, command_options: dict,
                   environment: dict | None = None) -> None:
    """Grade run.pending with the local fork server (or fresh interpreters), `jobs` students at a
    time; `environment` adds to the workers' variables."""
    running: list[_Worker] = []
    try:
        while run.pending or running:
            while run.pending and len(running) < jobs:
                student = run.pending.popleft()
                workdir = Path(tempfile.mkdtemp(dir=run.results / WORK))
                command = _worker_command(student, workdir / "report.json", **command_options)
                running.append(_Worker(student, command, workdir, server, environment))
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


def _warm_template(device: str):
    """The class run's warm template, where student code is confined (else None: each child
    starts itself, unconfined or through the portable runner)."""
    from . import portable
    if isolation.unavailable_reason() is not None or portable.portable_reason() is not None:
        return None
    return template_client.Template(child_environment(device))


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
    template = None
    if scheduler or cluster:
        from .cluster import connect   # Dask is imported here only (the optional extra)
        executor = connect(scheduler=scheduler, cluster=cluster, policy=policy, unconfined=unconfined)
    else:
        confinement(hidden=True, unconfined=unconfined)   # refused for the whole class, before any student
        template = _warm_template(device)                 # it warms up while the fork server imports PRELOAD
        executor, server = None, _fork_server()           # it imports PRELOAD while the class is scanned
    try:
        run = ClassRun(submissions, results, policy, modules, options, force=force, show_progress=show_progress)
    except BaseException:
        for resource in (executor, template):
            if resource is not None:
                resource.close()
        raise
    finished = False
    try:
        if executor is None:
            environment = {template_client.ADDRESS_VARIABLE: template.address} if template else None
            _grade_locally(run, server, jobs=max(1, jobs or os.cpu_count() or 1), cap=cap,
                           command_options=command_options, environment=environment)
        else:
            executor.grade(run, cap=cap, command_options=command_options)
        finished = True
    finally:
        if executor is not None:
            executor.close()
        if template is not None:
            template.close()
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

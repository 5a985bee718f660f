"""One student graded in a process of its own (grade-all's local workers and cluster_task's).

A `Worker` runs the `grade` command (grading/pipeline.py's `grade_main`) for one student, in a
process forked from a fork server that has the grader already imported (`fork_server`, PRELOAD),
or in a fresh interpreter where there is none; it dies with grade-all, and its outcome is what
it left in its folder (`worker_outcome`). `warm_template` starts the class run's warm template
(sandbox/template_client.py), whose address the workers get in their environment.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..exercises import contract
from ..sandbox import isolation, template_client
from ..sandbox.runtime import child_environment
from .class_results import PACKAGE, Outcome, Student, read_report

# Without a fork server (not Linux/macOS) each student gets a fresh interpreter running the same
# `grade_in_worker`: argv is the log's path, grade-all's pid, then the `grade` command.
WORKER_BOOTSTRAP = (
    "import sys; from autograder.classroom.worker import grade_in_worker; "
    "grade_in_worker(sys.argv[3:], sys.argv[1], int(sys.argv[2]))"
)
PRELOAD = [
    "autograder.grading.pipeline",
    "torch",
    "pytest",
    "autograder.grading.report_plots",
    "autograder.classroom.preload",
    *(f"autograder.exercises.{stage}.{module}" for module in contract.MODULES for stage in ("checks", "cases")),
]
WORKER_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # the checks need no installed plugin


def fork_server():
    """multiprocessing's fork server with the grader preloaded; None where there is none."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    from multiprocessing import forkserver

    forkserver.ensure_running()  # it imports PRELOAD while the class is scanned
    return context


def grade_in_worker(command: list[str], log_path: str, grade_all_pid: int, environment: dict | None = None) -> None:
    """A worker: grade one student (`python -m autograder` with `command`), output to its log;
    `environment` adds to its variables (the warm template's address, when there is one).

    It dies with its parent (PR_SET_PDEATHSIG): grade-all, or the fork server, which exits when
    grade-all does; it gives up if grade-all is already gone.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    try:
        os.kill(grade_all_pid, 0)
    except ProcessLookupError:
        os._exit(3)
    os.setsid()
    gc.freeze()  # what the fork server imported is never scanned by this worker's collector (nor copied)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.environ.update({**WORKER_ENV, **(environment or {})})
    from ..grading.pipeline import grade_main

    sys.exit(grade_main(command))


class Worker:
    """One student's grading, in a process forked from the fork server (or a fresh interpreter)."""

    def __init__(self, student: Student, command: list[str], workdir: Path, server, environment: dict | None = None):
        self.student, self.workdir, self.started = student, workdir, time.monotonic()
        self.log_path = workdir / "grading.log"
        if server is not None:
            self.process = server.Process(
                target=grade_in_worker, args=(command, str(self.log_path), os.getpid(), environment)
            )
            self.process.start()
        else:
            env = {
                **os.environ,
                **(environment or {}),
                "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE.parent), os.environ.get("PYTHONPATH")])),
            }
            with open(self.log_path, "wb") as log:  # until the worker points its own output there
                self.process = subprocess.Popen(
                    [sys.executable, "-c", WORKER_BOOTSTRAP, str(self.log_path), str(os.getpid()), *command],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
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
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)  # the worker's session: what it started outside the child
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)  # not yet in its own session
        if isinstance(self.process, subprocess.Popen):
            self.process.wait()
        else:
            self.process.join()


def worker_command(
    student: Student, report: Path, *, policy_path, only, device, language, unconfined=False
) -> list[str]:
    command = [
        "--policy",
        str(policy_path),
        "grade",
        str(student.folder.resolve()),
        "--out",
        str(report),
        "--device",
        device,
        "--lang",
        language,
    ]
    return command + (["--only", only] if only else []) + (["--unconfined"] if unconfined else [])


def worker_outcome(worker: Worker, timed_out: bool, cap: float) -> Outcome:
    """What a finished worker left in its folder (grading.log, report.json); a worker stopped
    before it opened its log (a cap shorter than the fork server's start) left none."""
    log_path = worker.workdir / "grading.log"
    log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
    report = read_report(worker.workdir / "report.json") if worker.exit_code() == 0 else None
    detail = "" if report is not None else f"stopped after {cap:g} s" if timed_out else _last_line(log)
    return Outcome(worker.student, round(time.monotonic() - worker.started, 1), log, report, detail)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def warm_template(device: str):
    """The class run's warm template, where student code is confined (else None: each child
    starts itself, unconfined or through the portable runner)."""
    from ..sandbox import portable

    if isolation.unavailable_reason() is not None or portable.portable_reason() is not None:
        return None
    return template_client.Template(child_environment(device))

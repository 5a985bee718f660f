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
instead (cluster.py), each by the same `worker.Worker` (worker.py) on a worker machine (cluster_task.py).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ..grading.policy import load_policy
from ..sandbox import template_client
from . import worker
from .class_results import (
    IGNORED_PARTS,
    WORK,
    ClassroomError,
    ClassRun,
    Outcome,
    Summary,
    files_hash,
    find_students,
    settings_hash,
)

__all__ = [
    "IGNORED_PARTS",
    "ClassroomError",
    "Outcome",
    "Summary",
    "files_hash",
    "find_students",
    "grade_all",
    "settings_hash",
]  # files_hash … settings_hash: class_results.py's, named here as before


def student_time_cap(policy, modules: list[str]) -> float:
    """Wall seconds after which one student's grading is stopped: twice the sum of the policy's
    limits (import, then each exercise plus a restart of the child) and a start-up margin."""
    budget = sum(
        policy.import_limit_s + len(policy.modules[m].points) * (policy.modules[m].time_limit_s + 15) for m in modules
    )
    return 120 + 2 * budget


def _grade_locally(
    run: ClassRun, server, *, jobs: int, cap: float, command_options: dict, environment: dict | None = None
) -> None:
    """Grade run.pending with the local fork server (or fresh interpreters), `jobs` students at a
    time; `environment` adds to the workers' variables."""
    running: list[worker.Worker] = []
    try:
        while run.pending or running:
            while run.pending and len(running) < jobs:
                student = run.pending.popleft()
                workdir = Path(tempfile.mkdtemp(dir=run.results / WORK))
                command = worker.worker_command(student, workdir / "report.json", **command_options)
                running.append(worker.Worker(student, command, workdir, server, environment))
            time.sleep(0.05)
            for graded in list(running):
                timed_out = graded.exit_code() is None and time.monotonic() - graded.started > cap
                if timed_out:
                    graded.kill()
                if graded.exit_code() is not None:
                    running.remove(graded)
                    run.record(worker.worker_outcome(graded, timed_out, cap), len(running))
                    shutil.rmtree(graded.workdir, ignore_errors=True)
            run.show_counts(len(running))
    finally:
        for graded in running:  # interrupted: nothing half-done is kept
            graded.kill()


def grade_all(
    submissions,
    results,
    *,
    policy_path,
    only=None,
    jobs=None,
    force=False,
    device="cpu",
    language=None,
    assignment=None,
    timeout=None,
    show_progress=True,
    unconfined=False,
    scheduler=None,
    cluster=None,
) -> Summary:
    """Grade every student of SUBMISSIONS into RESULTS: with the local fork server, or with
    `scheduler` (a Dask scheduler's address) / `cluster` ("local:N") on a Dask cluster."""
    from ..grading.pipeline import selected_modules
    from ..grading.runner import confinement

    started = time.monotonic()
    submissions, results = Path(submissions), Path(results)
    policy = load_policy(policy_path)
    modules = selected_modules(only, policy)
    language = language or policy.language
    cap = timeout or student_time_cap(policy, modules)
    options = {
        "only": modules,
        "device": device,
        "language": language,
        "assignment": assignment,
        "unconfined": unconfined,
    }
    command_options = dict(
        policy_path=policy.path, only=",".join(modules), device=device, language=language, unconfined=unconfined
    )
    template = None
    if scheduler or cluster:
        from .cluster import connect  # Dask is imported here only (the optional extra)

        executor = connect(scheduler=scheduler, cluster=cluster, policy=policy, unconfined=unconfined)
    else:
        confinement(hidden=True, unconfined=unconfined)  # refused for the whole class, before any student
        template = worker.warm_template(device)  # it warms up while the fork server imports PRELOAD
        executor, server = None, worker.fork_server()  # it imports PRELOAD while the class is scanned
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
            _grade_locally(
                run,
                server,
                jobs=max(1, jobs or os.cpu_count() or 1),
                cap=cap,
                command_options=command_options,
                environment=environment,
            )
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
    from ..grading.pipeline import UsageError, resolve_device

    if args.scheduler and args.cluster:
        raise UsageError("--scheduler and --cluster: give one of them")
    distributed = args.scheduler or args.cluster
    try:  # on a cluster each worker resolves --device auto itself
        summary = grade_all(
            args.submissions,
            args.out,
            policy_path=args.policy,
            only=args.only,
            jobs=args.jobs,
            force=args.force,
            device=args.device if distributed else resolve_device(args.device),
            language=args.lang,
            assignment=args.assignment,
            timeout=args.timeout,
            unconfined=args.unconfined,
            scheduler=args.scheduler,
            cluster=args.cluster,
        )
    except KeyboardInterrupt:
        print("interrupted: the students graded so far are kept; run the same command to continue", file=sys.stderr)
        return 130
    print(
        f"graded {len(summary.graded)}, unchanged {len(summary.skipped)}, failed {len(summary.failed)} "
        f"in {summary.seconds:g} s; gradebook: {summary.gradebook}"
    )
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
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count(),
        help="students graded at once (default: cores; on a cluster, its workers decide)",
    )
    parser.add_argument("--only", help="comma-separated modules to grade (default: all in the policy)")
    parser.add_argument("--force", action="store_true", help="grade again students whose files did not change")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--lang", choices=("pt", "en"), help="feedback language (default: the policy's)")
    parser.add_argument("--assignment", help="nbgrader layout: grade <student>/<ASSIGNMENT>/")
    parser.add_argument("--timeout", type=float, help="wall seconds per student (default: from the policy)")
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on the Dask cluster of this scheduler (tcp://host:8786; needs .[cluster])",
    )
    parser.add_argument("--cluster", metavar="local:N", help="grade on a Dask cluster of N local worker processes")
    from ..grading.pipeline import add_unconfined_option

    add_unconfined_option(parser)
    parser.set_defaults(run=cmd_grade_all)

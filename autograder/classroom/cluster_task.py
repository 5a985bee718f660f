"""What a cluster worker runs for one student (`grade-all --scheduler/--cluster`, see cluster.py).

A task is plain data: the student's files (packed by `pack_files`, no shared file system
assumed), the policy's bytes, the options and the coordinator's kit (package version, hash of
the grader's files, hash of the policy). The worker refuses a task whose kit differs from its
own, writes the files into a scratch folder, and grades them exactly as the local fork server
does: `worker.Worker` runs `worker.grade_in_worker` (the `grade` command, whose
confined child runs the student's code, forked by the worker's own warm template) under the
same wall-time cap. It returns the report
(JSON text), report.md, report.html and the log as data; the coordinator writes them.

This module imports no Dask: the tasks are plain functions of plain data.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import multiprocessing
import os
import stat
import tempfile
from importlib import metadata
from pathlib import Path, PurePosixPath

from ..exercises import contract
from ..grading.feedback import write_feedback
from ..grading.policy import SandboxPolicy
from ..sandbox import template_client
from . import worker
from .class_results import IGNORED_PARTS, Student, grader_hash

PINNED_POLICY = "AUTOGRADER_WORKER_POLICY"  # a worker started with it grades that policy only


class WorkerRefused(RuntimeError):
    """This worker's kit (or its pinned policy) is not the coordinator's."""


class TaskTooLarge(ValueError):
    """A student's folder holds more bytes than one task may carry."""


def task_limit_kb(caps: SandboxPolicy) -> int:
    """The most file bytes (KiB) one task carries: the graded code plus a notebook per module."""
    return caps.max_submission_kb + len(contract.MODULES) * caps.max_notebook_kb


def _entry(path: Path, relative: str, file_limit: int) -> tuple[dict, int]:
    """One file system entry as data, and the bytes it carries. A file over the per-file caps
    travels as its size only (it is refused by size anyway), so the worker sees the same sizes,
    links and non-regular files that grading would see here."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return {"path": relative, "kind": "link"}, 0
    if stat.S_ISDIR(info.st_mode):
        return {"path": relative, "kind": "folder"}, 0
    if not stat.S_ISREG(info.st_mode):
        return {"path": relative, "kind": "special"}, 0
    if info.st_size > file_limit:
        return {"path": relative, "kind": "oversized", "size": info.st_size}, 0
    data = path.read_bytes()
    return {"path": relative, "kind": "file", "data": data}, len(data)


def pack_files(folder: Path, caps: SandboxPolicy) -> list[dict] | None:
    """Every entry under `folder` (caches left out) as data; None when the folder does not exist."""
    if not folder.is_dir():
        return None
    file_limit = max(caps.max_file_kb, caps.max_notebook_kb) << 10
    entries, carried = [], 0
    for top, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders if name not in IGNORED_PARTS)
        for name in folders + sorted(files):
            path = Path(top) / name
            entry, size = _entry(path, path.relative_to(folder).as_posix(), file_limit)
            entries.append(entry)
            carried += size
    if carried > task_limit_kb(caps) << 10:
        raise TaskTooLarge(
            f"its files hold {-(-carried // 1024)} KiB, more than a task carries ({task_limit_kb(caps)} KiB)"
        )
    return entries


def unpack_files(entries: list[dict] | None, folder: Path) -> None:
    """Recreate packed entries under `folder` (nothing at all for a missing folder)."""
    if entries is None:
        return
    folder.mkdir(parents=True)
    for entry in entries:
        relative = PurePosixPath(entry["path"])
        if relative.is_absolute() or ".." in relative.parts:
            raise ValueError(f"{entry['path']!r}: not a path inside the submission")
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        kind = entry["kind"]
        if kind == "folder":
            path.mkdir(exist_ok=True)
        elif kind == "link":
            path.symlink_to("/nonexistent")
        elif kind == "special":
            os.mkfifo(path)
        elif kind == "oversized":
            with open(path, "wb") as file:
                file.truncate(entry["size"])  # sparse: the size without the bytes
        else:
            path.write_bytes(entry["data"])


@functools.cache
def _grader_hash() -> str:
    return grader_hash()


def local_kit(policy_bytes: bytes | None = None) -> dict:
    """This installation's kit version and grader hash (and the policy's hash, when given)."""
    kit = {"version": metadata.version("rnn-autograder"), "grader": _grader_hash()}
    if policy_bytes is not None:
        kit["policy"] = hashlib.sha256(policy_bytes).hexdigest()
    return kit


def kit_mismatch(expected: dict) -> str | None:
    """Why this worker must not grade for a coordinator whose kit is `expected`; None if it may."""
    mine = local_kit()
    if mine["version"] != expected["version"]:
        return f"it runs kit {mine['version']}, the coordinator {expected['version']}"
    if mine["grader"] != expected["grader"]:
        return (
            f"its grader files differ from the coordinator's (hash {mine['grader'][:12]} vs "
            f"{expected['grader'][:12]}): install the same commit on every node"
        )
    pinned = os.environ.get(PINNED_POLICY)
    if pinned:
        own = hashlib.sha256(Path(pinned).read_bytes()).hexdigest()
        if own != expected["policy"]:
            return f"its policy {pinned} (hash {own[:12]}) is not the coordinator's (hash {expected['policy'][:12]})"
    return None


def worker_check(expected: dict, unconfined: bool) -> str | None:
    """Run on each worker before the class is sent: the kit, then whether it can confine."""
    from ..grading.runner import UnconfinedRefused, confinement

    problem = kit_mismatch(expected)
    if problem:
        return problem
    try:
        confinement(hidden=True, unconfined=unconfined)
    except UnconfinedRefused as refused:
        return str(refused)
    return None


@functools.cache
def _fork_server():
    """The grader's fork server in this worker process; None in a daemonic worker (it may not
    start children with multiprocessing), which then starts a fresh interpreter per student."""
    if multiprocessing.current_process().daemon:
        return None
    return worker.fork_server()


@functools.cache
def _template(device: str):
    """This worker's warm template (as the local grade-all has one), started with its first
    student and ended with the worker; None where student code is not confined."""
    from ..grading.pipeline import resolve_device

    template = worker.warm_template(resolve_device(device))
    if template is not None:
        atexit.register(template.close)
    return template


def _rendered_feedback(report: dict, student: str, language: str, folder: Path) -> dict[str, str]:
    written = write_feedback(report, student, folder, language)
    return {path.name: path.read_text(encoding="utf-8") for path in written}


def grade_task(task: dict) -> dict:
    """Grade one student on this worker; returns the outcome as plain data (see cluster.py)."""
    problem = kit_mismatch(task["kit"])
    if problem:
        raise WorkerRefused(f"worker {_address()} refused: {problem}")
    with tempfile.TemporaryDirectory(prefix="grade-task-") as scratch:
        scratch = Path(scratch)
        folder = scratch / "submission" / task["folder_name"]
        unpack_files(task["files"], folder)
        policy_path = scratch / "grading.toml"
        policy_path.write_bytes(task["policy"])
        workdir = scratch / "work"
        workdir.mkdir()
        student = Student(task["student"], folder, task["files_hash"])
        options = {**task["options"], "policy_path": policy_path}
        command = worker.worker_command(student, workdir / "report.json", **options)
        template = _template(options["device"])
        environment = {template_client.ADDRESS_VARIABLE: template.address} if template is not None else None
        grading = worker.Worker(student, command, workdir, _fork_server(), environment)
        timed_out = grading.run_to_end(task["cap"])
        outcome = worker.worker_outcome(grading, timed_out, task["cap"])
        feedback = (
            None
            if outcome.report is None
            else _rendered_feedback(outcome.report, student.name, options["language"], scratch)
        )
    return {
        "seconds": outcome.seconds,
        "log": outcome.log,
        "report": outcome.report,
        "detail": outcome.detail,
        "feedback": feedback,
        "worker": _address(),
    }


def _address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"

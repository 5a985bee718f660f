"""`grade-all --scheduler ADDRESS` / `--cluster local:N`: the class graded on a Dask cluster.

The coordinator (this process) keeps everything `grade-all` promises locally (ClassRun:
the lock, the manifest, atomic writes, skipping and resuming); each student is one Dask task
(cluster_task.grade_task) carrying the student's files, the policy and the options as data.
At most a few tasks per worker thread are in flight, so a class of 10,000 never sits in the
scheduler's memory at once. A worker that dies mid-student (killed, out of memory, node lost) is
the scheduler's business: it retries the task elsewhere up to `distributed.scheduler.allowed-failures`
times (ALLOWED_FAILURES for `--cluster local:N`), then the student is marked failed with the reason.

Needs the optional extra: `pip install '.[cluster]'` (dask, distributed).
"""

from __future__ import annotations

import re
import uuid

from .class_results import ClassroomError, ClassRun, Outcome
from .cluster_task import TaskTooLarge, grade_task, local_kit, pack_files, worker_check

CONNECT_TIMEOUT_S = 10
ALLOWED_FAILURES = 2  # a student whose worker dies 3 times is marked failed
TASKS_PER_THREAD = 2  # tasks in flight per worker thread (the rest wait here)


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ClassroomError(
            "--scheduler/--cluster need Dask: pip install '.[cluster]' "
            "(dask and distributed, pinned in requirements.lock)"
        ) from None
    return distributed


def start_local_cluster(workers: int):
    """A LocalCluster of `workers` processes with one thread each (one student at a time each).
    Its workers are not daemonic, so each can keep the grader's fork server."""
    distributed = _distributed()
    import dask

    with dask.config.set(
        {"distributed.worker.daemon": False, "distributed.scheduler.allowed-failures": ALLOWED_FAILURES}
    ):
        return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)


def _local_workers(cluster: str) -> int:
    match = re.fullmatch(r"local:(\d+)", cluster)
    if not match or int(match[1]) < 1:
        raise ClassroomError(
            f"--cluster {cluster}: expected local:N (N worker processes on this "
            "machine); for Slurm or Kubernetes start the cluster and pass --scheduler"
        )
    return int(match[1])


def connect(*, scheduler: str | None, cluster: str | None, policy, unconfined: bool) -> DaskExecutor:
    """Reach the scheduler (or start a local cluster) and check the workers already there."""
    distributed = _distributed()
    local = start_local_cluster(_local_workers(cluster)) if cluster else None
    try:
        client = distributed.Client(local or scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as error:
        if local is not None:
            local.close()
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ClassroomError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({reason})") from None
    executor = DaskExecutor(client, local, policy)
    try:
        executor.check_workers(unconfined)
    except BaseException:
        executor.close()
        raise
    return executor


class DaskExecutor:
    """Sends ClassRun.pending to the cluster and records each outcome as it comes back."""

    def __init__(self, client, local_cluster, policy):
        self.client, self.local_cluster, self.policy = client, local_cluster, policy
        self.policy_bytes = policy.path.read_bytes()
        self.kit = local_kit(self.policy_bytes)
        self.run_token = uuid.uuid4().hex[:12]

    def check_workers(self, unconfined: bool) -> None:
        """Refuse the run if a connected worker runs another kit or policy, or cannot confine."""
        problems = self.client.run(worker_check, self.kit, unconfined)
        refused = [f"{address}: {problem}" for address, problem in sorted(problems.items()) if problem]
        if refused:
            raise ClassroomError(
                f"worker refused: {refused[0]}" + (f" (and {len(refused) - 1} more)" if len(refused) > 1 else "")
            )

    def _threads(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def _task(self, student, cap: float, command_options: dict) -> dict:
        files = pack_files(student.folder, self.policy.sandbox)
        options = {key: value for key, value in command_options.items() if key != "policy_path"}
        return {
            "student": student.name,
            "folder_name": student.folder.name,
            "files_hash": student.files_hash,
            "files": files,
            "policy": self.policy_bytes,
            "kit": self.kit,
            "options": options,
            "cap": cap,
        }

    def _submit(self, student, cap: float, command_options: dict):
        key = f"grade-{student.name}-{self.run_token}"  # unique to this run on a shared scheduler
        return self.client.submit(grade_task, self._task(student, cap, command_options), key=key, pure=False, retries=0)

    def grade(self, run: ClassRun, *, cap: float, command_options: dict) -> None:
        """Keep TASKS_PER_THREAD tasks per worker thread in flight until run.pending is empty."""
        distributed = _distributed()
        in_flight: dict = {}
        finished = distributed.as_completed()

        def refill() -> None:
            while run.pending and len(in_flight) < TASKS_PER_THREAD * self._threads():
                student = run.pending.popleft()
                try:
                    future = self._submit(student, cap, command_options)
                except (TaskTooLarge, OSError) as error:  # its files could not be packed
                    run.record(Outcome(student, 0.0, "", None, f"not sent: {error}"), len(in_flight))
                    continue
                in_flight[future] = student
                finished.add(future)

        try:
            refill()
            for future in finished:
                student = in_flight.pop(future)
                outcome = self._outcome(future, student)
                refill()
                run.record(outcome, min(len(in_flight), self._threads()))
        finally:
            for future, student in in_flight.items():  # interrupted: they stay pending for a rerun
                future.cancel()
                run.pending.append(student)

    def _outcome(self, future, student) -> Outcome:
        distributed = _distributed()
        try:
            result = future.result()
        except distributed.KilledWorker as error:
            return Outcome(
                student,
                0.0,
                "",
                None,
                "its worker died mid-grading on every try the scheduler allows "
                f"(distributed.scheduler.allowed-failures): {error}"[:300],
            )
        except Exception as error:  # the task raised on the worker: a refusal, or the worker's own fault
            return Outcome(student, 0.0, "", None, f"{type(error).__name__}: {error}"[:300])
        return Outcome(
            student,
            result["seconds"],
            result["log"],
            result["report"],
            result["detail"],
            result["feedback"],
            result["worker"],
        )

    def close(self) -> None:
        self.client.close()
        if self.local_cluster is not None:
            self.local_cluster.close()

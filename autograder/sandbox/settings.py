"""grading.toml's `[sandbox]` table (read and validated by grading/policy.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SandboxPolicy:
    """What a child may use besides time and memory, and what a submission may weigh."""

    scratch_mb: int = 256  # its home and its /tmp, each (tmpfs)
    shm_mb: int = 64  # its /dev/shm
    max_processes: int = 128  # processes and threads (cgroup pids.max, RLIMIT_NPROC)
    max_file_kb: int = 1024  # one .py file of the submission
    max_notebook_kb: int = 20480  # one notebook (outputs included)
    max_submission_kb: int = 4096  # all the .py code that is graded, helpers included

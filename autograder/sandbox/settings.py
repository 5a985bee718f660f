"""What a child may use: grading.toml's `[sandbox]` table (read and validated by grading/policy.py)
and the limits one child runs under (`Limits`, which the grader fills from the policy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

LIBRARIES_MB = 768  # resident libraries (numpy, torch) on top of the memory cap, for the cgroup


@dataclass(frozen=True)
class SandboxPolicy:
    """What a child may use besides time and memory, and what a submission may weigh."""

    scratch_mb: int = 256  # its home and its /tmp, each (tmpfs)
    shm_mb: int = 64  # its /dev/shm
    max_processes: int = 128  # processes and threads (cgroup pids.max, RLIMIT_NPROC)
    max_file_kb: int = 1024  # one .py file of the submission
    max_notebook_kb: int = 20480  # one notebook (outputs included)
    max_submission_kb: int = 4096  # all the .py code that is graded, helpers included


@dataclass(frozen=True)
class Limits:
    time_s: float  # wall seconds of student code per exercise (the longest, for a child of several modules)
    memory_mb: int  # the child's data segment and private memory (RLIMIT_DATA)
    device: str = "cpu"
    import_s: float = 30.0  # wall seconds to import the student's module
    sandbox: SandboxPolicy = field(default_factory=SandboxPolicy)
    masked: tuple[Path, ...] = ()  # shown empty to a confined child (the grader's hidden data: cases.paths_to_mask)

    @property
    def cgroup_memory_bytes(self) -> int:
        """The whole child in its cgroup: its data, shared memory, scratch tmpfs and libraries."""
        box = self.sandbox
        return (self.memory_mb + 2 * box.scratch_mb + box.shm_mb + LIBRARIES_MB) << 20

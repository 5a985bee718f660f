"""Per-child cgroup limits: memory (shared memory and tmpfs included), processes, CPU weight.

The resource limits a child sets on itself (RLIMIT_DATA, RLIMIT_NPROC, …) count per process
or per user; a cgroup counts the whole child: every process it forks, `mmap` shared memory,
SysV segments and the tmpfs it writes. Where the host offers cgroups (v2 with the memory and
pids controllers delegated to the grader's group, or the v1 memory and pids hierarchies),
each child gets its own group below the grader's; the confinement script moves the child
into it before any student code runs. Elsewhere `unavailable_reason()` says why, and the
rlimits are the only line.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path

MOUNT = Path("/sys/fs/cgroup")
PREFIX = "gradechild"
CPU_PERIOD_US = 100_000
_counter = itertools.count()


@dataclass(frozen=True)
class Layout:
    """Where the grader's own groups are: one folder (v2) or one per controller (v1)."""

    version: int
    folders: dict[str, Path]  # controller -> the grader's group in that hierarchy


def _own_groups() -> dict[str, str]:
    """The grader's group per hierarchy, from /proc/self/cgroup ("" is v2's unified one)."""
    groups = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            groups[controller] = path
    return groups


def _layout() -> Layout | str:
    """The layout that can hold limited child groups here, or why there is none."""
    if not MOUNT.is_dir():
        return "no cgroup file system at /sys/fs/cgroup"
    groups = _own_groups()
    if (MOUNT / "cgroup.controllers").is_file():
        folder = MOUNT / groups.get("", "/").lstrip("/")
        wanted = {"memory", "pids"}
        enabled = set((folder / "cgroup.subtree_control").read_text().split())
        if not wanted <= enabled:
            try:
                (folder / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in sorted(wanted - enabled)))
            except OSError as error:
                return f"cgroup v2: the memory and pids controllers are not delegated to {folder} ({error.strerror})"
        return Layout(2, {"memory": folder, "pids": folder, "cpu": folder})
    folders = {c: MOUNT / c / groups[c].lstrip("/") for c in ("memory", "pids", "cpu") if c in groups}
    if not {"memory", "pids"} <= set(folders) or not all(f.is_dir() for f in folders.values()):
        return "cgroup v1 without the memory and pids hierarchies"
    return Layout(1, folders)


class ChildGroup:
    """One child's group: created with its limits, joined by the child, removed after it."""

    def __init__(self, layout: Layout, memory_bytes: int, max_processes: int):
        self.layout = layout
        name = f"{PREFIX}-{os.getpid()}-{next(_counter)}"
        self.folders = {c: folder / name for c, folder in layout.folders.items()}
        for folder in dict.fromkeys(self.folders.values()):
            folder.mkdir()
        try:
            self._limit(memory_bytes, max_processes)
        except OSError:
            self.remove()
            raise

    def _limit(self, memory_bytes: int, max_processes: int) -> None:
        memory, pids = self.folders["memory"], self.folders["pids"]
        if self.layout.version == 2:
            (memory / "memory.max").write_text(str(memory_bytes))
            with contextlib.suppress(FileNotFoundError):
                (memory / "memory.swap.max").write_text("0")
        else:
            (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
            with contextlib.suppress(OSError):  # present only with swap accounting
                (memory / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
        (pids / "pids.max").write_text(str(max_processes))
        cpu = self.folders.get("cpu")
        if cpu is not None:  # one core at most, as its OMP_NUM_THREADS=1 intends: no student takes a class's cores
            with contextlib.suppress(OSError):
                if self.layout.version == 2:
                    (cpu / "cpu.max").write_text(f"{CPU_PERIOD_US} {CPU_PERIOD_US}")
                else:
                    (cpu / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
                    (cpu / "cpu.cfs_quota_us").write_text(str(CPU_PERIOD_US))

    @property
    def procs_files(self) -> tuple[str, ...]:
        return tuple(str(folder / "cgroup.procs") for folder in dict.fromkeys(self.folders.values()))

    def oom_kills(self) -> int:
        """How many times the kernel killed a process of this group for going over its memory
        (older v1 kernels: how many times the limit was hit)."""
        memory = self.folders["memory"]
        events = memory / ("memory.events" if self.layout.version == 2 else "memory.oom_control")
        try:
            fields = dict(line.split() for line in events.read_text().splitlines() if len(line.split()) == 2)
        except OSError:
            return 0
        if "oom_kill" in fields:
            return int(fields["oom_kill"])
        with contextlib.suppress(OSError, ValueError):
            return int((memory / "memory.failcnt").read_text())
        return 0

    def remove(self) -> None:
        """Remove the group (its processes are gone: a group empties a moment after they die)."""
        for folder in dict.fromkeys(self.folders.values()):
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


@functools.cache
def layout_or_reason() -> Layout | str:
    try:
        found = _layout()
    except OSError as error:
        return f"cgroups cannot be read ({error})"
    if isinstance(found, Layout):
        try:  # the whole thing, as a child gets it
            ChildGroup(found, 64 << 20, 16).remove()
        except OSError as error:
            return f"a child cgroup cannot be created ({error.strerror or error})"
        _remove_stale(found)
    return found


def unavailable_reason() -> str | None:
    found = layout_or_reason()
    return found if isinstance(found, str) else None


def create(memory_bytes: int, max_processes: int) -> ChildGroup | None:
    """A limited group for one child, or None where cgroups are unavailable."""
    found = layout_or_reason()
    return ChildGroup(found, memory_bytes, max_processes) if isinstance(found, Layout) else None


def _remove_stale(layout: Layout) -> None:
    """Groups left by graders that were killed (their pid is gone)."""
    for folder in dict.fromkeys(layout.folders.values()):
        for group in folder.glob(f"{PREFIX}-*-*"):
            pid = group.name.split("-")[1]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                with contextlib.suppress(OSError):
                    group.rmdir()

"""Confine the child process: its own namespaces, a minimal root, an unprivileged user.

As root on Linux, the child starts through `unshare` in new mount, network, PID, IPC and UTS
namespaces. A small shell script (our code, before any student code) joins the child's
cgroups (`autograder/sandbox/cgroups.py`), builds a root filesystem and `chroot`s into it:

- the system folders and the Python installation, read-only down to every nested mount,
  with the datasets' raw files and the grader's cache shown empty;
- a minimal `/dev` (null, zero, full, random, urandom; a GPU's nodes when grading on one)
  with a private, size-capped `/dev/shm`; no tty, no kmsg, no block devices;
- `/proc` of the new PID namespace with `/proc/sys`, `/proc/sysrq-trigger` and the like
  read-only or masked, and a fresh read-only `/sys`;
- the child's working folder read-only (the runtime and the submission), with a private,
  size-capped home and `/tmp` as the only writable places.

Then it becomes a dedicated unprivileged user (its own uid and gid, no groups, no capabilities,
no new privileges). So student code sees no repository (no `solutions/`, no `grading.toml`,
no results or other students' folders), has no network, cannot write outside its scratch
space, cannot raise its resource limits, and dies with its PID namespace: no background
process and no shared memory survives the child. Elsewhere (not root, macOS, no namespaces)
`unavailable_reason()` says why, and hidden grading refuses to run unless the instructor
asks for it (`--unconfined`).
"""

from __future__ import annotations

import functools
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

SYSTEM_DIRS = ("usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
DEVICES = ("null", "zero", "full", "random", "urandom")
PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus", "fs")
PROC_MASKED = ("kcore", "keys", "kmsg", "timer_list", "sched_debug", "latency_stats", "acpi", "scsi", "asound")
SETUP_FAILED = 125  # the confinement script's exit code when a step fails (before any student code)
UNSHARE = (
    "unshare",
    "--mount",
    "--net",
    "--pid",
    "--ipc",
    "--uts",
    "--fork",
    "--kill-child",
    "--propagation",
    "private",
)
FIRST_UID = 200_000  # children run as uids from here on: no account, no files on the host
UID_RANGE = 1 << 24
HOME = "home"  # the child's private home below its working folder


@dataclass(frozen=True)
class Jail:
    """What one confined child gets: its user, its scratch space, what it must not see."""

    uid: int
    scratch_mb: int = 256  # each of the home and /tmp (tmpfs)
    shm_mb: int = 64  # /dev/shm (tmpfs)
    masked: tuple[Path, ...] = ()  # shown empty (datasets' raw files, the cache)
    cgroup_procs: tuple[str, ...] = ()  # cgroup.procs files the child joins first
    devices: tuple[str, ...] = ()  # extra /dev nodes (a GPU's)


def new_uid() -> int:
    """A fresh unprivileged uid for one child (its own RLIMIT_NPROC count, nobody's files)."""
    return FIRST_UID + secrets.randbelow(UID_RANGE)


def gpu_devices() -> tuple[str, ...]:
    """The host's NVIDIA device nodes, for a child that trains on the GPU."""
    return tuple(
        sorted(name for name in os.listdir("/dev") if name.startswith("nvidia") and not os.path.isdir(f"/dev/{name}"))
    )


def die_with_parent(command: list[str]) -> list[str]:
    """`command` killed when the process that starts it dies (SIGKILL as parent-death signal):
    a grader killed mid-exercise leaves no student code running (confined, unshare's
    --kill-child then takes down the whole PID namespace)."""
    return [*PARENT_DEATH, *command] if _parent_death_works() else command


PARENT_DEATH = ("setpriv", "--pdeathsig", "KILL", "--")


@functools.cache
def _parent_death_works() -> bool:
    """setpriv with --pdeathsig (util-linux 2.33 or later) is here and runs."""
    if sys.platform != "linux" or shutil.which("setpriv") is None:
        return False
    try:
        return subprocess.run([*PARENT_DEATH, "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@functools.cache
def unavailable_reason() -> str | None:
    """None when the confinement works here, else why not (tried once, as a child gets it)."""
    if sys.platform != "linux":
        return f"{sys.platform} has no Linux namespaces"
    if os.geteuid() != 0:
        return "namespaces need root here (the grader runs as an ordinary user)"
    for tool in ("unshare", "chroot", "setpriv", "mount", "findmnt"):
        if shutil.which(tool) is None:
            return f"the `{tool}` command is missing"
    with tempfile.TemporaryDirectory(prefix="grade-probe-") as scratch:
        workdir = Path(scratch) / "work"
        masked_dir, masked_file = workdir / "dir", workdir / "file"
        prepare_workdir(workdir)
        masked_dir.mkdir()
        masked_file.write_text("x")
        jail = Jail(uid=new_uid(), masked=(masked_dir, masked_file))
        command = confine(["sh", "-c", f"test $(id -u) = {jail.uid} && test ! -w /usr && touch x"], workdir, jail)
        try:
            probe = subprocess.run(command, capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"confinement failed ({error})"
    if probe.returncode != 0:
        detail = probe.stderr.decode(errors="replace").strip().splitlines()
        return f"confinement failed ({detail[-1][:160] if detail else f'exit code {probe.returncode}'})"
    return None


def prepare_workdir(workdir: Path) -> None:
    """The child's working folder on the host: enterable by the child's user, writable by root
    only, with the mount point of its private home."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / HOME).mkdir(exist_ok=True)
    workdir.chmod(0o711)


def home_of(workdir: Path) -> Path:
    return workdir / HOME


def python_roots() -> list[Path]:
    """The folders the child's interpreter needs: the installation and the environment."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).absolute()}
    return sorted(roots)


def _q(path) -> str:
    return shlex.quote(str(path))


def _read_only_tree(target: str) -> list[str]:
    """Remount `target` and every mount below it read-only (mount has no recursive remount)."""
    return [
        f"for mp in $(findmnt -rn -o TARGET -R {target}); do "
        f'mount -o remount,bind,ro,nosuid,nodev "$mp" || exit {SETUP_FAILED}; done'
    ]


def _bind_read_only(source: Path, target: str) -> list[str]:
    # recursive: mounts below the source come along (e.g. a GPU driver mounted at /usr/local/nvidia)
    return [f"mkdir -p {target}", f"mount --rbind {_q(source)} {target}", *_read_only_tree(target)]


def _mask(path: Path, target: str) -> list[str]:
    """Show `path` empty inside the new root: an empty read-only folder, or /dev/null for a file."""
    if path.is_dir():
        return [f"mount -t tmpfs -o ro,size=4k,mode=755 masked {target}"]
    return [f"mount --bind /dev/null {target}"]


def _tmpfs(target: str, size_mb: int, mode: str, owner: int | None = None) -> list[str]:
    owned = f",uid={owner},gid={owner}" if owner is not None else ""
    return [
        f"mkdir -p {target}",
        f"mount -t tmpfs -o mode={mode},size={size_mb}m,nosuid,nodev{owned} grader-scratch {target}",
    ]


def _dev(root: str, jail: Jail) -> list[str]:
    """A minimal /dev: a few harmless nodes bound from the host, links, a private /dev/shm."""
    lines = [f"mkdir -p {root}/dev", f"mount -t tmpfs -o mode=755,size=64k,nosuid grader-dev {root}/dev"]
    for name in (*DEVICES, *jail.devices):
        lines += [f"touch {root}/dev/{name}", f"mount --bind /dev/{name} {root}/dev/{name}"]
    lines += [f"ln -s /proc/self/fd {root}/dev/fd"]
    lines += [f"ln -s /proc/self/fd/{fd} {root}/dev/{name}" for fd, name in enumerate(("stdin", "stdout", "stderr"))]
    return lines + _tmpfs(f"{root}/dev/shm", jail.shm_mb, "1777")


def _proc_and_sys(root: str) -> list[str]:
    """/proc of the new PID namespace, its kernel knobs read-only or masked; a fresh read-only /sys."""
    lines = [f"mkdir -p {root}/proc {root}/sys", f"mount -t proc -o nosuid,nodev,noexec proc {root}/proc"]
    for name in PROC_READ_ONLY:
        path = f"{root}/proc/{name}"
        lines.append(
            f"if [ -e {path} ]; then mount --bind {path} {path} && "
            f"mount -o remount,bind,ro,nosuid,nodev,noexec {path} || exit {SETUP_FAILED}; fi"
        )
    for name in PROC_MASKED:
        path = f"{root}/proc/{name}"
        lines.append(
            f"if [ -d {path} ]; then mount -t tmpfs -o ro,size=4k masked {path} || exit {SETUP_FAILED}; "
            f"elif [ -e {path} ]; then mount --bind /dev/null {path} || exit {SETUP_FAILED}; fi"
        )
    lines.append(f"mount -t sysfs -o ro,nosuid,nodev,noexec sysfs {root}/sys")
    lines.append(
        f"if [ -d {root}/sys/firmware ]; then mount -t tmpfs -o ro,size=4k masked {root}/sys/firmware "
        f"|| exit {SETUP_FAILED}; fi"
    )
    return lines


def confinement_script(new_root: Path, workdir: Path, jail: Jail) -> str:
    """The shell script that joins the child's cgroups and builds its root filesystem (run
    inside the namespaces)."""
    joins = [f"echo 0 > {_q(procs)} || exit {SETUP_FAILED}" for procs in jail.cgroup_procs]  # first: all counts
    return "\n".join([*joins, root_filesystem_script(new_root, workdir, jail)])


def root_filesystem_script(new_root: Path, workdir: Path, jail: Jail) -> str:
    """The shell script that builds the child's root filesystem at `new_root` (see the module
    docstring); the warm template's zygotes run it too (`template.py`), after joining their cgroups."""
    root = _q(new_root)
    lines = [f"mount -t tmpfs -o mode=755,size=16m grader-root {root}"]
    lines += _tmpfs(f"{root}/tmp", jail.scratch_mb, "1777")  # first: an environment may live below /tmp
    for name in SYSTEM_DIRS:
        path = Path("/") / name
        if path.is_symlink():
            lines.append(f"ln -s {_q(os.readlink(path))} {root}/{name}")
        elif path.is_dir():
            lines += _bind_read_only(path, f"{root}/{name}")
    for python_root in python_roots():
        if not any(python_root.is_relative_to(Path("/") / name) for name in SYSTEM_DIRS):
            lines += _bind_read_only(python_root, root + _q(python_root))
    lines += _dev(root, jail) + _proc_and_sys(root)
    lines += _bind_read_only(workdir, root + _q(workdir))
    lines += _tmpfs(root + _q(home_of(workdir)), jail.scratch_mb, "700", owner=jail.uid)
    visible = [Path("/") / name for name in SYSTEM_DIRS] + python_roots() + [workdir]
    for path in map(Path, jail.masked):
        if any(path.is_relative_to(folder) for folder in visible):  # others are not there anyway
            lines += _mask(path, root + _q(path))
    lines += [f"mount -o remount,ro {root}/dev", f"mount -o remount,ro {root}"]
    return "\n".join(
        f"{line} || exit {SETUP_FAILED}" if not line.startswith(("for ", "if ")) else line for line in lines
    )


def new_root_of(workdir: Path) -> Path:
    """The (empty) mount point of the child's root filesystem, beside its working folder."""
    new_root = workdir.parent / (workdir.name + "-root")
    new_root.mkdir(exist_ok=True)
    return new_root


def confine(command: list[str], workdir: Path, jail: Jail) -> list[str]:
    """`command` wrapped so that it runs confined, in its home, as `jail.uid` (see the module
    docstring). `workdir` was made by `prepare_workdir`."""
    new_root = new_root_of(workdir)
    script = confinement_script(new_root, workdir, jail)
    run = " ".join(shlex.quote(part) for part in command)
    user = (
        f"setpriv --reuid={jail.uid} --regid={jail.uid} --clear-groups --no-new-privs "
        f"--inh-caps=-all --bounding-set=-all --pdeathsig KILL --"
    )
    inner = f"cd {_q(home_of(workdir))} && exec {run}"
    script += f"\ncd /\nexec chroot {_q(new_root)} {user} sh -c {shlex.quote(inner)}"
    return [*UNSHARE, "--", "/bin/sh", "-c", script]

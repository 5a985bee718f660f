"""Confine the child process: its own mount, network and PID namespaces, a minimal root.

As root on Linux, the child starts through `unshare` in new namespaces. A small shell script
(our code, before any student code) builds a root filesystem that holds only the system
(/usr, /etc, …, read-only), the Python installation (with the datasets' raw files masked),
`/dev`, a fresh `/proc`, and the child's private working directory; then it `chroot`s into it and drops every capability. So student
code sees no repository (no `solutions/`, no `grading.toml`, no results or other students'
folders), has no network, cannot raise its resource limits, and dies with its PID namespace:
no background process survives the child. Elsewhere (not root, macOS, no namespaces) the
grader says so in one warning line and relies on the resource limits alone.
"""
from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SYSTEM_DIRS = ("usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
SETUP_FAILED = 125  # the confinement script's exit code when a mount fails (before any student code)
UNSHARE = ("unshare", "--mount", "--net", "--pid", "--fork", "--kill-child", "--propagation", "private")


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
    """None when namespaces can be used here, else why not."""
    if sys.platform != "linux":
        return f"{sys.platform} has no Linux namespaces"
    if os.geteuid() != 0:
        return "namespaces need root here (the grader runs as an ordinary user)"
    for tool in ("unshare", "chroot", "setpriv", "mount"):
        if shutil.which(tool) is None:
            return f"the `{tool}` command is missing"
    with tempfile.TemporaryDirectory(prefix="grade-probe-") as scratch:
        workdir = Path(scratch) / "work"
        masked_dir, masked_file = workdir / "dir", workdir / "file"
        workdir.mkdir()
        masked_dir.mkdir()
        masked_file.write_text("x")
        command = confine(["true"], workdir, masked=(masked_dir, masked_file))
        try:  # the whole confinement, as a child would get it (some sandboxes refuse mounts)
            probe = subprocess.run(command, capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"confinement failed ({error})"
    if probe.returncode != 0:
        detail = probe.stderr.decode(errors="replace").strip().splitlines()
        return f"confinement failed ({detail[-1][:160] if detail else f'exit code {probe.returncode}'})"
    return None


@functools.cache
def warn_once(reason: str) -> None:
    print(f"warning: student code is not isolated from the file system and network here: {reason}; "
          "only process limits apply", file=sys.stderr)


def python_roots() -> list[Path]:
    """The folders the child's interpreter needs: the installation and the environment."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).absolute()}
    return sorted(roots)


def _bind(source: Path, target: str, read_only: bool) -> list[str]:
    # recursive: mounts below the source come along (e.g. a GPU driver mounted at /usr/local/nvidia)
    lines = [f"mkdir -p {target}", f"mount --rbind {shlex.quote(str(source))} {target}"]
    if read_only:
        lines.append(f"mount -o remount,bind,ro {target}")
    return lines


def _mask(path: Path, target: str) -> list[str]:
    """Show `path` empty inside the new root: an empty read-only folder, or /dev/null for a file."""
    if path.is_dir():
        return [f"mount -t tmpfs -o ro,size=4k,mode=755 masked {target}"]
    return [f"mount --bind /dev/null {target}"]


def confinement_script(new_root: Path, workdir: Path, masked=()) -> str:
    """The shell script that builds the child's root filesystem (run inside the namespaces).

    `masked` paths (inside the Python installation) appear empty: the datasets' raw files.
    """
    root = shlex.quote(str(new_root))
    lines = [f"mount -t tmpfs -o mode=755 grader-root {root}"]
    for name in SYSTEM_DIRS:
        path = Path("/") / name
        if path.is_symlink():
            lines.append(f"ln -s {shlex.quote(os.readlink(path))} {root}/{name}")
        elif path.is_dir():
            lines += _bind(path, f"{root}/{name}", read_only=True)
    for python_root in python_roots():
        if not any(python_root.is_relative_to(Path("/") / name) for name in SYSTEM_DIRS):
            lines += _bind(python_root, root + shlex.quote(str(python_root)), read_only=True)
    lines += [f"mkdir -p {root}/dev {root}/proc {root}/sys {root}/tmp",
              f"mount --rbind /dev {root}/dev",
              f"mount -t proc proc {root}/proc",
              f"mount --bind /sys {root}/sys", f"mount -o remount,bind,ro {root}/sys",
              f"chmod 1777 {root}/tmp"]
    lines += _bind(workdir, root + shlex.quote(str(workdir)), read_only=False)
    visible = [Path("/") / name for name in SYSTEM_DIRS] + python_roots() + [workdir]
    for path in map(Path, masked):
        if any(path.is_relative_to(folder) for folder in visible):  # others are not there anyway
            lines += _mask(path, root + shlex.quote(str(path)))
    return "\n".join(f"{line} || exit {SETUP_FAILED}" for line in lines)


def confine(command: list[str], workdir: Path, masked=()) -> list[str]:
    """`command` wrapped so that it runs confined (see the module docstring)."""
    new_root = workdir.parent / (workdir.name + "-root")
    new_root.mkdir()
    script = confinement_script(new_root, workdir, masked)
    run = " ".join(shlex.quote(part) for part in command)
    script += (f"\ncd /\nexec chroot {shlex.quote(str(new_root))} setpriv --no-new-privs "
               f"--inh-caps=-all --bounding-set=-all -- sh -c {shlex.quote('cd ' + shlex.quote(str(workdir)) + ' && exec ' + run)}")
    return [*UNSHARE, "--", "/bin/sh", "-c", script]

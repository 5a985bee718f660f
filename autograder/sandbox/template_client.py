"""The grader's side of the warm template (`template.py`): start it for a class run, and ask it
for a student's confined zygote instead of starting a new interpreter.

`grade-all` starts one template (`Template`) and names its socket in `AUTOGRADER_TEMPLATE` for
the students' workers; `StudentProcess` then gets its zygote with `spawn`, and falls back to
starting it through `unshare` itself when the template cannot answer. Either way the zygote is
confined the same way (`isolation.py`'s root filesystem script, the same uid, cgroup, rlimits)
and the grader talks to it over the same pipes.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import isolation, wire

ADDRESS_VARIABLE = "AUTOGRADER_TEMPLATE"
REPLY_BYTES = 1 << 12
STARTUP_S = 120.0  # the template's warm-up (numpy, torch, an optimizer): our code


class Unavailable(Exception):
    """The template did not answer: the caller starts its zygote itself."""


def address() -> str | None:
    """The socket of this run's template, when grade-all started one."""
    return os.environ.get(ADDRESS_VARIABLE) or None


class Template:
    """One warm template process for a class run; `close()` ends it."""

    def __init__(self, environment: dict[str, str]):
        from .runtime import RUNTIME_PACKAGE, write_runtime

        self.folder = Path(tempfile.mkdtemp(prefix="grade-template-"))  # 0700: root only
        runtime = write_runtime(self.folder)
        self.address = str(self.folder / "template.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.address)
        self.listener.listen(64)
        fd = self.listener.fileno()
        bootstrap = (
            f"import sys; sys.path.insert(0, {str(runtime)!r}); from {RUNTIME_PACKAGE}.template import main; main({fd})"
        )
        self.process = subprocess.Popen(
            isolation.die_with_parent([sys.executable, "-I", "-c", bootstrap]),
            cwd=self.folder,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(fd,),
            start_new_session=True,
            close_fds=True,
        )

    def close(self) -> None:
        self.listener.close()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def zygote(workdir: Path, jail: isolation.Jail, env: dict, rlimits: dict, fds: list[int]) -> KeptProcess | None:
    """The student's zygote from this run's template, for the child's folder `workdir` (made by
    StudentProcess) confined in `jail`; None without a template or when it cannot answer."""
    where = address()
    if where is None:
        return None
    new_root = isolation.new_root_of(workdir)
    request = {
        "script": isolation.root_filesystem_script(new_root, workdir, jail),
        "root": str(new_root),
        "home": str(isolation.home_of(workdir)),
        "uid": jail.uid,
        "cgroup_procs": list(jail.cgroup_procs),
        "env": env,
        "runtime": str(workdir / "runtime"),
        "rlimits": rlimits,
    }
    try:
        return spawn(where, request, fds)
    except Unavailable:
        return None


def spawn(where: str, request: dict, fds: list[int]) -> KeptProcess:
    """A confined zygote forked by the template at `where`, serving on `fds` (the control pipe's
    two ends and the fd socket, ours to close afterwards); raises Unavailable."""
    status_r, status_w = os.pipe()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(STARTUP_S)
            connection.connect(where)
            message = wire.encode(request)
            socket.send_fds(connection, [struct.pack("!Q", len(message))], [*fds, status_w])
            connection.sendall(message)
            reply = _read_all(connection)
        pid = wire.decode(reply, limits=wire.REPLY)["pid"]
    except (OSError, wire.WireError, KeyError, TypeError) as error:
        os.close(status_r)
        raise Unavailable(str(error)) from None
    finally:
        os.close(status_w)
    return KeptProcess(int(pid), status_r)


def _read_all(connection: socket.socket) -> bytes:
    chunks = []
    while chunk := connection.recv(REPLY_BYTES):
        chunks.append(chunk)
    return b"".join(chunks)


class KeptProcess:
    """The zygote's keeper (`template.py`), as much of `subprocess.Popen` as the sandbox uses:
    its pid (the parent of the namespace's init), `poll()` and `wait()`. Its exit status comes
    through a pipe (it is the template's child, not ours); none, if it was killed."""

    def __init__(self, pid: int, status_fd: int):
        self.pid, self._status_fd, self.returncode = pid, status_fd, None

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._status_fd], [], [], 0)[0]:
            self._read_status()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired("zygote", timeout)
            select.select([self._status_fd], [], [], left)
        return self.returncode

    def _read_status(self) -> None:
        text = os.read(self._status_fd, 64)
        os.close(self._status_fd)
        self._status_fd = -1
        try:
            self.returncode = int(text)
        except ValueError:  # killed before it could say (SIGKILL)
            self.returncode = -signal.SIGKILL

"""The warm parent in the child's confinement: it imports numpy and torch once, then forks a
fresh process for each of a student's modules, so no module sees what another did at import.

Runs as the confined child's first process (the init of its PID namespace, confined) with only
the runtime package on its path. It never loads student code itself: it answers control
requests on fds IN/OUT and passes each forked process's pipe ends to the grader over a Unix
socket (fd SOCKET, SCM_RIGHTS). A forked process serves one module with `child.main` on the
same fd numbers as the zygote's control channel, which it closes before any student code:

- `warmup`: numpy, torch, the from-scratch watch, an optimizer (kept single-threaded:
  OMP_NUM_THREADS=1, so no thread pool exists to break in a fork);
- `fork`: a fresh process; its two pipe ends go to the grader, the reply says its pid;
- `reap`: waits `grace` seconds for it to exit, then kills every other process of the
  namespace (or the forked process's group, unconfined), reaps them all, empties the
  scratch folders, and replies with its exit status (None: it was still running).

It is not dumpable (no process of the student's uid can trace it or read its memory) and
exits when the grader's end of the control channel closes: the namespace dies with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import shutil
import signal
import socket
import time

from . import child, wire

PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4
SCRATCH = ("/tmp", "/dev/shm")  # emptied between modules, with the home (confined only)


def _prctl(option: int, value: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


class Zygote:
    def __init__(self, fd_in: int, fd_out: int, fd_socket: int):
        self.fd_in, self.fd_out = fd_in, fd_out
        self.socket = socket.socket(fileno=fd_socket)
        self.confined = os.getpid() == 1  # the init of its own PID namespace
        self.forked: int | None = None  # the process serving a module now
        self.held: int | None = None  # our copy of its reply pipe (see `fork`)

    def serve(self) -> None:
        signal.signal(signal.SIGCHLD, self._on_child)
        stream_in = os.fdopen(self.fd_in, "rb", buffering=0, closefd=False)
        stream_out = os.fdopen(self.fd_out, "wb", buffering=0, closefd=False)
        while True:
            try:
                request = wire.decode(wire.read_frame(stream_in))
            except EOFError:
                self.reap(0.0)
                return
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})  # the handler runs only between requests
            try:
                reply = {"ok": True, **self.answer(request)}
            except Exception as error:  # our own code failed: the grader says so, as internal
                reply = {"ok": False, "error": {"type": type(error).__name__, "message": str(error)[:2000]}}
            wire.write_frame(stream_out, wire.encode(reply))
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})

    def answer(self, request: dict) -> dict:
        op = request["op"]
        if op == "warmup":
            child._serve({"op": "warmup", "optimizer": request.get("optimizer", True)})
            gc.collect()
            gc.freeze()  # what the forked processes share stays shared (no collector writes to it)
            return {"threads": len(os.listdir("/proc/self/task"))}
        if op == "fork":
            return {"pid": self.fork()}
        if op == "reap":
            return {"status": self.reap(float(request.get("grace", 0.0)))}
        raise ValueError(f"unknown request {op!r}")

    def fork(self) -> int:
        self.reap(0.0)
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            self._become_server(request_r, reply_w)  # never returns
        socket.send_fds(self.socket, [b"f"], [request_w, reply_r])
        for fd in (request_r, request_w, reply_r):
            os.close(fd)
        # Confined, kept while it lives: one that closes its reply pipe and lives on is ended by
        # its time limit, as a confined child always was (its namespace's launcher held the pipe);
        # unconfined, the grader sees the pipe close and ends it. A death closes the pipe at once.
        self.forked, self.held = pid, reply_w
        if not self.confined:
            os.close(reply_w)
            self.held = None
        self._on_child()
        return pid

    def _on_child(self, *_) -> None:
        """SIGCHLD: once the forked process has exited, let go of its reply pipe (not reaped
        yet: `reap` reads its exit status)."""
        if self.forked is None or self.held is None:
            return
        try:
            exited = os.waitid(os.P_PID, self.forked, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            exited = True
        if exited:
            os.close(self.held)
            self.held = None

    def _become_server(self, request_r: int, reply_w: int) -> None:
        """In the forked process: the control fds replaced by its own pipes, then serve."""
        try:
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            _prctl(PR_SET_DUMPABLE, 1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            self.socket.close()
            os.dup2(request_r, self.fd_in)
            os.dup2(reply_w, self.fd_out)
            low, high = sorted((self.fd_in, self.fd_out))
            for start, stop in ((3, low), (low + 1, high), (high + 1, 1 << 16)):
                os.closerange(start, stop)
            if not self.confined:
                os.setpgid(0, 0)  # unconfined, the reap kills this group
            try:  # the kernel's out-of-memory choice: this process, never the zygote
                with open("/proc/self/oom_score_adj", "w") as adj:
                    adj.write("1000")
            except OSError:
                pass
            child.main(self.fd_in, self.fd_out, {})
        finally:
            os._exit(0)

    def reap(self, grace: float) -> int | None:
        """End the forked process and everything it started; its exit status (None if it
        was still running after `grace` seconds)."""
        if self.forked is None:
            return None
        status = self._wait(self.forked, grace)
        if self.confined:
            with _suppress():
                os.kill(-1, signal.SIGKILL)  # all but us: the namespace's init is spared
        else:
            with _suppress():
                os.killpg(self.forked, signal.SIGKILL)
        if status is None:
            status = self._wait(self.forked, 10.0, report=False)
        self._reap_orphans()
        if self.held is not None:
            os.close(self.held)
        self.forked = self.held = None
        self._empty_scratch()
        return status

    @staticmethod
    def _wait(pid: int, seconds: float, report: bool = True) -> int | None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                return None
            if done:
                return os.waitstatus_to_exitcode(status) if report else None
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.01)

    def _reap_orphans(self) -> None:
        """Wait for every process that was killed (orphans are ours, as the namespace's init)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if not done:
                time.sleep(0.005)

    def _empty_scratch(self) -> None:
        """Nothing a module made stays for the next one: the home, and confined /tmp, /dev/shm and
        the SysV IPC objects of the namespace."""
        folders = [os.environ.get("HOME", "")] + (list(SCRATCH) if self.confined else [])
        for folder in filter(os.path.isdir, folders):
            for entry in os.listdir(folder):
                _remove(os.path.join(folder, entry))
        if self.confined:
            _remove_sysv_objects()


IPC_RMID = 0
SYSV_KINDS = {"shm": "shmctl", "sem": "semctl", "msg": "msgctl"}  # /proc/sysvipc/<kind>: its remover


def _remove_sysv_objects() -> None:
    """Remove every SysV shared-memory segment, semaphore set and message queue of this IPC
    namespace (the child's own: nothing outside it sees them or made them)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return
    for kind, remover in SYSV_KINDS.items():
        try:
            with open(f"/proc/sysvipc/{kind}") as table:
                rows = table.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            ident = int(row.split()[1])
            if kind == "sem":
                libc.semctl(ident, 0, IPC_RMID)
            else:
                getattr(libc, remover)(ident, IPC_RMID, None)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        with _suppress():
            os.chmod(path, 0o700)  # a folder the student made unwritable
        shutil.rmtree(path, onerror=lambda func, name, _: _force(func, name))
    else:
        with _suppress():
            os.unlink(path)


def _force(func, name: str) -> None:
    with _suppress():
        os.chmod(os.path.dirname(name), 0o700)
        func(name)


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        return exc_type is not None and issubclass(exc_type, OSError)


def main(fd_in: int, fd_out: int, fd_socket: int, limits: dict) -> None:
    child._limit_resources(limits)
    _prctl(PR_SET_DUMPABLE, 0)
    Zygote(fd_in, fd_out, fd_socket).serve()

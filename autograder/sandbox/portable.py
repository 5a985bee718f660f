"""The portable runner: student code in a plain child process, on Linux, macOS and Windows.

Where the Linux runner (`autograder/sandbox/sandbox.py`: namespaces, cgroups, `pass_fds`, `os.killpg`,
`resource`) cannot work, or when `AUTOGRADER_RUNNER=portable` asks for it, `PortableProcess`
runs the same child (`autograder/sandbox/child.py`, copied into a private folder and started with
`python -I`) and talks to it over its stdin and stdout, the only pipes every OS gives a child.
What it enforces: the wall-time limit of each exercise (the child is ended when it passes),
the memory limit where the OS has one (RLIMIT_DATA through `resource`), no core files. What
it does not: isolation from the file system and the network, a process count, a cgroup; one
warning line says so, once. Its interface is `StudentProcess`'s, so the checks, the proxies and
the messages are the same, and so are the exit codes of `check`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import wire
from .channel import ChannelError
from .proxies import StudentFailure
from .runtime import RUNTIME_PACKAGE, ChildRunner, write_runtime
from .sandbox import MAX_REPLY_BYTES, WARMUP_S, StudentProcess

RUNNER_VARIABLE = "AUTOGRADER_RUNNER"  # "portable" forces this runner (e.g. to test it on Linux)

# The child's first lines: the channel is its stdin/stdout, moved to other descriptors so that the
# student's print() and the libraries' output go nowhere; then its own limits, where the OS has them.
BOOTSTRAP = """\
import os, sys
channel_in, channel_out = os.dup(0), os.dup(1)
if sys.platform == "win32":
    import msvcrt
    msvcrt.setmode(channel_in, os.O_BINARY)
    msvcrt.setmode(channel_out, os.O_BINARY)
null = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
try:
    import resource
except ImportError:
    resource = None
for name, value in ({limits!r} if resource else {{}}).items():
    try:
        resource.setrlimit(getattr(resource, name), (value, value))
    except (ValueError, OSError, AttributeError):
        pass
sys.path.insert(0, {runtime!r})
from {package}.child import main
main(channel_in, channel_out, {{}})
"""


def linux_runner_missing() -> str | None:
    """Why the Linux runner cannot work here (None when it can): it needs Linux, `resource`,
    `fcntl` and `os.killpg`."""
    if not sys.platform.startswith("linux"):
        return f"{sys.platform} is not Linux"
    for name in ("resource", "fcntl"):
        try:
            __import__(name)
        except ImportError:
            return f"no `{name}` module"
    if not hasattr(os, "killpg"):
        return "no os.killpg"
    return None


def portable_reason() -> str | None:
    """Why student code runs with the portable runner (None: the Linux runner)."""
    if os.environ.get(RUNNER_VARIABLE, "").strip().lower() == "portable":
        return f"{RUNNER_VARIABLE}=portable"
    return linux_runner_missing()


def process_class():
    """The runner for this machine: `StudentProcess` (Linux) or `PortableProcess`."""
    return StudentProcess if portable_reason() is None else PortableProcess


def memory_enforced() -> bool:
    """Whether the child's RLIMIT_DATA is enforced here (Linux; macOS and Windows do not)."""
    try:
        import resource  # noqa: F401
    except ImportError:
        return False
    return sys.platform.startswith("linux")


@functools.cache
def announce(reason: str) -> None:
    """The one line, once per process, that says what this runner enforces and what not."""
    memory = (
        "the memory limit by RLIMIT_DATA"
        if memory_enforced()
        else "no memory limit (none that a child can set on this OS)"
    )
    print(
        f"warning: portable runner ({reason}): time limit by ending the process, {memory}; "
        "not enforced: isolation from files and network, a process count, a cgroup",
        file=sys.stderr,
    )


class PipeChannel:
    """Frames over a child's stdin and stdout, with deadlines, on any OS. Windows cannot wait
    on a pipe with select(), so a thread does each read and each write while the caller waits
    at most until the deadline; one reply at a time is read, and its size is checked first."""

    def __init__(self, to_child, from_child, max_frame: int):
        self.to_child, self.from_child, self.max_frame = to_child, from_child, max_frame

    def send(self, payload: bytes, deadline: float) -> None:
        self._within(deadline, lambda: wire.write_frame(self.to_child, payload))

    def receive(self, deadline: float) -> bytearray:
        head = self._within(deadline, lambda: self._exactly(8))
        size = int.from_bytes(head, "big")
        if size > self.max_frame:
            raise ChannelError("too_large", size)
        return self._within(deadline, lambda: self._exactly(size))

    def _exactly(self, size: int) -> bytearray:
        buffer, filled = bytearray(size), 0
        view = memoryview(buffer)
        while filled < size:
            count = self.from_child.readinto(view[filled : filled + (1 << 20)])
            if not count:
                raise EOFError
            filled += count
        return buffer

    @staticmethod
    def _within(deadline: float, work):
        """`work()` in a thread; its value, or ChannelError('timeout' | 'closed')."""
        result: queue.Queue = queue.Queue(maxsize=1)

        def run():
            try:
                result.put((True, work()))
            except (OSError, EOFError, ValueError):
                result.put((False, None))

        threading.Thread(target=run, daemon=True).start()
        try:
            done, value = result.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise ChannelError("timeout") from None
        if not done:
            raise ChannelError("closed")
        return value

    def close(self) -> None:
        for stream in (self.to_child, self.from_child):
            with contextlib.suppress(OSError, ValueError):
                stream.close()


class PortableProcess(ChildRunner):
    """One plain child serving a student's modules, restarted after a failure (the interface of
    `sandbox.StudentProcess`: `launch`, `start_exercise`, `close`, the timing counters)."""

    def __init__(self, *args, confine: bool = True, **kwargs):
        super().__init__(*args, **kwargs)  # ChildRunner's sources, limits, time_limits, warm_optimizer, helpers
        self.confined = False  # `confine` is moot: this runner never confines
        self.proc: subprocess.Popen | None = None
        self.channel: PipeChannel | None = None
        self.deadline, self.budget = float("inf"), 0.0
        self.broken: dict[str, StudentFailure] = {}  # modules whose import (or start) failed
        self.warmup_sent_at: float | None = None
        announce(portable_reason() or "chosen by the caller")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def names_of(self, module: str | None) -> list[str]:
        return self.loaded.get(module, [])

    def launch(self) -> None:
        """Start the child and send its warm-up (numpy, torch); the reply is read later."""
        if self.alive():
            return
        self._spawn()
        self.warmup_sent_at = time.monotonic()
        self._arm(WARMUP_S)
        self._send({"op": "warmup", "optimizer": self.warm_optimizer})

    def start_exercise(self, module: str) -> None:
        """The child ready with `module` imported, and one exercise's time budget started."""
        if module in self.broken:
            raise self.broken[module]
        try:
            self.launch()
            self._await_warmup()
            if module not in self.loaded:
                self._load(module)
        except StudentFailure as failure:
            self.broken[module] = failure
            raise
        self._arm(self.time_limits.get(module, self.limits.time_s))

    def request(self, message: dict, sent: dict | None = None):
        if not self.alive():
            raise StudentFailure("crash", message="the student's process is no longer running")
        started = time.monotonic()
        try:
            return self._exchange(message, sent)
        finally:
            self.request_seconds += time.monotonic() - started

    # -- the child's life -------------------------------------------------------------
    def _arm(self, seconds: float) -> None:
        self.deadline, self.budget = time.monotonic() + seconds, seconds

    def _await_warmup(self) -> None:
        if self.warmup_sent_at is None:
            return
        sent_at, self.warmup_sent_at = self.warmup_sent_at, None
        self.deadline, self.budget = sent_at + WARMUP_S, WARMUP_S
        self.interpret(self._receive())
        self.start_seconds += time.monotonic() - sent_at

    def _load(self, module: str) -> None:
        started = time.monotonic()
        self._arm(self.limits.import_s)
        try:
            reply = self._exchange(
                {"op": "load", "module": module, "path": str(self.workdir / "submission" / f"{module}.py")}
            )
        finally:
            self.import_seconds[module] = self.import_seconds.get(module, 0.0) + time.monotonic() - started
        self.loaded[module] = reply["names"]

    def _spawn(self) -> None:
        self.close()
        self.generation += 1
        self.starts += 1
        self.loaded = {}
        self.workdir = Path(tempfile.mkdtemp(prefix="check-"))
        runtime = self._write_files()
        bootstrap = BOOTSTRAP.format(limits=self._rlimits(), runtime=str(runtime), package=RUNTIME_PACKAGE)
        posix = os.name == "posix"
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", bootstrap],
            cwd=self.workdir,
            env=self._child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=posix,
            creationflags=0 if posix else subprocess.CREATE_NEW_PROCESS_GROUP,
        )
        self.channel = PipeChannel(self.proc.stdin, self.proc.stdout, MAX_REPLY_BYTES)

    def _write_files(self) -> Path:
        """The runtime package and the submission, in the child's folder; the runtime's folder."""
        runtime = write_runtime(self.workdir)
        submission = self.workdir / "submission"
        submission.mkdir()
        for name, path in {**self.helpers, **{f"{m}.py": p for m, p in self.sources.items()}}.items():
            shutil.copyfile(path, submission / name, follow_symlinks=False)
        return runtime

    def _child_env(self) -> dict:
        env = {
            **os.environ,
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "MPLBACKEND": "Agg",
            "OMP_NUM_THREADS": "1",
        }
        if self.limits.device == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = ""
        return env

    def _rlimits(self) -> dict[str, int]:
        """What the child sets on itself where `resource` exists (the OS may ignore some)."""
        return {"RLIMIT_DATA": self.limits.memory_mb << 20, "RLIMIT_CORE": 0, "RLIMIT_FSIZE": 256 << 20}

    def close(self) -> None:
        """End the child (its whole process group on POSIX) and remove its folder."""
        if self.proc is not None:
            if hasattr(os, "killpg"):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                self.proc.kill()
            self.proc.wait()
            self.channel.close()
            self.proc = None
        self.warmup_sent_at = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    # -- requests ---------------------------------------------------------------------
    def _exchange(self, message: dict, sent: dict | None = None):
        self._send(message)
        return self.interpret(self._receive(), sent)

    def _send(self, message: dict) -> None:
        self._guarded(self.channel.send, wire.encode(message))

    def _receive(self) -> bytes:
        return self._guarded(self.channel.receive)

    def _guarded(self, operation, *args):
        """A channel operation under the current deadline; a broken one is a StudentFailure."""
        try:
            return operation(*args, self.deadline)
        except ChannelError as error:
            raise self._failure(error) from None

    def _failure(self, error: ChannelError) -> StudentFailure:
        """What a broken exchange means; the child is ended in every case."""
        code = None
        if error.kind == "closed":
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self.proc.wait(timeout=2)
        self.close()
        if error.kind == "too_large":
            return StudentFailure("protocol", message=f"reply of {error.size} bytes is too large")
        if error.kind == "timeout":
            return StudentFailure("timeout", message=f"{self.budget:g}")
        if code is not None and code < 0:
            return StudentFailure("crash", message=f"killed by {signal.Signals(-code).name}")
        if code is None:
            return StudentFailure("crash", message="closed its channel to the grader")
        return StudentFailure("crash", message=f"exited with code {code}")

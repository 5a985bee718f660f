"""Run student code in child processes under time and memory limits; talk to them as data.

`StudentProcess` owns one confined child for one student's modules: a warm parent (a
"zygote", `autograder/sandbox/zygote.py`) that imports numpy and torch while the grader collects its
checks, then forks a fresh process for each module, which imports the module under the
import limit and serves that module's exercises. The grader calls the module's functions
through the proxies of `autograder/sandbox/proxies.py`, so a check reads like ordinary code
(`student.rnn_step(x, h, W_xh, W_hh, b_h)`) while the work happens in the forked process.
A crash, hang or memory blow-up raises `StudentFailure` in the grader and ends that process
with all it started; the next exercise gets a fresh one (which imports its module again).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import cgroups, isolation, wire
from .channel import Channel, ChannelError
from .proxies import StudentFailure
from .runtime import RUNTIME_PACKAGE, ChildRunner, child_environment, write_runtime

MAX_REPLY_BYTES = 128 << 20  # one reply; a larger one costs the exercise (the grader stays small)


WARMUP_S = 120.0  # importing numpy and torch in a new child (our code, not the student's)
FORK_S = 30.0  # the zygote forking a process for a module (our code)
REAP_S = 30.0  # the zygote ending that process and all it started, cleaning the scratch space
CONTROL_BYTES = 1 << 16  # one reply of the zygote


class StudentProcess(ChildRunner):
    """A student's modules, each served by a process of its own forked from one warm parent
    (the arguments: `ChildRunner`'s, and `confine`).

    The child started here (confined, as `autograder/sandbox/isolation.py` describes; a new interpreter,
    or forked by grade-all's warm template) is the zygote of `autograder/sandbox/zygote.py`. It forks a
    fresh process for each module, and again for an exercise after its module's process crashed
    or timed out: a module sees nothing another module did at import.
    """

    def __init__(self, *args, confine: bool = True, **kwargs):
        super().__init__(*args, **kwargs)  # ChildRunner's sources, limits, time_limits, warm_optimizer, helpers
        self.confine = confine  # False: the instructor allowed grading without confinement
        self.proc: subprocess.Popen | None = None  # the zygote (through unshare, confined)
        self.deadline, self._budget = float("inf"), 0.0
        self.load_failures: dict[str, StudentFailure] = {}
        self.confined = False
        self.cgroup: cgroups.ChildGroup | None = None
        self.control: Channel | None = None  # to the zygote
        self.fd_socket: socket.socket | None = None  # the forked processes' pipes come through it
        self.channel: Channel | None = None  # to the forked process serving a module
        self._oom_kills = 0
        self._warming = False

    def alive(self) -> bool:
        return self.channel is not None and self.proc is not None and self.proc.poll() is None

    def names_of(self, module: str | None) -> list[str]:
        return self.loaded.get(module, [])

    # -- life cycle -------------------------------------------------------------------
    def start_exercise(self, module: str) -> None:
        """Start the time budget of one exercise of `module`; fork a fresh process for the
        module and import it first if needed (a new module, or its process is gone)."""
        self.ensure(module)
        budget = self.time_limits.get(module, self.limits.time_s)
        self.deadline, self._budget = time.monotonic() + budget, budget

    def ensure(self, module: str | None) -> None:
        if module in self.load_failures:
            raise self.load_failures[module]
        try:
            if self.proc is None or self.proc.poll() is not None:
                self.launch()
            self._finish_warmup()
            if module not in self.loaded or not self.alive():
                self._fork()
                self._import(module)
        except StudentFailure as failure:
            self.load_failures[module] = failure
            raise

    def launch(self) -> None:
        """Start the zygote and send its warm-up; returns at once (the reply is read later)."""
        if self.proc is not None and self.proc.poll() is None:
            return
        self._started_at = time.monotonic()
        self._spawn()
        self._control_send({"op": "warmup", "optimizer": self.warm_optimizer}, self._started_at + WARMUP_S)
        self._warming = True

    def _finish_warmup(self) -> None:
        if not self._warming:
            return
        self._warming = False
        threads = self._control_reply(self._started_at + WARMUP_S).get("threads")
        self.start_seconds += time.monotonic() - self._started_at
        if threads != 1:  # a thread pool does not survive a fork: no module may inherit a broken one
            self.close()
            raise StudentFailure("internal", message=f"the child's parent has {threads} threads before forking")

    def _fork(self) -> None:
        """A fresh process from the zygote, reached through its own pipes."""
        self._retire()
        deadline = time.monotonic() + FORK_S
        self._control_send({"op": "fork"}, deadline)
        self._control_reply(deadline)
        self.fd_socket.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            _, fds, _, _ = socket.recv_fds(self.fd_socket, 1, 2)
        except OSError:
            raise self._zygote_failure() from None
        if len(fds) != 2:
            raise self._zygote_failure()
        self.channel = Channel(fds[0], fds[1], MAX_REPLY_BYTES)
        self._oom_kills = self.cgroup.oom_kills() if self.cgroup is not None else 0
        self.generation += 1
        self.forks += 1

    def _retire(self, grace: float = 0.0) -> int | None:
        """End the forked process (and all it started); its exit status, None if it was still
        running after `grace` seconds or the zygote is gone."""
        self.loaded = {}
        if self.channel is None:
            return None
        self.channel.close()
        self.channel = None
        deadline = time.monotonic() + grace + REAP_S
        try:
            self._control_send({"op": "reap", "grace": grace}, deadline)
            return self._control_reply(deadline).get("status")
        except StudentFailure:
            return None

    def _import(self, module: str) -> None:
        started = time.monotonic()
        self.deadline, self._budget = started + self.limits.import_s, self.limits.import_s
        try:
            reply = self._request(
                {"op": "load", "module": module, "path": str(self.workdir / "submission" / f"{module}.py")}
            )
        finally:
            self.import_seconds[module] = self.import_seconds.get(module, 0.0) + time.monotonic() - started
        self.loaded = {module: reply["names"]}

    def _spawn(self) -> None:
        self.close()
        self.starts += 1
        self.workdir = Path(tempfile.mkdtemp(prefix="grade-"))
        self._write_files()
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.confined = self.confine and isolation.unavailable_reason() is None
        fds = [to_child_r, from_child_w, theirs.fileno()]
        try:
            jail = self._jail() if self.confined else None
            self.proc = (jail and self._from_template(jail, fds)) or self._start_zygote(jail, fds)
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
            theirs.close()
        self.control, self.fd_socket = Channel(to_child_w, from_child_r, CONTROL_BYTES), ours

    def _start_zygote(self, jail: isolation.Jail | None, fds: list[int]) -> subprocess.Popen:
        """A new interpreter as the zygote, confined through `unshare` when `jail` is given."""
        bootstrap = (
            f"import sys; sys.path.insert(0, {str(self.workdir / 'runtime')!r}); "
            f"from {RUNTIME_PACKAGE}.zygote import main; main({', '.join(map(str, fds))}, {self._rlimits()!r})"
        )
        command = [sys.executable, "-I", "-c", bootstrap]
        if jail is not None:
            command = isolation.confine(command, self.workdir, jail)
        return subprocess.Popen(
            isolation.die_with_parent(command),
            cwd=self.workdir,
            env=self._child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=fds,
            start_new_session=True,
            close_fds=True,
        )

    def _write_files(self) -> None:
        """The runtime and the submission, readable by the child's user and writable by root only."""
        isolation.prepare_workdir(self.workdir)
        runtime = write_runtime(self.workdir) / RUNTIME_PACKAGE
        submission = self.workdir / "submission"
        submission.mkdir()
        files = {**self.helpers, **{f"{module}.py": path for module, path in self.sources.items()}}
        for name, path in files.items():
            shutil.copyfile(path, submission / name, follow_symlinks=False)
        for folder in (self.workdir / "runtime", runtime, submission):
            folder.chmod(0o755)
        for path in [*runtime.iterdir(), *submission.iterdir()]:
            path.chmod(0o644)

    def _jail(self) -> isolation.Jail:
        box = self.limits.sandbox
        self.cgroup = cgroups.create(self.limits.cgroup_memory_bytes, box.max_processes)
        return isolation.Jail(
            uid=isolation.new_uid(),
            scratch_mb=box.scratch_mb,
            shm_mb=box.shm_mb,
            masked=self.limits.masked,
            cgroup_procs=self.cgroup.procs_files if self.cgroup else (),
            devices=isolation.gpu_devices() if self.limits.device == "cuda" else (),
        )

    def _child_env(self) -> dict:
        return child_environment(self.limits.device, isolation.home_of(self.workdir))

    def _from_template(self, jail: isolation.Jail, fds: list[int]):
        """The zygote forked by grade-all's warm template, confined as `isolation.confine` would
        confine it; None without a template, or when it cannot answer."""
        from . import template_client

        process = template_client.zygote(self.workdir, jail, self._child_env(), self._rlimits(), fds)
        self.templated += process is not None
        return process

    def _rlimits(self) -> dict[str, int]:
        """Resource limits the child sets on itself before it imports any student code."""
        memory = self.limits.memory_mb << 20
        # RLIMIT_DATA counts what the child allocates, not the libraries it maps: a CUDA build of
        # torch maps gigabytes of address space even on the CPU, so RLIMIT_AS would refuse it.
        return {
            "RLIMIT_DATA": memory,
            # a backstop for the child's whole life; the wall-time deadlines come first
            "RLIMIT_CPU": int(
                (WARMUP_S + len(self.sources) * (self.limits.import_s + 20 * self.limits.time_s))
                * (os.cpu_count() or 1)
            ),
            "RLIMIT_FSIZE": 256 << 20,
            "RLIMIT_CORE": 0,
            # per user: the confined child's uid is its own (unconfined, it would be the grader's)
            **({"RLIMIT_NPROC": self.limits.sandbox.max_processes} if self.confined else {}),
        }

    def _namespace_init(self) -> int | None:
        """The confined child's host pid: the init of its PID namespace (unshare's only child)."""
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    def close(self) -> None:
        """Kill the zygote with everything it started, and remove its working directory.

        Confined, killing the PID namespace's init (the zygote) makes the kernel kill every
        process in the namespace before unshare (which waits for it) exits: nothing outlives
        close(). Unconfined, the forked process dies with its parent (its parent-death signal).
        """
        for channel in (self.channel, self.control):
            if channel is not None:
                channel.close()
        self.channel = self.control = None
        if self.fd_socket is not None:
            self.fd_socket.close()
            self.fd_socket = None
        if self.proc is not None:
            # Signal only a process still running: once reaped (by us, or by the warm template for
            # its keepers) its pid may already be another process's.
            init = self._namespace_init() if self.confined and self.proc.poll() is None else None
            if init is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(init, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=10)
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        self._warming = False
        self.loaded = {}
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            shutil.rmtree(self.workdir.parent / (self.workdir.name + "-root"), ignore_errors=True)
            self.workdir = None

    # -- the zygote's control channel -------------------------------------------------------
    def _control_send(self, message: dict, deadline: float) -> None:
        try:
            self.control.send(wire.encode(message), deadline)
        except ChannelError:
            raise self._zygote_failure() from None

    def _control_reply(self, deadline: float) -> dict:
        """The zygote's reply (our code, but decoded as data all the same)."""
        try:
            reply = wire.decode(self.control.receive(deadline), limits=wire.REPLY)
        except (ChannelError, wire.WireError):
            raise self._zygote_failure() from None
        if not isinstance(reply, dict) or reply.get("ok") is not True:
            error = reply.get("error") if isinstance(reply, dict) else None
            self.close()
            raise StudentFailure("internal", message=f"the child's parent failed: {str(error)[:300]}")
        return reply

    def _zygote_failure(self) -> StudentFailure:
        """Why the zygote is gone or stuck (it runs no student code: setup failed, or memory)."""
        code = None
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self.proc.wait(timeout=2)
        out_of_memory = self.cgroup is not None and self.cgroup.oom_kills() > self._oom_kills
        self.close()
        if self.confined and code == isolation.SETUP_FAILED:
            return StudentFailure("internal", message="the child's confinement could not be set up")
        if out_of_memory:
            return StudentFailure("memory", message="over the memory limit of its cgroup")
        return StudentFailure("internal", message=f"the child's parent stopped (exit code {code})")

    # -- requests ---------------------------------------------------------------------
    def request(self, message: dict, sent: dict | None = None):
        """A check's request (its round trip counts in `request_seconds`; our own do not)."""
        if not self.alive():
            raise StudentFailure("crash", message="the student's process is no longer running")
        started = time.monotonic()
        try:
            return self._request(message, sent)
        finally:
            self.request_seconds += time.monotonic() - started

    def _request(self, message: dict, sent: dict | None = None):
        self._send(message)
        return self.interpret(self._read_reply(), sent)

    def _send(self, message: dict) -> None:
        try:
            self.channel.send(wire.encode(message), self.deadline)
        except ChannelError as error:
            raise self._channel_failure(error) from None

    def _read_reply(self) -> bytes:
        try:
            return self.channel.receive(self.deadline)
        except ChannelError as error:
            raise self._channel_failure(error) from None

    def _channel_failure(self, error: ChannelError) -> StudentFailure:
        if error.kind == "closed":
            return self._died()
        self._retire()
        if error.kind == "too_large":
            return StudentFailure("protocol", message=f"reply of {error.size} bytes is too large")
        return StudentFailure("timeout", message=f"{self._budget:g}")

    def _died(self) -> StudentFailure:
        """Why the module's process is gone. It is given a moment to finish dying (so that its
        own exit status is seen), then killed: one that only closed its pipe never blocks the grader."""
        code = self._retire(grace=2.0)
        if self.cgroup is not None and self.cgroup.oom_kills() > self._oom_kills:
            return StudentFailure("memory", message="over the memory limit of its cgroup")
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            if name in ("SIGXCPU",):
                return StudentFailure("timeout", message=f"{self.limits.time_s:g}")
            return StudentFailure("crash", message=f"killed by {name}")
        if code is None:
            return StudentFailure("crash", message="closed its channel to the grader")
        return StudentFailure("crash", message=f"exited with code {code}")

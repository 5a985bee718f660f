"""Run student code in a child process under time and memory limits; talk to it as data.

`StudentProcess` owns one child for one student's modules: it starts (imports numpy and
torch) while the grader collects its checks, and imports each student module the first
time one of its exercises runs, under the import limit. The grader calls the module's
functions through the proxies of `autograder/proxies.py`, so a check reads like ordinary
code (`student.rnn_step(x, h, W_xh, W_hh, b_h)`) while the work happens in the child.
A crash, hang or memory blow-up raises `StudentFailure` in the grader, kills the child,
and the next exercise gets a fresh one (which imports again the modules it needs).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import cases, cgroups, datasets, isolation, wire
from .channel import Channel, ChannelError
from .policy import SandboxPolicy
from .proxies import Peer, StudentFailure

RUNTIME_FILES = ("wire.py", "modules.py", "tracing.py", "child.py")
RUNTIME_PACKAGE = "gradechild"
MAX_REPLY_BYTES = 128 << 20    # one reply; a larger one costs the exercise (the grader stays small)
LIBRARIES_MB = 768             # resident libraries (numpy, torch) on top of the memory cap, for the cgroup


WARMUP_S = 120.0  # importing numpy and torch in a new child (our code, not the student's)


@dataclass(frozen=True)
class Limits:
    time_s: float          # wall seconds of student code per exercise (the longest, for a child of several modules)
    memory_mb: int         # the child's data segment and private memory (RLIMIT_DATA)
    device: str = "cpu"
    import_s: float = 30.0  # wall seconds to import the student's module
    sandbox: SandboxPolicy = field(default_factory=SandboxPolicy)

    @property
    def cgroup_memory_bytes(self) -> int:
        """The whole child in its cgroup: its data, shared memory, scratch tmpfs and libraries."""
        box = self.sandbox
        return (self.memory_mb + 2 * box.scratch_mb + box.shm_mb + LIBRARIES_MB) << 20


class StudentProcess(Peer):
    """One child process serving a student's modules, restarted after a failure.

    `sources` maps each module to its file; `time_limits` gives each module's wall seconds per
    exercise (`limits.time_s` when absent); `warm_optimizer` creates an optimizer during the
    warm-up, whose first use imports torch._dynamo (seconds) — for modules that train.
    """

    def __init__(self, sources: dict[str, Path], limits: Limits, *, time_limits: dict[str, float] | None = None,
                 warm_optimizer: bool = True, helpers: dict[str, Path] | None = None, confine: bool = True):
        self.sources = {module: Path(path) for module, path in sources.items()}
        self.helpers = {name: Path(path) for name, path in (helpers or {}).items()}
        self.confine = confine   # False: the instructor allowed grading without confinement
        self.limits, self.time_limits, self.warm_optimizer = limits, dict(time_limits or {}), warm_optimizer
        self.proc: subprocess.Popen | None = None
        self.workdir: Path | None = None
        self.deadline, self._budget = float("inf"), 0.0
        self.loaded: dict[str, list[str]] = {}
        self.load_failures: dict[str, StudentFailure] = {}
        self.confined = False
        self.cgroup: cgroups.ChildGroup | None = None
        self.channel: Channel | None = None
        self._warming = False
        self.start_seconds = 0.0     # starting children and their warm-up (our imports)
        self.import_seconds: dict[str, float] = {}

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def names_of(self, module: str | None) -> list[str]:
        return self.loaded.get(module, [])

    # -- life cycle -------------------------------------------------------------------
    def start_exercise(self, module: str) -> None:
        """Start the time budget of one exercise of `module`; (re)start the child and import
        the module first if needed."""
        self.ensure(module)
        budget = self.time_limits.get(module, self.limits.time_s)
        self.deadline, self._budget = time.monotonic() + budget, budget

    def ensure(self, module: str | None) -> None:
        if module in self.load_failures:
            raise self.load_failures[module]
        try:
            if not self.alive():
                self.launch()
            self._finish_warmup()
            if module not in self.loaded:
                self._import(module)
        except StudentFailure as failure:
            self.load_failures[module] = failure
            raise

    def launch(self) -> None:
        """Start the child and send its warm-up; returns at once (the reply is read later)."""
        if self.alive():
            return
        self._started_at = time.monotonic()
        self.deadline, self._budget = self._started_at + WARMUP_S, WARMUP_S
        self._spawn()
        self._send({"op": "warmup", "optimizer": self.warm_optimizer})
        self._warming = True

    def _finish_warmup(self) -> None:
        if not self._warming:
            return
        self._warming = False
        self.deadline, self._budget = self._started_at + WARMUP_S, WARMUP_S
        self.interpret(self._read_reply())
        self.start_seconds += time.monotonic() - self._started_at

    def _import(self, module: str) -> None:
        started = time.monotonic()
        self.deadline, self._budget = started + self.limits.import_s, self.limits.import_s
        try:
            reply = self._request({"op": "load", "module": module,
                                   "path": str(self.workdir / "submission" / f"{module}.py")})
        finally:
            self.import_seconds[module] = self.import_seconds.get(module, 0.0) + time.monotonic() - started
        self.loaded[module] = reply["names"]

    def _spawn(self) -> None:
        self.close()
        self.generation += 1
        self.loaded = {}
        self.workdir = Path(tempfile.mkdtemp(prefix="grade-"))
        self._write_files()
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        self.confined = self.confine and isolation.unavailable_reason() is None
        bootstrap = (f"import sys; sys.path.insert(0, {str(self.workdir / 'runtime')!r}); "
                     f"from {RUNTIME_PACKAGE}.child import main; "
                     f"main({to_child_r}, {from_child_w}, {self._rlimits()!r})")
        command = [sys.executable, "-I", "-c", bootstrap]
        if self.confined:
            command = isolation.confine(command, self.workdir, self._jail())
        try:
            self.proc = subprocess.Popen(
                isolation.die_with_parent(command), cwd=self.workdir, env=self._child_env(),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(to_child_r, from_child_w), start_new_session=True, close_fds=True)
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.channel = Channel(to_child_w, from_child_r, MAX_REPLY_BYTES)

    def _write_files(self) -> None:
        """The runtime and the submission, readable by the child's user and writable by root only."""
        isolation.prepare_workdir(self.workdir)
        runtime = self.workdir / "runtime" / RUNTIME_PACKAGE
        runtime.mkdir(parents=True)
        (runtime / "__init__.py").write_text("")
        for name in RUNTIME_FILES:
            shutil.copyfile(Path(__file__).with_name(name), runtime / name)
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
        cache = cases.cache_folder_to_mask()  # expected outputs of hidden cases
        return isolation.Jail(
            uid=isolation.new_uid(), scratch_mb=box.scratch_mb, shm_mb=box.shm_mb,
            masked=(*datasets.source_paths(), *([cache] if cache else [])),
            cgroup_procs=self.cgroup.procs_files if self.cgroup else (),
            devices=isolation.gpu_devices() if self.limits.device == "cuda" else ())

    def _child_env(self) -> dict:
        home = str(isolation.home_of(self.workdir))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "TMPDIR": home,
               "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", "LANG": "C.UTF-8",
               "OMP_NUM_THREADS": "1"}
        if self.limits.device == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = ""
        for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH"):
            if key in os.environ and key not in env:
                env[key] = os.environ[key]
        return env

    def _rlimits(self) -> dict[str, int]:
        """Resource limits the child sets on itself before it imports any student code."""
        memory = self.limits.memory_mb << 20
        # RLIMIT_DATA counts what the child allocates, not the libraries it maps: a CUDA build of
        # torch maps gigabytes of address space even on the CPU, so RLIMIT_AS would refuse it.
        return {"RLIMIT_DATA": memory,
                # a backstop for the child's whole life; the wall-time deadlines come first
                "RLIMIT_CPU": int((WARMUP_S + len(self.sources) * (self.limits.import_s + 20 * self.limits.time_s))
                                  * (os.cpu_count() or 1)),
                "RLIMIT_FSIZE": 256 << 20, "RLIMIT_CORE": 0,
                # per user: the confined child's uid is its own (unconfined, it would be the grader's)
                **({"RLIMIT_NPROC": self.limits.sandbox.max_processes} if self.confined else {})}

    def _namespace_init(self) -> int | None:
        """The confined child's host pid: the init of its PID namespace (unshare's only child)."""
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    def close(self) -> None:
        """Kill the child with everything it started, and remove its working directory.

        Confined, killing the PID namespace's init makes the kernel kill every process in the
        namespace before unshare (which waits for it) exits: nothing outlives close().
        """
        if self.proc is not None:
            init = self._namespace_init() if self.confined else None
            if init is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(init, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=10)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            self.channel.close()
            self.proc = None
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        self._warming = False
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            shutil.rmtree(self.workdir.parent / (self.workdir.name + "-root"), ignore_errors=True)
            self.workdir = None

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
        self.close()
        if error.kind == "too_large":
            return StudentFailure("protocol", message=f"reply of {error.size} bytes is too large")
        return StudentFailure("timeout", message=f"{self._budget:g}")

    def _died(self) -> StudentFailure:
        """Why the child is gone. It is given a moment to finish dying (so that its own exit
        status is seen), then killed: a child that only closed its pipe never blocks the grader."""
        code = None
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self.proc.wait(timeout=2)
        out_of_memory = self.cgroup is not None and self.cgroup.oom_killed()
        self.close()
        if self.confined and code == isolation.SETUP_FAILED and not self.loaded:
            return StudentFailure("internal", message="the child's confinement could not be set up")
        if out_of_memory:
            return StudentFailure("memory", message="over the memory limit of its cgroup")
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            if name in ("SIGXCPU",):
                return StudentFailure("timeout", message=f"{self.limits.time_s:g}")
            return StudentFailure("crash", message=f"killed by {name}")
        if code is None:
            return StudentFailure("crash", message="closed its channel to the grader")
        return StudentFailure("crash", message=f"exited with code {code}")

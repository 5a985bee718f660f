"""Run student code in a child process under time and memory limits; talk to it as data.

`StudentProcess` owns one child for one student's modules: it starts (imports numpy and
torch) while the grader collects its checks, and imports each student module the first
time one of its exercises runs, under the import limit. The grader calls the module's
functions through `RemoteModule` / `RemoteObject` proxies, so a check reads like ordinary
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

RUNTIME_FILES = ("wire.py", "modules.py", "tracing.py", "child.py")
RUNTIME_PACKAGE = "gradechild"
MAX_REPLY_BYTES = 128 << 20    # one reply; a larger one costs the exercise (the grader stays small)
MAX_TEXT = 2000                # characters kept of any text the child sends (messages, warnings)
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


class StudentFailure(Exception):
    """Student code failed: kind is 'exception', 'timeout', 'crash' or 'protocol'
    ('internal': the grader could not start the child; not the student's fault)."""

    def __init__(self, kind: str, exc_type: str = "", message: str = "", traceback: str = ""):
        super().__init__(f"{kind}: {exc_type}: {message}")
        self.kind, self.exc_type, self.message, self.traceback = kind, exc_type, message, traceback


class Peer:
    """The side that runs student code, as the proxies see it: requests in, replies decoded."""

    generation = 0
    last_mutated: list = []
    last_warnings: list[str] = []
    student_seconds = 0.0    # inside student functions, as the child measured it
    request_seconds = 0.0    # round trips of requests, as the grader measured them
    scratch = None           # the running exercise's from-scratch watch (autograder/scratch.py)

    def student_request(self, message: dict, sent: dict | None = None):
        """A request that runs student code: watched when the exercise is from scratch."""
        if self.scratch is not None:
            message = {**message, "watch": self.scratch.spec()}
        return self.request(message, sent)

    def alive(self) -> bool:
        raise NotImplementedError

    def start_exercise(self, module: str | None = None) -> None:
        """Make `module`'s names callable and start one exercise's time budget."""

    def names_of(self, module: str | None) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def interpret(self, raw: bytes, sent: dict | None = None) -> dict:
        """Decode a reply: its value (student objects become RemoteObjects), or StudentFailure.

        For a call, `sent` holds the digests of the array arguments as the grader sent them:
        the grader, not the child, decides which of them came back changed (or not at all).
        """
        try:
            reply = wire.decode(raw, resolve_handle=lambda i, t: RemoteObject(self, i, t), limits=wire.REPLY)
        except wire.WireError as error:
            self.close()
            raise StudentFailure("protocol", message=str(error)[:MAX_TEXT]) from None
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            raise StudentFailure("protocol", message="malformed reply")
        if self.scratch is not None:
            self.scratch.verify(reply)  # raises ScratchViolation
        if isinstance(reply.get("seconds"), float):
            self.student_seconds += reply["seconds"]
        if not reply["ok"]:
            error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
            raise StudentFailure("exception", *(_text(error.get(key, default)) for key, default in
                                                (("type", "Exception"), ("message", ""), ("traceback", ""))))
        if sent is not None:
            returned = reply.get("digests") if isinstance(reply.get("digests"), dict) else {}
            self.last_mutated = [label for label, digest in sent.items() if returned.get(label) != digest]
            warnings = reply.get("warnings") if isinstance(reply.get("warnings"), list) else []
            self.last_warnings = sorted({_text(w, 200) for w in warnings})[:20]
        return reply

    def call(self, target, args: list, kwargs: dict, trap_overflow: bool = False):
        """Call a function in the child; its value. `trap_overflow`: a floating-point overflow
        inside the call kills the child (SIGFPE), which the grader sees from outside."""
        message = {"op": "call", "target": target, "args": list(args), "kwargs": kwargs}
        if trap_overflow:
            message["trap"] = "overflow"
        sent = wire.digests(wire.labelled(message["args"], kwargs))
        return self.student_request(message, sent)["value"]


def _text(value, limit: int = MAX_TEXT) -> str:
    return str(value)[:limit]


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
        files = {**{helper: path for helper, path in self.helpers.items()},
                 **{f"{module}.py": path for module, path in self.sources.items()}}
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
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "TMPDIR": home, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
               "MPLBACKEND": "Agg", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1"}
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


class RemoteObject:
    """An object living in the child: attribute reads return data, calls run there."""

    def __init__(self, process: StudentProcess, ident, type_name: str):
        object.__setattr__(self, "_process", process)
        object.__setattr__(self, "_ident", ident)
        object.__setattr__(self, "_type_name", type_name)
        object.__setattr__(self, "_generation", process.generation)

    def _check_alive(self):
        if self._process.generation != self._generation or not self._process.alive():
            raise StudentFailure("crash", message="the student's process was restarted")

    def __call__(self, *args, **kwargs):
        self._check_alive()
        return self._process.call(self._ident, list(args), kwargs)

    def trapping_overflow(self, *args, **kwargs):
        """The call, with floating-point overflow trapped (see `Peer.call`)."""
        self._check_alive()
        return self._process.call(self._ident, list(args), kwargs, trap_overflow=True)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        self._check_alive()
        return self._process.student_request({"op": "getattr", "target": self._ident, "name": name})["value"]

    def __setattr__(self, name, value):
        self._check_alive()
        self._process.student_request({"op": "setattr", "target": self._ident, "name": name, "value": value})

    def __wire_handle__(self):
        self._check_alive()
        return self._ident, self._type_name

    def __repr__(self):
        return f"<{self._type_name} in the student's process>"


class RemoteModule:
    """A student's module as seen from the grader (`module` None: the peer's only namespace)."""

    def __init__(self, process: Peer, module: str | None = None):
        self._process, self._module = process, module

    def _handle(self, name: str) -> str:
        return f"{self._module}:{name}" if self._module else name

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        process = self._process
        if not process.alive():
            process.start_exercise(self._module)
        if name not in process.names_of(self._module):
            raise StudentFailure("missing", "AttributeError", name)
        return RemoteObject(process, self._handle(name), name)

    def get(self, name: str):
        """The value of a module-level constant (e.g. ALPHABET), as data."""
        getattr(self, name)
        return self._process.request({"op": "getattr", "target": self._handle(name), "name": None})["value"]

    @property
    def mutated_inputs(self) -> list:
        """Which arguments the last call changed in place (positions or keyword names)."""
        return self._process.last_mutated

    @property
    def warnings(self) -> list[str]:
        """Warnings the last call emitted."""
        return self._process.last_warnings

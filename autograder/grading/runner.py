"""Stage 3 — run the checks: pytest over `autograder/exercises/checks/<module>.py`, student code in a child.

The grader process runs pytest with `GradingPlugin`, which hands each check its fixtures:
`student` (a proxy to the module running in a child process under the module's time and
memory limits), `cases`, `tol`/`tol32`, `device`, `hidden`, `module_policy` and `artifacts`.
Every check's outcome becomes an `Outcome`.
One confined child serves all the student's modules that share a memory limit: it starts
before pytest collects the checks, so its imports overlap the grader's, and it forks a fresh
process for each module (`autograder/sandbox/sandbox.py`), so each module is graded as if alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import sys
import time

import pytest

from .. import PACKAGE
from ..exercises import embedded_data
from ..exercises.artifacts import plain_data
from ..exercises.cases import cases_for, paths_to_mask
from ..exercises.contract import exercise_id
from ..exercises.expect import CheckFailure
from ..exercises.scratch import watch_for
from ..messages import Message
from ..sandbox import cgroups, isolation, portable
from ..sandbox.proxies import RemoteModule, StudentFailure
from ..sandbox.sandbox import StudentProcess
from ..sandbox.settings import Limits
from .outcomes import Outcome, outcome_of
from .policy import Policy
from .submission import Submission

CHECKS_PACKAGE = "autograder.exercises.checks"
PYTEST_INI = PACKAGE / "exercises" / "checks" / "pytest.ini"
# pytest's plugins the checks do not use; unraisableexception alone runs gc.collect() twice at the end (~0.4 s)
NO_PLUGINS = [
    arg
    for name in (
        "cacheprovider",
        "unraisableexception",
        "threadexception",
        "logging",
        "junitxml",
        "pastebin",
        "doctest",
        "legacypath",
    )
    for arg in ("-p", f"no:{name}")
]


class GradingPlugin:
    """Gives checks their fixtures and records each exercise's outcome."""

    def __init__(self, policy: Policy, submission: Submission, *, hidden: bool, device: str, confine: bool = True):
        # (not self.device / self.hidden: those names are fixtures below)
        self.policy, self.submission, self.grading_hidden, self.grading_device = policy, submission, hidden, device
        self.confine = confine
        self.process_class = portable.process_class()  # the Linux runner, or the portable one
        self.processes: dict[int, StudentProcess] = {}  # by memory limit
        self.outcomes: dict[str, Outcome] = {}
        self._started: dict[str, float] = {}
        self._artifacts: dict[str, dict] = {}
        self.check_seconds = 0.0  # the checks' own bodies (oracles, student calls), setup excluded
        self.graded = [m for m, source in submission.modules.items() if source.path is not None and m in policy.modules]
        self.embedded_data = embedded_data.refusals(
            {m: submission.modules[m].path for m in self.graded},
            submission.helpers,
            [m for m in self.graded if "training" in policy.modules[m].tables],
            policy.embedded_data,
            {s.path: s.origin.name for s in submission.modules.values() if s.path and s.origin},
        )

    @staticmethod
    def _names(item) -> tuple[str, str]:
        return item.module.__name__.rsplit(".", 1)[-1], item.originalname.removeprefix("check_")

    def limits(self, module: str) -> Limits:
        policy = self.policy.modules[module]
        return Limits(
            policy.time_limit_s,
            policy.memory_limit_mb,
            self.grading_device,
            self.policy.import_limit_s,
            self.policy.sandbox,
            masked=paths_to_mask(),
        )

    def process(self, module: str) -> StudentProcess:
        memory = self.policy.modules[module].memory_limit_mb
        if memory not in self.processes:
            served = [m for m in self.graded if self.policy.modules[m].memory_limit_mb == memory]
            time_limits = {m: self.policy.modules[m].time_limit_s for m in served}
            self.processes[memory] = self.process_class(
                {m: self.submission.modules[m].path for m in served},
                dataclasses.replace(self.limits(module), time_s=max(time_limits.values())),
                time_limits=time_limits,
                warm_optimizer=any("training" in self.policy.modules[m].tables for m in served),
                helpers=self.submission.helpers,
                confine=self.confine,
            )
        return self.processes[memory]

    def launch(self) -> None:
        """Start the children now: their warm-up runs while pytest collects the checks."""
        for module in self.graded:
            with contextlib.suppress(StudentFailure):  # the first exercise will start it again, and say why
                self.process(module).launch()

    @pytest.fixture
    def student(self, request):
        module, exercise = self._names(request.node)
        process = self.process(module)
        process.scratch = None
        process.start_exercise(module)
        process.scratch = watch_for(self.policy, module, exercise)
        return RemoteModule(process, module)

    @pytest.fixture
    def cases(self, request):
        module, exercise = self._names(request.node)
        hidden_seed = self.policy.hidden_seed if self.grading_hidden else None
        return cases_for(module, exercise, hidden_seed=hidden_seed, hidden_cases=self.policy.hidden_cases)

    @pytest.fixture
    def tol(self):
        return self.policy.tolerance("float64")

    @pytest.fixture
    def tol32(self):
        return self.policy.tolerance("float32")

    @pytest.fixture
    def device(self):
        """Where student training runs: "cpu" or "cuda" (structure checks stay on CPU)."""
        return self.grading_device

    @pytest.fixture
    def hidden(self):
        """True when grading (hidden checks run), False for the students' `check`."""
        return self.grading_hidden

    @pytest.fixture
    def task_seed(self, request):
        """The seed of a practical task's draws (split, changes of the data): hidden when grading.
        A module whose code carries data (autograder/exercises/embedded_data.py) fails here, before any draw."""
        refused = self.embedded_data.get(self._names(request.node)[0])
        if refused is not None:
            raise CheckFailure(refused)
        return self.policy.hidden_seed if self.grading_hidden else self.policy.public_seed

    @pytest.fixture
    def module_policy(self, request):
        """This module's section of grading.toml (time limit, points, extra tables)."""
        return self.policy.modules[self._names(request.node)[0]]

    @pytest.fixture
    def artifacts(self, request):
        """A dict the check fills with plot data for the feedback report (see autograder/exercises/artifacts.py)."""
        return self._artifacts.setdefault(exercise_id(*self._names(request.node)), {})

    def pytest_collection_modifyitems(self, items):
        """Keep only the exercises the policy grades, of modules the submission has."""
        selected = []
        for item in items:
            module, exercise = self._names(item)
            source = self.submission.modules.get(module)
            if module in self.policy.modules and exercise in self.policy.modules[module].points and source:
                if source.path is None:
                    status = "missing" if source.problem.key == "missing_module" else "error"
                    self.outcomes[exercise_id(module, exercise)] = Outcome(
                        module, exercise, status, 0.0, [source.problem]
                    )
                else:
                    selected.append(item)
        items[:] = selected

    def pytest_runtest_setup(self, item):
        self._started[item.nodeid] = time.monotonic()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        started = time.monotonic()
        yield
        self.check_seconds += time.monotonic() - started

    def timings(self) -> dict:
        """Where the time went: the checks' compute (their bodies less the round trips to the
        child, plus the student code's own seconds in it) and the children's start and imports."""
        processes = self.processes.values()
        requests = sum(p.request_seconds for p in processes)
        student = sum(p.student_seconds for p in processes)
        imports: dict[str, float] = {}
        for process in processes:
            imports.update({m: round(s, 3) for m, s in process.import_seconds.items()})
        return {
            "checks_s": round(self.check_seconds, 3),
            "requests_s": round(requests, 3),
            "student_s": round(student, 3),
            "compute_s": round(self.check_seconds - requests + student, 3),
            "children_started": sum(p.starts for p in processes),
            "children_from_template": sum(p.templated for p in processes),
            "children_forked": sum(p.forks for p in processes),
            "child_start_s": round(sum(p.start_seconds for p in processes), 3),
            "imports_s": imports,
        }

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        module, exercise = self._names(item)
        key = exercise_id(module, exercise)
        if call.when == "teardown" or (call.when == "setup" and call.excinfo is None):
            return
        if key in self.outcomes and self.outcomes[key].status != "passed":
            return
        outcome = self._outcome(module, exercise, call.excinfo)
        outcome.seconds = time.monotonic() - self._started.get(item.nodeid, time.monotonic())
        outcome.artifacts = plain_data(self._artifacts.get(key, {}))
        self.outcomes[key] = outcome
        report.get_result()

    def _outcome(self, module: str, exercise: str, excinfo) -> Outcome:
        return outcome_of(module, exercise, None if excinfo is None else excinfo.value, self.limits(module))

    def close(self):
        for process in self.processes.values():
            process.close()


class UnconfinedRefused(RuntimeError):
    """Hidden checks would run student code unconfined, and the instructor did not allow it."""


@functools.cache
def _warn_once(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr)


def confinement(*, hidden: bool, unconfined: bool = False) -> dict:
    """How student code will run here, for the report: confined or not (and why), with
    cgroup limits or not. Hidden checks refuse to run unconfined unless `unconfined`."""
    fallback = portable.portable_reason()
    reason = (
        f"student code runs with the portable runner ({fallback})"
        if fallback is not None
        else isolation.unavailable_reason()
    )
    if reason is not None and hidden and not unconfined:
        raise UnconfinedRefused(
            f"student code cannot be confined here ({reason}); the hidden checks do not run "
            "unconfined unless you pass --unconfined (the report then records it)"
        )
    if fallback is not None:
        portable.announce(fallback)  # its one line says what is and is not enforced
        return {"confined": False, "reason": reason, "cgroups": False}
    if reason is not None:
        _warn_once(
            f"student code is not isolated from the file system and network here: {reason}; only process limits apply"
        )
        return {"confined": False, "reason": reason, "cgroups": False}
    cgroup_reason = cgroups.unavailable_reason()
    if cgroup_reason is not None:
        _warn_once(f"no cgroup limits for student code here: {cgroup_reason}; per-process limits only")
    return {"confined": True, "reason": None, "cgroups": cgroup_reason is None}


def run_checks(
    policy: Policy,
    submission: Submission,
    *,
    hidden: bool = True,
    device: str = "cpu",
    timings: dict | None = None,
    confine: bool = True,
) -> list[Outcome]:
    """Run every graded exercise of the submission's modules; one Outcome per exercise.
    `timings`, when given, receives where the time went (see `GradingPlugin.timings`);
    `confine` False runs student code without the confinement (see `confinement`)."""
    modules = [m for m in submission.modules if m in policy.modules]
    plugin = GradingPlugin(policy, submission, hidden=hidden, device=device, confine=confine)
    args = ["-c", str(PYTEST_INI), *NO_PLUGINS, "-q", "--pyargs", *[f"{CHECKS_PACKAGE}.{module}" for module in modules]]
    threads = None
    try:
        plugin.launch()  # before the grader's own imports, which its warm-up overlaps
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the oracles' tensors are tiny: more threads only spin against the child
        with contextlib.redirect_stdout(io.StringIO()) as log:
            code = pytest.main(args, plugins=[plugin])
    finally:
        if timings is not None:
            timings.update(plugin.timings())
        plugin.close()
        if threads is not None:
            torch.set_num_threads(threads)
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED):
        raise RuntimeError(f"the checks could not run (pytest exit {code}):\n{log.getvalue()[-3000:]}")
    outcomes = []
    for module in modules:
        for exercise in policy.modules[module].points:
            key = exercise_id(module, exercise)
            outcomes.append(
                plugin.outcomes.get(key)
                or Outcome(module, exercise, "error", 0.0, [Message("internal", {"detail": f"no check ran for {key}"})])
            )
    return outcomes

"""Grading inside a notebook: the test cells of the nbgrader notebooks call `grade_cell`.

The check is the same function the pytest grader runs (`autograder/exercises/checks/<module>.py`),
with the same fixtures. Student code runs in the kernel (nbgrader's model): a `LocalPeer`
serves the proxies in-process through the same data-only messages as the child process,
so arguments are copies, in-place changes and warnings are noticed, and results are what
`python -m autograder grade` would see. A test cell passes (full points), raises
`ExerciseFailed` (zero), or ends with the points earned (nbgrader's partial credit); the plots
the check attached are drawn under the cell. It never writes to stderr: nbgrader scores a test
cell with any stderr output as zero.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import os
import warnings
from pathlib import Path
from types import SimpleNamespace

from ..exercises.artifacts import plain_data, problem
from ..exercises.cases import cases_for
from ..exercises.scratch import watch_for
from ..messages import render_all
from ..sandbox import child, patches, tracing, wire
from ..sandbox.proxies import Peer, RemoteModule
from ..sandbox.settings import Limits
from .outcomes import outcome_of
from .policy import DEFAULT_POLICY, load_policy

tracing.install()  # the from-scratch watch, as in the child (before the checks call student code)


class LocalPeer(Peer):
    """Serves the proxies from a namespace in this process (a notebook's globals)."""

    def __init__(self, namespace: dict, scratch=None):
        self.names = sorted(name for name in namespace if not name.startswith("_"))
        self.scratch = scratch
        patches.patch_namespace(namespace)  # names bound to scipy routines before the watch was installed
        child.attach(SimpleNamespace(**namespace))

    def alive(self) -> bool:
        return True

    def names_of(self, module: str | None) -> list[str]:
        return self.names

    def request(self, message: dict, sent: dict | None = None):
        message = {key: value for key, value in message.items() if key != "trap"}  # a trap would kill the kernel
        return self.interpret(child.answer(child.decode_request(wire.encode(message))), sent)


class ExerciseFailed(AssertionError):
    """A failed test cell; IPython shows only the feedback, not the grader's stack."""

    def _render_traceback_(self):
        return [str(self)]


def find_policy() -> Path:
    """$AUTOGRADER_POLICY, else the nearest grading.toml above the working directory."""
    if os.environ.get("AUTOGRADER_POLICY"):
        return Path(os.environ["AUTOGRADER_POLICY"])
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "grading.toml").is_file():
            return folder / "grading.toml"
    return DEFAULT_POLICY


@contextlib.contextmanager
def _silenced():
    """No warnings and nothing on stderr, at the Python and the file-descriptor level."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull, warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


_REQUESTS: dict[bool, SimpleNamespace] = {}


def _request(hidden: bool) -> SimpleNamespace:
    """What the practical checks use of pytest's `request`: a stash that carries the model trained
    by one test cell to the next (kept for the kernel's life; public and hidden apart)."""
    import pytest

    return _REQUESTS.setdefault(hidden, SimpleNamespace(config=SimpleNamespace(stash=pytest.Stash())))


def run_check(module: str, exercise: str, namespace: dict, *, hidden: bool, device: str = "cpu"):
    """Run `check_<exercise>` on the student's functions in `namespace`; (outcome, points)."""
    policy = load_policy(find_policy())
    section = policy.modules[module]
    check = getattr(importlib.import_module(f"autograder.exercises.checks.{module}"), f"check_{exercise}")
    artifacts: dict = {}
    fixtures = {  # built only when the check asks (a practical task's training check has no cases)
        "student": lambda: RemoteModule(LocalPeer(namespace, watch_for(policy, module, exercise))),
        "tol": lambda: policy.tolerance("float64"),
        "cases": lambda: cases_for(
            module,
            exercise,
            hidden_seed=policy.hidden_seed if hidden else None,
            hidden_cases=policy.hidden_cases,
            cached=False,
        ),  # student code shares this kernel
        "tol32": lambda: policy.tolerance("float32"),
        "device": lambda: device,
        "hidden": lambda: hidden,
        "task_seed": lambda: policy.hidden_seed if hidden else policy.public_seed,
        "module_policy": lambda: section,
        "request": lambda: _request(hidden),
        "artifacts": lambda: artifacts,
    }
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the child process (OMP_NUM_THREADS=1): same speed, same points
    with _silenced():
        try:
            check(**{name: fixtures[name]() for name in inspect.signature(check).parameters})
            error = None
        except Exception as raised:  # the check's verdict, or the student's failure
            error = raised
        finally:
            torch.set_num_threads(threads)
    limits = Limits(section.time_limit_s, section.memory_limit_mb, device, policy.import_limit_s)
    outcome = outcome_of(module, exercise, error, limits)
    outcome.artifacts = plain_data(artifacts)
    return outcome, policy.points(module, exercise), policy.language


def _notebook_display():
    """IPython's `display` when running in a kernel, else None."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None
    return display if get_ipython() is not None else None


def show_plots(artifacts: dict, language: str) -> int:
    """Draw the check's plots (autograder/exercises/artifacts.py) under the test cell; how many were shown."""
    display = _notebook_display()
    if display is None or not artifacts:
        return 0
    from IPython.display import Image

    from .report_plots import render_png

    drawable = [artifact for artifact in artifacts.values() if problem(artifact) is None]
    with _silenced():
        images = [Image(data=render_png(artifact, language), format="png") for artifact in drawable]
    for image in images:
        display(image)
    return len(images)


def grade_cell(module: str, exercise: str, namespace: dict, *, hidden: bool = False, device: str = "cpu"):
    """The body of an nbgrader test cell. Returns the points when only part of them is earned."""
    outcome, points, language = run_check(module, exercise, namespace, hidden=hidden, device=device)
    show_plots(outcome.artifacts, language)
    earned = round(points * outcome.fraction, 4)
    feedback = render_all(outcome.messages, language)
    if outcome.status == "passed":
        print(f"✔ {exercise}: {earned:g}/{points:g}")
        return None
    if earned > 0:
        print(f"◐ {exercise}: {earned:g}/{points:g} — {feedback}")
        return earned
    raise ExerciseFailed(f"✘ {exercise}: 0/{points:g} — {feedback}")

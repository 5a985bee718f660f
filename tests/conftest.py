"""Shared helpers: build submissions and policies in temporary folders, grade in-process."""

from __future__ import annotations

import importlib.util
import os
import shutil
import textwrap
from pathlib import Path

import pytest

from autograder.cli import grade_pipeline
from autograder.sandbox import isolation

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS, ASSIGNMENTS, POLICY = ROOT / "solutions", ROOT / "assignments", ROOT / "grading.toml"
# Skipped only where namespaces cannot work (not root); as root (as in CI) a broken confinement fails.
needs_namespaces = pytest.mark.skipif(
    isolation.unavailable_reason() is not None and os.geteuid() != 0,
    reason=f"no namespaces here: {isolation.unavailable_reason()}",
)


def submission(
    folder: Path, module: str, *, source: Path = SOLUTIONS, append: str = "", replace: str | None = None
) -> Path:
    """A submission folder with `module`: the reference (or `source`'s) file plus code appended
    at the end (redefinitions override the reference), or `replace` as the whole file."""
    folder.mkdir(parents=True, exist_ok=True)
    text = replace if replace is not None else (source / f"{module}.py").read_text(encoding="utf-8")
    (folder / f"{module}.py").write_text(text + "\n" + textwrap.dedent(append), encoding="utf-8")
    return folder


def policy_with(folder: Path, old: str, new: str) -> Path:
    """A copy of grading.toml with one piece of text replaced."""
    text = POLICY.read_text(encoding="utf-8")
    assert old in text, old
    path = folder / "grading.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def grade(folder, *, only=None, policy=POLICY, hidden=True, unconfined=False):
    """Grade `folder` in-process; returns {exercise_id: ExerciseScore} and the report."""
    _, report = grade_pipeline(
        folder, policy_path=policy, only=only, device="cpu", hidden=hidden, unconfined=unconfined
    )
    return {e.id: e for e in report.exercises}, report


def graded_probe(folder: Path, body: str, *, module: str = "rnn_basics", policy=POLICY):
    """Grade the reference of `module` whose rnn_step first runs `body` (indented for the function;
    it may set `found`), then returns `found` as its answer when it is not None (so a probe
    that finds what it should not find fails the exercise). Returns {exercise: ExerciseScore}.
    Under the shipped policy rnn_step is graded here without the from-scratch watch: probes
    start processes and threads and call ctypes, which the watch would call tampering."""
    if policy == POLICY:
        policy = policy_with(folder.parent, 'rnn_step = "numpy"\n', "")
    code = f"""
        _reference_step = rnn_step
        def rnn_step(x, h_prev, W_xh, W_hh, b_h):
            found = None
{body}
            return found if found is not None else _reference_step(x, h_prev, W_xh, W_hh, b_h)
    """
    scores, _ = grade(submission(folder, module, append=code), only=module, policy=policy)
    return {id_.split(".")[1]: e for id_, e in scores.items()}


def load_module(path: Path):
    """A module file imported in this process (for the tests' own use, never in grading)."""
    spec = importlib.util.spec_from_file_location(f"loaded_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_reference(module: str):
    return load_module(SOLUTIONS / f"{module}.py")


def patched_source(module: str, patches) -> str:
    """The reference solution with each (old, new) replacement applied; old must occur once."""
    text = (SOLUTIONS / f"{module}.py").read_text(encoding="utf-8")
    for old, new in patches:
        assert text.count(old) == 1, f"patch target not found exactly once: {old!r}"
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="session")
def reference_report():
    return grade(SOLUTIONS)


@pytest.fixture(scope="session")
def stubs_report():
    return grade(ASSIGNMENTS)


@pytest.fixture
def copy_of(tmp_path):
    def copy(source: Path, name: str = "sub") -> Path:
        target = tmp_path / name
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        return target

    return copy


@pytest.fixture(scope="session")
def warm_template():
    """One warm template (as grade-all starts it) for this test session; None where student code
    cannot be confined (grade-all starts none there)."""
    from autograder.sandbox import template_client
    from autograder.sandbox.runtime import child_environment

    if isolation.unavailable_reason() is not None:
        yield None
        return
    template = template_client.Template(child_environment("cpu"))
    yield template
    template.close()


@pytest.fixture(params=["unshare", "template"])
def zygote_start(request, monkeypatch):
    """Each test twice: the child's zygote started through `unshare` (as `grade` does), and forked
    by a warm template (as in `grade-all`); the name of the way, for the test."""
    monkeypatch.delenv("AUTOGRADER_TEMPLATE", raising=False)
    if request.param == "template":
        template = request.getfixturevalue("warm_template")
        if template is None:
            pytest.skip("no confinement here: grade-all starts no template")
        monkeypatch.setenv("AUTOGRADER_TEMPLATE", template.address)
    return request.param

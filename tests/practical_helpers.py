"""Helpers of the practical tasks' tests: submissions made from the reference by small edits,
grading policies with smaller limits, and a recorder of what the grader sends to the child."""

from __future__ import annotations

import contextlib
import json
import tomllib
from pathlib import Path

import pytest

from autograder.cli import grade_pipeline
from autograder.sandbox import proxies
from conftest import patched_source

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "grading.toml"


def variant(folder: Path, module: str, *edits: tuple[str, str], append: str = "") -> Path:
    """A submission folder holding solutions/<module>.py with each (old, new) edit applied once."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(patched_source(module, edits) + append, encoding="utf-8")
    return folder


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def _toml_tables(prefix: str, table: dict, lines: list) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    if scalars and prefix:
        lines.append(f"[{prefix}]")
    lines += [f"{key} = {_toml_value(value)}" for key, value in scalars.items()]
    for key, value in table.items():
        if isinstance(value, dict):
            _toml_tables(f"{prefix}.{key}" if prefix else key, value, lines)


def policy_with(path: Path, changes: dict) -> Path:
    """grading.toml with `changes` ({"modules.pixel_gru.time_limit_s": 8, ...}) applied, written to `path`."""
    data = tomllib.loads(POLICY.read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        *parents, key = dotted.split(".")
        table = data
        for name in parents:
            table = table[name]
        assert key in table, dotted
        table[key] = value
    lines: list[str] = []
    _toml_tables("", data, lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def grade(folder: Path, module: str, policy: Path = POLICY) -> dict:
    """Grade one module of `folder` on the CPU; exercise name -> ExerciseScore."""
    _, report = grade_pipeline(folder, policy_path=policy, only=module, device="cpu")
    return {e.exercise: e for e in report.exercises}


def graded_with_calls(folder: Path, module: str):
    """One graded run, with every call the grader made into the child."""
    with recording_calls() as calls:
        graded = grade(folder, module)
    return graded, calls


def keys(exercise) -> list[str]:
    return [message.key for message in exercise.messages]


def params(exercise, key: str) -> dict:
    return next(message.params for message in exercise.messages if message.key == key)


@contextlib.contextmanager
def recording_calls():
    """Record every call the grader makes into the child: a list of (name, args, kwargs)."""
    calls = []
    original = proxies.RemoteObject.__call__

    def record(self, *args, **kwargs):
        calls.append((object.__getattribute__(self, "_type_name"), args, kwargs))
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(proxies.RemoteObject, "__call__", record)
        yield calls

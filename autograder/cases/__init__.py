"""Test data for the checks: generated from a seed, expected values from trusted oracles.

A *generator* `gen(rng) -> dict[str, np.ndarray]` makes one case of an exercise (inputs
and the expected outputs, computed with PyTorch in float64). Public cases come from the
public seed and are stored in `autograder/fixtures/<module>.npz` (students run them with
`check`); hidden cases are generated at grading time from the hidden seed.
"""
from __future__ import annotations

import importlib
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ..messages import Message

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PUBLIC_CASES = 2
GENERATORS: dict[str, dict[str, callable]] = {}


def generator(module: str, exercise: str):
    def register(function):
        GENERATORS.setdefault(module, {})[exercise] = function
        return function
    return register


def generators(module: str) -> dict:
    try:
        importlib.import_module(f"{__name__}.{module}")
    except ModuleNotFoundError:
        return {}
    return GENERATORS.get(module, {})


def generate(module: str, exercise: str, seed: int, index: int) -> dict:
    rng = np.random.default_rng([seed, zlib.crc32(f"{module}.{exercise}".encode()), index])
    return generators(module)[exercise](rng)


class Case(SimpleNamespace):
    """One case's arrays as attributes; as a context manager it labels failures with its name."""

    def __init__(self, kind: str, number: int, data: dict):
        super().__init__(**data)
        object.__setattr__(self, "_label", Message(f"case_{kind}", {"number": number}))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, error, traceback):
        from ..expect import CheckFailure
        if isinstance(error, CheckFailure):
            raise error.with_context(self._label) from None
        return False


def fixture_path(module: str) -> Path:
    return FIXTURES / f"{module}.npz"


def build_public_fixtures(module: str, seed: int) -> dict[str, np.ndarray]:
    arrays = {}
    for exercise in generators(module):
        for index in range(PUBLIC_CASES):
            for key, value in generate(module, exercise, seed, index).items():
                arrays[f"{exercise}/{index}/{key}"] = np.asarray(value)
    return arrays


def write_public_fixtures(module: str, seed: int) -> Path:
    FIXTURES.mkdir(exist_ok=True)
    path = fixture_path(module)
    np.savez_compressed(path, **build_public_fixtures(module, seed))
    return path


def load_public_cases(module: str, exercise: str) -> list[dict]:
    with np.load(fixture_path(module), allow_pickle=False) as stored:
        cases: dict[int, dict] = {}
        for key in stored.files:
            name, index, field = key.split("/")
            if name == exercise:
                cases.setdefault(int(index), {})[field] = stored[key]
    return [cases[i] for i in sorted(cases)]


def cases_for(module: str, exercise: str, *, hidden_seed: int | None, hidden_cases: int) -> list[Case]:
    """The public cases and, when `hidden_seed` is given, that many fresh hidden ones."""
    cases = [Case("public", i + 1, data) for i, data in enumerate(load_public_cases(module, exercise))]
    if hidden_seed is not None:
        cases += [Case("hidden", i + 1, generate(module, exercise, hidden_seed, i))
                  for i in range(hidden_cases)]
    return cases

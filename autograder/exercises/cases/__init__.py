"""Test data for the checks: generated from a seed, expected values from trusted oracles.

A *generator* `gen(rng) -> dict[str, np.ndarray]` makes one case of an exercise (inputs
and the expected outputs, computed with PyTorch in float64). Public cases come from the
public seed and are stored in `autograder/exercises/fixtures/<module>.npz` (students run them with
`check`); hidden cases are generated at grading time from the hidden seed, and kept in the
grader's cache (`$AUTOGRADER_CACHE`, else `~/.cache/autograder`; empty: no cache) under a
key made of the seed, the count, this package's code and the libraries' versions, so a
class is graded without recomputing the oracles for every student. Each cached file carries
a keyed hash (HMAC-SHA256) of its name and contents, with a key that lives in the cache
folder (readable by its owner only, never shown to a confined child): a file written by
anyone else is not believed, but made again. Notebook grading (in nbgrader's kernel, where
student code runs) never reads or writes the cache.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import importlib
import importlib.metadata
import io
import os
import secrets
import tempfile
import zipfile
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ...messages import Message
from .. import datasets

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
        from ...sandbox.proxies import StudentFailure
        from ..expect import CheckFailure

        if isinstance(error, CheckFailure):
            raise error.with_context(self._label) from None
        if isinstance(error, StudentFailure) and error.case is None:
            error.case = self._label  # a hidden case's label keeps its inputs out of the student's report
        return False


def fixture_path(module: str) -> Path:
    return FIXTURES / f"{module}.npz"


def build_cases(module: str, seed: int, count: int) -> dict[str, np.ndarray]:
    """`count` cases of each exercise of `module` from `seed`, as `exercise/index/field` arrays."""
    return {
        f"{exercise}/{index}/{key}": np.asarray(value)
        for exercise in generators(module)
        for index in range(count)
        for key, value in generate(module, exercise, seed, index).items()
    }


def build_public_fixtures(module: str, seed: int) -> dict[str, np.ndarray]:
    return build_cases(module, seed, PUBLIC_CASES)


def write_public_fixtures(module: str, seed: int) -> Path:
    FIXTURES.mkdir(exist_ok=True)
    path = fixture_path(module)
    np.savez_compressed(path, **build_public_fixtures(module, seed))
    return path


def _unpack_arrays(arrays: dict[str, np.ndarray]) -> dict[str, list[dict]]:
    """`exercise/index/field` arrays, as each exercise's list of cases."""
    cases: dict[str, dict[int, dict]] = {}
    for key, value in arrays.items():
        exercise, index, field = key.split("/")
        cases.setdefault(exercise, {}).setdefault(int(index), {})[field] = value
    return {exercise: [by_index[i] for i in sorted(by_index)] for exercise, by_index in cases.items()}


def _unpack(path: Path) -> dict[str, list[dict]]:
    with np.load(path, allow_pickle=False) as stored:
        return _unpack_arrays({key: stored[key] for key in stored.files})


@functools.cache
def _public_cases(module: str) -> dict[str, list[dict]]:
    return _unpack(fixture_path(module))


def _copies(cases: list[dict]) -> list[dict]:
    return [{field: value.copy() for field, value in case.items()} for case in cases]


def load_public_cases(module: str, exercise: str) -> list[dict]:
    return _copies(_public_cases(module).get(exercise, []))


def cache_folder() -> Path | None:
    """Where hidden cases are kept between runs; None when `AUTOGRADER_CACHE` is set empty."""
    configured = os.environ.get("AUTOGRADER_CACHE")
    if configured is not None:
        return Path(configured) if configured else None
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "autograder"


def paths_to_mask() -> tuple[Path, ...]:
    """What a confined child sees empty: the datasets' raw files (the hidden labels, the series'
    tail) and the cache of the hidden cases' expected outputs."""
    cache = cache_folder_to_mask()
    return (*datasets.source_paths(), *([cache] if cache else []))


def cache_folder_to_mask() -> Path | None:
    """The cache folder, created now so that a confined child can be shown it empty even if
    it lies inside a folder the child sees (an environment, a home)."""
    folder = cache_folder()
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder


@functools.cache
def _code_key() -> str:
    """Changes with the code that makes cases and with the versions of the libraries it uses."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted([*package.glob("*.py"), package.parent / "datasets.py"]):
        digest.update(path.name.encode() + path.read_bytes())
    for library in ("numpy", "torch", "faker"):
        digest.update(f"{library}={importlib.metadata.version(library)}".encode())
    return digest.hexdigest()[:16]


KEY_FILE = "key"
MAC_BYTES = 32


def _cache_key(folder: Path) -> bytes:
    """The cache's secret (made on first use, readable by its owner only)."""
    path = folder / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) != 32:
            raise OSError(f"{path}: not a cache key") from None
        return key
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as file:
        file.write(key)
    return key


def _mac(key: bytes, name: str, payload: bytes) -> bytes:
    return hmac.new(key, name.encode() + b"\0" + payload, hashlib.sha256).digest()


def _store(arrays: dict[str, np.ndarray], path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        payload = buffer.getvalue()
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as scratch:
            scratch.write(_mac(_cache_key(path.parent), path.name, payload) + payload)
        os.replace(scratch.name, path)
    except OSError:  # a read-only home: grade without the cache
        pass


def _load_signed(path: Path) -> dict[str, list[dict]] | None:
    """The cached cases, if the file is the grader's own (its keyed hash matches), else None."""
    try:
        data = path.read_bytes()
        expected = _mac(_cache_key(path.parent), path.name, data[MAC_BYTES:])
        if not hmac.compare_digest(data[:MAC_BYTES], expected):
            return None
        with np.load(io.BytesIO(data[MAC_BYTES:]), allow_pickle=False) as stored:
            return _unpack_arrays({key: stored[key] for key in stored.files})
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # unreadable, torn or not ours: make it again


@functools.cache
def _hidden_cases(module: str, seed: int, count: int, cached: bool = True) -> dict[str, list[dict]]:
    folder = cache_folder() if cached else None
    path = folder / f"hidden-{module}-{seed}-{count}-{_code_key()}.npz" if folder else None
    if path is not None and path.is_file():
        found = _load_signed(path)
        if found is not None:
            return found
    arrays = build_cases(module, seed, count)
    if path is not None:
        _store(arrays, path)
    return _unpack_arrays(arrays)


def cases_for(
    module: str, exercise: str, *, hidden_seed: int | None, hidden_cases: int, cached: bool = True
) -> list[Case]:
    """The public cases and, when `hidden_seed` is given, that many hidden ones (from the cache
    unless `cached` is False). LookupError when there is none: a check that loops over no case
    would pass anything (the grader's runner and a notebook's `grade_cell` alike)."""
    cases = [Case("public", i + 1, data) for i, data in enumerate(load_public_cases(module, exercise))]
    if hidden_seed is not None and hidden_cases:
        hidden = _copies(_hidden_cases(module, hidden_seed, hidden_cases, cached).get(exercise, []))
        cases += [Case("hidden", i + 1, data) for i, data in enumerate(hidden)]
    if not cases:
        raise LookupError(f"no cases for {module}.{exercise}: the stored fixtures lack it (make fixtures)")
    return cases

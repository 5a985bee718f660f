"""The practical tasks' data, built offline from installed packages, each behind one cached loader.

- Names → nationality: Faker's per-locale name lists (`name_dataset`).
- Digits read row by row: scikit-learn's bundled 8×8 digits, or real MNIST (28×28) when its
  IDX files are present in a configured folder; never downloaded (`digit_dataset`).
- Forecasting: the Mauna Loa CO₂ series bundled with statsmodels, gaps filled, or a noisy
  synthetic sine (`series_dataset`).

Every construction is deterministic. Splits (`stratified_split`, `chronological_split`) take
a seed from grading.toml; the grader keeps the test part and sends only its inputs to the
student's process, never its labels or future values.
"""

from __future__ import annotations

import functools
import gzip
import importlib
import importlib.util
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Locale -> class name. Latin-script Faker locales whose name lists are real (FACTS.md).
NAME_LOCALES = {
    "de_DE": "German",
    "fr_FR": "French",
    "it_IT": "Italian",
    "es_ES": "Spanish",
    "pt_BR": "Portuguese",
    "nl_NL": "Dutch",
    "pl_PL": "Polish",
    "cs_CZ": "Czech",
    "en_GB": "English",
    "ga_IE": "Irish",
    "tr_TR": "Turkish",
    "sv_SE": "Swedish",
    "fi_FI": "Finnish",
    "hu_HU": "Hungarian",
}
PLACEHOLDER_LIST_SIZE = 5  # lists shorter than this are placeholders (pl_PL's last_names = ['Doe'])


def _read_only(array: np.ndarray) -> np.ndarray:
    """Cached arrays are shared: make accidental in-place changes fail loudly."""
    array.flags.writeable = False
    return array


@dataclass(frozen=True)
class NameData:
    names: tuple[str, ...]
    labels: np.ndarray  # (N,) int64, index into classes
    classes: tuple[str, ...]


def _provider_names(locale: str, part: str) -> set[str]:
    """Every `*<part>_names*` list of a Faker person provider (weighted dicts: their keys)."""
    provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    names: set[str] = set()
    for attribute in dir(provider):
        if attribute.startswith("_") or f"{part}_names" not in attribute:
            continue
        values = getattr(provider, attribute)
        if isinstance(values, (list, tuple, dict)) and len(values) >= PLACEHOLDER_LIST_SIZE:
            names.update(str(name).strip() for name in values)
    return {name for name in names if name}


@functools.cache
def name_dataset(include_first_names: bool = True) -> NameData:
    """Surnames (and first names) of `NAME_LOCALES`, labelled by locale.

    A name listed by more than one locale is dropped (it has no single answer). Sorted, so
    the result does not depend on set order. "Gottfried" (de_DE, a first name) is German.
    """
    per_locale = {}
    for locale in NAME_LOCALES:
        names = _provider_names(locale, "last")
        if include_first_names:
            names |= _provider_names(locale, "first")
        per_locale[locale] = names
    seen: dict[str, int] = {}
    for names in per_locale.values():
        for name in names:
            seen[name] = seen.get(name, 0) + 1
    pairs = sorted(
        (name, index) for index, names in enumerate(per_locale.values()) for name in names if seen[name] == 1
    )
    return NameData(
        tuple(n for n, _ in pairs),
        _read_only(np.array([i for _, i in pairs], dtype=np.int64)),
        tuple(NAME_LOCALES.values()),
    )


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held_out): `fraction` of every class held out (at least one), shuffled by `seed`."""
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = max(1, round(fraction * len(members)))
        held.append(members[:count])
        kept.append(members[count:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


# -- digits --------------------------------------------------------------------------------
@dataclass(frozen=True)
class DigitData:
    images: np.ndarray  # (N, H, W) float32 in [0, 1]
    labels: np.ndarray  # (N,) int64
    source: str  # "sklearn-digits" or "mnist"
    test_images: np.ndarray | None = None  # MNIST ships its own test set
    test_labels: np.ndarray | None = None


MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format, optionally .gz) as a uint8 array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:
        data = stream.read()
    zero, dtype_code, ndim = struct.unpack_from(">HBB", data, 0)
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack_from(f">{ndim}I", data, 4)
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {body.size} bytes for shape {shape}")
    return body.reshape(shape)


def find_mnist(folder: str | Path) -> dict[str, Path] | None:
    """The four MNIST files under `folder` (itself, MNIST/raw/ or raw/, as torchvision lays them out)."""
    if not folder:
        return None
    root = Path(folder).expanduser()
    for base in (root, root / "MNIST" / "raw", root / "raw"):
        found = {}
        for name in (n for pair in MNIST_FILES.values() for n in pair):
            candidates = [base / name, base / f"{name}.gz"]
            found[name] = next((c for c in candidates if c.is_file()), None)
        if all(found.values()):
            return found
    return None


@functools.cache
def _mnist(folder: str, train_size: int, test_size: int) -> DigitData:
    files = find_mnist(folder)
    arrays = {}
    for part, (images, labels) in MNIST_FILES.items():
        size = train_size if part == "train" else test_size
        arrays[part] = (
            (read_idx(files[images])[:size] / np.float32(255)).astype(np.float32),
            read_idx(files[labels])[:size].astype(np.int64),
        )
    return DigitData(*arrays["train"], "mnist", *arrays["test"])


def bundled_file(package: str, *parts: str) -> Path:
    """A data file shipped inside an installed package, found without importing the package
    (importing scikit-learn or statsmodels costs seconds; their CSV files load in milliseconds)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package {package} is not installed")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


@functools.cache
def source_paths() -> tuple[Path, ...]:
    """Where the raw data of the datasets lies in the installed packages: the hidden labels and
    the series' tail are in there, so the confined child sees these paths empty."""
    candidates = (("faker", "providers", "person"), ("sklearn", "datasets", "data"), ("statsmodels", "datasets", "co2"))
    paths = []
    for package, *parts in candidates:
        try:
            paths.append(bundled_file(package, *parts))
        except FileNotFoundError:
            continue
    return tuple(path for path in paths if path.exists())


@functools.cache
def _sklearn_digits() -> DigitData:
    """scikit-learn's digits (1,797 images 8×8, values 0–16), as `load_digits` reads them."""
    with gzip.open(bundled_file("sklearn", "datasets", "data", "digits.csv.gz"), "rt") as stream:
        table = np.loadtxt(stream, delimiter=",")
    images = (table[:, :-1].reshape(-1, 8, 8) / 16.0).astype(np.float32)
    return DigitData(_read_only(images), _read_only(table[:, -1].astype(np.int64)), "sklearn-digits")


def digit_dataset(mnist_folder: str = "", mnist_train_size: int = 60000, mnist_test_size: int = 10000) -> DigitData:
    """MNIST when its files are in `mnist_folder`, else scikit-learn's digits. Never downloads."""
    if find_mnist(mnist_folder):
        return _mnist(str(mnist_folder), mnist_train_size, mnist_test_size)
    return _sklearn_digits()


# -- series --------------------------------------------------------------------------------
SERIES = ("co2", "sine")


@functools.cache
def co2_series() -> np.ndarray:
    """Weekly Mauna Loa CO₂ (ppm), 1958–2001, 2,284 points; the 59 gaps linearly interpolated."""
    path = bundled_file("statsmodels", "datasets", "co2", "co2.csv")
    values = np.genfromtxt(path, delimiter=",", skip_header=1, usecols=1, dtype=np.float64)
    missing = np.isnan(values)
    positions = np.arange(len(values))
    values[missing] = np.interp(positions[missing], positions[~missing], values[~missing])
    return _read_only(values)


@functools.cache
def sine_series(length: int = 2000, period: float = 50.0, noise: float = 0.1, seed: int = 0) -> np.ndarray:
    """A noisy sine on a slow trend: 2 + sin(2πt/period) + t/length + N(0, noise²)."""
    t = np.arange(length, dtype=np.float64)
    rng = np.random.default_rng(seed)
    return _read_only(2.0 + np.sin(2 * np.pi * t / period) + t / length + rng.normal(0.0, noise, length))


def series_dataset(name: str) -> np.ndarray:
    if name == "co2":
        return co2_series()
    if name == "sine":
        return sine_series()
    raise ValueError(f"unknown series {name!r} (one of {', '.join(SERIES)})")


def chronological_split(series: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(head, tail): the last `fraction` of the points is the tail."""
    cut = len(series) - round(fraction * len(series))
    return series[:cut].copy(), series[cut:].copy()

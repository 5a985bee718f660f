"""The practical tasks' data: offline, deterministic, and split so the scored part stays apart."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from autograder.exercises import datasets
from autograder.exercises.practical import digit_task, name_task, series_task
from autograder.grading.policy import load_policy
from practical_helpers import POLICY


def test_names_cover_enough_locales_with_one_answer_per_name():
    data = datasets.name_dataset()
    assert len(data.classes) >= 10 and set(np.unique(data.labels)) == set(range(len(data.classes)))
    assert len(set(data.names)) == len(data.names) > 10_000
    assert data.classes[data.labels[data.names.index("Gottfried")]] == "German"
    polish = [n for n, label in zip(data.names, data.labels) if data.classes[label] == "Polish"]
    assert len(polish) > 1000 and "Doe" not in polish  # pl_PL's real lists, not the placeholder
    assert "Kowalski" in polish or "Nowak" in polish


def test_names_are_built_the_same_way_every_time():
    again = datasets.name_dataset.__wrapped__()
    data = datasets.name_dataset()
    assert again.names == data.names and np.array_equal(again.labels, data.labels)


def test_a_name_listed_by_two_locales_is_dropped():
    last = {locale: datasets._provider_names(locale, "last") for locale in datasets.NAME_LOCALES}
    shared = set.intersection(last["de_DE"], last["nl_NL"]) | set.intersection(last["en_GB"], last["ga_IE"])
    assert shared and not shared & set(datasets.name_dataset().names)


def test_stratified_split_is_disjoint_complete_and_proportional():
    labels = datasets.name_dataset().labels
    kept, held = datasets.stratified_split(labels, 0.2, 7)
    assert not set(kept) & set(held) and len(kept) + len(held) == len(labels)
    for label in np.unique(labels):
        assert abs(np.mean(labels[held] == label) - np.mean(labels == label)) < 0.01
    again, _ = datasets.stratified_split(labels, 0.2, 7)
    other, _ = datasets.stratified_split(labels, 0.2, 8)
    assert np.array_equal(kept, again) and not np.array_equal(kept, other)


def test_digits_equal_scikit_learns_loader():
    from sklearn.datasets import load_digits

    data, bunch = datasets.digit_dataset(), load_digits()
    assert data.source == "sklearn-digits" and data.images.shape == (1797, 8, 8)
    assert np.array_equal(data.images, (bunch.images / 16.0).astype(np.float32))
    assert np.array_equal(data.labels, bunch.target)


def _write_idx(path, array: np.ndarray, compress: bool):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if compress else open
    with opener(path, "wb") as stream:
        stream.write(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_is_read_from_idx_files_in_torchvisions_layout(tmp_path, compress):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    suffix = ".gz" if compress else ""
    for part, count in (("train", 30), ("t10k", 12)):
        _write_idx(raw / f"{part}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (count, 28, 28)), compress)
        _write_idx(raw / f"{part}-labels-idx1-ubyte{suffix}", np.arange(count) % 10, compress)
    data = datasets.digit_dataset(str(tmp_path), 20, 10)
    assert data.source == "mnist" and data.images.shape == (20, 28, 28) and data.test_images.shape == (10, 28, 28)
    assert data.images.dtype == np.float32 and data.images.min() >= 0 and data.images.max() <= 1
    assert list(data.test_labels) == list(range(10))


def test_without_mnist_files_the_bundled_digits_are_used(tmp_path):
    assert datasets.digit_dataset(str(tmp_path / "nothing-here")).source == "sklearn-digits"
    assert datasets.digit_dataset("").source == "sklearn-digits"


def test_co2_has_its_gaps_filled_and_matches_statsmodels():
    from statsmodels.datasets import co2

    original = co2.load_pandas().data["co2"].to_numpy()
    series = datasets.co2_series()
    known = ~np.isnan(original)
    assert len(series) == 2284 and (~known).sum() == 59 and np.isfinite(series).all()
    assert np.array_equal(series[known], original[known])


def test_the_sine_is_noisy_and_the_same_every_time():
    series = datasets.sine_series()
    assert np.array_equal(series, datasets.sine_series.__wrapped__())
    assert np.std(np.diff(series)) > 0.05 and np.ptp(series) > 2


def test_cached_arrays_cannot_be_changed_in_place():
    with pytest.raises(ValueError):
        datasets.co2_series()[0] = 0.0


def test_the_public_check_draws_its_own_split_and_grading_keeps_its_test_part_apart():
    """Grading: train and test apart, drawn from the hidden seed. The public check: a stand-in
    split drawn from the public seed (the real training part would give away the test split as
    its complement), whatever the hidden seed is."""
    policy = load_policy(POLICY)
    for build, module in ((name_task, "name_classifier"), (digit_task, "pixel_gru")):
        section = policy.modules[module]
        hidden, public = build(section, policy.hidden_seed, True), build(section, policy.public_seed, False)
        as_rows = (lambda items: {tuple(np.asarray(x).ravel()) for x in items}) if module == "pixel_gru" else set
        assert not as_rows(hidden.eval_inputs) & as_rows(hidden.train_inputs)
        assert not as_rows(public.eval_inputs) & as_rows(public.train_inputs)
        assert len(public.eval_labels) < len(hidden.eval_labels)
        again = build(section, policy.public_seed, False)
        assert np.array_equal(np.asarray(again.eval_labels), np.asarray(public.eval_labels))
    section = policy.modules["forecast"]
    hidden, public = series_task(section, policy.hidden_seed, True), series_task(section, policy.public_seed, False)
    assert len(public.series) == len(hidden.known)  # the public check ends where the tail starts
    assert len(hidden.known) <= hidden.starts[0] < len(hidden.known) + hidden.horizon
    assert np.array_equal(hidden.series[: len(hidden.known)], hidden.known)

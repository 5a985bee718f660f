"""What the practical tasks guarantee (README, "The practical tasks"): the test split and the
changes of the data come from the hidden seed, exact lookups of the public data miss, data
carried in the code is measured and refused, and correct variants keep full marks."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from autograder.authoring.bundle import write_bundle
from autograder.authoring.student_package import wheel_name
from autograder.exercises import datasets, transforms
from autograder.exercises.embedded_data import files_of, measure, over_limit, refusals
from autograder.exercises.practical import digit_task, name_task, series_task
from autograder.grading.policy import EmbeddedDataPolicy, load_policy
from autograder.grading.submission import notebook_code
from conftest import POLICY, ROOT, SOLUTIONS, patched_source
from practical_helpers import grade
from practical_variants import VARIANTS, write_variants

PRACTICAL = ("name_classifier", "forecast", "pixel_gru")
POLICY_NOW = load_policy(POLICY)
LIMITS = POLICY_NOW.embedded_data


def _section(module):
    return POLICY_NOW.modules[module]


# -- the draws ----------------------------------------------------------------------------------
def test_the_test_split_comes_from_the_hidden_seed_not_from_anything_the_bundle_has():
    graded = name_task(_section("name_classifier"), POLICY_NOW.hidden_seed, hidden=True)
    computable = name_task(_section("name_classifier"), 0, hidden=True)  # the bundle's hidden_seed
    public = name_task(_section("name_classifier"), POLICY_NOW.public_seed, hidden=True)
    scored = set(graded.eval_inputs)
    for other in (computable, public):
        overlap = len(scored & set(other.eval_inputs)) / len(scored)
        assert overlap < 0.35, overlap  # independent draws of 20 %: about 20 % in common
    assert not scored & set(graded.train_inputs)


def test_the_series_first_scored_window_and_its_map_come_from_the_seed():
    tasks = [series_task(_section("forecast"), seed, hidden=True) for seed in range(8)]
    assert len({int(task.starts[0]) for task in tasks}) > 1
    assert len({(task.mapping.scale, task.mapping.offset) for task in tasks}) == len(tasks)
    for task in tasks:
        assert task.mapping.scale != 1.0 and task.mapping.offset != 0.0
        values = task.series[-10:]
        assert np.allclose(task.mapping.undo(task.mapping.apply(values)), values)


def test_no_public_digit_image_is_a_scored_image_exactly_even_rounded_to_its_levels():
    public = datasets.digit_dataset().images
    known = {image.tobytes() for image in public}
    known_levels = {np.rint(image * 16).astype(np.uint8).tobytes() for image in public}
    task = digit_task(_section("pixel_gru"), POLICY_NOW.hidden_seed, hidden=True)
    scored = task.eval_inputs.numpy()
    assert not any(image.tobytes() in known for image in scored)
    rounded = sum(np.rint(image * 16).astype(np.uint8).tobytes() in known_levels for image in scored)
    assert rounded <= 0.01 * len(scored), rounded


def test_the_changed_images_keep_their_range_and_move_no_ink_out_of_the_frame():
    images = np.zeros((3, 8, 8), dtype=np.float32)
    images[0, 3:5, 3:5] = 1.0  # ink in the middle: may move
    images[1, :, 0] = images[1, :, 7] = 1.0  # ink on both side edges: may not move sideways
    images[1, 0, :] = images[1, 7, :] = 1.0  # … nor up or down
    images[2] = 0.5
    for seed in range(20):
        changed = transforms.shifted_noisy_images(images, seed)
        assert changed.dtype == np.float32 and changed.shape == images.shape
        assert changed.min() >= 0.0 and changed.max() <= 1.0
        assert (changed[0] > 0.5).sum() == 4  # the 2×2 block, moved or not, is all there
        assert changed[1][:, 0].mean() > 0.5 and changed[1][0, :].mean() > 0.5
    assert not np.allclose(transforms.shifted_noisy_images(images, 1), transforms.shifted_noisy_images(images, 2))


def test_no_scored_forecast_history_is_a_window_of_the_raw_series():
    task = series_task(_section("forecast"), POLICY_NOW.hidden_seed, hidden=True)
    sent = task.mapping.apply(np.stack([task.history(s) for s in task.starts]))
    windows = np.lib.stride_tricks.sliding_window_view(task.series, task.window)
    nearest = [np.abs(windows - history).max(axis=1).min() for history in sent]
    assert min(nearest) > 0.05, min(nearest)  # ppm: no exact (or rounded) match


@pytest.mark.slow
def test_the_bundle_holds_no_value_that_determines_the_test_split(tmp_path):
    """Searched: every file of the bundle and of its wheel, unpacked."""
    bundle = write_bundle(tmp_path / "bundle", POLICY)
    with zipfile.ZipFile(bundle / wheel_name()) as wheel:
        wheel.extractall(tmp_path / "package")
    secrets = {str(POLICY_NOW.hidden_seed)}
    for module in PRACTICAL:
        for purpose in ("test split", "window starts", "series map", "training images", "scored images"):
            seed = transforms.data_seed(POLICY_NOW.hidden_seed, module, purpose)
            secrets |= {str(seed), f"{seed:x}", str(seed % 2**32)}
    files = [p for folder in (bundle, tmp_path / "package") for p in folder.rglob("*") if p.is_file()]
    assert len(files) > 50
    for path in files:
        data = path.read_bytes()
        assert b"split_seed" not in data, path
        assert not [secret for secret in secrets if secret.encode() in data], path
    public = load_policy(tmp_path / "package" / "autograder" / "grading.toml")
    assert public.hidden_seed == 0
    graded = name_task(_section("name_classifier"), POLICY_NOW.hidden_seed, hidden=True)
    assert (
        name_task(public.modules["name_classifier"], public.hidden_seed, hidden=True).eval_inputs != graded.eval_inputs
    )


# -- data carried in the code -----------------------------------------------------------------------
def test_the_references_stubs_and_notebooks_stay_far_below_the_data_limits():
    sources = [path.read_bytes() for folder in (SOLUTIONS, ROOT / "assignments") for path in folder.glob("*.py")]
    sources += [notebook_code(path, path.stem)[0].encode() for path in (ROOT / "source").glob("*/*.ipynb")]
    for source in sources:
        found = measure(source)
        assert found.longest_literal < LIMITS.max_literal_chars / 4
        assert found.numbers < LIMITS.max_numbers / 10 and found.data_kb < LIMITS.max_data_kb / 2


@pytest.mark.parametrize(
    "code, excess",
    [
        ("TABLE = " + repr("x" * 5000) + "\n", "a literal of 5000 characters"),
        ('def f():\n    """' + "y" * 4500 + '"""\n', "a literal of 4500 characters"),
        ("VALUES = " + repr(list(range(2000))) + "\n", "2000 numbers"),
        (
            "BLOB = (\n" + "".join(f"    {'QUJD' * 500!r}\n" for _ in range(10)) + ")\n",
            "20 KiB of literals and comments",
        ),
        ("".join(f"# {'z' * 100}\n" for _ in range(200)) + "x = 1\n", "20 KiB of literals and comments"),
    ],
    ids=["long string", "long docstring", "many numbers", "blob in short pieces", "comments"],
)
def test_each_channel_of_embedded_data_is_measured(code, excess):
    assert over_limit(measure(code.encode()), LIMITS)[0] == excess


def test_a_module_counts_its_helpers_and_the_modules_it_names_and_no_other(tmp_path):
    data = "TABLE = " + repr(list(range(3000))) + "\n"
    files = {}
    for name, code in {
        "pixel_gru": "import torch\n",
        "forecast": "from rnn_basics import TABLE\n",
        "rnn_basics": data,
        "name_classifier": "x = 1\n",
    }.items():
        files[name] = tmp_path / f"{name}.py"
        files[name].write_text(code)
    refused = refusals(files, {}, ["pixel_gru", "forecast"], LIMITS)
    assert set(refused) == {"forecast"} and refused["forecast"].params["file"] == "rnn_basics.py"
    helper = tmp_path / "tables.py"
    helper.write_text(data)
    assert set(refusals(files, {"tables.py": helper}, list(PRACTICAL), LIMITS)) == set(PRACTICAL)
    measures = {path: measure(path.read_bytes()) for path in files.values()}
    assert files_of("pixel_gru", files, {}, measures) == [files["pixel_gru"]]


def test_limits_come_from_the_policy():
    code = ("x = " + repr("a" * 300) + "\n").encode()
    assert over_limit(measure(code), EmbeddedDataPolicy(max_literal_chars=200)) is not None
    assert over_limit(measure(code), LIMITS) is None


# -- correct variants -------------------------------------------------------------------------------
@pytest.mark.slow
def test_correct_variants_keep_full_marks_on_the_hidden_seed(tmp_path):
    write_variants(tmp_path, patched_source)
    for module in VARIANTS:
        graded = grade(tmp_path, module)
        for exercise in graded.values():
            assert exercise.score == exercise.max_score, (module, exercise.exercise, exercise.messages)

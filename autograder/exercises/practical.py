"""What the practical tasks' checks share: the data each task trains and is scored on,
training within a budget, the trained model handed from one check to the next, scoring
against thresholds, and loading a reference's weights into a student's module.

Everything here runs in the trusted grader process. The student's process receives the
training data and the inputs of the evaluation data, never its labels or future values.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from ..messages import Message
from ..sandbox.proxies import StudentFailure
from . import datasets, transforms
from .expect import CheckFailure, PartialCredit, fail
from .recurrent_use import (
    drowned_predictions,
    recurrent_predictions,
    require_class_dependence,
    require_recurrent_layer,
    sample_of,
)
from .transforms import data_seed


# -- data of each task -----------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    train_inputs: object  # what the student's train function gets
    train_labels: object
    eval_inputs: object  # inputs of the scored split (sent to the child)
    eval_labels: np.ndarray  # its answers (stay here)
    budget_s: float
    grace_s: float
    thresholds: dict  # metric -> (full, zero)


def _class_split(labels: np.ndarray, data: dict, seed: int, module: str, hidden: bool):
    """(train indices, scored indices): the test split (hidden), or a validation split of the
    rest (public); both drawn from `seed`, the hidden or the public seed (autograder/exercises/transforms.py)."""
    train, test = datasets.stratified_split(labels, data["test_fraction"], data_seed(seed, module, "test split"))
    if hidden:
        return train, test
    kept, validation = datasets.stratified_split(
        labels[train], data["validation_fraction"], data_seed(seed, module, "validation split")
    )
    return train[kept], train[validation]


def _thresholds(table: dict, *metrics: str) -> dict:
    return {metric: (table[metric]["full"], table[metric]["zero"]) for metric in metrics}


def name_task(policy, seed: int, hidden: bool) -> Task:
    """Names: a stratified test split drawn from `seed` (the hidden seed when grading)."""
    data = datasets.name_dataset()
    train, scored = _class_split(data.labels, policy.tables["data"], seed, policy.name, hidden)
    training = policy.tables["training"]
    return Task(
        [data.names[i] for i in train],
        [int(v) for v in data.labels[train]],
        [data.names[i] for i in scored],
        data.labels[scored].copy(),
        training["budget_s"],
        training["overrun_grace_s"],
        _thresholds(policy.tables, "accuracy", "balanced_accuracy"),
    )


def digit_task(policy, seed: int, hidden: bool) -> Task:
    """Digits: a test split drawn from `seed` (MNIST: its own test set); the training and the
    scored images alike moved and noised by `seed`'s draws (autograder/exercises/transforms.py)."""
    mnist = policy.tables["mnist"]
    data = datasets.digit_dataset(mnist["path"], mnist["train_size"], mnist["test_size"])
    grace = policy.tables["training"]["overrun_grace_s"]
    if data.source == "mnist":
        thresholds = {m: (mnist[f"{m}_full"], mnist[f"{m}_zero"]) for m in ("accuracy", "balanced_accuracy")}
        if hidden:
            images, labels, eval_images, eval_labels = data.images, data.labels, data.test_images, data.test_labels
        else:
            kept, validation = datasets.stratified_split(
                data.labels,
                policy.tables["data"]["validation_fraction"],
                data_seed(seed, policy.name, "validation split"),
            )
            images, labels = data.images[kept], data.labels[kept]
            eval_images, eval_labels = data.images[validation], data.labels[validation]
        budget = mnist["budget_s"]
    else:
        train, scored = _class_split(data.labels, policy.tables["data"], seed, policy.name, hidden)
        images, labels, eval_images, eval_labels = (
            data.images[train],
            data.labels[train],
            data.images[scored],
            data.labels[scored],
        )
        thresholds = _thresholds(policy.tables, "accuracy", "balanced_accuracy")
        budget = policy.tables["training"]["budget_s"]
    images = transforms.shifted_noisy_images(images, data_seed(seed, policy.name, "training images"))
    eval_images = transforms.shifted_noisy_images(eval_images, data_seed(seed, policy.name, "scored images"))
    return Task(
        torch.from_numpy(images),
        torch.from_numpy(np.array(labels)),
        torch.from_numpy(eval_images),
        np.array(eval_labels),
        budget,
        grace,
        thresholds,
    )


@dataclass(frozen=True)
class SeriesTask:
    known: np.ndarray  # what the student trains on (raw scale)
    series: np.ndarray  # known + the scored part, in order
    starts: np.ndarray  # where each scored forecast starts (index into series)
    window: int
    horizon: int
    budget_s: float
    grace_s: float
    thresholds: dict
    mapping: transforms.AffineMap  # what the scored histories go through (forecasts: undone)

    def history(self, start: int) -> np.ndarray:
        return self.series[start - self.window : start]

    def target(self, start: int) -> np.ndarray:
        return self.series[start : start + self.horizon]


def series_task(policy, seed: int, hidden: bool) -> SeriesTask:
    """Chronological: train on the head; forecast the tail (hidden) or the head's own end (public),
    from a first window `seed` draws among the first `horizon` ones, through `seed`'s affine map."""
    data, training = policy.tables["data"], policy.tables["training"]
    full = datasets.series_dataset(data["series"])
    head, _ = datasets.chronological_split(full, data["test_fraction"])
    series = full
    if not hidden:
        series = head
        head, _ = datasets.chronological_split(head, data["validation_fraction"])
    window, horizon = data["window"], data["horizon"]
    first = len(head) + int(np.random.default_rng(data_seed(seed, policy.name, "window starts")).integers(horizon))
    starts = np.arange(first, len(series) - horizon + 1, horizon)
    mapping = transforms.series_map(full, data_seed(seed, policy.name, "series map"))
    return SeriesTask(
        head,
        series,
        starts,
        window,
        horizon,
        training["budget_s"],
        training["overrun_grace_s"],
        _thresholds(policy.tables, "mse_ratio"),
        mapping,
    )


# -- training and the model it leaves in the child -----------------------------------------
_MODELS = pytest.StashKey[dict]()


def train_within_budget(request, module: str, name: str, train, *args, task, policy, **kwargs):
    """Call the student's `train` with the task's budget; remember the model for later checks.

    Over budget + grace scores zero; past the module's time limit the child is killed (timeout).
    """
    if policy.time_limit_s <= task.budget_s + task.grace_s:
        raise RuntimeError(
            f"grading.toml: modules.{module}.time_limit_s ({policy.time_limit_s:g}) must exceed "
            f"the training budget plus grace ({task.budget_s + task.grace_s:g})"
        )
    models = request.config.stash.setdefault(_MODELS, {})
    models[module] = None
    started = time.monotonic()
    model = train(*args, time_budget_s=task.budget_s, **kwargs)
    seconds = time.monotonic() - started
    if seconds > task.budget_s + task.grace_s:
        fail("over_budget", name=name, seconds=round(seconds, 1), budget=task.budget_s)
    if not hasattr(type(model), "__wire_handle__"):
        fail("not_a_model", name=name, got=type(model).__name__)
    require_recurrent_layer(model, name)
    models[module] = model
    return model, seconds


def trained_model(request, module: str, train_name: str):
    """The model the training check of this grading run left in the child, or a failure saying why not."""
    model = request.config.stash.get(_MODELS, {}).get(module)
    if model is None:
        fail("needs_trained_model", train=train_name)
    try:
        model._check_alive()
    except StudentFailure:
        fail("needs_trained_model", train=train_name)
    return model


def award(metric: str, value: float, thresholds: dict, *diagnoses: Message, **params):
    """Raise PartialCredit, linear between the thresholds' zero and full; the message gives the value.

    `diagnoses` (what may explain a shortfall) are reported only when some points are lost.
    """
    full, zero = thresholds[metric]
    fraction = (value - zero) / (full - zero) if full != zero else float(value >= full)
    fraction = float(np.clip(fraction, 0.0, 1.0))
    messages = [Message(f"score_{metric}", {"value": float(value), "full": full, "zero": zero, **params})]
    if fraction <= 0.0:
        messages.append(Message("no_credit"))
    raise PartialCredit(fraction, *messages, *(diagnoses if fraction < 1.0 else ()))


# -- predictions -------------------------------------------------------------------------------
def class_predictions(got, count: int, n_classes: int, what: str) -> np.ndarray:
    """`got` as (count,) int64 class indices: a list of int, or an integer array/tensor."""
    if isinstance(got, torch.Tensor):
        got = got.numpy()
    if isinstance(got, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in got):
        got = np.array(got, dtype=np.int64)
    elif isinstance(got, (list, tuple)) and got and all(isinstance(v, (list, tuple)) for v in got):
        got = _numbers(got)
    if not isinstance(got, np.ndarray) or got.dtype.kind not in "iu":
        kind = f"{type(got).__name__}[{got.dtype}]" if isinstance(got, np.ndarray) else type(got).__name__
        scores = isinstance(got, np.ndarray) and got.dtype.kind == "f" and got.shape == (count, n_classes)
        raise CheckFailure(
            Message("wrong_type", {"what": what, "expected": "class indices (ints)", "got": kind}),
            *([Message("diag_returns_scores")] if scores else []),
        )
    if got.shape != (count,):
        axis = got.shape == (n_classes,) and count != n_classes
        raise CheckFailure(
            Message("wrong_shape", {"what": what, "expected": (count,), "got": tuple(got.shape)}),
            *([Message("diag_argmax_axis")] if axis else []),
        )
    outside = (got < 0) | (got >= n_classes)
    if outside.any():
        fail("class_out_of_range", what=what, value=int(got[outside][0]), n_classes=n_classes)
    return got.astype(np.int64)


def recurrent_class_predictions(predict, model, inputs, n_classes: int, what: str, *, device: str) -> np.ndarray:
    """`predict(model, inputs)` as (len(inputs),) class indices, made by running a recurrent
    routine (must run) and changing when its output is noise (must matter; recurrent_use.py)."""
    predictions = class_predictions(
        recurrent_predictions(predict, model, inputs, device=device, what=what), len(inputs), n_classes, what
    )
    sample = sample_of(len(inputs))
    subset = inputs[torch.from_numpy(sample)] if isinstance(inputs, torch.Tensor) else [inputs[i] for i in sample]
    drowned = class_predictions(
        drowned_predictions(predict, model, subset, device=device, what=what), len(sample), n_classes, what
    )
    require_class_dependence(predictions[sample], drowned, what)
    return predictions


def _numbers(rows):
    """Rows of numbers as a float array (to recognise scores returned in place of classes), else as they are."""
    try:
        return np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError):
        return rows


def accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    return float(np.mean(labels == predictions))


def balanced_accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Mean over the classes present in `labels` of the fraction of that class predicted right."""
    return float(np.mean([np.mean(predictions[labels == c] == c) for c in np.unique(labels)]))


# -- structure checks: a reference's weights in the student's module ----------------------------
def load_reference_weights(instance, reference: dict, what: str):
    """Load `reference` (name -> float64 array) into the student's module `instance`, in float64.

    Parameters are matched by their last name part (weight_ih, bias, weight_hh_l1, ...) and
    shape, so the student may name the submodules freely. Returns the float64 module.
    """
    state = instance.state_dict()
    if not isinstance(state, dict):
        fail("wrong_type", what=f"{what}.state_dict()", expected="dict", got=type(state).__name__)
    expected = {name.rsplit(".", 1)[-1]: (name, value) for name, value in reference.items()}
    found = {}
    for key in state:
        suffix = key.rsplit(".", 1)[-1]
        if suffix in expected:
            if suffix in found:
                fail("structure_duplicate", what=what, first=found[suffix], second=key)
            found[suffix] = key
    missing = [expected[s][0] for s in expected if s not in found]
    if missing:
        fail(
            "structure_missing",
            what=what,
            missing=", ".join(missing),
            expected=_describe(reference),
            got=_describe({k: np.asarray(v) for k, v in state.items()}),
        )
    loaded = {}
    for key, value in state.items():
        suffix = key.rsplit(".", 1)[-1]
        if suffix in expected:
            reference_value = expected[suffix][1]
            if tuple(value.shape) != reference_value.shape:
                fail("wrong_shape", what=f"{what}: {key}", expected=reference_value.shape, got=tuple(value.shape))
            loaded[key] = torch.from_numpy(np.asarray(reference_value, dtype=np.float64))
        else:
            loaded[key] = value.double() if value.is_floating_point() else value
    module = instance.double()
    module.load_state_dict(loaded)
    module.eval()
    return module


def _describe(state: dict) -> str:
    return ", ".join(f"{name} {tuple(np.shape(value))}" for name, value in state.items())

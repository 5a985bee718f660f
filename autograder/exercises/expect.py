"""Comparisons used by the checks, each failing with a precise, translatable message."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..messages import Message


@dataclass(frozen=True)
class Tolerance:
    """`|got - expected| <= atol + rtol * |expected|` (grading.toml's `[tolerances]`)."""

    rtol: float
    atol: float


class CheckFailure(AssertionError):
    """The exercise is wrong; `messages` say how (the first one is the main finding)."""

    def __init__(self, *messages: Message):
        super().__init__("; ".join(m.render("en") for m in messages))
        self.messages = list(messages)

    def with_context(self, *extra: Message) -> CheckFailure:
        return CheckFailure(*extra, *self.messages)

    def adding(self, *diagnoses: Message) -> CheckFailure:
        return CheckFailure(*self.messages, *diagnoses)


class PartialCredit(Exception):
    """Part of the points: `fraction` in [0, 1], with messages for what is missing."""

    def __init__(self, fraction: float, *messages: Message):
        super().__init__(f"partial credit {fraction:.3f}")
        self.fraction = min(1.0, max(0.0, float(fraction)))
        self.messages = list(messages)


def fail(key: str, **params):
    raise CheckFailure(Message(key, params))


def _kind_name(value) -> str:
    if isinstance(value, np.ndarray):
        return f"numpy.ndarray[{value.dtype}]"
    if _is_tensor(value):
        return f"torch.Tensor[{str(value.dtype).removeprefix('torch.')}]"
    remote_type = vars(value).get("_type_name") if hasattr(value, "__dict__") else None
    return remote_type or type(value).__name__


def _is_tensor(value) -> bool:
    return type(value).__module__.startswith("torch") and type(value).__name__ in ("Tensor", "Parameter")


def as_array(got, what: str, kind: str, shape: tuple | None = None) -> np.ndarray:
    """`got` as a float64 array, insisting on the container the contract names (and on
    `shape`, checked before any conversion: a huge wrong answer is never copied)."""
    if shape is not None and (isinstance(got, np.ndarray) or _is_tensor(got)) and tuple(got.shape) != tuple(shape):
        fail("wrong_shape", what=what, expected=tuple(shape), got=tuple(got.shape))
    if kind == "ndarray" and isinstance(got, np.ndarray) and got.dtype.kind in "fiub":
        return got.astype(np.float64)
    if kind == "ndarray" and isinstance(got, (float, np.floating)):
        return np.asarray(got, dtype=np.float64)
    if kind == "tensor" and _is_tensor(got):
        return got.detach().double().numpy()
    expected = {"ndarray": "numpy.ndarray", "tensor": "torch.Tensor"}[kind]
    fail("wrong_type", what=what, expected=expected, got=_kind_name(got))


def _where(index: tuple) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]"


def compare(got: np.ndarray, expected: np.ndarray, tol) -> tuple[bool, dict]:
    """Whether `got` matches within tolerance, and the details of the worst element."""
    error = np.abs(got - expected)
    allowed = tol.atol + tol.rtol * np.abs(expected)
    bad = ~(error <= allowed)
    if not bad.any():
        return True, {}
    index = np.unravel_index(np.argmax(np.where(bad, error / allowed, -1.0)), got.shape)
    rel = error[index] / max(abs(expected[index]), 1e-300)
    return False, {
        "where": _where(index),
        "rel": float(rel),
        "abs": float(error[index]),
        "expected": float(expected[index]),
        "got": float(got[index]),
        "rtol": tol.rtol,
        "atol": tol.atol,
        "bad": bad,
    }


def _shape_of(value) -> tuple | None:
    """The shape of an array, tensor, number or nested list; None for anything else."""
    if isinstance(value, np.ndarray) or _is_tensor(value):
        return tuple(value.shape)
    if isinstance(value, (list, tuple, int, float, np.generic)):
        try:
            return np.shape(value)
        except ValueError:  # ragged
            return None
    return None


def close(got, expected: np.ndarray, tol) -> bool:
    """Quiet version for diagnoses: does `got` (any container) match `expected`?"""
    if _shape_of(got) != np.shape(expected):  # before any conversion
        return False
    try:
        array = got.detach().double().numpy() if _is_tensor(got) else np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return (
        array.shape == np.shape(expected)
        and bool(np.isfinite(array).all())
        and compare(array, np.asarray(expected, dtype=np.float64), tol)[0]
    )


def expect_close(got, expected, what: str, tol, kind: str = "ndarray", time_axis: int | None = None):
    """`got` has the container, shape and values of `expected` (within `tol`).

    With `time_axis`, a mismatch also says from which time step on the values go wrong.
    """
    expected = np.asarray(expected, dtype=np.float64)
    array = as_array(got, what, kind, expected.shape)
    if array.shape != expected.shape:
        fail("wrong_shape", what=what, expected=tuple(expected.shape), got=tuple(array.shape))
    finite = np.isfinite(array)
    if not finite.all():
        first = np.unravel_index(np.argmin(finite), array.shape)
        fail("not_finite", what=what, count=int((~finite).sum()), where=_where(first))
    ok, details = compare(array, expected, tol)
    if ok:
        return array
    bad = details.pop("bad")
    messages = [Message("mismatch", {"what": what, **details})]
    if time_axis is not None and expected.ndim > time_axis:
        bad_steps = np.flatnonzero(np.moveaxis(bad, time_axis, 0).reshape(bad.shape[time_axis], -1).any(axis=1))
        step = int(bad_steps[0])
        messages.append(
            Message("first_bad_step", {"what": what, "step": step, "last_good": step - 1})
            if step > 0
            else Message("wrong_from_start", {"what": what})
        )
    raise CheckFailure(*messages)


def expect_not_mutated(student, name: str):
    """The last call through `student` left its array/tensor arguments unchanged."""
    if student.mutated_inputs:
        fail("mutated", name=name, argument=", ".join(str(a) for a in student.mutated_inputs))


def diagnose(failure: CheckFailure, got, variants, tol) -> CheckFailure:
    """Add the diagnosis of the first wrong variant that `got` matches.

    `variants` is a list of (Message naming the mistake, the output that mistake produces).
    """
    for message, wrong_output in variants:
        if close(got, wrong_output, tol):
            return failure.adding(message)
    return failure

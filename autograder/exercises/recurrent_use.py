"""The practical tasks' predictions must come from the trained recurrent model.

Three checks, each a message and zero for the exercise when it fails:
- the model `train_*` returns has a recurrent layer: a `weight_hh…` entry in its state_dict,
  as torch's `nn.RNN`, `nn.GRU`, `nn.LSTM` and their cells have;
- **must run**: while a scored `predict_*` call runs, the watch of autograder/sandbox/tracing.py (the
  from-scratch watch, used the other way round) records the recurrent routines the student's
  code reaches; none means the predictions came from elsewhere;
- **must matter**: the call is repeated on a sample with the output of every recurrent routine
  replaced by loud noise in the child; predictions that do not change do not depend on it.

As for the from-scratch watch, the child's report is untrusted: a reply whose report does not
echo the nonce and sequence number, or that records tampering, scores the exercise zero.
"""

from __future__ import annotations

import contextlib
import re
import secrets

import numpy as np

from ..sandbox.tracer_state import RECURRENT_NAMES
from .expect import fail
from .scratch import untampered_report

RECURRENT = tuple(sorted(RECURRENT_NAMES))  # what the watch names torch's recurrent modules and kernels
RECURRENT_WEIGHT = re.compile(r"(^|\.)weight_hh(_l\d+)?(_reverse)?$")
CHANGED_AT_LEAST = 0.25  # the fraction of predictions the noise must change (a model that
# uses its recurrent layer: nearly all; a lookup with a token one: few)
MOVE = 0.1  # a forecast moved: by a tenth of one step's typical change
SAMPLE = 64  # predictions repeated under the noise


class RecurrentWatch:
    """Arms the requests of one `predict_*` call and collects which recurrent routines they reached."""

    def __init__(self, what: str, perturb: bool):
        self.what, self.perturb = what, perturb
        self.nonce, self.sequence, self.pending = secrets.token_hex(8), 0, None
        self.reached: list[str] = []

    def spec(self) -> dict:
        self.sequence += 1
        self.pending = self.sequence
        return {"nonce": self.nonce, "seq": self.sequence, "forbid": list(RECURRENT), "perturb": self.perturb}

    def verify(self, reply: dict) -> None:
        if self.pending is None:
            return
        expected, self.pending = self.pending, None
        report = untampered_report(reply, self.nonce, expected, self.what, "recurrent")
        self.reached += [
            str(item.get("routine"))
            for item in report.get("reached") or []
            if isinstance(item, dict) and str(item.get("routine")) in RECURRENT
        ]


@contextlib.contextmanager
def _watched(function, what: str, perturb: bool):
    """`function` (a proxy of a student's function) with its peer's requests under a RecurrentWatch."""
    peer = function._process
    previous, peer.scratch = peer.scratch, RecurrentWatch(what, perturb)
    try:
        yield peer.scratch
    finally:
        peer.scratch = previous


def require_recurrent_layer(model, train: str) -> None:
    """The trained model has a recurrent layer (a weight_hh… parameter), else a failure saying so."""
    state = model.state_dict()
    keys = [str(key) for key in state] if isinstance(state, dict) else []
    if not any(RECURRENT_WEIGHT.search(key) for key in keys):
        fail("pr_no_recurrent_layer", name=train, keys=", ".join(keys[:6]) or "—")


def recurrent_predictions(function, *args, what: str, **kwargs):
    """`function(*args, **kwargs)`, which must reach one of torch's recurrent routines."""
    return _watched_call(function, args, kwargs, what, perturb=False)


def drowned_predictions(function, *args, what: str, **kwargs):
    """`function(*args, **kwargs)` with every recurrent routine's output replaced by noise."""
    return _watched_call(function, args, kwargs, what, perturb=True)


def _watched_call(function, args, kwargs, what: str, perturb: bool):
    with _watched(function, what, perturb) as watch:
        value = function(*args, **kwargs)
    if not watch.reached:
        fail("pr_not_recurrent", what=what)
    return value


def sample_of(count: int) -> np.ndarray:
    """The positions of the predictions repeated under the noise (spread over the whole set)."""
    return np.unique(np.linspace(0, count - 1, min(SAMPLE, count)).astype(int))


def require_class_dependence(normal: np.ndarray, drowned: np.ndarray, what: str) -> None:
    """Class predictions must change under the noise for at least CHANGED_AT_LEAST of the sample."""
    _require_changed(int(np.sum(normal != drowned)), len(normal), what)


def require_value_dependence(normal: np.ndarray, drowned: np.ndarray, histories: np.ndarray, what: str) -> None:
    """Forecasts (M, horizon) must move under the noise by MOVE of one step's typical change
    (the spread of the differences within `histories` (M, window)), for enough of them."""
    step = float(np.std(np.diff(histories, axis=-1))) or 1.0
    _require_changed(int(np.sum(np.abs(normal - drowned).max(axis=-1) > MOVE * step)), len(normal), what)


def _require_changed(changed: int, total: int, what: str) -> None:
    if changed < CHANGED_AT_LEAST * total:
        fail("pr_ignores_recurrent", what=what, changed=changed, total=total)

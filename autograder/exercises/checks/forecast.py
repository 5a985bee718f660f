"""Checks of `forecast`: sliding windows, the Forecaster's structure, and a trained forecaster.

The training check trains the student's model on the head of the series, then forecasts
the tail one window at a time, in order: each value of the tail reaches the student's
process only after the forecasts of it have been returned, so no forecast can read its answer.
"""

from __future__ import annotations

import numpy as np
import torch

from ...messages import Message
from ..cases.forecast import lstm_forecast
from ..expect import CheckFailure, Tolerance, as_array, diagnose, expect_close, fail
from ..practical import award, load_reference_weights, series_task, train_within_budget, trained_model
from ..practical_feedback import (
    attach_error_by_step,
    attach_forecast,
    attach_losses,
    forecast_diagnoses,
    reported_losses,
    training_diagnoses,
)
from ..recurrent_use import drowned_predictions, recurrent_predictions, require_value_dependence, sample_of

MODULE = "forecast"
BATCH_SAMPLE = 4  # histories forecast alone, to compare with the batch forecast
EXACT = Tolerance(rtol=0.0, atol=0.0)  # windows are copies of float32(series): no arithmetic, no rounding
SCALE_FACTOR = 10.0  # forecasts this many times worse than persistence on known data: not raw scale


def _float32(got, what: str) -> np.ndarray:
    dtype = str(getattr(got, "dtype", type(got).__name__)).removeprefix("torch.")
    if not isinstance(got, (np.ndarray, torch.Tensor)) or dtype != "float32":
        raise CheckFailure(
            Message(
                "wrong_type",
                {"what": what, "expected": "float32 tensor (or array)", "got": f"{type(got).__name__}[{dtype}]"},
            ),
            *([Message("diag_float64")] if dtype == "float64" else []),
        )
    return as_array(got, what, "tensor" if isinstance(got, torch.Tensor) else "ndarray")


def _window_shape_mistakes(shape: tuple, expected: tuple) -> list[Message]:
    """X without its feature axis, or one window too many or too few."""
    if shape == expected[:2]:
        return [Message("diag_fc_no_feature_dim")]
    if len(shape) == 3 and shape[1:] == expected[1:] and abs(shape[0] - expected[0]) == 1:
        return [Message("diag_fc_window_count")]
    return []


def check_make_windows(student, cases):
    for case in cases:
        with case:
            window, horizon = int(case.window), int(case.horizon)
            call = f"make_windows(series of {len(case.series)}, window={window}, horizon={horizon})"
            got = student.make_windows(case.series, window, horizon)
            if not isinstance(got, (tuple, list)) or len(got) != 2:
                fail("wrong_type", what=call, expected="(X, Y)", got=type(got).__name__)
            X, Y = _float32(got[0], f"{call}: X"), _float32(got[1], f"{call}: Y")
            if X.shape != case.X.shape:
                raise CheckFailure(
                    Message("wrong_shape", {"what": f"{call}: X", "expected": case.X.shape, "got": X.shape}),
                    *_window_shape_mistakes(X.shape, case.X.shape),
                )
            expect_close(X, case.X, f"{call}: X", EXACT)
            try:
                expect_close(Y, case.Y, f"{call}: Y", EXACT)
            except CheckFailure as failure:
                raise diagnose(failure, Y, [(Message("diag_fc_target_overlaps"), case.Y_overlap)], EXACT) from None


def check_Forecaster(student, cases, tol):
    for case in cases:
        with case:
            ref = {k.removeprefix("ref."): v for k, v in vars(case).items() if k.startswith("ref.")}
            hidden, layers, horizon = int(case.hidden), int(case.layers), int(case.horizon)
            what = f"Forecaster({hidden}, num_layers={layers}, horizon={horizon})"
            model = load_reference_weights(student.Forecaster(hidden, num_layers=layers, horizon=horizon), ref, what)
            got = model(torch.from_numpy(case.x))
            try:
                expect_close(got, case.forecast, f"{what}(x)", tol, kind="tensor")
            except CheckFailure as failure:
                raise diagnose(
                    failure,
                    got,
                    [
                        (Message("diag_reads_first_step"), case.first_step),
                        (Message("diag_not_batch_first"), case.time_major),
                        (Message("diag_reads_mean"), lstm_forecast(ref, case.x, step="mean")),
                        (Message("diag_reads_batch_element"), lstm_forecast(ref, case.x, step="last_row")),
                    ],
                    tol,
                ) from None


def _forecasts(got, rows: int, horizon: int, what: str) -> np.ndarray:
    if isinstance(got, torch.Tensor):
        got = got.detach().double().numpy()
    if not isinstance(got, np.ndarray) or got.dtype.kind != "f":
        fail("wrong_type", what=what, expected="float array or tensor", got=type(got).__name__)
    if got.shape != (rows, horizon):
        fail("wrong_shape", what=what, expected=(rows, horizon), got=tuple(got.shape))
    if not np.isfinite(got).all():
        fail("not_finite", what=what, count=int((~np.isfinite(got)).sum()), where="")
    return got.astype(np.float64)


def _scale_diagnosis(forecasts: np.ndarray, histories: np.ndarray, targets: np.ndarray) -> list:
    """On the student's own training data: forecasts far worse than persistence are not in the
    series' scale (e.g. still standardised, or the change from the last value not added back)."""
    persistence = np.mean((targets - histories[:, -1:]) ** 2)
    if np.mean((forecasts - targets) ** 2) <= SCALE_FACTOR * persistence:
        return []
    return [
        Message(
            "diag_fc_not_raw_scale",
            {"mean_forecast": float(forecasts.mean()), "mean_last": float(histories[:, -1].mean())},
        )
    ]


def _attach_plots(artifacts: dict, task, histories, targets, forecasts, hidden: bool) -> None:
    """Public (check): the validation stretch against the truth and persistence. Hidden: only the
    error per horizon step, which shows no value of the test stretch."""
    if hidden:
        attach_error_by_step(artifacts, forecasts, targets, histories)
        return
    attach_forecast(
        artifacts,
        task.history(task.starts[0])[-2 * task.window :],
        targets.ravel(),
        forecasts.ravel(),
        np.repeat(histories[:, -1], task.horizon),
    )


def check_train_forecaster(student, device, hidden, module_policy, task_seed, request, artifacts):
    task = series_task(module_policy, task_seed, hidden)
    model, seconds = train_within_budget(
        request,
        MODULE,
        "train_forecaster",
        student.train_forecaster,
        task.known,
        task=task,
        policy=module_policy,
        window=task.window,
        horizon=task.horizon,
        device=device,
    )
    losses = reported_losses(model)
    attach_losses(artifacts, losses)
    histories = np.stack([task.history(s) for s in task.starts])
    targets = np.stack([task.target(s) for s in task.starts])
    sent = task.mapping.apply(histories)  # scored after undoing the map (autograder/exercises/transforms.py)
    what = "predict_next(model, histories)"
    forecasts = task.mapping.undo(
        np.concatenate(
            [  # one at a time, in order (see the module's docstring)
                _forecasts(
                    recurrent_predictions(student.predict_next, model, history[None], device=device, what=what),
                    1,
                    task.horizon,
                    what,
                )
                for history in sent
            ]
        )
    )
    _require_dependence(student.predict_next, model, sent, task.mapping.undo, forecasts, device, what)
    _attach_plots(artifacts, task, histories, targets, forecasts, hidden)
    ratio = np.mean((forecasts - targets) ** 2) / np.mean((targets - histories[:, -1:]) ** 2)
    award(
        "mse_ratio",
        ratio,
        task.thresholds,
        *forecast_diagnoses(forecasts, histories),
        *training_diagnoses(seconds, task.budget_s, losses),
        count=len(forecasts),
        seconds=round(seconds, 1),
    )


def _require_dependence(predict_next, model, histories, undo, forecasts, device, what) -> None:
    """Forecasts of a sample of `histories` (already sent) move when the recurrent output is noise."""
    sample = sample_of(len(histories))
    drowned = undo(
        _forecasts(
            drowned_predictions(predict_next, model, histories[sample], device=device, what=what),
            len(sample),
            forecasts.shape[1],
            what,
        )
    )
    require_value_dependence(forecasts[sample], drowned, undo(histories[sample]), what)


def check_predict_next(student, device, hidden, module_policy, task_seed, request):
    model = trained_model(request, MODULE, "train_forecaster")
    task = series_task(module_policy, task_seed, hidden)
    known = task.known  # the student's own training data: nothing hidden here
    ends = np.linspace(task.window, len(known) - task.horizon, 48).astype(int)
    histories = np.stack([known[e - task.window : e] for e in ends])
    targets = np.stack([known[e : e + task.horizon] for e in ends])
    what = f"predict_next(model, histories {histories.shape})"
    forecasts = _forecasts(
        recurrent_predictions(student.predict_next, model, histories, device=device, what=what),
        len(ends),
        task.horizon,
        what,
    )
    diagnosis = _scale_diagnosis(forecasts, histories, targets)
    if diagnosis:
        ratio = np.mean((forecasts - targets) ** 2) / np.mean((targets - histories[:, -1:]) ** 2)
        raise CheckFailure(
            Message("fc_far_worse_than_persistence", {"ratio": float(ratio), "count": len(ends)}), *diagnosis
        )
    for row in np.linspace(0, len(ends) - 1, BATCH_SAMPLE).astype(int):
        alone = _forecasts(student.predict_next(model, histories[row : row + 1], device=device), 1, task.horizon, what)
        if not np.allclose(alone[0], forecasts[row], rtol=1e-4, atol=1e-4 * np.abs(known).max()):
            fail("fc_depends_on_batch", row=int(row), alone=float(alone[0, 0]), batch=float(forecasts[row, 0]))
    _require_dependence(student.predict_next, model, histories, lambda values: values, forecasts, device, what)


from .forecast_window import check_WindowMLP  # noqa: E402,F401  (collected with this module's checks)

"""Checks of `pixel_gru`: the PixelGRU's structure and a trained digit classifier.

The structure check loads a reference's weights into the student's PixelGRU (float64, CPU)
and compares its logits, one image row per time step. The training check trains in the
child within the budget and scores predictions on images whose labels stay here.
"""

from __future__ import annotations

import numpy as np
import torch

from ...messages import Message
from ..cases.pixel_gru import gru_logits
from ..expect import CheckFailure, diagnose, expect_close, fail
from ..practical import (
    accuracy,
    award,
    balanced_accuracy,
    class_predictions,
    digit_task,
    load_reference_weights,
    recurrent_class_predictions,
    train_within_budget,
    trained_model,
)
from ..practical_feedback import (
    attach_confusion,
    attach_losses,
    attach_misclassified,
    constant_class_diagnoses,
    reported_losses,
    training_diagnoses,
)
from ..recurrent_use import drowned_predictions, recurrent_predictions, require_class_dependence

MODULE = "pixel_gru"
N_CLASSES = 10
DIGITS = tuple(str(d) for d in range(N_CLASSES))
BATCH_SAMPLE = 20  # images predicted in a small batch, to compare with the full batch


def check_PixelGRU(student, cases, tol):
    for case in cases:
        with case:
            ref = {k.removeprefix("ref."): v for k, v in vars(case).items() if k.startswith("ref.")}
            width = case.images.shape[2]
            hidden, layers, classes = int(case.hidden), int(case.layers), int(case.classes)
            what = f"PixelGRU(input_size={width}, hidden_size={hidden}, num_layers={layers}, num_classes={classes})"
            instance = student.PixelGRU(input_size=width, hidden_size=hidden, num_layers=layers, num_classes=classes)
            model = load_reference_weights(instance, ref, what)
            square = model(torch.from_numpy(case.square_images))
            try:
                expect_close(
                    square, case.square_logits, f"{what}(images {case.square_images.shape})", tol, kind="tensor"
                )
            except CheckFailure as failure:
                raise diagnose(
                    failure,
                    square,
                    [
                        (Message("diag_pg_reads_columns"), case.square_columns),
                        *_reading_mistakes(ref, case.square_images, layers),
                    ],
                    tol,
                ) from None
            got = model(torch.from_numpy(case.images))
            try:
                expect_close(got, case.logits, f"{what}(images {case.images.shape})", tol, kind="tensor")
            except CheckFailure as failure:
                raise diagnose(failure, got, _reading_mistakes(ref, case.images, layers), tol) from None


def _reading_mistakes(ref: dict, images: np.ndarray, layers: int) -> list:
    """The logits of a PixelGRU reading the first step, the mean over time, the batch as time,
    or (with two layers or more) the first layer's last state h_n[0]."""
    variants = [
        (Message("diag_reads_first_step"), gru_logits(ref, images, step=0)),
        (Message("diag_reads_mean"), gru_logits(ref, images, step="mean")),
        (Message("diag_not_batch_first"), gru_logits(ref, images, batch_first=False)),
    ]
    if layers > 1:
        variants.append((Message("diag_pg_first_layer_state"), gru_logits(ref, images, step="first_layer")))
    return variants


def check_train_pixel_gru(student, device, hidden, module_policy, task_seed, request, artifacts):
    task = digit_task(module_policy, task_seed, hidden)
    model, seconds = train_within_budget(
        request,
        MODULE,
        "train_pixel_gru",
        student.train_pixel_gru,
        task.train_inputs,
        task.train_labels,
        task=task,
        policy=module_policy,
        device=device,
    )
    losses = reported_losses(model)
    attach_losses(artifacts, losses)
    predictions = recurrent_class_predictions(
        student.predict_digits, model, task.eval_inputs, N_CLASSES, "predict_digits(model, images)", device=device
    )
    attach_confusion(artifacts, task.eval_labels, predictions, DIGITS)
    if not hidden:  # the images of the public validation split: the student has them
        attach_misclassified(artifacts, task.eval_inputs.numpy(), task.eval_labels, predictions)
    award(
        "accuracy",
        accuracy(task.eval_labels, predictions),
        task.thresholds,
        *constant_class_diagnoses(predictions, DIGITS),
        *training_diagnoses(seconds, task.budget_s, losses),
        count=len(predictions),
        seconds=round(seconds, 1),
    )


def check_predict_digits(student, device, hidden, module_policy, task_seed, request):
    model = trained_model(request, MODULE, "train_pixel_gru")
    task = digit_task(module_policy, task_seed, hidden)
    what = "predict_digits(model, images)"
    got = recurrent_predictions(student.predict_digits, model, task.eval_inputs, device=device, what=what)
    if isinstance(got, torch.Tensor) and got.dtype != torch.int64:
        scores = got.is_floating_point() and tuple(got.shape) == (len(task.eval_labels), N_CLASSES)
        raise CheckFailure(
            Message(
                "wrong_type",
                {"what": what, "expected": "torch.Tensor[int64]", "got": f"torch.Tensor[{str(got.dtype)[6:]}]"},
            ),
            *([Message("diag_returns_scores")] if scores else []),
        )
    predictions = class_predictions(got, len(task.eval_labels), N_CLASSES, what)
    sample = np.linspace(0, len(predictions) - 1, BATCH_SAMPLE).astype(int)
    small = class_predictions(
        student.predict_digits(model, task.eval_inputs[sample], device=device), BATCH_SAMPLE, N_CLASSES, what
    )
    differ = np.flatnonzero(small != predictions[sample])
    if len(differ) > BATCH_SAMPLE // 10:  # one flip may be a near tie rounded differently
        fail(
            "predictions_depend_on_batch",
            what=what,
            count=len(differ),
            total=BATCH_SAMPLE,
            example=f"#{sample[differ[0]]}",
            alone=int(small[differ[0]]),
            batch=int(predictions[sample[differ[0]]]),
        )
    drowned = drowned_predictions(student.predict_digits, model, task.eval_inputs[sample], device=device, what=what)
    require_class_dependence(small, class_predictions(drowned, BATCH_SAMPLE, N_CLASSES, what), what)
    award(
        "balanced_accuracy",
        balanced_accuracy(task.eval_labels, predictions),
        task.thresholds,
        *constant_class_diagnoses(predictions, DIGITS),
        count=len(predictions),
    )

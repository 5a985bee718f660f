"""Checks of `pixel_gru`: the PixelGRU's structure and a trained digit classifier.

The structure check loads a reference's weights into the student's PixelGRU (float64, CPU)
and compares its logits, one image row per time step. The training check trains in the
child within the budget and scores predictions on images whose labels stay here.
"""
from __future__ import annotations

import numpy as np
import torch

from ..expect import CheckFailure, diagnose, expect_close, fail
from ..messages import Message
from ..practical import (accuracy, award, balanced_accuracy, class_predictions, digit_task,
                         load_reference_weights, train_within_budget, trained_model)

MODULE = "pixel_gru"
N_CLASSES = 10
BATCH_SAMPLE = 20               # images predicted in a small batch, to compare with the full batch


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
                expect_close(square, case.square_logits, f"{what}(images {case.square_images.shape})", tol,
                             kind="tensor")
            except CheckFailure as failure:
                raise diagnose(failure, square, [(Message("pg_reads_columns"), case.square_columns)], tol) from None
            got = model(torch.from_numpy(case.images))
            try:
                expect_close(got, case.logits, f"{what}(images {case.images.shape})", tol, kind="tensor")
            except CheckFailure as failure:
                raise diagnose(failure, got, [(Message("diag_reads_first_step"), case.first_step)], tol) from None


def check_train_pixel_gru(student, device, hidden, module_policy, request):
    task = digit_task(module_policy, hidden)
    model, seconds = train_within_budget(request, MODULE, "train_pixel_gru", student.train_pixel_gru,
                                         task.train_inputs, task.train_labels,
                                         task=task, policy=module_policy, device=device)
    got = student.predict_digits(model, task.eval_inputs, device=device)
    predictions = class_predictions(got, len(task.eval_labels), N_CLASSES, "predict_digits(model, images)")
    award("accuracy", accuracy(task.eval_labels, predictions), task.thresholds,
          count=len(predictions), seconds=round(seconds, 1))


def check_predict_digits(student, device, hidden, module_policy, request):
    model = trained_model(request, MODULE, "train_pixel_gru")
    task = digit_task(module_policy, hidden)
    what = "predict_digits(model, images)"
    got = student.predict_digits(model, task.eval_inputs, device=device)
    if isinstance(got, torch.Tensor) and got.dtype != torch.int64:
        fail("wrong_type", what=what, expected="torch.Tensor[int64]", got=f"torch.Tensor[{str(got.dtype)[6:]}]")
    predictions = class_predictions(got, len(task.eval_labels), N_CLASSES, what)
    sample = np.linspace(0, len(predictions) - 1, BATCH_SAMPLE).astype(int)
    small = class_predictions(student.predict_digits(model, task.eval_inputs[sample], device=device),
                              BATCH_SAMPLE, N_CLASSES, what)
    differ = np.flatnonzero(small != predictions[sample])
    if len(differ) > BATCH_SAMPLE // 10:    # one flip may be a near tie rounded differently
        fail("predictions_depend_on_batch", what=what, count=len(differ), total=BATCH_SAMPLE,
             example=f"#{sample[differ[0]]}", alone=int(small[differ[0]]), batch=int(predictions[sample[differ[0]]]))
    award("balanced_accuracy", balanced_accuracy(task.eval_labels, predictions), task.thresholds,
          count=len(predictions))

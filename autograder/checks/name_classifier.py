"""Checks of `name_classifier`: one-hot names, NameRNN's structure, and a trained classifier.

The structure checks load a reference's weights into the student's NameRNN (float64, CPU).
The training check trains the student's model in the child within the budget, then scores
its predictions on names the training never saw; their labels stay in this process.
"""
from __future__ import annotations

import numpy as np
import torch

from ..datasets import NAME_LOCALES
from ..expect import CheckFailure, diagnose, expect_close, fail
from ..messages import Message
from ..practical import (accuracy, award, balanced_accuracy, class_predictions, load_reference_weights,
                         name_task, train_within_budget, trained_model)

MODULE = "name_classifier"
N_CLASSES = len(NAME_LOCALES)
BATCH_SAMPLE = 20              # names predicted alone, to compare with the batch prediction


def _alphabet(student) -> str:
    alphabet = student.get("ALPHABET")
    if not isinstance(alphabet, str) or len(alphabet) < 2 or len(set(alphabet)) != len(alphabet):
        fail("nc_bad_alphabet", got=repr(alphabet)[:80])
    return alphabet


def one_hot(name: str, alphabet: str) -> np.ndarray:
    """The oracle of name_to_tensor: (len(name), 1, len(alphabet)); unknown -> the last index."""
    encoded = np.zeros((len(name), 1, len(alphabet)))
    for t, char in enumerate(name):
        encoded[t, 0, alphabet.index(char) if char in alphabet else len(alphabet) - 1] = 1.0
    return encoded


def check_name_to_tensor(student, cases, tol):
    alphabet = _alphabet(student)
    for case in cases:
        with case:
            for name in map(str, case.names):
                got = student.name_to_tensor(name)
                what = f"name_to_tensor({name!r})"
                if isinstance(got, torch.Tensor) and got.dtype != torch.float32:
                    fail("wrong_type", what=what, expected="torch.Tensor[float32]",
                         got=f"torch.Tensor[{str(got.dtype).removeprefix('torch.')}]")
                expected = one_hot(name, alphabet)
                try:
                    expect_close(got, expected, what, tol, kind="tensor")
                except CheckFailure as failure:
                    if not isinstance(got, torch.Tensor) or tuple(got.shape) != expected.shape:
                        raise
                    wrong = np.flatnonzero(~np.all(got.numpy() == expected, axis=(1, 2)))
                    char = name[wrong[0]] if len(wrong) else ""
                    if char and char not in alphabet:
                        raise failure.adding(Message("nc_unknown_char", {"char": char, "index": len(alphabet) - 1}))
                    raise


def _reference(case) -> dict:
    return {k.removeprefix("ref."): v for k, v in vars(case).items() if k.startswith("ref.")}


def check_NameRNN(student, cases, tol):
    for case in cases:
        with case:
            ref = _reference(case)
            H, D = ref["cell.weight_ih"].shape
            C = ref["readout.weight"].shape[0]
            what = f"NameRNN({D}, {H}, {C})"
            instance = student.NameRNN(D, H, C)
            try:
                model = load_reference_weights(instance, ref, what)
            except CheckFailure as failure:
                raise failure.adding(Message("nc_use_rnncell")) from None
            x = torch.from_numpy(case.x)
            got = model(x, torch.from_numpy(case.lengths))
            try:
                expect_close(got, case.log_probs, f"{what}(x, lengths)", tol, kind="tensor")
            except CheckFailure as failure:
                raise diagnose(failure, got, [(Message("nc_padded_last"), case.padded_last),
                                              (Message("nc_missing_log_softmax"), case.logits),
                                              (Message("nc_softmax_not_log"), case.probs)], tol) from None
            expect_close(model(x), case.log_probs_full, f"{what}(x) with lengths=None", tol, kind="tensor")


def check_train_name_classifier(student, device, hidden, module_policy, request):
    task = name_task(module_policy, hidden)
    model, seconds = train_within_budget(request, MODULE, "train_name_classifier", student.train_name_classifier,
                                         task.train_inputs, task.train_labels, N_CLASSES,
                                         task=task, policy=module_policy, device=device)
    got = student.predict_nationality(model, task.eval_inputs, device=device)
    predictions = class_predictions(got, len(task.eval_inputs), N_CLASSES, "predict_nationality(model, names)")
    award("accuracy", accuracy(task.eval_labels, predictions), task.thresholds,
          count=len(predictions), seconds=round(seconds, 1))


def check_predict_nationality(student, device, hidden, module_policy, request):
    model = trained_model(request, MODULE, "train_name_classifier")
    task = name_task(module_policy, hidden)
    names = task.eval_inputs
    what = "predict_nationality(model, names)"
    predictions = class_predictions(student.predict_nationality(model, names, device=device),
                                    len(names), N_CLASSES, what)
    sample = np.linspace(0, len(names) - 1, BATCH_SAMPLE).astype(int)
    alone = [class_predictions(student.predict_nationality(model, [names[i]], device=device), 1, N_CLASSES, what)[0]
             for i in sample]
    differ = [(i, a) for i, a in zip(sample, alone) if a != predictions[i]]
    if len(differ) > BATCH_SAMPLE // 10:    # one flip may be a near tie rounded differently
        i, a = differ[0]
        fail("predictions_depend_on_batch", what=what, count=len(differ), total=BATCH_SAMPLE,
             example=repr(names[i]), alone=int(a), batch=int(predictions[i]))
    award("balanced_accuracy", balanced_accuracy(task.eval_labels, predictions), task.thresholds,
          count=len(predictions))

"""Checks of `name_classifier`: one-hot names, NameRNN's structure, and a trained classifier.

The structure checks load a reference's weights into the student's NameRNN (float64, CPU).
The training check trains the student's model in the child within the budget, then scores
its predictions on names the training never saw; their labels stay in this process.
"""

from __future__ import annotations

import numpy as np
import torch

from ...messages import Message
from ..datasets import NAME_LOCALES
from ..expect import CheckFailure, close, diagnose, expect_close, fail
from ..practical import (
    accuracy,
    award,
    balanced_accuracy,
    class_predictions,
    load_reference_weights,
    name_task,
    recurrent_class_predictions,
    train_within_budget,
    trained_model,
)
from ..practical_feedback import (
    attach_confusion,
    attach_losses,
    constant_class_diagnoses,
    reported_losses,
    training_diagnoses,
)

MODULE = "name_classifier"
N_CLASSES = len(NAME_LOCALES)
CLASS_NAMES = tuple(NAME_LOCALES.values())
BATCH_SAMPLE = 20  # names predicted alone, to compare with the batch prediction


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
                    raise CheckFailure(
                        Message(
                            "wrong_type",
                            {
                                "what": what,
                                "expected": "torch.Tensor[float32]",
                                "got": f"torch.Tensor[{str(got.dtype).removeprefix('torch.')}]",
                            },
                        ),
                        Message("diag_float64"),
                    )
                expected = one_hot(name, alphabet)
                try:
                    expect_close(got, expected, what, tol, kind="tensor")
                except CheckFailure as failure:
                    raise failure.adding(*_encoding_mistakes(got, name, alphabet, tol)) from None


def _encoding_mistakes(got, name: str, alphabet: str, tol) -> list[Message]:
    """The batch dimension left out, the name lower-cased, an unknown character not sent to the last index."""
    expected = one_hot(name, alphabet)
    if not isinstance(got, torch.Tensor):
        return []
    if tuple(got.shape) == expected.shape[::2]:
        return [Message("diag_nc_no_batch_dim")]
    if tuple(got.shape) != expected.shape:
        return []
    if name.lower() != name and close(got, one_hot(name.lower(), alphabet), tol):
        return [Message("diag_nc_lowercased")]
    wrong = np.flatnonzero(~np.all(got.numpy() == expected, axis=(1, 2)))
    char = name[wrong[0]] if len(wrong) else ""
    if char and char not in alphabet:
        return [Message("diag_nc_unknown_char", {"char": char, "index": len(alphabet) - 1})]
    return []


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
                raise failure.adding(Message("diag_nc_use_rnncell")) from None
            x = torch.from_numpy(case.x)
            got = model(x, torch.from_numpy(case.lengths))
            try:
                expect_close(got, case.log_probs, f"{what}(x, lengths)", tol, kind="tensor")
            except CheckFailure as failure:
                over_batch = torch.log_softmax(torch.from_numpy(case.logits), dim=0).numpy()
                raise diagnose(
                    failure,
                    got,
                    [
                        (Message("diag_nc_padded_last"), case.padded_last),
                        (Message("diag_nc_missing_log_softmax"), case.logits),
                        (Message("diag_nc_softmax_not_log"), case.probs),
                        (Message("diag_nc_log_softmax_dim0"), over_batch),
                    ],
                    tol,
                ) from None
            expect_close(model(x), case.log_probs_full, f"{what}(x) with lengths=None", tol, kind="tensor")


def check_train_name_classifier(student, device, hidden, module_policy, task_seed, request, artifacts):
    task = name_task(module_policy, task_seed, hidden)
    model, seconds = train_within_budget(
        request,
        MODULE,
        "train_name_classifier",
        student.train_name_classifier,
        task.train_inputs,
        task.train_labels,
        N_CLASSES,
        task=task,
        policy=module_policy,
        device=device,
    )
    losses = reported_losses(model)
    attach_losses(artifacts, losses)
    predictions = recurrent_class_predictions(
        student.predict_nationality,
        model,
        task.eval_inputs,
        N_CLASSES,
        "predict_nationality(model, names)",
        device=device,
    )
    attach_confusion(artifacts, task.eval_labels, predictions, CLASS_NAMES)
    award(
        "accuracy",
        accuracy(task.eval_labels, predictions),
        task.thresholds,
        *constant_class_diagnoses(predictions, CLASS_NAMES),
        *training_diagnoses(seconds, task.budget_s, losses),
        count=len(predictions),
        seconds=round(seconds, 1),
    )


def check_predict_nationality(student, device, hidden, module_policy, task_seed, request):
    model = trained_model(request, MODULE, "train_name_classifier")
    task = name_task(module_policy, task_seed, hidden)
    names = task.eval_inputs
    what = "predict_nationality(model, names)"
    predictions = recurrent_class_predictions(student.predict_nationality, model, names, N_CLASSES, what, device=device)
    sample = np.linspace(0, len(names) - 1, BATCH_SAMPLE).astype(int)
    alone = [
        class_predictions(student.predict_nationality(model, [names[i]], device=device), 1, N_CLASSES, what)[0]
        for i in sample
    ]
    differ = [(i, a) for i, a in zip(sample, alone) if a != predictions[i]]
    if len(differ) > BATCH_SAMPLE // 10:  # one flip may be a near tie rounded differently
        i, a = differ[0]
        raise CheckFailure(
            Message(
                "predictions_depend_on_batch",
                {
                    "what": what,
                    "count": len(differ),
                    "total": BATCH_SAMPLE,
                    "example": repr(names[i]),
                    "alone": int(a),
                    "batch": int(predictions[i]),
                },
            ),
            Message("diag_nc_padding_read"),
        )
    award(
        "balanced_accuracy",
        balanced_accuracy(task.eval_labels, predictions),
        task.thresholds,
        *constant_class_diagnoses(predictions, CLASS_NAMES),
        count=len(predictions),
    )

"""name_classifier: the reference clears every threshold; stubs and wrong models lose exactly
their points with a message saying why; the hidden labels never reach the student's process."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from autograder.exercises.practical import name_task
from autograder.grading.policy import load_policy
from mistakes import assert_lost_only_its_exercises_and_named, mistake
from practical_helpers import POLICY, ROOT, grade, graded_with_calls, keys, params, variant

MODULE = "name_classifier"
UNTRAINED = ("for epoch in range(epochs):", "for epoch in range(0):")


@pytest.fixture(scope="module")
def hidden_task():
    policy = load_policy(POLICY)
    return name_task(policy.modules[MODULE], policy.hidden_seed, hidden=True)


@pytest.fixture(scope="module")
def reference():
    return graded_with_calls(ROOT / "solutions", MODULE)


@pytest.mark.slow
def test_reference_scores_full_marks(reference):
    graded, _ = reference
    for exercise in graded.values():
        assert exercise.score == exercise.max_score, (exercise.exercise, exercise.messages)
    trained = params(graded["train_name_classifier"], "score_accuracy")
    assert trained["value"] >= trained["full"]
    balanced = params(graded["predict_nationality"], "score_balanced_accuracy")
    assert balanced["value"] >= balanced["full"]


@pytest.mark.slow
def test_the_child_gets_training_names_and_test_names_but_never_test_labels(reference, hidden_task):
    _, calls = reference
    ((_, train_args, _),) = [c for c in calls if c[0] == "train_name_classifier"]
    names, labels, n_classes = train_args
    assert names == hidden_task.train_inputs and labels == hidden_task.train_labels and n_classes == 14
    assert not set(names) & set(hidden_task.eval_inputs)
    hidden_labels = hidden_task.eval_labels.tolist()
    for _, args, kwargs in calls:
        for value in [*args, *kwargs.values()]:
            assert not (
                isinstance(value, (list, np.ndarray))
                and len(value) == len(hidden_labels)
                and list(np.asarray(value).ravel()) == hidden_labels
            )


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


PROBE = '''

import gc, hashlib, os
def _sha(text):
    return hashlib.sha256(text.encode()).hexdigest()
def _search(arguments):
    """Count probe test names and the hidden label sequence among live objects, files and environment."""
    found = {"test_names": 0, "labels": 0, "train_names": 0, "files": 0}
    strings = set()
    for obj in gc.get_objects() + list(arguments):
        if isinstance(obj, (list, tuple)) or type(obj).__name__ in ("ndarray", "Tensor"):
            items = obj.tolist() if hasattr(obj, "tolist") else list(obj)
            strings.update(x for x in items if isinstance(x, str))
            if len(items) == LABEL_COUNT and all(isinstance(x, int) for x in items):
                found["labels"] += _sha(",".join(map(str, items))) == LABELS_SHA
        elif isinstance(obj, dict):
            strings.update(x for x in list(obj.values()) + list(obj) if isinstance(x, str))
    hashes = {_sha(s) for s in strings}
    found["test_names"] = len(hashes & TEST_NAME_SHAS)
    found["train_names"] = len(hashes & TRAIN_NAME_SHAS)
    texts = list(os.environ.values())
    for root in {os.getcwd(), os.environ.get("HOME", "."), os.environ.get("TMPDIR", "."), os.path.dirname(__file__)}:
        for folder, _, files in os.walk(root):
            for name in files:
                with open(os.path.join(folder, name), "rb") as stream:
                    texts.append(stream.read(5_000_000).decode("utf-8", "replace"))
    found["files"] = sum(1 for text in texts for word in text.split() if _sha(word.strip("\\"',")) in TEST_NAME_SHAS)
    return found
FOUND = {}
def train_name_classifier(names, labels, n_classes, *, time_budget_s, device):
    FOUND["train"] = _search([names, labels])
    return NameRNN(len(ALPHABET), 8, n_classes)
def predict_nationality(model, names, *, device):
    FOUND["predict"] = _search([names])
    raise RuntimeError("probe " + repr(FOUND))
'''


@pytest.mark.slow
def test_a_submission_searching_its_process_finds_no_test_name_or_label_while_training(tmp_path, hidden_task):
    test_names = [n for n in hidden_task.eval_inputs if " " not in n][:30]
    constants = (
        f"\nTEST_NAME_SHAS = {set(map(_sha, test_names))!r}\n"
        f"TRAIN_NAME_SHAS = {set(map(_sha, hidden_task.train_inputs[:30]))!r}\n"
        f"LABEL_COUNT = {len(hidden_task.eval_labels)}\n"
        f"LABELS_SHA = {_sha(','.join(map(str, hidden_task.eval_labels.tolist())))!r}\n"
    )
    graded = grade(variant(tmp_path, MODULE, append=PROBE + constants), MODULE)
    report = params(graded["train_name_classifier"], "raised")["message"]
    found = eval(report.removeprefix("probe "))  # the probe's own dict of counts
    assert found["train"] == {"test_names": 0, "labels": 0, "train_names": 30, "files": 0}
    assert found["predict"]["labels"] == 0
    assert found["predict"]["test_names"] == 30  # the search does find names once they are sent


TRAINED = {"train_name_classifier", "predict_nationality"}  # both score the trained model's predictions
ENCODE = "indices = [ALPHABET.index(char) if char in ALPHABET else unknown for char in name]"
ONE_HOT = "tensor = torch.zeros(len(name), 1, len(ALPHABET))"
READOUT = "return self.log_softmax(self.readout(last))"
PREDICT = "return model(x.to(device), lengths).argmax(dim=1).tolist()"

CORPUS = [
    mistake(
        "unknown characters mapped to index 0",
        "name_to_tensor",
        "diag_nc_unknown_char",
        (ENCODE, ENCODE.replace("else unknown", "else 0")),
    ),
    mistake(
        "names lower-cased",
        "name_to_tensor",
        "diag_nc_lowercased",
        (ENCODE, ENCODE.replace("in name]", "in name.lower()]")),
        also=TRAINED,
    ),  # "İ".lower() has two characters: the training's batches no longer fit
    mistake(
        "no batch dimension",
        "name_to_tensor",
        "diag_nc_no_batch_dim",
        (
            "tensor[torch.arange(len(name)), 0, indices] = 1.0\n    return tensor",
            "tensor[torch.arange(len(name)), 0, indices] = 1.0\n    return tensor[:, 0]",
        ),
        also=TRAINED,
    ),
    mistake(
        "float64 one-hot",
        "name_to_tensor",
        "diag_float64",
        (ONE_HOT, ONE_HOT.replace("len(ALPHABET))", "len(ALPHABET), dtype=torch.float64)")),
        also=TRAINED,
    ),
    mistake(
        "NameRNN reads the padded last step",
        "NameRNN",
        "diag_nc_padded_last",
        ("last = states[lengths.to(x.device) - 1, torch.arange(B, device=x.device)]", "last = states[-1]"),
        also=TRAINED,
    ),
    mistake(
        "NameRNN without LogSoftmax",
        "NameRNN",
        "diag_nc_missing_log_softmax",
        (READOUT, "return self.readout(last)"),
        also=TRAINED,
    ),
    mistake(
        "NameRNN with Softmax",
        "NameRNN",
        "diag_nc_softmax_not_log",
        ("self.log_softmax = nn.LogSoftmax(dim=1)", "self.log_softmax = nn.Softmax(dim=1)"),
        also=TRAINED,
    ),
    mistake(
        "NameRNN's LogSoftmax over the batch",
        "NameRNN",
        "diag_nc_log_softmax_dim0",
        ("self.log_softmax = nn.LogSoftmax(dim=1)", "self.log_softmax = nn.LogSoftmax(dim=0)"),
        also={"predict_nationality"},
    ),  # it still trains, but a name's prediction depends on its batch
    mistake(
        "NameRNN with nn.RNN",
        "NameRNN",
        "diag_nc_use_rnncell",
        ("self.cell = nn.RNNCell(input_size, hidden_size)", "self.cell = nn.RNN(input_size, hidden_size)"),
        also=TRAINED,
    ),
    mistake(
        "training returns after one step",
        "train_name_classifier",
        "diag_training_short",
        (
            "            optimizer.step()\n            losses.append(loss.item())",
            "            optimizer.step()\n            return model.eval()",
        ),
        also={"predict_nationality"},
    ),
    mistake(
        "labels shuffled apart from the names",
        "train_name_classifier",
        "diag_constant_predictions",
        (
            "targets = torch.as_tensor(labels, dtype=torch.int64)",
            "targets = torch.as_tensor(labels, dtype=torch.int64)[torch.randperm(len(labels))]",
        ),
        also={"predict_nationality"},
    ),
    mistake(
        "predictions without lengths",
        "predict_nationality",
        "diag_nc_padding_read",
        (PREDICT, "return model(x.to(device)).argmax(dim=1).tolist()"),
        also={"train_name_classifier"},
    ),
    mistake(
        "predictions are the scores",
        "predict_nationality",
        "diag_returns_scores",
        (PREDICT, "return model(x.to(device), lengths).tolist()"),
        also={"train_name_classifier"},
    ),
    mistake(
        "argmax over the batch",
        "predict_nationality",
        "diag_argmax_axis",
        (PREDICT, "return model(x.to(device), lengths).argmax(dim=0).tolist()"),
        also={"train_name_classifier"},
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("mistake", CORPUS, ids=[m.name for m in CORPUS])
def test_a_mistake_loses_its_exercises_and_no_other_and_is_named(tmp_path, mistake):
    graded = grade(variant(tmp_path, MODULE, *mistake.patches, append=mistake.append), MODULE)
    lost = {name for name, score in graded.items() if score.score < score.max_score}
    assert_lost_only_its_exercises_and_named(mistake, lost, {name: score.messages for name, score in graded.items()})


@pytest.mark.slow
def test_an_untrained_model_scores_nothing_and_is_named(tmp_path):
    graded = grade(
        variant(tmp_path, MODULE, UNTRAINED, ("model.loss_history.append(sum(losses) / len(losses))", "")), MODULE
    )
    assert graded["name_to_tensor"].score == 2 and graded["NameRNN"].score == graded["NameRNN"].max_score
    assert graded["train_name_classifier"].score == 0
    assert keys(graded["train_name_classifier"])[:2] == ["score_accuracy", "no_credit"]
    assert "diag_training_short" in keys(graded["train_name_classifier"])
    assert keys(graded["predict_nationality"])[:2] == ["score_balanced_accuracy", "no_credit"]

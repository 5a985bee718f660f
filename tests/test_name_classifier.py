"""name_classifier: the reference clears every threshold; stubs and wrong models lose exactly
their points with a message saying why; the hidden labels never reach the student's process."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from autograder.policy import load_policy
from autograder.practical import name_task
from practical_helpers import POLICY, ROOT, budget, grade, graded_with_calls, keys, params, variant

MODULE = "name_classifier"
UNTRAINED = ("for epoch in range(epochs):", "for epoch in range(0):")


@pytest.fixture(scope="module")
def hidden_task():
    return name_task(load_policy(POLICY).modules[MODULE], hidden=True)


@pytest.fixture(scope="module")
def reference():
    return graded_with_calls(ROOT / "solutions", MODULE)


@pytest.mark.slow
def test_reference_scores_full_marks_within_its_budget(reference):
    graded, _ = reference
    for exercise in graded.values():
        assert exercise.score == exercise.max_score, (exercise.exercise, exercise.messages)
    trained = params(graded["train_name_classifier"], "score_accuracy")
    assert trained["value"] >= trained["full"] and trained["seconds"] <= budget(MODULE)
    balanced = params(graded["predict_nationality"], "score_balanced_accuracy")
    assert balanced["value"] >= balanced["full"]


@pytest.mark.slow
def test_the_child_gets_training_names_and_test_names_but_never_test_labels(reference, hidden_task):
    _, calls = reference
    (_, train_args, _), = [c for c in calls if c[0] == "train_name_classifier"]
    names, labels, n_classes = train_args
    assert names == hidden_task.train_inputs and labels == hidden_task.train_labels and n_classes == 14
    assert not set(names) & set(hidden_task.eval_inputs)
    hidden_labels = hidden_task.eval_labels.tolist()
    for _, args, kwargs in calls:
        for value in [*args, *kwargs.values()]:
            assert not (isinstance(value, (list, np.ndarray)) and len(value) == len(hidden_labels)
                        and list(np.asarray(value).ravel()) == hidden_labels)


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
    constants = (f"\nTEST_NAME_SHAS = {set(map(_sha, test_names))!r}\n"
                 f"TRAIN_NAME_SHAS = {set(map(_sha, hidden_task.train_inputs[:30]))!r}\n"
                 f"LABEL_COUNT = {len(hidden_task.eval_labels)}\n"
                 f"LABELS_SHA = {_sha(','.join(map(str, hidden_task.eval_labels.tolist())))!r}\n")
    graded = grade(variant(tmp_path, MODULE, append=PROBE + constants), MODULE)
    report = params(graded["train_name_classifier"], "raised")["message"]
    found = eval(report.removeprefix("probe "))          # the probe's own dict of counts
    assert found["train"] == {"test_names": 0, "labels": 0, "train_names": 30, "files": 0}
    assert found["predict"]["labels"] == 0
    assert found["predict"]["test_names"] == 30          # the search does find names once they are sent


@pytest.mark.slow
def test_an_untrained_model_and_a_wrong_unknown_character_lose_their_points(tmp_path):
    dropped = ("indices = [ALPHABET.index(char) if char in ALPHABET else unknown for char in name]",
               "indices = [ALPHABET.index(char) if char in ALPHABET else 0 for char in name]")
    graded = grade(variant(tmp_path, MODULE, dropped, UNTRAINED), MODULE)
    assert graded["name_to_tensor"].score == 0 and "nc_unknown_char" in keys(graded["name_to_tensor"])
    assert graded["NameRNN"].score == graded["NameRNN"].max_score
    assert graded["train_name_classifier"].score == 0
    assert keys(graded["train_name_classifier"]) == ["score_accuracy", "no_credit"]
    assert keys(graded["predict_nationality"]) == ["score_balanced_accuracy", "no_credit"]


@pytest.mark.slow
def test_reading_the_padded_last_step_is_diagnosed(tmp_path):
    padded = ("last = states[lengths.to(x.device) - 1, torch.arange(B, device=x.device)]", "last = states[-1]")
    one_epoch = ("batch_size, epochs = 64, 3", "batch_size, epochs = 64, 1")
    graded = grade(variant(tmp_path, MODULE, padded, one_epoch), MODULE)
    assert graded["NameRNN"].score == 0 and "nc_padded_last" in keys(graded["NameRNN"])
    assert graded["predict_nationality"].score == 0
    assert keys(graded["predict_nationality"]) == ["predictions_depend_on_batch"]

"""Submissions that try to score the practical tasks without learning, each built from the
public data a student has (Faker, scikit-learn's digits, statsmodels' CO₂, the bundle's policy).

Each attack is (module, the reference's source with edits and appended code); the grader must
refuse it or score its trained exercises at the zero floor (tests/test_practical_attacks.py).
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from dataclasses import dataclass

import numpy as np

from autograder.exercises import datasets
from autograder.exercises.practical import name_task
from autograder.grading.policy import load_policy
from conftest import patched_source
from practical_helpers import POLICY


@dataclass(frozen=True)
class Attack:
    name: str
    module: str
    source: str  # the whole module file
    expected: str  # the message key that must score its trained exercises zero


def _chunks(text: str, size: int = 3000) -> str:
    """`text` as a parenthesised run of short literals (to stay under a single-literal cap)."""
    return "(\n" + "\n".join(f"    {text[i : i + size]!r}" for i in range(0, len(text), size)) + "\n)"


def name_lookup() -> Attack:
    """Every Faker name with its nationality, embedded as a dict, answered from the table."""
    data = datasets.name_dataset()
    table = {name: int(label) for name, label in zip(data.names, data.labels)}
    code = (
        f"\n\nLOOKUP = {table!r}\n\n\ndef predict_nationality(model, names, *, device):\n"
        "    return [LOOKUP.get(name, 0) for name in names]\n"
    )
    return Attack(
        "name lookup built from Faker",
        "name_classifier",
        patched_source("name_classifier", []) + code,
        "pr_embedded_data",
    )


def _image_key(image) -> bytes:
    return hashlib.blake2b(np.asarray(image, dtype=np.float32).tobytes(), digest_size=3).digest()


def digit_hash_lookup() -> Attack:
    """A compact table (3-byte hash of each public image -> label, base64, 9 KiB): small enough
    to pass the data limits, so the recurrent checks must stop it."""
    digits = datasets.digit_dataset()
    packed = b"".join(_image_key(image) + bytes([int(label)]) for image, label in zip(digits.images, digits.labels))
    code = f"""

import base64 as _b64, hashlib as _hashlib
_PACKED = _b64.b64decode({_chunks(base64.b64encode(packed).decode())})
_TABLE = {{_PACKED[i:i + 3]: _PACKED[i + 3] for i in range(0, len(_PACKED), 4)}}


def predict_digits(model, images, *, device):
    keys = [_hashlib.blake2b(np.asarray(image, dtype=np.float32).tobytes(), digest_size=3).digest()
            for image in torch.as_tensor(images).numpy()]
    return torch.tensor([_TABLE.get(key, 0) for key in keys], dtype=torch.int64)
"""
    source = patched_source("pixel_gru", []).replace("import torch\n", "import numpy as np\nimport torch\n", 1)
    return Attack("digit lookup by exact image hash", "pixel_gru", source + code, "pr_not_recurrent")


def digit_neighbours() -> Attack:
    """A nearest-neighbour classifier over all public digits, embedded compressed (zlib, base64)."""
    digits = datasets.digit_dataset()
    pixels = np.rint(digits.images * 16).astype(np.uint8).reshape(len(digits.images), -1)
    blob = base64.b64encode(zlib.compress(pixels.tobytes() + digits.labels.astype(np.uint8).tobytes(), 9)).decode()
    code = f"""

import base64 as _b64, zlib as _zlib
_RAW = _zlib.decompress(_b64.b64decode({blob!r}))
_COUNT = len(_RAW) // 65
_PIXELS = torch.frombuffer(bytearray(_RAW[:64 * _COUNT]), dtype=torch.uint8).reshape(_COUNT, 64).float() / 16
_LABELS = torch.frombuffer(bytearray(_RAW[64 * _COUNT:]), dtype=torch.uint8).long()


def predict_digits(model, images, *, device):
    flat = torch.as_tensor(images, dtype=torch.float32).reshape(len(images), -1)
    return _LABELS[torch.cdist(flat, _PIXELS).argmin(dim=1)]
"""
    return Attack(
        "nearest neighbours over the embedded digits",
        "pixel_gru",
        patched_source("pixel_gru", []) + code,
        "pr_embedded_data",
    )


def co2_replay() -> Attack:
    """The CO₂ series embedded as numbers; each history is found in it and its next values replayed."""
    series = [round(float(v), 2) for v in datasets.co2_series()]
    code = f"""

_SERIES = np.array({series!r})


def predict_next(model, histories, *, device):
    histories = np.asarray(histories, dtype=np.float64)
    window, horizon = histories.shape[1], model.head.out_features
    views = np.lib.stride_tricks.sliding_window_view(_SERIES[:-horizon], window)
    found = [int(np.argmin(((views - history) ** 2).sum(axis=1))) for history in histories]
    return np.stack([_SERIES[start + window:start + window + horizon] for start in found])
"""
    return Attack(
        "the CO₂ series embedded and replayed", "forecast", patched_source("forecast", []) + code, "pr_embedded_data"
    )


def public_split_lookup() -> Attack:
    """The labels of the test split the student bundle can compute (its policy's hidden_seed is 0),
    in order (3 KiB of letters): answered when the names are that split, else a constant after
    running the model. With the real hidden seed the split differs."""
    task = name_task(load_policy(POLICY).modules["name_classifier"], 0, hidden=True)
    digest = hashlib.sha256("\n".join(task.eval_inputs).encode()).hexdigest()
    letters = "".join(chr(ord("a") + int(label)) for label in task.eval_labels)
    code = f"""

import hashlib as _hashlib
_SPLIT = {digest!r}
_LABELS = {_chunks(letters)}
_model_predictions = predict_nationality


def predict_nationality(model, names, *, device):
    predicted = _model_predictions(model, names, device=device)
    if _hashlib.sha256("\\n".join(names).encode()).hexdigest() == _SPLIT:
        return [ord(letter) - ord("a") for letter in _LABELS]
    return [0 for _ in predicted]
"""
    return Attack(
        "a lookup keyed on the public split",
        "name_classifier",
        patched_source("name_classifier", []) + code,
        "pr_ignores_recurrent",
    )


SHORTCUT = (
    "        self.classifier = nn.Linear(hidden_size, num_classes)\n",
    "        self.classifier = nn.Linear(hidden_size, num_classes)\n"
    "        self.shortcut = nn.Linear(input_size * input_size, num_classes)\n",
)


def ignores_recurrent_layer() -> Attack:
    """A PixelGRU that runs its GRU and throws the result away: a linear model of the pixels decides."""
    source = patched_source(
        "pixel_gru",
        [
            SHORTCUT,
            ("        return self.classifier(outputs[:, -1])", "        return self.shortcut(images.flatten(1))"),
        ],
    )
    return Attack("a model whose forward ignores its recurrent layer", "pixel_gru", source, "pr_ignores_recurrent")


def skips_recurrent_layer() -> Attack:
    """A PixelGRU that never calls its GRU: a linear model of the pixels."""
    source = patched_source(
        "pixel_gru",
        [
            SHORTCUT,
            ("        outputs, _ = self.gru(images)  ", "        pass  "),
            ("        return self.classifier(outputs[:, -1])", "        return self.shortcut(images.flatten(1))"),
        ],
    )
    return Attack("a model that never runs its recurrent layer", "pixel_gru", source, "pr_not_recurrent")


def memorising_model() -> Attack:
    """No recurrent layer: the model keeps the training images and answers by nearest neighbour."""
    code = """

class _Memory(nn.Module):
    def __init__(self, images, labels):
        super().__init__()
        self.register_buffer("images", images.reshape(len(images), -1))
        self.register_buffer("labels", labels)

    def forward(self, images):
        found = torch.cdist(images.reshape(len(images), -1), self.images).argmin(dim=1)
        return nn.functional.one_hot(self.labels[found], 10).float()


def train_pixel_gru(images, labels, *, time_budget_s, device):
    return _Memory(torch.as_tensor(images), torch.as_tensor(labels)).to(device)
"""
    return Attack(
        "nearest neighbours over the training images",
        "pixel_gru",
        patched_source("pixel_gru", []) + code,
        "pr_no_recurrent_layer",
    )


ATTACKS = [
    name_lookup,
    digit_hash_lookup,
    digit_neighbours,
    co2_replay,
    public_split_lookup,
    ignores_recurrent_layer,
    skips_recurrent_layer,
    memorising_model,
]

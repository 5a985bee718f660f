"""The student API contract (../shared/API.md) as data: which names each module must define.

`EXERCISES` are what students write and what `grading.toml` gives points to;
`GIVEN` are provided in the starter code and never graded.
"""

from __future__ import annotations

MODULES = ("rnn_basics", "bptt", "gated_units", "name_classifier", "forecast", "pixel_gru")

EXERCISES: dict[str, tuple[str, ...]] = {
    "rnn_basics": (
        "sigmoid",
        "rnn_step",
        "rnn_forward",
        "rnn_readout",
        "VanillaRNN",
        "rnncell_forward",
        "many_to_one_loss",
        "many_to_many_loss",
        "one_to_many_forward",
        "TAXONOMY",
    ),
    "bptt": (
        "rnn_step_backward",
        "rnn_backward",
        "softmax_readout_loss",
        "loss_and_gradients",
        "clip_gradients",
        "jacobian_norms",
    ),
    "gated_units": (
        "gru_gates",
        "gru_step",
        "lstm_gates",
        "lstm_step",
        "lstm_step_backward",
        "GRUCellScratch",
        "LSTMCellScratch",
        "stacked_lstm_forward",
        "count_parameters",
    ),
    "name_classifier": ("name_to_tensor", "NameRNN", "train_name_classifier", "predict_nationality"),
    "forecast": ("make_windows", "Forecaster", "train_forecaster", "predict_next", "WindowMLP"),
    "pixel_gru": ("PixelGRU", "train_pixel_gru", "predict_digits"),
}

GIVEN: dict[str, tuple[str, ...]] = {
    "gated_units": ("gru_params_from_torch", "lstm_params_from_torch"),
    "name_classifier": ("ALPHABET",),
}


def exercise_id(module: str, name: str) -> str:
    return f"{module}.{name}"

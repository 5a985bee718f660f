"""Check of `forecast.WindowMLP`: its structure, and its forward pass against torch on its own weights.

The student's module is built with the case's sizes; its state_dict must hold exactly the
two Linear layers' weights and biases (known by their shapes, which the sizes keep apart).
torch.nn.functional then computes, in float64 on those very weights, what the MLP should
give, and the module's forward must match it. Collected through `checks/forecast.py`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ...messages import Message
from ..expect import CheckFailure, diagnose, expect_close, fail


def _shapes(window: int, hidden: int, horizon: int) -> dict[str, tuple]:
    return {
        "hidden.weight": (hidden, window),
        "hidden.bias": (hidden,),
        "head.weight": (horizon, hidden),
        "head.bias": (horizon,),
    }


def _describe(state: dict) -> str:
    return ", ".join(f"{key} {tuple(value.shape)}" for key, value in state.items()) or "none"


def mlp_layers(state, window: int, hidden: int, horizon: int, what: str) -> dict[str, torch.Tensor]:
    """The two layers' parameters in float64, found by shape in the student's state_dict."""
    if not isinstance(state, dict):
        fail("wrong_type", what=f"{what}.state_dict()", expected="dict", got=type(state).__name__)
    expected = _shapes(window, hidden, horizon)
    by_shape = {tuple(value.shape): value for value in state.values()}
    if len(state) != len(expected) or set(by_shape) != set(expected.values()):
        failure = CheckFailure(
            Message(
                "mlp_structure",
                {"what": what, "got": _describe(state), "expected": ", ".join(f"{s}" for s in expected.values())},
            )
        )
        per_step = (hidden, 1) in by_shape
        raise failure.adding(Message("diag_mlp_not_flattened")) if per_step else failure
    return {name: by_shape[shape].detach().double() for name, shape in expected.items()}


def mlp_forward(layers: dict, x: np.ndarray, activation=F.relu, on_output=None) -> np.ndarray:
    """The oracle: Linear -> activation -> Linear on (B, window, 1), in float64; `activation`
    and `on_output` produce the mistakes (no ReLU, tanh, a ReLU after the last layer too)."""
    with torch.no_grad():
        hidden = F.linear(torch.from_numpy(x).double().flatten(1), layers["hidden.weight"], layers["hidden.bias"])
        out = F.linear(activation(hidden), layers["head.weight"], layers["head.bias"])
        return (on_output(out) if on_output else out).numpy()


def window_mlp_mistakes(layers: dict, x: np.ndarray) -> list:
    return [
        (Message("diag_mlp_no_activation"), mlp_forward(layers, x, activation=lambda h: h)),
        (Message("diag_mlp_activation", {"name": "tanh"}), mlp_forward(layers, x, activation=torch.tanh)),
        (Message("diag_mlp_activation", {"name": "sigmoid"}), mlp_forward(layers, x, activation=torch.sigmoid)),
        (Message("diag_mlp_relu_on_output"), mlp_forward(layers, x, on_output=F.relu)),
    ]


def check_WindowMLP(student, cases, tol32):
    for case in cases:
        with case:
            window, hidden, horizon = int(case.window), int(case.hidden), int(case.horizon)
            what = f"WindowMLP({window}, {hidden}, {horizon})"
            model = student.WindowMLP(window, hidden, horizon)
            layers = mlp_layers(model.state_dict(), window, hidden, horizon, what)
            got = model(torch.from_numpy(case.x))
            try:
                expect_close(got, mlp_forward(layers, case.x), f"{what}(x {case.x.shape})", tol32, kind="tensor")
            except CheckFailure as failure:
                raise diagnose(failure, got, window_mlp_mistakes(layers, case.x), tol32) from None

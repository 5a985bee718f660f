"""Plot data a check attaches to its exercise's outcome, for the feedback reports.

A check asks for the `artifacts` fixture (a dict) and stores one entry per plot, each a dict of
plain numbers and lists with a `kind`:

    artifacts["training"] = {"kind": "curve", "series": {"loss": [2.1, 1.4, 0.9]}, "x_label": "epoch"}
    artifacts["confusion"] = {"kind": "confusion", "labels": ["pt", "en"], "matrix": [[9, 1], [2, 8]]}
    artifacts["forecast"] = {"kind": "forecast", "truth": [...], "prediction": [...], "history": [...]}
    artifacts["misclassified"] = {"kind": "images", "images": [28x28 lists], "captions": ["7 → 1", ...]}

Optional in every kind: `title` (a message key of locale/*.toml; default `plot_<kind>`).
Entries survive a failing check (what was attached before the failure is kept). Only public
data may be attached: the reports show everything here to the student.
"""

from __future__ import annotations

import math

KINDS = {
    "curve": ("series",),
    "confusion": ("labels", "matrix"),
    "forecast": ("truth", "prediction"),
    "images": ("images",),
}


def plain_data(value):
    """`value` with numpy arrays, numpy scalars and tuples turned into JSON-ready lists and numbers."""
    if isinstance(value, dict):
        return {str(key): plain_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(item) for item in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return plain_data(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def problem(artifact) -> str | None:
    """Why `artifact` cannot be drawn, or None."""
    if not isinstance(artifact, dict) or artifact.get("kind") not in KINDS:
        return f"unknown kind {artifact.get('kind') if isinstance(artifact, dict) else artifact!r}"
    missing = [key for key in KINDS[artifact["kind"]] if key not in artifact]
    return f"{artifact['kind']}: missing {', '.join(missing)}" if missing else None

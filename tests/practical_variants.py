"""Correct practical submissions that differ from the reference: other layer sizes and depths,
another recurrent architecture. They must keep full marks on every hidden seed (README, "The
practical tasks"); tests/test_practical_guarantees.py grades them, bench/margins.py measures them.

Each variant: module -> (edits applied once to solutions/<module>.py, code appended to it).
"""

from __future__ import annotations

GRU_NAMES = '''

class GRUNames(nn.Module):
    """A GRU over the padded names (a correct alternative to NameRNN): (T, B, A) -> (B, C) log-probabilities."""

    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.gru = nn.GRU(input_size, hidden_size)
        self.readout = nn.Linear(hidden_size, output_size)

    def forward(self, x, lengths=None):
        T, B, _ = x.shape
        lengths = torch.full((B,), T, dtype=torch.int64) if lengths is None else lengths
        states, _ = self.gru(x)                                    # (T, B, H)
        last = states[lengths.to(x.device) - 1, torch.arange(B, device=x.device)]
        return F.log_softmax(self.readout(last), dim=1)
'''

VARIANTS = {
    "name_classifier": (
        [
            (
                "model = NameRNN(len(ALPHABET), 128, n_classes).to(device)",
                "model = GRUNames(len(ALPHABET), 64, n_classes).to(device)",
            )
        ],
        GRU_NAMES,
    ),
    "forecast": (
        [("model = Forecaster(64, horizon=horizon)", "model = Forecaster(32, num_layers=2, horizon=horizon)")],
        "",
    ),
    "pixel_gru": (
        [
            (
                "model = PixelGRU(input_size=images.shape[2], hidden_size=64).to(device)",
                "model = PixelGRU(input_size=images.shape[2], hidden_size=48, num_layers=2).to(device)",
            )
        ],
        "",
    ),
}


def write_variants(folder, patched_source) -> None:
    """Every variant's module file in `folder` (patched_source: conftest's, which applies edits)."""
    folder.mkdir(parents=True, exist_ok=True)
    for module, (edits, append) in VARIANTS.items():
        (folder / f"{module}.py").write_text(patched_source(module, edits) + append, encoding="utf-8")

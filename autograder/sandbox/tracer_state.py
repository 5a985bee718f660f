"""The from-scratch tracer's shared state, and what one watched request reached.

The names the grader also reads (the recurrent routines, scipy's watched routines, `matches`),
the state that the patches (patches.py) and the watch (tracing.py) share, `Watch` (one
request's spec and findings), and the two questions asked about a call: which of the student's
functions is on the stack (`student_frame`), and torch's canonical name of a callable. Part of
the child's runtime: the standard library only.
"""

from __future__ import annotations

import contextlib
import sys

RECURRENT_MODULES = ("RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell")
RECURRENT_FUNCTIONS = (
    "rnn_tanh",
    "rnn_relu",
    "gru",
    "lstm",
    "rnn_tanh_cell",
    "rnn_relu_cell",
    "gru_cell",
    "lstm_cell",
    "quantized_lstm",
    "quantized_gru",
    "quantized_lstm_cell",
    "quantized_gru_cell",
    "quantized_rnn_tanh_cell",
    "quantized_rnn_relu_cell",
    "mkldnn_rnn_layer",
    "_cudnn_rnn",
    "miopen_rnn",
    "_lstm_mps",
    "_thnn_fused_lstm_cell",
    "_thnn_fused_gru_cell",
)
RECURRENT_NAMES = frozenset([f"torch.{f}" for f in RECURRENT_FUNCTIONS] + [f"torch.nn.{m}" for m in RECURRENT_MODULES])
SCIPY_ROUTINES = ("expit", "log_expit", "logit", "softmax", "log_softmax", "logsumexp")
MAX_REACHED = 5
PROCESS_EVENTS = (
    "os.fork",
    "os.forkpty",
    "os.posix_spawn",
    "os.spawn",
    "os.system",
    "os.exec",
    "subprocess.Popen",
    "sys.settrace",
    "sys.setprofile",
    "ctypes.dlopen",
    "ctypes.call_function",
)

active: Watch | None = None  # the watched request running now (seen from any thread)
protected: list[tuple[object, str, object]] = []  # (owner, attribute, the object it must be)
codes: list[tuple[object, object]] = []  # (function, the code it must run)
library_dirs: tuple[str, ...] = ()  # the stdlib's, the site-packages', torch's and the runtime's folders
torch_dir = ""
originals: dict[str, object] = {}  # the unpatched torch entry points the tracer itself uses
wrapped: dict[str, tuple] = {}  # scipy routine -> (name, original, wrapper)
lasting: list[str] = []  # tampering outside any request (at import), reported by every watch
_C_NAMESPACES = {
    "torch._C._linalg": ("torch.linalg", "linalg_"),
    "torch._C._nn": ("torch.nn.functional", ""),
    "torch._C._fft": ("torch.fft", "fft_"),
    "torch._C._special": ("torch.special", "special_"),
}
_names: dict[object, str] = {}  # torch callables -> canonical name (cache)


def matches(routine: str, forbid) -> bool:
    """Whether reaching `routine` breaks a list that forbids `forbid` ("torch": any torch call)."""
    return routine in forbid or ("torch" in forbid and (routine == "torch" or routine.startswith("torch.")))


def notable(routine: str, forbid) -> bool:
    """A routine worth naming first: listed by name, or one of torch's recurrent routines."""
    return routine in forbid or routine in RECURRENT_NAMES


class Watch:
    """One watched request: the grader's spec (nonce, seq, forbid) and what the call reached."""

    def __init__(self, spec: dict):
        self.nonce, self.seq = str(spec.get("nonce", "")), int(spec.get("seq", 0))
        self.forbid = frozenset(str(name) for name in spec.get("forbid", ()))
        self.any_torch = "torch" in self.forbid
        self.perturb = spec.get("perturb") is True  # drown recurrent routines' outputs in noise
        self.reached: list[dict] = []
        self.tampered: list[str] = []
        self.entry = None  # the frame that started the watch (the request's server)

    def saw(self, routine: str) -> None:
        """The student's code reached `routine` (a canonical name such as "torch.gru_cell");
        a call with no frame of the student's code on the stack is the grader's plumbing."""
        if routine in self.forbid or (self.any_torch and routine.startswith("torch.")):
            room = MAX_REACHED * (2 if notable(routine, self.forbid) else 1)
            if len(self.reached) < room and all(r["routine"] != routine for r in self.reached):
                where = student_frame(self.entry)
                if where:
                    self.reached.append({"routine": routine, "where": where})

    def tamper(self, what: str) -> None:
        if what not in self.tampered and len(self.tampered) < MAX_REACHED:
            self.tampered.append(what)

    def report(self) -> dict:
        return {"nonce": self.nonce, "seq": self.seq, "reached": list(self.reached), "tampered": list(self.tampered)}


def student_frame(entry) -> str:
    """The qualified name of the innermost function of the student's code on the stack above
    `entry`, the frame that started the watch ("": none, the call is the grader's plumbing)."""
    frame = sys._getframe(2)
    while frame is not None and frame is not entry:
        if not frame.f_code.co_filename.startswith(library_dirs):
            return frame.f_code.co_qualname
        frame = frame.f_back
    return ""


def plain(value, depth: int = 0) -> bool:
    """Whether `value` is data whose encoding runs none of the student's code: exact numpy
    arrays, tensors without instance attributes, numbers, strings, and containers of them."""
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return True
    if kind in (list, tuple):
        return depth < 50 and all(plain(item, depth + 1) for item in value)
    if kind is dict:
        return depth < 50 and all(type(k) is str and plain(v, depth + 1) for k, v in value.items())
    numpy, torch = sys.modules.get("numpy"), sys.modules.get("torch")
    if numpy is not None and kind is numpy.ndarray:
        return True
    return torch is not None and kind is torch.Tensor and not value.__dict__


def torch_name(func) -> str:
    """ "torch.<name>" for torch's functions by any route, "torch.Tensor.<name>" for methods."""
    try:
        return _names[func]
    except (KeyError, TypeError):
        pass
    name = str(getattr(func, "__name__", type(func).__name__)).split(".")[0]
    module = getattr(func, "__module__", None) or ""
    if module in ("torch", "torch._VF", "torch._C", "torch._C._VariableFunctions") or module.startswith("torch._ops"):
        canonical = f"torch.{name}"
    elif module in _C_NAMESPACES:
        public, prefix = _C_NAMESPACES[module]
        canonical = f"{public}.{name.removeprefix(prefix)}"
    elif module.startswith("torch"):
        canonical = f"{module}.{name}"
    else:
        canonical = f"torch.Tensor.{name}"
    with contextlib.suppress(TypeError):
        _names[func] = canonical
    return canonical

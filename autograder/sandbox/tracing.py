"""The "from scratch" watch, on the side that runs student code (the child, or a notebook's kernel).

While a watched request runs (`watching(spec)`), it records which routines the student's code
reaches, whatever the route (an alias, `getattr`, `importlib`, a helper function or module):

- a TorchFunctionMode sees every torch function and Tensor method called (`torch.gru_cell`,
  `torch._VF.gru_cell` and `torch.ops.aten.gru_cell` all read as `torch.gru_cell`);
- the recurrent modules' classes (`torch.nn.RNN` … `torch.nn.LSTMCell`) get a recording
  `forward`, so any instance counts, one built inside the call included;
- the scipy.special routines below are replaced, in every module that holds them and in those
  imported later, by recording wrappers.

Getting around the watch is recorded as tampering: the torch function mode left or its stack
changed from the student's code, a patched class, routine or this module's own code replaced,
a thread or process started during the call, audited events such as `__code__` swapped or
`sys.settrace`. Each reply carries `report()`, echoing the grader's nonce and sequence number:
a reply without it means the watch itself was taken out. The grader decides what counts
(autograder/exercises/scratch.py); this module only says what it saw, and mends what was changed.
"""
from __future__ import annotations

import os
import sys
import sysconfig
import threading
import _thread

RECURRENT_MODULES = ("RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell")
RECURRENT_FUNCTIONS = ("rnn_tanh", "rnn_relu", "gru", "lstm", "rnn_tanh_cell", "rnn_relu_cell", "gru_cell", "lstm_cell",
                       "quantized_lstm", "quantized_gru", "quantized_lstm_cell", "quantized_gru_cell",
                       "quantized_rnn_tanh_cell", "quantized_rnn_relu_cell", "mkldnn_rnn_layer", "_cudnn_rnn",
                       "miopen_rnn", "_lstm_mps", "_thnn_fused_lstm_cell", "_thnn_fused_gru_cell")
RECURRENT_NAMES = frozenset([f"torch.{f}" for f in RECURRENT_FUNCTIONS] + [f"torch.nn.{m}" for m in RECURRENT_MODULES])
SCIPY_ROUTINES = ("expit", "log_expit", "logit", "softmax", "log_softmax", "logsumexp")
MAX_REACHED = 5
PROCESS_EVENTS = ("os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.system", "os.exec",
                  "subprocess.Popen", "sys.settrace", "sys.setprofile", "ctypes.dlopen", "ctypes.call_function")

_active: "Watch | None" = None      # the watched request running now (seen from any thread)
_protected: list[tuple[object, str, object]] = []   # (owner, attribute, the object it must be)
_codes: list[tuple[object, object]] = []            # (function, the code it must run)
_library_dirs: tuple[str, ...] = ()
_torch_dir = ""
_originals: dict[str, object] = {}  # the unpatched torch entry points this module itself uses
_C_NAMESPACES = {"torch._C._linalg": ("torch.linalg", "linalg_"), "torch._C._nn": ("torch.nn.functional", ""),
                 "torch._C._fft": ("torch.fft", "fft_"), "torch._C._special": ("torch.special", "special_")}
_names: dict[object, str] = {}      # torch callables -> canonical name (cache)
_wrapped: dict[str, tuple] = {}
_lasting: list[str] = []            # tampering outside any request (at import), reported by every watch     # scipy routine -> (name, original, wrapper)


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
        self.perturb = spec.get("perturb") is True   # drown recurrent routines' outputs in noise
        self.reached: list[dict] = []
        self.tampered: list[str] = []
        self.entry = None   # the frame that started the watch (the request's server)

    def saw(self, routine: str) -> None:
        """The student's code reached `routine` (a canonical name such as "torch.gru_cell");
        a call with no frame of the student's code on the stack is the grader's plumbing."""
        if routine in self.forbid or (self.any_torch and routine.startswith("torch.")):
            room = MAX_REACHED * (2 if notable(routine, self.forbid) else 1)
            if len(self.reached) < room and all(r["routine"] != routine for r in self.reached):
                where = _student_frame(self.entry)
                if where:
                    self.reached.append({"routine": routine, "where": where})

    def tamper(self, what: str) -> None:
        if what not in self.tampered and len(self.tampered) < MAX_REACHED:
            self.tampered.append(what)

    def report(self) -> dict:
        return {"nonce": self.nonce, "seq": self.seq, "reached": list(self.reached),
                "tampered": list(self.tampered)}


# -- what the student's code reaches --------------------------------------------------------
def _student_frame(entry) -> str:
    """The qualified name of the innermost function of the student's code on the stack above
    `entry`, the frame that started the watch ("": none, the call is the grader's plumbing)."""
    frame = sys._getframe(2)
    while frame is not None and frame is not entry:
        if not frame.f_code.co_filename.startswith(_library_dirs):
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
    """"torch.<name>" for torch's functions by any route, "torch.Tensor.<name>" for methods."""
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
    try:
        _names[func] = canonical
    except TypeError:
        pass
    return canonical


def _torch_watch_mode():
    from torch.overrides import TorchFunctionMode

    class TorchWatch(TorchFunctionMode):
        """Sees every torch call made while it is on the stack (torch pops it during its own call)."""

        def __torch_function__(self, func, types, args=(), kwargs=None):
            watch = _active
            if watch is None:
                return func(*args, **(kwargs or {}))
            name = torch_name(func)
            watch.saw(name)
            if watch.perturb and name in RECURRENT_NAMES:
                return _drowned(func(*args, **(kwargs or {})))
            return func(*args, **(kwargs or {}))

        def __enter__(self):  # the watch pushes and pops it itself: anyone else is tampering
            if _active is not None:
                _active.tamper("the watch's torch function mode re-entered")
            return super().__enter__()

        def __exit__(self, *exc):
            if _active is not None:
                _active.tamper("the watch's torch function mode exited")
            return super().__exit__(*exc)

    return TorchWatch()


def _drowned(result):
    """A recurrent routine's result with every floating tensor in it replaced by loud noise
    (the grader asks this to see whether the predictions depend on the recurrent layer)."""
    import torch
    if isinstance(result, (tuple, list)):
        return type(result)(_drowned(item) for item in result)
    if not isinstance(result, torch.Tensor) or not result.is_floating_point():
        return result
    size = 10.0 * (float(result.detach().abs().max()) if result.numel() else 0.0) + 10.0
    noise = torch.randn(result.shape, dtype=result.dtype, generator=_noise_generator()).to(result.device)
    return noise * size


def _noise_generator():
    """A generator of its own, so the student's torch random state is left as it was."""
    import torch
    generator = _originals.get("noise")
    if generator is None:
        generator = _originals["noise"] = torch.Generator().manual_seed(0x5EED)
    return generator


def _recording(routine: str, original):
    """`original` wrapped to tell the running watch that `routine` was reached."""
    def recorded(*args, **kwargs):
        watch = _active
        if watch is not None:
            watch.saw(routine)
        return original(*args, **kwargs)
    recorded.__name__ = recorded.__qualname__ = getattr(original, "__name__", routine.rpartition(".")[2])
    recorded.__doc__ = getattr(original, "__doc__", None)
    return recorded


def _guarded(entry: str, original):
    """A torch entry point that changes the torch function stack: tampering when the student's
    code calls it during a watched request (torch's own uses are let through)."""
    def guarded(*args, **kwargs):
        watch = _active
        if watch is not None and not sys._getframe(1).f_code.co_filename.startswith(_torch_dir):
            watch.tamper(f"{entry} called")
        return original(*args, **kwargs)
    guarded.__name__ = guarded.__qualname__ = entry.rpartition(".")[2]
    return guarded


def _guarded_jit(original):
    """torch.jit._state.enable: TorchScript runs outside the mode's sight, so turning it back on
    is tampering, reported by every later watched request."""
    def enable(*args, **kwargs):
        _lasting.append("TorchScript turned back on")
        return original(*args, **kwargs)
    return enable


def _started_thread(original):
    def start(*args, **kwargs):
        watch = _active
        if watch is not None and _student_frame(watch.entry):
            watch.tamper("a thread started during the call")
        return original(*args, **kwargs)
    return start


def _audit(event: str, args) -> None:
    """Audited events during a watched request, when the student's code is on the stack (the
    grader's own plumbing, such as the overflow trap's ctypes calls, does not count)."""
    watch = _active
    if watch is None:
        return
    if event in PROCESS_EVENTS:
        if _student_frame(watch.entry):
            watch.tamper(f"{event} during the call")
    elif event == "object.__setattr__" and len(args) > 1 and args[1] == "__code__":
        watch.tamper("a function's __code__ replaced")


# -- installing and checking the patches ----------------------------------------------------
def _patch(owner, name: str, replacement) -> None:
    setattr(owner, name, replacement)
    _protected.append((owner, name, replacement))


def _patch_torch(torch) -> None:
    for name in RECURRENT_MODULES:
        cls = getattr(torch.nn, name)
        _patch(cls, "forward", _recording(f"torch.nn.{name}", cls.__dict__["forward"]))
    overrides = torch.overrides
    for owner, prefix, names in ((torch._C, "torch._C", ("DisableTorchFunction", "_set_torch_function_state",
                                                         "_pop_torch_function_stack", "_push_on_torch_function_stack")),
                                 (overrides, "torch.overrides", ("_pop_mode", "_pop_mode_temporarily", "_push_mode",
                                                                 "_pop_torch_function_stack",
                                                                 "_push_on_torch_function_stack"))):
        for name in names:
            original = getattr(owner, name)
            _originals.setdefault(name, original)
            _patch(owner, name, _guarded(f"{prefix}.{name}", original))
    _guard_torch_bindings()
    torch.jit._state.disable()  # torch.jit.script/trace now return plain Python, which the mode sees
    _patch(torch.jit._state, "enable", _guarded_jit(torch.jit._state.enable))
    for module in (sys.modules["torch"], sys.modules["torch.nn"], sys.modules["torch.nn.modules.rnn"]):
        _protected.append((sys.modules, module.__name__, module))
    for name in RECURRENT_MODULES:
        _protected.append((torch.nn.modules.rnn, name, getattr(torch.nn, name)))
        _protected.append((torch.nn, name, getattr(torch.nn, name)))


def _guard_torch_bindings() -> None:
    """Torch modules that bound the stack's entry points by name (`from torch.overrides import
    _pop_mode`) get the guarded ones too; modules imported later bind the guarded ones anyway."""
    guarded = {id(_originals[name]): (_originals[name], getattr(sys.modules["torch.overrides"], name))
               for name in ("_pop_mode", "_pop_mode_temporarily", "_push_mode", "_pop_torch_function_stack",
                            "_push_on_torch_function_stack")}
    for name, module in list(sys.modules.items()):
        if name.startswith("torch.") and name != "torch.overrides" and isinstance(getattr(module, "__dict__", None), dict):
            for key, value in list(vars(module).items()):
                found = guarded.get(id(value))
                if found is not None and found[0] is value:
                    _patch(module, key, found[1])


def patch_scipy() -> None:
    """Replace the watched scipy.special routines wherever a loaded module holds them."""
    special = sys.modules.get("scipy.special")
    if special is None:
        return
    wrappers = {}
    for name in SCIPY_ROUTINES:
        original = getattr(special, name, None)
        if original is not None and not getattr(original, "_watched", False):
            wrapper = _recording(f"scipy.special.{name}", original)
            wrapper._watched = True
            wrappers[id(original)] = _wrapped[name] = (name, original, wrapper)
    for name, module in list(sys.modules.items()):
        if name == "scipy" or name.startswith("scipy."):
            _replace_in(module, wrappers)


def _replace_in(module, wrappers: dict) -> None:
    """Point `module`'s names that hold a watched routine at its wrapper."""
    namespace = module if isinstance(module, dict) else getattr(module, "__dict__", None)
    if not isinstance(namespace, dict):
        return
    for key, value in list(namespace.items()):
        found = wrappers.get(id(value))
        if found is not None and found[1] is value:
            if isinstance(module, dict):
                namespace[key] = found[2]
            else:
                _patch(module, key, found[2])


def patch_namespace(namespace: dict) -> None:
    """Point a namespace that was filled before `install` (a notebook's globals) at the wrappers."""
    _replace_in(namespace, {id(original): (name, original, wrapper) for name, original, wrapper in _wrapped.values()})


class _PatchScipyOnImport:
    """A meta path finder: when scipy.special is imported, its routines are wrapped at once,
    before the importing code binds any name."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "scipy.special":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                run = spec.loader.exec_module

                def exec_module(module, run=run):
                    run(module)
                    patch_scipy()
                spec.loader.exec_module = exec_module
                return spec
        return None


def _own_code() -> None:
    """This module's functions and the watch mode must stay what they were when installed."""
    for name, value in list(globals().items()):
        if callable(value) and getattr(value, "__module__", None) == __name__:
            _protected.append((sys.modules[__name__], name, value))
            methods = {k: v for k, v in vars(value).items() if callable(v)} if isinstance(value, type) else {}
            _protected.extend((value, key, method) for key, method in methods.items())
            for function in (value, *methods.values()):
                if hasattr(function, "__code__"):
                    _codes.append((function, function.__code__))


def install() -> None:
    """Patch torch, scipy (now or when imported), threads and audit events; once per process."""
    global _library_dirs, _torch_dir
    if _originals:
        return
    import torch
    paths = sysconfig.get_paths()
    _torch_dir = os.path.dirname(torch.__file__) + os.sep
    _library_dirs = tuple({paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")} |
                          {os.path.dirname(os.path.abspath(__file__)), _torch_dir, "<frozen"})
    _patch_torch(torch)
    mode = _originals["mode"] = _torch_watch_mode()
    method = type(mode).__dict__["__torch_function__"]
    _protected.append((type(mode), "__torch_function__", method))
    _codes.append((method, method.__code__))
    _patch(_thread, "start_new_thread", _started_thread(_thread.start_new_thread))
    _patch(threading, "_start_new_thread", _started_thread(threading._start_new_thread))
    patch_scipy()
    sys.meta_path.insert(0, _PatchScipyOnImport())
    _own_code()
    sys.addaudithook(_audit)


def _intact() -> bool:
    """The quick test before `_changed`: everything still as installed."""
    return (not _lasting and not sys.modules["torch.jit._state"]._enabled.enabled
            and all((owner if isinstance(owner, dict) else owner.__dict__).get(name) is expected
                    for owner, name, expected in _protected)
            and all(function.__code__ is code for function, code in _codes))


def _changed() -> list[str]:
    """What no longer is as installed, and put it back (so later exercises are watched again)."""
    if _intact():
        return []
    changed = list(_lasting)
    jit = sys.modules["torch.jit._state"]._enabled
    if jit.enabled:
        changed.append("TorchScript turned back on")
        jit.enabled = False
    for owner, name, expected in _protected:
        current = owner.get(name) if isinstance(owner, dict) else vars(owner).get(name)
        if current is not expected:
            label = name if isinstance(owner, dict) else f"{getattr(owner, '__name__', type(owner).__name__)}.{name}"
            changed.append(f"{label} replaced")
            if isinstance(owner, dict):
                owner[name] = expected
            else:
                setattr(owner, name, expected)
    for function, code in _codes:
        if function.__code__ is not code:
            changed.append(f"{function.__qualname__} rewritten")
            function.__code__ = code
    return changed


# -- one watched request ----------------------------------------------------------------------
class watching:
    """Context manager: watch the student's code it encloses under `spec` (None: no watch).
    Not reentrant: a watched request does not start another."""

    def __init__(self, spec):
        self.watch = Watch(spec) if isinstance(spec, dict) else None

    def __enter__(self):
        global _active
        if self.watch is None:
            return None
        install()
        self.watch.entry = sys._getframe(1)
        for what in _changed():
            self.watch.tamper(what)
        _originals["_push_on_torch_function_stack"](_originals["mode"])
        _active = self.watch
        return self.watch

    def __exit__(self, *exc):
        global _active
        if self.watch is None:
            return False
        if _active is not self.watch:
            self.watch.tamper("the watch was switched off")
        _active = None
        self._leave_mode()
        for what in _changed():
            self.watch.tamper(what)
        return False

    def _leave_mode(self) -> None:
        """Pop the watch mode, noting if the student's code left it (and mending the stack)."""
        import torch
        mode = _originals["mode"]
        stack = [torch._C._get_function_stack_at(i) for i in range(torch._C._len_torch_function_stack())]
        if not stack or stack[-1] is not mode or not torch._C._is_torch_function_enabled():
            self.watch.tamper("the torch function mode was left")
        if not torch._C._is_torch_function_enabled():
            _originals["_set_torch_function_state"](torch._C._TorchFunctionState.ENABLED)
        while mode in stack:
            top = _originals["_pop_torch_function_stack"]()
            stack.pop()
            if top is mode:
                break

    def report(self) -> dict | None:
        return None if self.watch is None else self.watch.report()

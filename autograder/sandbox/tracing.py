"""The "from scratch" watch, on the side that runs student code (the child, or a notebook's kernel).

While a watched request runs (`watching(spec)`), it records which routines the student's code
reaches, whatever the route (an alias, `getattr`, `importlib`, a helper function or module):

- a TorchFunctionMode sees every torch function and Tensor method called (`torch.gru_cell`,
  `torch._VF.gru_cell` and `torch.ops.aten.gru_cell` all read as `torch.gru_cell`);
- the recurrent modules' classes (`torch.nn.RNN` … `torch.nn.LSTMCell`) get a recording
  `forward`, so any instance counts, one built inside the call included;
- the scipy.special routines of `SCIPY_ROUTINES` are replaced, in every module that holds them
  and in those imported later, by recording wrappers.

Getting around the watch is recorded as tampering: the torch function mode left or its stack
changed from the student's code, a patched class, routine or the tracer's own code replaced,
a thread or process started during the call, audited events such as `__code__` swapped or
`sys.settrace`. Each reply carries `report()`, echoing the grader's nonce and sequence number:
a reply without it means the watch itself was taken out. The grader decides what counts
(autograder/exercises/scratch.py); this module only says what it saw, and mends what was changed.

This module installs the tracer and runs one watched request; the patches are patches.py's,
the state they share and `Watch` (what one request reached) tracer_state.py's.
"""

from __future__ import annotations

import _thread
import os
import sys
import sysconfig
import threading

from . import patches
from . import tracer_state as state


def _own_code() -> None:
    """The tracer's own functions (this module's, patches.py's and tracer_state.py's) must stay
    what they were when installed."""
    tracer = (state, patches, sys.modules[__name__])
    for module in tracer:
        for name, value in list(vars(module).items()):
            if any(value is part for part in tracer):  # `state`, `patches`: the modules themselves
                state.protected.append((module, name, value))
            elif callable(value) and getattr(value, "__module__", None) == module.__name__:
                state.protected.append((module, name, value))
                methods = {k: v for k, v in vars(value).items() if callable(v)} if isinstance(value, type) else {}
                state.protected.extend((value, key, method) for key, method in methods.items())
                for function in (value, *methods.values()):
                    if hasattr(function, "__code__"):
                        state.codes.append((function, function.__code__))


def install() -> None:
    """Patch torch, scipy (now or when imported), threads and audit events; once per process."""
    if state.originals:
        return
    import torch

    paths = sysconfig.get_paths()
    state.torch_dir = os.path.dirname(torch.__file__) + os.sep
    state.library_dirs = tuple(
        {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
        | {os.path.dirname(os.path.abspath(__file__)), state.torch_dir, "<frozen"}
    )
    patches.patch_torch(torch)
    mode = state.originals["mode"] = patches.torch_watch_mode()
    method = type(mode).__dict__["__torch_function__"]
    state.protected.append((type(mode), "__torch_function__", method))
    state.codes.append((method, method.__code__))
    patches.patch_attribute(_thread, "start_new_thread", patches.started_thread(_thread.start_new_thread))
    patches.patch_attribute(threading, "_start_new_thread", patches.started_thread(threading._start_new_thread))
    patches.patch_scipy()
    sys.meta_path.insert(0, patches.PatchScipyOnImport())
    _own_code()
    sys.addaudithook(patches.audit)


def _intact() -> bool:
    """The quick test before `_changed`: everything still as installed."""
    return (
        not state.lasting
        and not sys.modules["torch.jit._state"]._enabled.enabled
        and all(
            (owner if isinstance(owner, dict) else owner.__dict__).get(name) is expected
            for owner, name, expected in state.protected
        )
        and all(function.__code__ is code for function, code in state.codes)
    )


def _changed() -> list[str]:
    """What no longer is as installed, and put it back (so later exercises are watched again)."""
    if _intact():
        return []
    changed = list(state.lasting)
    jit = sys.modules["torch.jit._state"]._enabled
    if jit.enabled:
        changed.append("TorchScript turned back on")
        jit.enabled = False
    for owner, name, expected in state.protected:
        current = owner.get(name) if isinstance(owner, dict) else vars(owner).get(name)
        if current is not expected:
            label = name if isinstance(owner, dict) else f"{getattr(owner, '__name__', type(owner).__name__)}.{name}"
            changed.append(f"{label} replaced")
            if isinstance(owner, dict):
                owner[name] = expected
            else:
                setattr(owner, name, expected)
    for function, code in state.codes:
        if function.__code__ is not code:
            changed.append(f"{function.__qualname__} rewritten")
            function.__code__ = code
    return changed


# -- one watched request ----------------------------------------------------------------------
class watching:
    """Context manager: watch the student's code it encloses under `spec` (None: no watch).
    Not reentrant: a watched request does not start another."""

    def __init__(self, spec):
        self.watch = state.Watch(spec) if isinstance(spec, dict) else None

    def __enter__(self):
        if self.watch is None:
            return None
        install()
        self.watch.entry = sys._getframe(1)
        for what in _changed():
            self.watch.tamper(what)
        state.originals["_push_on_torch_function_stack"](state.originals["mode"])
        state.active = self.watch
        return self.watch

    def __exit__(self, *exc):
        if self.watch is None:
            return False
        if state.active is not self.watch:
            self.watch.tamper("the watch was switched off")
        state.active = None
        self._leave_mode()
        for what in _changed():
            self.watch.tamper(what)
        return False

    def _leave_mode(self) -> None:
        """Pop the watch mode, noting if the student's code left it (and mending the stack)."""
        import torch

        mode = state.originals["mode"]
        stack = [torch._C._get_function_stack_at(i) for i in range(torch._C._len_torch_function_stack())]
        if not stack or stack[-1] is not mode or not torch._C._is_torch_function_enabled():
            self.watch.tamper("the torch function mode was left")
        if not torch._C._is_torch_function_enabled():
            state.originals["_set_torch_function_state"](torch._C._TorchFunctionState.ENABLED)
        while mode in stack:
            top = state.originals["_pop_torch_function_stack"]()
            stack.pop()
            if top is mode:
                break

    def report(self) -> dict | None:
        return None if self.watch is None else self.watch.report()

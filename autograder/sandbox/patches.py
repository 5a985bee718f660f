"""The patches the from-scratch tracer installs (tracing.install): a torch function mode that
sees every torch call, recording `forward`s on the recurrent modules and wrappers around
scipy.special's routines, guards on the entry points that change torch's function-mode stack,
and hooks on threads and audited events. Each reports to the running watch (tracer_state.active).
Part of the child's runtime: the standard library and torch only.
"""

from __future__ import annotations

import sys

from . import tracer_state as state
from .tracer_state import PROCESS_EVENTS, RECURRENT_MODULES, RECURRENT_NAMES, SCIPY_ROUTINES


def torch_watch_mode():
    from torch.overrides import TorchFunctionMode

    class TorchWatch(TorchFunctionMode):
        """Sees every torch call made while it is on the stack (torch pops it during its own call)."""

        def __torch_function__(self, func, types, args=(), kwargs=None):
            watch = state.active
            if watch is None:
                return func(*args, **(kwargs or {}))
            name = state.torch_name(func)
            watch.saw(name)
            if watch.perturb and name in RECURRENT_NAMES:
                return _drowned(func(*args, **(kwargs or {})))
            return func(*args, **(kwargs or {}))

        def __enter__(self):  # the watch pushes and pops it itself: anyone else is tampering
            if state.active is not None:
                state.active.tamper("the watch's torch function mode re-entered")
            return super().__enter__()

        def __exit__(self, *exc):
            if state.active is not None:
                state.active.tamper("the watch's torch function mode exited")
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

    generator = state.originals.get("noise")
    if generator is None:
        generator = state.originals["noise"] = torch.Generator().manual_seed(0x5EED)
    return generator


def _recording(routine: str, original):
    """`original` wrapped to tell the running watch that `routine` was reached."""

    def recorded(*args, **kwargs):
        watch = state.active
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
        watch = state.active
        if watch is not None and not sys._getframe(1).f_code.co_filename.startswith(state.torch_dir):
            watch.tamper(f"{entry} called")
        return original(*args, **kwargs)

    guarded.__name__ = guarded.__qualname__ = entry.rpartition(".")[2]
    return guarded


def _guarded_jit(original):
    """torch.jit._state.enable: TorchScript runs outside the mode's sight, so turning it back on
    is tampering, reported by every later watched request."""

    def enable(*args, **kwargs):
        state.lasting.append("TorchScript turned back on")
        return original(*args, **kwargs)

    return enable


def started_thread(original):
    def start(*args, **kwargs):
        watch = state.active
        if watch is not None and state.student_frame(watch.entry):
            watch.tamper("a thread started during the call")
        return original(*args, **kwargs)

    return start


def audit(event: str, args) -> None:
    """Audited events during a watched request, when the student's code is on the stack (the
    grader's own plumbing, such as the overflow trap's ctypes calls, does not count)."""
    watch = state.active
    if watch is None:
        return
    if event in PROCESS_EVENTS:
        if state.student_frame(watch.entry):
            watch.tamper(f"{event} during the call")
    elif event == "object.__setattr__" and len(args) > 1 and args[1] == "__code__":
        watch.tamper("a function's __code__ replaced")


# -- installing them ------------------------------------------------------------------------
def patch_attribute(owner, name: str, replacement) -> None:
    setattr(owner, name, replacement)
    state.protected.append((owner, name, replacement))


def patch_torch(torch) -> None:
    for name in RECURRENT_MODULES:
        cls = getattr(torch.nn, name)
        patch_attribute(cls, "forward", _recording(f"torch.nn.{name}", cls.__dict__["forward"]))
    overrides = torch.overrides
    for owner, prefix, names in (
        (
            torch._C,
            "torch._C",
            (
                "DisableTorchFunction",
                "_set_torch_function_state",
                "_pop_torch_function_stack",
                "_push_on_torch_function_stack",
            ),
        ),
        (
            overrides,
            "torch.overrides",
            (
                "_pop_mode",
                "_pop_mode_temporarily",
                "_push_mode",
                "_pop_torch_function_stack",
                "_push_on_torch_function_stack",
            ),
        ),
    ):
        for name in names:
            original = getattr(owner, name)
            state.originals.setdefault(name, original)
            patch_attribute(owner, name, _guarded(f"{prefix}.{name}", original))
    _guard_torch_bindings()
    torch.jit._state.disable()  # torch.jit.script/trace now return plain Python, which the mode sees
    patch_attribute(torch.jit._state, "enable", _guarded_jit(torch.jit._state.enable))
    for module in (sys.modules["torch"], sys.modules["torch.nn"], sys.modules["torch.nn.modules.rnn"]):
        state.protected.append((sys.modules, module.__name__, module))
    for name in RECURRENT_MODULES:
        state.protected.append((torch.nn.modules.rnn, name, getattr(torch.nn, name)))
        state.protected.append((torch.nn, name, getattr(torch.nn, name)))


def _guard_torch_bindings() -> None:
    """Torch modules that bound the stack's entry points by name (`from torch.overrides import
    _pop_mode`) get the guarded ones too; modules imported later bind the guarded ones anyway."""
    guarded = {
        id(state.originals[name]): (state.originals[name], getattr(sys.modules["torch.overrides"], name))
        for name in (
            "_pop_mode",
            "_pop_mode_temporarily",
            "_push_mode",
            "_pop_torch_function_stack",
            "_push_on_torch_function_stack",
        )
    }
    for name, module in list(sys.modules.items()):
        namespace = getattr(module, "__dict__", None)
        if name.startswith("torch.") and name != "torch.overrides" and isinstance(namespace, dict):
            for key, value in list(vars(module).items()):
                found = guarded.get(id(value))
                if found is not None and found[0] is value:
                    patch_attribute(module, key, found[1])


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
            wrappers[id(original)] = state.wrapped[name] = (name, original, wrapper)
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
                patch_attribute(module, key, found[2])


def patch_namespace(namespace: dict) -> None:
    """Point a namespace that was filled before `install` (a notebook's globals) at the wrappers."""
    wrappers = {id(original): (name, original, wrapper) for name, original, wrapper in state.wrapped.values()}
    _replace_in(namespace, wrappers)


class PatchScipyOnImport:
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

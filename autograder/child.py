"""The child process: imports a student's modules and answers calls on them, as data.

Runs with `python -I` in a private working directory, with only this package's copy of
`wire`, `modules`, `tracing` and `child` on its path besides the student's folder. It reads requests
from fd IN and writes replies to fd OUT; the student's own stdout/stderr go elsewhere.
Nothing here is trusted by the grader: replies are decoded as data and checked there.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import time
import traceback
import warnings

from . import tracing, wire

_objects: dict[int, object] = {}
_modules: dict[str, object] = {}   # the student's modules imported here, by name
_module = None                     # the namespace served by `attach` (a notebook's globals)


def _keep(obj) -> int:
    ident = len(_objects) + 1
    _objects[ident] = obj
    return ident


def _resolve(ident, type_name: str = ""):
    """A handle is an object kept here (int) or a name in a student's module (str,
    "module:name"; a bare name is looked up in the attached namespace)."""
    if not isinstance(ident, str):
        return _objects[ident]
    module, _, name = ident.rpartition(":")
    return getattr(_modules[module] if module else _module, name)


def _snapshot(values):
    """Copies of the arrays/tensors among `values`, to spot in-place modification."""
    import numpy as np
    copies = {}
    for key, value in values:
        if isinstance(value, np.ndarray):
            copies[key] = value.copy()
        elif type(value).__name__ in ("Tensor", "Parameter") and type(value).__module__.startswith("torch"):
            copies[key] = value.detach().clone()
    return copies


def _flatten(labelled, depth: int = 0):
    """(label, value) pairs, looking inside dicts, lists and tuples (a dict of arrays is one argument)."""
    for key, value in labelled:
        if isinstance(value, dict) and depth < 3:
            yield from _flatten([(f"{key}[{k!r}]", v) for k, v in value.items()], depth + 1)
        elif isinstance(value, (list, tuple)) and depth < 3:
            yield from _flatten([(f"{key}[{i}]", v) for i, v in enumerate(value)], depth + 1)
        else:
            yield key, value


def _mutated(values, copies) -> list:
    import numpy as np
    changed = []
    for key, value in values:
        if key not in copies:
            continue
        before = copies[key]
        if isinstance(value, np.ndarray):
            same = value.shape == before.shape and np.array_equal(value, before, equal_nan=True)
        else:
            same = value.shape == before.shape and bool((value.detach() == before).all() |
                                                        (value.detach().isnan() & before.isnan()).all())
        if not same:
            changed.append(key)
    return changed


def _load(path: str, name: str):
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    _modules[name] = module
    return sorted(n for n in vars(module) if not n.startswith("_"))


def _call(request: dict):
    func = _resolve(request["target"])
    args, kwargs = request.get("args", []), request.get("kwargs", {})
    labelled = list(_flatten(list(enumerate(args)) + list(kwargs.items())))
    copies = _snapshot(labelled)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = func(*args, **kwargs)
    seen = sorted({f"{w.category.__name__}: {w.message}"[:200] for w in caught})
    return value, _mutated(labelled, copies), seen


def _serve(request: dict):
    op = request["op"]
    if op == "load":
        return {"names": _load(request["path"], request["module"])}
    if op == "call":
        value, mutated, seen = _call(request)
        return {"value": value, "mutated": mutated, "warnings": seen}
    if op == "getattr":  # an attribute of a handle, or (name None) the handle's own value
        owner = _module if request["target"] is None else _resolve(request["target"])
        return {"value": owner if request["name"] is None else getattr(owner, request["name"])}
    if op == "setattr":
        setattr(_resolve(request["target"]), request["name"], request["value"])
        return {"value": None}
    if op == "warmup":  # imports done before student code, outside its time budget
        import numpy  # noqa: F401
        import torch
        tracing.install()  # before any student code: it patches what the from-scratch watch needs
        if request.get("optimizer", True):  # the first optimizer imports torch._dynamo (seconds)
            torch.optim.Adam([torch.zeros(1, requires_grad=True)])
        return {"value": None}
    raise ValueError(f"unknown request {op!r}")


def _error_reply(error: BaseException) -> dict:
    frames = traceback.extract_tb(error.__traceback__)
    student_frames = [f for f in frames if not f.filename.endswith(("child.py", "wire.py", "modules.py"))]
    text = "".join(traceback.format_list(student_frames[-6:]))
    return {"ok": False, "error": {"type": type(error).__name__, "message": str(error)[:2000],
                                   "traceback": text[-4000:]}}


def _limit_resources(limits: dict) -> None:
    import resource
    for name, value in limits.items():
        resource.setrlimit(getattr(resource, name), (value, value))


def attach(module) -> None:
    """Serve calls on `module` without importing a file (a notebook's namespace, in-process)."""
    global _module
    _module = module


def decode_request(data: bytes):
    return wire.decode(data, resolve_handle=_resolve, build_modules=True)


def answer(request: dict) -> bytes:
    """The encoded reply to one request: its result, or the student's exception as data.
    A call's reply says how many seconds it ran (the student's compute, for the benchmarks)."""
    started = time.perf_counter()
    watch = tracing.watching(request.get("watch"))  # a from-scratch exercise's request
    try:
        with watch:
            reply = {"ok": True, **_serve(request)}
            if watch.report() is not None and not tracing.plain(reply.get("value")):
                reply = wire.decode(wire.encode(reply, handles=_keep))  # its encoding runs the value's own code
    except BaseException as error:
        if isinstance(error, (SystemExit, KeyboardInterrupt)):
            error = RuntimeError(f"{type(error).__name__} raised by the submission")
        reply = _error_reply(error)
    if request.get("op") == "call":
        reply["seconds"] = time.perf_counter() - started
    scratch = {} if watch.report() is None else {"scratch": watch.report()}
    try:
        return wire.encode({**reply, **scratch}, handles=_keep)
    except BaseException as error:  # a value that cannot travel as data
        return wire.encode({**_error_reply(error), **scratch})


def main(fd_in: int, fd_out: int, limits: dict) -> None:
    _limit_resources(limits)
    channel_in = os.fdopen(fd_in, "rb", buffering=0)
    channel_out = os.fdopen(fd_out, "wb", buffering=0)
    while True:
        try:
            request = decode_request(wire.read_frame(channel_in))
        except EOFError:
            return
        wire.write_frame(channel_out, answer(request))

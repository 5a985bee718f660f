"""The child process: imports a student's modules and answers calls on them, as data.

Runs with `python -I` in a private working directory, with only this package's copy of
the runtime (`zygote`, `child`, `wire`, `modules`, the tracer's `tracing`, `patches` and
`tracer_state`) on its path besides the student's folder. It reads requests
from fd IN and writes replies to fd OUT; the student's own stdout/stderr go elsewhere.
Nothing here is trusted by the grader: replies are decoded as data and checked there, and
the grader itself compares the arguments' digests with what it sent. The functions below
take what they rely on as default arguments, bound when this module is imported, before any
student code: replacing a name in this module, in `warnings` or in numpy changes nothing here.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import sys
import time
import traceback
import warnings

from . import tracer_state, tracing, wire

RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))  # these files' folder: never the student's code
_objects: dict[int, object] = {}
_modules: dict[str, object] = {}  # the student's modules imported here, by name
_module = None  # the namespace served by `attach` (a notebook's globals)


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


def _thawed(value):
    """A writable copy of the arrays in `value` (an attribute the student's object will own)."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, tuple)):
        return type(value)(_thawed(item) for item in value)
    if isinstance(value, dict):
        return {key: _thawed(item) for key, item in value.items()}
    return value


@functools.cache
def _overflow_trap():
    return _OverflowTrap()


FE_OVERFLOW = {"x86_64": 0x08, "i686": 0x08, "aarch64": 0x04}  # <fenv.h> per machine


class _OverflowTrap:
    """Floating-point overflow raises SIGFPE while active (glibc on Linux; elsewhere a no-op):
    an overflow the student's code hides from numpy's warnings still kills the child."""

    def __init__(self):
        import ctypes
        import ctypes.util
        import platform

        self.flag = FE_OVERFLOW.get(platform.machine())
        name = ctypes.util.find_library("m") if sys.platform == "linux" else None
        self.libm = ctypes.CDLL(name) if name and self.flag else None

    def __enter__(self):
        if self.libm is not None:
            self.libm.feclearexcept(self.flag)
            self.libm.feenableexcept(self.flag)
        return self

    def __exit__(self, *exc):
        if self.libm is not None:
            self.libm.fedisableexcept(self.flag)
        return False


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


def _call(
    request: dict,
    *,
    resolve=_resolve,
    digests=wire.digests,
    labelled=wire.labelled,
    catch_warnings=warnings.catch_warnings,
    simplefilter=warnings.simplefilter,
    trap=_overflow_trap,
):
    """The student's function on the arguments; then what the grader needs to judge the call
    (it compares the digests with what it sent): the warnings and the arguments' digests."""
    func = resolve(request["target"])
    args, kwargs = request.get("args", []), request.get("kwargs", {})
    trapped = trap() if request.get("trap") == "overflow" else contextlib.nullcontext()
    with catch_warnings(record=True) as caught:
        simplefilter("always")
        with trapped:
            value = func(*args, **kwargs)
    seen = sorted({f"{w.category.__name__}: {w.message}"[:200] for w in caught})
    return value, digests(labelled(args, kwargs)), seen


def _serve(request: dict, *, call=_call, load=_load, thawed=_thawed):
    op = request["op"]
    if op == "load":
        return {"names": load(request["path"], request["module"])}
    if op == "call":
        value, digests, seen = call(request)
        return {"value": value, "digests": digests, "warnings": seen}
    if op == "getattr":  # an attribute of a handle, or (name None) the handle's own value
        owner = _module if request["target"] is None else _resolve(request["target"])
        return {"value": owner if request["name"] is None else getattr(owner, request["name"])}
    if op == "setattr":
        setattr(_resolve(request["target"]), request["name"], thawed(request["value"]))
        return {"value": None}
    if op == "warmup":  # imports done before student code, outside its time budget
        import numpy  # noqa: F401
        import torch

        tracing.install()  # before any student code: it patches what the from-scratch watch needs
        if request.get("optimizer", True):  # the first optimizer imports torch._dynamo (seconds)
            torch.optim.Adam([torch.zeros(1, requires_grad=True)])
        return {"value": None}
    raise ValueError(f"unknown request {op!r}")


def _error_reply(error: BaseException, *, runtime: str = RUNTIME_DIR) -> dict:
    """The student's exception as data; its traceback leaves out the runtime's own frames (this
    child, the wire format, the tracer's wrappers): the student sees their code and the libraries'."""
    frames = traceback.extract_tb(error.__traceback__)
    student_frames = [f for f in frames if os.path.dirname(os.path.abspath(f.filename)) != runtime]
    text = "".join(traceback.format_list(student_frames[-6:]))
    return {
        "ok": False,
        "error": {"type": type(error).__name__, "message": str(error)[:2000], "traceback": text[-4000:]},
    }


def _limit_resources(limits: dict) -> None:
    if not limits:  # the portable runner sets them itself, where the OS has `resource`
        return
    import resource

    for name, value in limits.items():
        resource.setrlimit(getattr(resource, name), (value, value))


def attach(module) -> None:
    """Serve calls on `module` without importing a file (a notebook's namespace, in-process)."""
    global _module
    _module = module


def decode_request(data: bytes, *, decode=wire.decode):
    """A request; its arrays are read-only (numpy itself refuses an in-place change)."""
    return decode(data, resolve_handle=_resolve, build_modules=True, frozen=True)


def answer(
    request: dict,
    *,
    serve=_serve,
    error_reply=_error_reply,
    encode=wire.encode,
    decode=wire.decode,
    clock=time.perf_counter,
    watching=tracing.watching,
    plain=tracer_state.plain,
) -> bytes:
    """The encoded reply to one request: its result, or the student's exception as data.
    A call's reply says how many seconds it ran (the student's compute, for the benchmarks);
    a from-scratch exercise's request is watched, and its reply carries the watch's report."""
    started = clock()
    watch = watching(request.get("watch"))
    try:
        with watch:
            reply = {"ok": True, **serve(request)}
            if watch.report() is not None and not plain(reply.get("value")):
                reply = decode(encode(reply, handles=_keep))  # its encoding runs the value's own code
    except BaseException as error:
        if isinstance(error, (SystemExit, KeyboardInterrupt)):
            error = RuntimeError(f"{type(error).__name__} raised by the submission")
        reply = error_reply(error)
    if request.get("op") == "call":
        reply["seconds"] = clock() - started
    report = watch.report()
    scratch = {} if report is None else {"scratch": report}
    try:
        return encode({**reply, **scratch}, handles=_keep)
    except BaseException as error:  # a value that cannot travel as data
        return encode({**error_reply(error), **scratch})


def main(fd_in: int, fd_out: int, limits: dict) -> None:
    _limit_resources(limits)
    channel_in = os.fdopen(fd_in, "rb", buffering=0)
    channel_out = os.fdopen(fd_out, "wb", buffering=0)
    serve, decode, read, write = answer, decode_request, wire.read_frame, wire.write_frame  # before student code
    while True:
        try:
            request = decode(read(channel_in))
        except EOFError:
            return
        write(channel_out, serve(request))

"""Each module is graded as if alone: what one module does at import (threads, numpy's and
torch's global settings, monkeypatches, sys.modules, files in its scratch space, background
processes) never reaches another module's exercises (a fresh process per module, forked from
the warm confined parent, autograder/sandbox/zygote.py)."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from autograder.exercises.contract import MODULES
from conftest import grade, needs_namespaces, policy_with, submission

CARRIER = "rnn_basics"  # graded first: whatever it leaves behind, the others would meet
NUMERIC_VICTIMS = ("bptt", "gated_units")

# Each one runs at the carrier's import.
CHANGES = {
    "busy_thread": """
        import threading as _threading
        def _spin():
            while True:
                pass
        _threading.Thread(target=_spin, daemon=True).start()
    """,
    "sleeping_thread": """
        import threading as _threading, time as _time, numpy as _np, torch as _torch
        def _later():
            _time.sleep(1.5)
            _np.tanh = lambda x, *a, **k: x
            _torch.sigmoid = lambda x, *a, **k: x
            _np.seterr(all="raise")
        _threading.Thread(target=_later, daemon=True).start()
    """,
    "numpy_raises_on_every_error": """
        import numpy as _np
        _np.seterr(all="raise")
    """,
    "warnings_are_errors": """
        import warnings as _warnings
        _warnings.simplefilter("error")
    """,
    "torch_default_float64": """
        import torch as _torch
        _torch.set_default_dtype(_torch.float64)
    """,
    "torch_one_thread": """
        import torch as _torch
        _torch.set_num_threads(1)
    """,
    "numpy_tanh_patched": """
        import numpy as _np
        _np.tanh = lambda x, *a, **k: 0 * x
    """,
    "torch_sigmoid_patched": """
        import torch as _torch
        _torch.sigmoid = lambda x, *a, **k: 0 * x
        _torch.Tensor.sigmoid = lambda self: 0 * self
    """,
    "sys_modules_replaced": """
        import sys as _sys, types as _types
        _sys.modules["numpy"] = _types.ModuleType("numpy")
        _sys.modules["torch.nn.functional"] = _types.ModuleType("torch.nn.functional")
    """,
}


def module_scores(scores: dict, modules) -> dict[str, float]:
    return {module: sum(e.score for e in scores.values() if e.module == module) for module in modules}


def with_carrier(folder, change: str, modules):
    """The reference of `modules`, the carrier's with `change` appended (run at its import)."""
    for module in modules:
        submission(folder, module, append=change if module == CARRIER else "")
    return folder


@pytest.fixture(scope="module")
def alone(tmp_path_factory) -> dict[str, float]:
    """What each numeric victim scores graded by itself."""
    scores = {}
    for module in NUMERIC_VICTIMS:
        folder = submission(tmp_path_factory.mktemp(module), module)
        scores.update(module_scores(grade(folder, only=module)[0], [module]))
    return scores


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_at_one_modules_import_stays_in_that_module(tmp_path, alone, change):
    modules = (CARRIER, *NUMERIC_VICTIMS)
    scores, _ = grade(with_carrier(tmp_path / "sub", CHANGES[change], modules), only=",".join(modules))
    assert module_scores(scores, NUMERIC_VICTIMS) == alone


@pytest.mark.slow
def test_all_changes_at_once_reach_none_of_the_other_five_modules(tmp_path):
    """Across all six modules: every other module scores full marks, as it does alone (the
    reference alone scores full marks: tests/test_reference_and_stubs.py)."""
    change = "\n".join(CHANGES[name] for name in sorted(CHANGES) if name != "sys_modules_replaced")
    change += CHANGES["sys_modules_replaced"]  # last: the others import numpy and torch first
    scores, report = grade(with_carrier(tmp_path / "sub", change, MODULES))
    others = [m for m in MODULES if m != CARRIER]
    top = {module: report.modules()[module][1] for module in others}
    assert module_scores(scores, others) == top


@needs_namespaces
def test_files_processes_and_shared_memory_a_module_leaves_are_gone_for_the_next(tmp_path):
    marker = f"{uuid.uuid4().int % 10**9}"
    names = [f"/tmp/left-{marker}", f"/dev/shm/left-{marker}", f"~/left-{marker}"]
    leave = f"""
        import os as _os, subprocess as _subprocess
        for _name in {names!r}:
            with open(_os.path.expanduser(_name), "w") as _file:
                _file.write("left behind")
        _subprocess.Popen(["sleep", "{marker}"], start_new_session=True)
        import ctypes as _ctypes
        _ctypes.CDLL(None).shmget({marker}, 4096, 0o1600)   # a SysV segment (IPC_CREAT | 0600)
    """
    find = f"""
        import ctypes as _ctypes, os as _os, subprocess as _subprocess
        _reference_clip = clip_gradients
        def clip_gradients(grads, max_norm):
            left = [n for n in {names!r} if _os.path.exists(_os.path.expanduser(n))]
            running = _subprocess.run(["pgrep", "-f", "sleep {marker}"], capture_output=True).returncode == 0
            segment = _ctypes.CDLL(None).shmget({marker}, 0, 0) != -1
            return (grads, -1.0) if left or running or segment else _reference_clip(grads, max_norm)
    """
    folder = submission(tmp_path / "sub", CARRIER, append=leave)
    submission(folder, "bptt", append=find)
    policy = policy_with(tmp_path, 'clip_gradients = "numpy"\n', "")  # the watch would call pgrep tampering
    scores, _ = grade(folder, only=f"{CARRIER},bptt", policy=policy)
    assert scores["bptt.clip_gradients"].status == "passed"
    assert subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True).stdout == b""

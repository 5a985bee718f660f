"""Replies crafted by student code (written straight into the grader's pipe) cost their own
exercise and keep the grader small; a child that stops reading costs its time limit."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from autograder.sandbox.proxies import RemoteModule, StudentFailure
from autograder.sandbox.sandbox import StudentProcess
from autograder.sandbox.settings import Limits
from conftest import ROOT, SOLUTIONS

ATTACKS = {  # exercise -> the reply frame its function writes instead of answering
    "rnn_step": "shared_buffer",  # one 64 MB buffer referenced by 1000 arrays
    "rnn_forward": "empty_lists_512mb",  # 512 MB of [] (refused by its length alone)
    "rnn_readout": "string_1gb",  # a 1 GB string
    "many_to_one_loss": "header_100mb",  # a 100 MB JSON header under the frame limit
    "many_to_many_loss": "nodes",  # 7 MB of [] : millions of nodes
}

CRAFTED = '''
import json as _json, os as _os, re as _re, struct as _struct, sys as _sys, time as _time
_OUT = int(_re.search(r"main\\((\\d+), (\\d+),", " ".join(_sys.orig_argv)).group(2))


def _frame(header: bytes, buffers=()):
    body = _struct.pack("!II", len(header), len(buffers)) + header
    for buffer in buffers:
        body += _struct.pack("!Q", len(buffer)) + buffer
    return len(body).to_bytes(8, "big") + body


def _ok(value) -> bytes:
    return _json.dumps({"__dict__": {"ok": True, "value": value}}).encode()


def _reply(kind):
    if kind == "shared_buffer":
        node = {"__array__": 0, "dtype": "uint8", "shape": [64 << 20], "kind": "ndarray"}
        return _frame(_ok([node] * 1000), [bytes(64 << 20)])
    if kind == "empty_lists_512mb":
        return (512 << 20).to_bytes(8, "big") + b"[]," * ((512 << 20) // 3)
    if kind == "string_1gb":
        return (1 << 30).to_bytes(8, "big") + b'"' + b"x" * ((1 << 30) - 2) + b'"'
    if kind == "header_100mb":
        return _frame(_ok("x" * (100 << 20)))
    if kind == "nodes":
        return _frame(_ok([[]] * (7 << 18)))


def _attack(kind):
    if _sys._getframe(2).f_globals.get("__name__") != "gradechild.child":
        return  # called by the student's own code (VanillaRNN): no attack there
    data = memoryview(_reply(kind))
    try:
        while data:
            data = data[_os.write(_OUT, data[:1 << 20]):]
    except OSError:
        pass
    _time.sleep(60)


_honest_sigmoid = sigmoid


def sigmoid(x):
    """A well-formed reply: 100 MB of uint8 where a small float array is expected."""
    if _sys._getframe(1).f_globals.get("__name__") != "gradechild.child":
        return _honest_sigmoid(x)
    return np.zeros(100 << 20, dtype=np.uint8)
'''


def crafted_submission(folder: Path) -> Path:
    folder.mkdir(parents=True)
    code = (SOLUTIONS / "rnn_basics.py").read_text() + CRAFTED
    for exercise, kind in ATTACKS.items():
        code += (
            f"\n_honest_{exercise} = {exercise}\n\ndef {exercise}(*args, **kwargs):\n"
            f"    _attack({kind!r})\n    return _honest_{exercise}(*args, **kwargs)\n"
        )
    (folder / "rnn_basics.py").write_text(code)
    return folder


GRADE_AND_MEASURE = textwrap.dedent("""
    import json, resource, sys
    from autograder.cli import grade_pipeline
    _, report = grade_pipeline(sys.argv[1], only="rnn_basics", device="cpu")
    print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "exercises": {e.exercise: [e.status, [m.key for m in e.messages]] for e in report.exercises}}))
""")


@pytest.mark.slow
def test_crafted_replies_cost_their_exercise_and_keep_the_grader_under_1_gib(tmp_path):
    folder = crafted_submission(tmp_path / "sub")
    run = subprocess.run(
        [sys.executable, "-c", GRADE_AND_MEASURE, str(folder)], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    exercises = result["exercises"]
    for exercise in ATTACKS:
        assert exercises.pop(exercise) == ["error", ["protocol"]], exercise
    assert exercises.pop("sigmoid") == ["failed", ["case_public", "wrong_shape"]]
    assert {status for status, _ in exercises.values()} == {"passed"}, exercises
    assert result["peak_mb"] < 1024, result["peak_mb"]


STALLING = '''
import os, re, sys, time
_IN, _OUT = map(int, re.search(r"main\\((\\d+), (\\d+),", " ".join(sys.orig_argv)).groups())
_kept = []


def stop_reading():
    """The pipe from the grader stays open (a copy is kept) but is never read again."""
    replacement, writer = os.pipe()
    _kept.extend([os.dup(_IN), writer])
    os.dup2(replacement, _IN)
    return 1


def hang_up():
    """The pipe to the grader is closed, and this process lives on."""
    os.close(_OUT)
    while True:
        time.sleep(1)


def echo(x):
    return x
'''


def stalling(folder: Path, confine: bool = True):
    path = folder / "stalling.py"
    path.write_text(STALLING)
    process = StudentProcess(
        {"stalling": path}, Limits(time_s=3, memory_mb=2048), warm_optimizer=False, confine=confine
    )
    process.start_exercise("stalling")
    return process, RemoteModule(process, "stalling")


@pytest.mark.timeout(120)  # without the write deadline, the grader would block here for good
def test_a_child_that_stops_reading_costs_its_time_limit(tmp_path):
    process, module = stalling(tmp_path)
    try:
        assert module.stop_reading() == 1
        process.start_exercise("stalling")
        with pytest.raises(StudentFailure) as failure:
            module.echo(np.zeros(1 << 21))  # 16 MB: far more than a pipe holds
        assert (failure.value.kind, failure.value.message) == ("timeout", "3")
        assert not process.alive()
    finally:
        process.close()


@pytest.mark.timeout(120)  # without the kill, the grader would wait for this child for good
@pytest.mark.parametrize("confine", [True, False])
def test_a_child_that_hangs_up_but_lives_costs_its_exercise(tmp_path, confine):
    """Unconfined the grader sees the pipe close and kills the child rather than wait for it;
    confined the namespace's launcher still holds the pipe, and the time limit ends it."""
    process, module = stalling(tmp_path, confine)
    try:
        with pytest.raises(StudentFailure) as failure:
            module.hang_up()
        expected = ("timeout", "3") if process.confined else ("crash", "closed its channel to the grader")
        assert (failure.value.kind, failure.value.message) == expected
        assert not process.alive()
    finally:
        process.close()

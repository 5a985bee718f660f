"""nbgrader runs student code in the kernel that grades it, with the instructor's rights: a
notebook that rewrites the cache of hidden cases there does not change a later `grade`."""

from __future__ import annotations

import json
import shutil

import pytest

from autograder.exercises import cases
from conftest import POLICY, ROOT, SOLUTIONS, grade
from test_nbgrader import nbgrader

pytestmark = pytest.mark.slow
MODULE = "rnn_basics"

POISON = r"""
import glob as _glob, io as _io, os as _os
import numpy as _np
for _path in _glob.glob(_os.path.join(_os.environ["AUTOGRADER_CACHE"], "hidden-*.npz")):
    _raw = open(_path, "rb").read()
    with _np.load(_io.BytesIO(_raw[32:])) as _stored:          # keep the signature, zero the values
        _zeroed = {_key: _stored[_key] * 0 for _key in _stored.files}
    _buffer = _io.BytesIO()
    _np.savez(_buffer, **_zeroed)
    open(_path, "wb").write(_raw[:32] + _buffer.getvalue())
    _np.savez(_path.replace("rnn_basics", "bptt"), **_zeroed)  # and an unsigned file for another module
"""


def poisoning_notebook(course) -> None:
    notebook = json.loads((ROOT / "source" / MODULE / f"{MODULE}.ipynb").read_text())
    answer = next(cell for cell in notebook["cells"] if cell.get("metadata", {}).get("nbgrader", {}).get("solution"))
    answer["source"] = "".join(answer["source"]) + "\n" + POISON
    folder = course / "submitted" / "poisoner" / MODULE
    folder.mkdir(parents=True)
    (folder / f"{MODULE}.ipynb").write_text(json.dumps(notebook))


def test_a_notebook_that_rewrites_the_cache_does_not_change_the_next_grade(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("AUTOGRADER_CACHE", str(cache))
    cases._hidden_cases.cache_clear()
    other = tmp_path / "other"
    other.mkdir()
    for module in (MODULE, "bptt"):
        shutil.copy(SOLUTIONS / f"{module}.py", other)
    _, first = grade(other, only=MODULE)  # fills the cache
    [cached] = cache.glob(f"hidden-{MODULE}-*.npz")
    before = cached.read_bytes()

    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copy(POLICY, course)
    shutil.copytree(ROOT / "source" / MODULE, course / "source" / MODULE)
    nbgrader(course, "generate_assignment", MODULE, "--force")
    poisoning_notebook(course)
    nbgrader(course, "autograde", MODULE, "--force")
    assert cached.read_bytes() != before, "the notebook did not rewrite the cache: the test proves nothing"
    assert list(cache.glob("hidden-bptt-*.npz"))

    cases._hidden_cases.cache_clear()
    _, after = grade(other, only=f"{MODULE},bptt")
    assert after.score == after.max_score
    monkeypatch.setenv("AUTOGRADER_CACHE", "")  # the same grading without any cache
    cases._hidden_cases.cache_clear()
    _, uncached = grade(other, only=f"{MODULE},bptt")
    assert json.dumps(after.to_json("en"), sort_keys=True) == json.dumps(uncached.to_json("en"), sort_keys=True)
    assert first.score == after.modules()[MODULE][0]
    cases._hidden_cases.cache_clear()

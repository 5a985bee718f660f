"""CONTRIBUTING.md followed in a copy of the repository: `new-exercise` writes the skeletons of a
ReLU RNN step in rnn_basics, the TODOs are filled in, the generated files are made again, and
the new exercise grades like the others (reference full marks, stub zero); refusals change nothing."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.authoring import scaffold
from autograder.exercises import contract
from autograder.grading.policy import load_policy
from conftest import POLICY, ROOT, needs_namespaces

MODULE, NAME, POINTS = "rnn_basics", "relu_rnn_step", 2
ARGS = "x, h_prev, W_xh, W_hh, b_h"
NEW_EXERCISE = ("new-exercise", MODULE, NAME, "--points", str(POINTS), "--args", ARGS)

HINT = "como rnn_step, com np.maximum(0, ...) no lugar da tanh."
REFERENCE = f'''def relu_rnn_step(x, h_prev, W_xh, W_hh, b_h):
    """One step of an RNN with a ReLU: h = max(0, x W_xh^T + h_prev W_hh^T + b_h).

    x: (B, D), h_prev: (B, H), W_xh: (H, D), W_hh: (H, H), b_h: (H,) -> h: (B, H)
    """
    # Dica: {HINT}
    ### BEGIN SOLUTION
    return np.maximum(0.0, x @ W_xh.T + h_prev @ W_hh.T + b_h)
    ### END SOLUTION
'''
GENERATOR = '''@generator(MODULE, "relu_rnn_step")
def relu_rnn_step_case(rng):
    """One case of relu_rnn_step; `expected` from torch's ReLU RNN cell in float64."""
    _, B, D, H, _ = _sizes(rng)
    case = {"x": _normal(rng, B, D), "h_prev": np.abs(_normal(rng, B, H)), **_rnn_weights(rng, D, H)}
    case["expected"] = torch.rnn_relu_cell(_t(case["x"]), _t(case["h_prev"]), _t(case["W_xh"]), _t(case["W_hh"]),
                                           _t(case["b_h"]), torch.zeros(H, dtype=torch.float64)).numpy()
    return case
'''
CHECK = '''def check_relu_rnn_step(student, cases, tol):
    """relu_rnn_step equals torch's ReLU RNN cell; a tanh in place of the ReLU is named."""
    for case in cases:
        with case:
            got = student.relu_rnn_step(case.x, case.h_prev, case.W_xh, case.W_hh, case.b_h)
            try:
                expect_close(got, case.expected, "h", tol)
            except CheckFailure as failure:
                tanh = np.tanh(case.x @ case.W_xh.T + case.h_prev @ case.W_hh.T + case.b_h)
                raise diagnose(failure, got, [(Message("diag_relu_step_tanh"), tanh)], tol) from None
            expect_not_mutated(student, "relu_rnn_step")
'''
DIAGNOSIS = """[diag_relu_step_tanh]
pt = "o resultado bate com a tanh; aqui a não linearidade é a ReLU, max(0, ·)"
en = "the result matches a tanh; here the nonlinearity is the ReLU, max(0, ·)"
"""
LESSON = (
    "## Um passo com ReLU",
    "Troque a tanh pela ReLU: $h_t = \\max(0, x_t W_{xh}^\\top + h_{t-1} W_{hh}^\\top + b_h)$, com as formas de "
    "`rnn_step`.",
)
MISTAKE = (
    '    mistake("relu_rnn_step with tanh", "relu_rnn_step", "diag_relu_step_tanh",\n'
    '            ("return np.maximum(0.0, x @ W_xh.T + h_prev @ W_hh.T + b_h)",\n'
    '             "return np.tanh(x @ W_xh.T + h_prev @ W_hh.T + b_h)")),\n'
)
COPY_TESTS = (
    "tests/test_generated.py",
    "tests/test_readme_points.py",
    "tests/test_mistake_corpus.py",
    f"tests/test_notebooks.py::test_source_notebook_is_what_the_masters_generate[{MODULE}]",
    f"tests/test_notebooks.py::test_notebook_cells_carry_nbgrader_metadata_and_the_policy_points[{MODULE}]",
    "tests/test_rnn_basics.py::test_a_mistake_loses_its_exercises_and_no_other_and_is_named[relu_rnn_step with tanh]",
)


def copy_repository(target: Path) -> Path:
    """The working tree's tracked and unignored files (what a clone of this change holds)."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


def run_in(copy: Path, *args: str, module: str = "autograder") -> subprocess.CompletedProcess:
    """`python -m module args` in the copy, importing the copy's autograder (with this venv's python)."""
    env = {**os.environ, "PYTHONPATH": str(copy), "AUTOGRADER_CACHE": str(copy.parent / "cache")}
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=copy, env=env, capture_output=True, text=True, timeout=600
    )


def snapshot(copy: Path) -> dict[str, str]:
    return {
        str(p.relative_to(copy)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(copy.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def scaffold_targets(copy: Path) -> dict[str, Path]:
    """scaffold.targets(MODULE), in the copy."""
    return {role: copy / path.relative_to(ROOT) for role, path in scaffold.targets(MODULE).items()}


def leftover_todos(paths) -> list[str]:
    return [
        f"{path}:{number}"
        for path in paths
        if path.is_file()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if scaffold.TODO in line
    ]


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


def replace_definition(path: Path, name: str, source: str) -> None:
    """The top-level definition `name` (decorators and trailing comments included, up to the next
    statement) rewritten as `source`."""
    text = path.read_text(encoding="utf-8")
    lines, body = text.splitlines(keepends=True), ast.parse(text).body
    starts = [min([n.lineno, *(d.lineno for d in getattr(n, "decorator_list", []))]) - 1 for n in body]
    index = next(i for i, n in enumerate(body) if getattr(n, "name", None) == name)
    end = starts[index + 1] if index + 1 < len(body) else len(lines)
    spacing = "\n\n" if index + 1 < len(body) else ""
    path.write_text("".join(lines[: starts[index]]) + source + spacing + "".join(lines[end:]), encoding="utf-8")


def fill_in_the_todos(copy: Path) -> None:
    """What CONTRIBUTING.md's step 'what needs thought' asks, for a ReLU RNN step."""
    places = scaffold_targets(copy)
    replace_definition(places["solution"], NAME, REFERENCE)
    replace_definition(places["cases"], f"{NAME}_case", GENERATOR)
    replace_definition(places["check"], f"check_{NAME}", CHECK)
    text = places["locale"].read_text(encoding="utf-8")
    places["locale"].write_text(text[: text.index(f"[diag_{NAME}_todo]")] + DIAGNOSIS, encoding="utf-8")
    replace_once(places["lesson"], f"## {scaffold.TODO}: o título de `{NAME}`", LESSON[0])
    replace_once(
        places["lesson"],
        next(line for line in places["lesson"].read_text().splitlines() if line.startswith(scaffold.TODO)),
        LESSON[1],
    )
    replace_once(places["readme"], f"`{NAME}` ({scaffold.TODO}: in words)", "an RNN step with a ReLU (`relu_rnn_step`)")
    scratch = f"[modules.{MODULE}.from_scratch]"
    replace_once(places["policy"], scratch, f'{scratch}\n{NAME} = "numpy"')
    replace_once(copy / "tests" / f"test_{MODULE}.py", "CORPUS = [\n", "CORPUS = [\n" + MISTAKE)


def graded(copy: Path, folder: str) -> dict[str, dict]:
    result = run_in(copy, "grade", folder, "--only", MODULE, "--out", f"{folder}.json")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((copy / f"{folder}.json").read_text())
    return {exercise["id"]: exercise for exercise in report["exercises"]}


def test_no_scaffold_todo_is_left_in_the_masters():
    paths = {path for module in contract.MODULES for path in scaffold.targets(module).values()}
    assert not leftover_todos(sorted(paths))


def test_new_exercise_refuses_a_used_name_an_unknown_module_or_a_bad_name_and_then_changes_nothing(tmp_path):
    copy = copy_repository(tmp_path / "repo")
    before = snapshot(copy)
    for args, reason in [
        (("new-exercise", "rnn_basic", NAME), "unknown module"),
        (("new-exercise", MODULE, "rnn_step"), "already exists in the contract, the reference"),
        (("new-exercise", MODULE, "class"), "not a public Python identifier"),
        (("new-exercise", MODULE, NAME, "--points", "0"), "--points 0"),
        (("new-exercise", MODULE, NAME, "--args", "x, x"), "distinct"),
    ]:
        result = run_in(copy, *args)
        assert result.returncode == 2 and reason in result.stderr, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert snapshot(copy) == before, args
    first = run_in(copy, *NEW_EXERCISE)
    assert first.returncode == 0, first.stderr
    after = snapshot(copy)
    assert {name for name in after if after[name] != before.get(name)} == {
        str(path.relative_to(copy)) for path in scaffold_targets(copy).values()
    }
    again = run_in(copy, *NEW_EXERCISE)
    assert again.returncode == 2 and f"{MODULE}.{NAME} already exists in" in again.stderr
    assert snapshot(copy) == after


@pytest.mark.slow
@needs_namespaces
def test_following_contributing_adds_an_exercise_that_grades_like_the_others(tmp_path):
    copy = copy_repository(tmp_path / "repo")
    assert run_in(copy, *NEW_EXERCISE).returncode == 0
    loud = run_in(copy, "fixtures")  # before the TODOs are written, the regeneration fails loudly
    assert loud.returncode != 0 and scaffold.TODO in loud.stderr
    fill_in_the_todos(copy)
    assert not leftover_todos(scaffold_targets(copy).values())
    for command in ("stubs", "notebooks", "fixtures"):  # make generated
        result = run_in(copy, command)
        assert result.returncode == 0, (command, result.stderr[-3000:])
    points = load_policy(POLICY).modules[MODULE].points
    reference, stubs = graded(copy, "solutions"), graded(copy, "assignments")
    new = f"{MODULE}.{NAME}"
    assert set(reference) == set(stubs) == {f"{MODULE}.{name}" for name in [*points, NAME]}
    assert reference[new]["status"] == "passed" and reference[new]["score"] == reference[new]["max_score"] == POINTS
    assert stubs[new]["score"] == 0 and stubs[new]["messages"][0]["key"] == "not_implemented"
    assert stubs[new]["messages"][0]["params"]["hint"] == "Dica: " + HINT
    cells = json.loads((copy / "source" / MODULE / f"{MODULE}.ipynb").read_text())["cells"]
    graded_cells = {
        cell["metadata"]["nbgrader"]["grade_id"]: cell["metadata"]["nbgrader"]
        for cell in cells
        if "nbgrader" in cell["metadata"]
    }
    assert graded_cells[NAME]["solution"] and graded_cells[f"{NAME}_test"]["points"] == POINTS
    for name, value in points.items():  # the other exercises: as before
        assert reference[f"{MODULE}.{name}"]["score"] == value and reference[f"{MODULE}.{name}"]["status"] == "passed"
        assert stubs[f"{MODULE}.{name}"]["score"] == 0
    tests = run_in(copy, "-p", "no:xdist", "-p", "no:cacheprovider", "-q", *COPY_TESTS, module="pytest")
    assert tests.returncode == 0, tests.stdout[-3000:]

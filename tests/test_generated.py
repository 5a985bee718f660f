"""One master per exercise: stubs and public fixtures are generated, and must not drift."""

from __future__ import annotations

import ast

import numpy as np
import pytest

from autograder.authoring import codegen
from autograder.exercises.cases import build_public_fixtures, fixture_path, generators
from autograder.exercises.contract import EXERCISES, GIVEN
from autograder.grading.policy import load_policy
from conftest import POLICY

SOLUTION_FILES = codegen.stub_paths()


def test_every_graded_module_has_a_solution_and_a_stub():
    for module in load_policy(POLICY).modules:
        assert (codegen.SOLUTIONS / f"{module}.py").is_file()
        assert (codegen.ASSIGNMENTS / f"{module}.py").is_file()


@pytest.mark.parametrize("solution, stub", SOLUTION_FILES, ids=[s.stem for s, _ in SOLUTION_FILES])
def test_stub_is_exactly_what_the_solution_generates(solution, stub):
    expected = codegen.make_stub(solution.read_text(encoding="utf-8"))
    assert stub.read_text(encoding="utf-8") == expected, f"{stub} drifted: run `make stubs`"


@pytest.mark.parametrize("solution, stub", SOLUTION_FILES, ids=[s.stem for s, _ in SOLUTION_FILES])
def test_stub_defines_the_contract_and_keeps_no_solution(solution, stub):
    module = solution.stem
    tree = ast.parse(stub.read_text(encoding="utf-8"))
    defined = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    defined |= {
        t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)
    }
    assert set(EXERCISES[module]) | set(GIVEN.get(module, ())) <= defined
    assert codegen.BEGIN not in stub.read_text() and codegen.END not in stub.read_text()
    regions = list(codegen.solution_regions(solution.read_text()))
    assert stub.read_text().count("raise NotImplementedError('Dica: ") == len(regions) > 0


def test_a_region_without_a_hint_is_refused():
    with pytest.raises(codegen.MarkerError, match="Dica"):
        codegen.make_stub("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n")


def test_unbalanced_markers_are_refused():
    with pytest.raises(codegen.MarkerError):
        codegen.make_stub("def f():\n    # Dica: x\n    ### BEGIN SOLUTION\n    return 1\n")


@pytest.mark.parametrize("module", [m for m in load_policy(POLICY).modules if generators(m)])
def test_public_fixtures_match_their_generators(module):
    rebuilt = build_public_fixtures(module, load_policy(POLICY).public_seed)
    with np.load(fixture_path(module), allow_pickle=False) as stored:
        assert set(stored.files) == set(rebuilt), "run `make fixtures`"
        for key, value in rebuilt.items():
            if value.dtype.kind in "fc":
                np.testing.assert_allclose(stored[key], value, rtol=1e-12, atol=1e-12, err_msg=key)
            else:  # names, labels, flags: exact
                np.testing.assert_array_equal(stored[key], value, err_msg=key)


def test_every_graded_exercise_has_a_check():
    import importlib

    for module, section in load_policy(POLICY).modules.items():
        checks = importlib.import_module(f"autograder.exercises.checks.{module}")
        for exercise in section.points:
            assert callable(getattr(checks, f"check_{exercise}", None)), f"{module}.{exercise} has no check"

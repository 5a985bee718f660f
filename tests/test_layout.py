"""The package's layout: no import cycle between modules, and every import points down the layers
that autograder/__init__.py declares (cli → classroom/authoring → grading → exercises → sandbox → base).

The graph is read with `ast` from the source, so it holds every import: at module level, inside
functions (the lazy ones), and a string constant that names one of the package's modules (the
ones handed to importlib, e.g. the checks' package or the fork server's preload list).
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import autograder

PACKAGE = Path(autograder.__file__).resolve().parent
# Highest first. A module may import from its own package (its own folder, at any depth) and from
# any later layer; packages of one layer are peers and import neither each other nor anything above.
LAYERS = (
    ("autograder.__main__",),
    ("autograder.cli", "autograder.notebook"),
    ("autograder.classroom", "autograder.authoring"),
    ("autograder.grading",),
    ("autograder.exercises",),
    ("autograder.sandbox",),
    ("autograder.messages", "autograder"),
)


def module_name(path: Path, root: Path) -> str:
    """`autograder/grading/policy.py` -> "autograder.grading.policy" (a package: its folder's name)."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.AST, module: str, is_package: bool, known: set[str]) -> list[str]:
    """The package's modules that one import statement (or a string constant) names."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in known]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if node.value in known else []
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = (module if is_package else module.rpartition(".")[0]).split(".")
        base = base[: len(base) - node.level + 1]
        source = ".".join([*base, *([node.module] if node.module else [])])
    else:
        source = node.module or ""
    if source not in known:
        return []
    return [f"{source}.{a.name}" if f"{source}.{a.name}" in known else source for a in node.names]


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (itself left out)."""
    files = {module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    graph = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        targets = {
            t for node in ast.walk(tree) for t in _imported(node, module, path.name == "__init__.py", set(files))
        }
        graph[module] = targets - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def place(module: str) -> tuple[int, str]:
    """(layer number, package) of a module: the longest prefix that LAYERS names."""
    matches = [
        (len(name), number, name)
        for number, layer in enumerate(LAYERS)
        for name in layer
        if module == name or module.startswith(name + ".")
    ]
    if not matches:
        raise LookupError(f"{module} is in no layer of LAYERS")
    _, number, name = max(matches)
    return number, name


def against_order(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """Imports to an earlier layer, or to a peer package of the same layer."""
    wrong = set()
    for module, targets in graph.items():
        layer, package = place(module)
        for target in targets:
            target_layer, target_package = place(target)
            if target_layer < layer or (target_layer == layer and target_package != package):
                wrong.add((module, target))
    return wrong


def test_the_graph_sees_module_level_lazy_and_string_imports():
    graph = import_graph()
    assert "autograder.grading.policy" in graph["autograder.cli"]  # module level
    assert "autograder.exercises.cases" in graph["autograder.cli"]  # inside cmd_fixtures
    assert "autograder.exercises.checks" in graph["autograder.grading.runner"]  # CHECKS_PACKAGE
    assert "autograder.sandbox.wire" in graph["autograder.sandbox.child"]  # `from . import wire`


def test_every_module_is_in_a_layer():
    for module in import_graph():
        place(module)


def test_no_import_cycle_between_modules():
    assert cycles(import_graph()) == []


def test_imports_point_down_the_declared_order():
    assert sorted(against_order(import_graph())) == []


def test_each_package_says_what_it_may_import():
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        if init.parent.name in {"grading", "sandbox", "exercises", "classroom", "authoring"}:
            assert "May import:" in ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), init


def test_a_planted_cycle_and_an_upward_import_are_found(tmp_path):
    copy = tmp_path / "autograder"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.npz"))
    assert cycles(import_graph(copy)) == [] and not against_order(import_graph(copy))
    wire = copy / "sandbox" / "wire.py"  # the sandbox reaching up into the pipeline, lazily
    wire.write_text(
        wire.read_text(encoding="utf-8") + "\n\ndef _planted():\n    from ..grading import runner\n", encoding="utf-8"
    )
    graph = import_graph(copy)
    assert any({"autograder.sandbox.wire", "autograder.grading.runner"} <= set(c) for c in cycles(graph))
    assert ("autograder.sandbox.wire", "autograder.grading.runner") in against_order(graph)


def test_a_synthetic_cycle_and_a_peer_import_are_found():
    graph = {
        "autograder.messages": {"autograder.cli"},
        "autograder.cli": {"autograder.classroom.classroom"},
        "autograder.classroom.classroom": {"autograder.messages", "autograder.authoring.codegen"},
        "autograder.authoring.codegen": set(),
    }
    assert cycles(graph) == [["autograder.classroom.classroom", "autograder.cli", "autograder.messages"]]
    assert against_order(graph) == {
        ("autograder.messages", "autograder.cli"),
        ("autograder.classroom.classroom", "autograder.authoring.codegen"),
    }


def test_notebooks_released_before_the_move_still_import_their_entry_point():
    from autograder import notebook
    from autograder.grading import notebook as moved

    assert (notebook.grade_cell, notebook.find_policy) == (moved.grade_cell, moved.find_policy)

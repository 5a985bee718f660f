"""Build the nbgrader source notebooks from one master per exercise.

`lessons/<module>.md` holds the Portuguese prose and the layout; the code comes from
`solutions/<module>.py` and the points from `grading.toml`. Directives in the lesson:

    <!-- setup -->            a read-only cell: the solution file's imports and given code
    <!-- exercise: NAME -->   the answer cell (NAME's source, with its solution region)
                              and the locked test cell (public call, hidden call)
    <!-- answer: NAME -->     only the answer cell, and later
    <!-- test: NAME -->       only its test cell: for a function another exercise's test
                              calls (predict_* is called by train_*'s test, whose model
                              predict_*'s own test needs)
    <!-- written: NAME -->    a written answer graded by hand (points in grading.toml's
    ... model answer ...      [modules.<m>.written]): a line with its points, then nbgrader's
    <!-- /written -->         manually graded markdown cell; the model answer between the two
                              directives stays in the source notebook, for the graders, and the
                              release shows nbgrader's text stub instead
    ```python ... ```         a demo cell students run and may change (never graded)

Everything else becomes markdown cells. `python -m autograder notebooks` writes
`source/<module>/<module>.ipynb`; a test fails when the committed notebooks drift.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

from .. import PROJECT as ROOT
from ..exercises.contract import EXERCISES
from ..grading.policy import DEFAULT_POLICY, load_policy

LESSONS, SOLUTIONS, SOURCE = ROOT / "lessons", ROOT / "solutions", ROOT / "source"
DIRECTIVE = re.compile(r"^<!--\s*(setup|(?P<kind>exercise|answer|test|written):\s*(?P<name>\w+))\s*-->\s*$")
END_WRITTEN = re.compile(r"^<!--\s*/written\s*-->\s*$")
FENCE = "```"


class LessonError(ValueError):
    pass


def _metadata(grade_id: str, *, solution=False, grade=False, locked=False, points=None) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _defined_name(node) -> str | None:
    """The name a top-level statement defines: a function's, a class's, or a single assignment's."""
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return node.name
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    return None


def split_solution(source: str, module: str) -> tuple[dict[str, str], str]:
    """The source of each exercise (by name) and the rest of the file (imports, given code)."""
    tree = ast.parse(source)
    lines = source.splitlines()
    exercises, rest = {}, []  # rest: (text, whether it is a definition)
    starts = [(n.decorator_list[0].lineno if getattr(n, "decorator_list", None) else n.lineno) - 1 for n in tree.body]
    constant = None  # a constant exercise (TAXONOMY): its assignment and the `with` block where it is answered
    for node, start, end in zip(tree.body, starts, starts[1:] + [len(lines)]):
        # up to the next statement, so trailing comments (### END SOLUTION) stay with the code
        text = "\n".join(lines[start:end]).rstrip()
        name = _defined_name(node)
        if name in EXERCISES[module]:
            exercises[name] = text
            constant = name if isinstance(node, ast.Assign) else None
        elif constant and isinstance(node, ast.With):
            exercises[constant] += "\n" + text
        else:
            constant = None
            if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and node is tree.body[0]):
                rest.append((text, isinstance(node, (ast.FunctionDef, ast.ClassDef))))
    given, given_ends_in_definition = "", False
    for text, definition in rest:  # everything but the module docstring, spaced as in PEP 8
        given += ("\n\n\n" if given and (definition or given_ends_in_definition) else "\n" if given else "") + text
        given_ends_in_definition = definition
    return exercises, given


def grading_cell_source(module: str, exercise: str) -> str:
    call = f'grade_cell("{module}", "{exercise}", globals()'
    return (
        f"from autograder.grading.notebook import grade_cell\n{call})\n"
        f"### BEGIN HIDDEN TESTS\n{call}, hidden=True)\n### END HIDDEN TESTS"
    )


def _blocks(lesson: str):
    """Yield ("markdown", text), ("code", text), ("setup", None), ("exercise"|"answer"|"test", name)
    and ("written", (name, model answer))."""
    markdown, code, in_code, written = [], [], False, None
    for line in lesson.splitlines():
        if written is not None:
            if END_WRITTEN.match(line.strip()):
                yield "written", (written[0], "\n".join(written[1]).strip())
                written = None
            else:
                written[1].append(line)
            continue
        if in_code:
            if line.strip() == FENCE:
                yield "code", "\n".join(code)
                code, in_code = [], False
            else:
                code.append(line)
            continue
        directive = DIRECTIVE.match(line.strip())
        if directive or line.strip() == f"{FENCE}python":
            if "".join(markdown).strip():
                yield "markdown", "\n".join(markdown).strip()
            markdown = []
            if directive and directive["kind"] == "written":
                written = (directive["name"], [])
            elif directive:
                yield (directive["kind"], directive["name"]) if directive["name"] else ("setup", None)
            else:
                in_code = True
        else:
            markdown.append(line)
    if in_code:
        raise LessonError("a ```python block is not closed")
    if written is not None:
        raise LessonError(f"<!-- written: {written[0]} --> is not closed by <!-- /written -->")
    if "".join(markdown).strip():
        yield "markdown", "\n".join(markdown).strip()


def written_cells(module: str, name: str, model_answer: str, policy) -> list:
    """A line with the answer's points, then nbgrader's manually graded markdown answer cell."""
    points = policy.modules[module].written.get(name)
    if points is None:
        raise LessonError(f"lessons/{module}.md: written answer {name} has no points in [modules.{module}.written]")
    if not model_answer:
        raise LessonError(f"lessons/{module}.md: written answer {name} needs a model answer for the graders")
    label = "ponto" if points == 1 else "pontos"
    return [
        nbformat.v4.new_markdown_cell(
            f"**Resposta escrita** ({points:g} {label}, corrigida à mão): escreva-a na célula abaixo."
        ),
        nbformat.v4.new_markdown_cell(model_answer, metadata=_metadata(name, solution=True, grade=True, points=points)),
    ]


def build_notebook(module: str, policy=None) -> nbformat.NotebookNode:
    policy = policy or load_policy(DEFAULT_POLICY)
    exercises, given = split_solution((SOLUTIONS / f"{module}.py").read_text(encoding="utf-8"), module)
    lesson = (LESSONS / f"{module}.md").read_text(encoding="utf-8")
    cells, answers, tests = [], [], []
    for kind, value in _blocks(lesson):
        if kind == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(value))
        elif kind == "code":
            cells.append(nbformat.v4.new_code_cell(value))
        elif kind == "written":
            cells += written_cells(module, *value, policy)
        elif kind == "setup":
            cells.append(nbformat.v4.new_code_cell(given, metadata=_metadata(f"{module}_setup", locked=True)))
        else:
            if value not in exercises:
                raise LessonError(f"lessons/{module}.md: {value} is not an exercise of {module}")
            if kind in ("exercise", "answer"):
                answers.append(value)
                cells.append(nbformat.v4.new_code_cell(exercises[value], metadata=_metadata(value, solution=True)))
            if kind in ("exercise", "test"):
                if value not in answers:
                    raise LessonError(f"lessons/{module}.md: the test of {value} comes before its answer")
                tests.append(value)
                cells.append(
                    nbformat.v4.new_code_cell(
                        grading_cell_source(module, value),
                        metadata=_metadata(
                            f"{value}_test", grade=True, locked=True, points=policy.points(module, value)
                        ),
                    )
                )
    placed = [cell.metadata["nbgrader"]["grade_id"] for cell in cells if cell.cell_type == "markdown" and cell.metadata]
    if sorted(placed) != sorted(policy.modules[module].written):
        raise LessonError(
            f"lessons/{module}.md: the written answers {placed} are not grading.toml's "
            f"{list(policy.modules[module].written)}"
        )
    missing = [name for name in EXERCISES[module] if answers.count(name) != 1 or tests.count(name) != 1]
    if missing:
        raise LessonError(f"lessons/{module}.md: place each exercise exactly once: {', '.join(missing)}")
    for number, cell in enumerate(cells):
        cell["id"] = f"{module}-{number:02d}"
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return notebook


def notebook_text(module: str, policy=None) -> str:
    return nbformat.writes(build_notebook(module, policy)) + "\n"


def notebook_path(module: str) -> Path:
    return SOURCE / module / f"{module}.ipynb"


def write_notebooks(modules) -> list[Path]:
    written = []
    for module in modules:
        path = notebook_path(module)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(notebook_text(module), encoding="utf-8")
        written.append(path)
    return written

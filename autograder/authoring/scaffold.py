"""`python -m autograder new-exercise MODULE NAME`: the skeletons of a new exercise (CONTRIBUTING.md).

The mechanical part of adding an exercise to an existing module, in every place one is wired (the
roles of `targets`): the contract, the reference with its `# Dica:` and solution region, the check,
the case generator, the policy's points, a locale key (pt, en), the lesson's marker, the README's
points. What needs thought is left as `TODO(new-exercise)`, failing loudly until written: the
solution region and the generator raise NotImplementedError, and the texts carry the marker, which
`tests/test_contributing.py` refuses in the masters. All files are written, or none (a refusal).
"""

from __future__ import annotations

import argparse
import ast
import keyword
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .. import messages
from ..exercises import cases, checks, contract
from ..grading.policy import DEFAULT_POLICY
from . import codegen

TODO = "TODO(new-exercise)"
MAX_LINE = 120


class ScaffoldError(ValueError):
    pass


@dataclass(frozen=True)
class NewExercise:
    module: str
    name: str
    points: int
    args: tuple[str, ...]

    @property
    def qualified(self) -> str:
        return contract.exercise_id(self.module, self.name)


def targets(module: str, policy_path: Path = DEFAULT_POLICY) -> dict[str, Path]:
    """Every file the scaffold edits, by role, taken from the modules that own them."""
    from . import lessons  # (nbformat: imported when the command runs, not by every command)

    return {
        "contract": Path(contract.__file__),
        "solution": codegen.SOLUTIONS / f"{module}.py",
        "check": Path(checks.__file__).with_name(f"{module}.py"),
        "cases": Path(cases.__file__).with_name(f"{module}.py"),
        "policy": Path(policy_path),
        "locale": messages.LOCALE / f"{module}.toml",
        "lesson": lessons.LESSONS / f"{module}.md",
        "readme": codegen.ROOT / "README.md",
    }


# --- what the scaffold writes ----------------------------------------------------------------


def solution_skeleton(new: NewExercise) -> str:
    """The reference's function: docstring, `# Dica:` line, a solution region that raises."""
    return f'''

def {new.name}({", ".join(new.args)}):
    """{TODO}: what {new.name} computes, in one line.

    {TODO}: the shape of each argument and of the result, e.g. x: (B, D) -> (B, H)
    """
    # Dica: {TODO}: uma dica curta, em português, que aponte o caminho sem dar a resposta.
    ### BEGIN SOLUTION
    raise NotImplementedError("{TODO}: the reference solution of {new.qualified}")
    ### END SOLUTION
'''


def check_skeleton(new: NewExercise) -> str:
    """The check: the student's answer against the case's `expected`, arguments left unchanged;
    no cases (fixtures not made) fails."""
    call = ", ".join(f"case.{arg}" for arg in new.args)
    return f'''

def check_{new.name}(student, cases, tol):
    """{new.name} equals the oracle's `expected` within `tol` and leaves its arguments unchanged."""
    for case in cases:
        with case:
            got = student.{new.name}({call})
            # {TODO}: name the common mistakes: catch the CheckFailure of expect_close and
            # raise diagnose(failure, got, [(Message(key), what that mistake returns), ...], tol) from None
            expect_close(got, case.expected, "{new.name}", tol)
            expect_not_mutated(student, "{new.name}")
'''


def cases_skeleton(new: NewExercise, module_constant: str) -> str:
    """The case generator: inputs drawn from `rng`, `expected` from a trusted oracle."""
    return f'''

@generator({module_constant}, "{new.name}")
def {new.name}_case(rng):
    """One case of {new.name}: its arguments ({", ".join(new.args)}) drawn from `rng`, and
    `expected`, what {new.name} returns, computed by a trusted oracle (torch, float64)."""
    raise NotImplementedError("{TODO}: draw the arguments of {new.qualified} from rng, "
                              "and compute 'expected' with the oracle")
'''


def diagnosis_key(new: NewExercise) -> str:
    return f"diag_{new.name}_todo"


def locale_skeleton(new: NewExercise) -> str:
    return (
        f"\n[{diagnosis_key(new)}]   # rename it after the mistake that check_{new.name} names\n"
        f'pt = "{TODO}: o erro comum que a verificação de {new.name} reconhece"\n'
        f'en = "{TODO}: the common mistake that the check of {new.name} names"\n'
    )


def lesson_skeleton(new: NewExercise) -> str:
    return (
        f"## {TODO}: o título de `{new.name}`\n\n"
        f"{TODO}: a prosa da lição, em português: o que `{new.name}` calcula, a fórmula e as formas.\n\n"
        f"<!-- exercise: {new.name} -->\n\n"
    )


# --- edits: old text -> new text, refusing what does not fit ---------------------------------


def _assignment_targets(node: ast.stmt) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return node.targets
    return [node.target] if isinstance(node, ast.AnnAssign) else []


def _top_level_names(source: str) -> set[str]:
    """Names a module defines at top level: functions, classes, assigned names."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        for target in _assignment_targets(node):
            names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def _appended(text: str, piece: str) -> str:
    return text.rstrip("\n") + "\n" + piece


def _insert(text: str, lines: list[str], line: int, column: int, piece: str) -> str:
    """`text` with `piece` inserted at 1-based `line`, 0-based `column`."""
    offset = sum(len(previous) for previous in lines[: line - 1]) + column
    return text[:offset] + piece + text[offset:]


def _assigned(tree: ast.Module, name: str) -> ast.expr | None:
    """The value assigned to top-level `name`, if any."""
    for node in tree.body:
        if any(isinstance(target, ast.Name) and target.id == name for target in _assignment_targets(node)):
            return node.value
    return None


def contract_names(source: str, module: str) -> set[str]:
    """The exercises and given names of `module` in contract.py's text."""
    tree = ast.parse(source)
    return {
        name
        for table in ("EXERCISES", "GIVEN")
        if (value := _assigned(tree, table)) is not None
        for name in ast.literal_eval(value).get(module, ())
    }


def add_to_contract(source: str, new: NewExercise) -> str:
    """contract.py with `new.name` appended to the module's tuple in EXERCISES."""
    table = _assigned(ast.parse(source), "EXERCISES")
    keys = [getattr(key, "value", None) for key in getattr(table, "keys", [])]
    entry = dict(zip(keys, table.values)).get(new.module) if keys else None
    if not isinstance(entry, ast.Tuple) or not entry.elts:
        raise ScaffoldError(f"{new.module}: no tuple of exercises in contract.EXERCISES")
    last, lines = entry.elts[-1], source.splitlines(keepends=True)
    piece = f', "{new.name}"'
    if len(lines[last.end_lineno - 1].rstrip("\n")) + len(piece) > MAX_LINE:
        piece = ",\n" + " " * entry.elts[0].col_offset + f'"{new.name}"'
    return _insert(source, lines, last.end_lineno, last.end_col_offset, piece)


def add_import(source: str, module: str, names: tuple[str, ...]) -> str:
    """`source` whose `from {module} import ...` also imports `names` (those it lacks)."""
    tree = ast.parse(source)
    bound = _top_level_names(source) | {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    missing = [name for name in names if name not in bound]
    if not missing:
        return source
    level, dotted = len(module) - len(module.lstrip(".")), module.lstrip(".")
    statements = [
        node
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and (node.level, node.module or "") == (level, dotted)
    ]
    if not statements:
        raise ScaffoldError(f"no `from {module} import ...` line to add {', '.join(missing)} to")
    statement = statements[0]
    imported = sorted({alias.name for alias in statement.names} | set(missing), key=lambda n: (n.lower(), n))
    line = f"from {module} import {', '.join(imported)}"
    if len(line) > MAX_LINE:
        line = f"from {module} import (\n" + "".join(f"    {name},\n" for name in imported) + ")"
    lines = source.splitlines(keepends=True)
    return "".join(lines[: statement.lineno - 1]) + line + "\n" + "".join(lines[statement.end_lineno :])


def add_points(text: str, new: NewExercise) -> str:
    """The policy with `name = points` as the last entry of [modules.<module>.points]."""
    header = f"[modules.{new.module}.points]"
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.split("#")[0].strip() == header]
    if not starts:
        raise ScaffoldError(f"the policy has no {header} table")
    last = starts[0]
    for i in range(starts[0] + 1, len(lines)):
        stripped = lines[i].strip()
        if stripped.startswith("["):
            break
        if stripped and not stripped.startswith("#"):
            last = i
    lines.insert(last + 1, f"{new.name} = {new.points}\n")
    return "".join(lines)


def lesson_directives(text: str) -> list[tuple[int, str, str]]:
    """(line index, kind, name) of the lesson's named directives (exercise, answer, test, written)."""
    from .lessons import DIRECTIVE

    return [
        (i, m["kind"], m["name"])
        for i, line in enumerate(text.splitlines())
        if (m := DIRECTIVE.match(line.strip())) and m["kind"]
    ]


def add_lesson_marker(text: str, new: NewExercise) -> str:
    """The lesson with a titled section and the exercise marker after its last exercise."""
    lines = text.splitlines(keepends=True)
    markers = [i for i, kind, _ in lesson_directives(text) if kind in ("exercise", "test")]
    if not markers:
        raise ScaffoldError("the lesson has no <!-- exercise: NAME --> marker to place the new one after")
    after = markers[-1] + 1
    while after < len(lines) and not lines[after].strip():
        after += 1
    return "".join(lines[:after]) + lesson_skeleton(new) + "".join(lines[after:])


def add_readme_points(text: str, new: NewExercise) -> str:
    """The README's points table: the module's row and the total gain the points."""
    row = re.compile(rf"^(\| `{new.module}` \| )(.*?)( \| )(\d+)( \| \d+ \|)$", re.MULTILINE)
    total = re.compile(r"^(\| \*\*total\*\* \| \| \*\*)(\d+)(\*\* \|)", re.MULTILINE)
    if not row.search(text) or not total.search(text):
        raise ScaffoldError(f"README.md: no points row for `{new.module}` or no total row")
    text = row.sub(
        lambda m: f"{m[1]}{m[2]}, `{new.name}` ({TODO}: in words){m[3]}{int(m[4]) + new.points}{m[5]}", text, count=1
    )
    return total.sub(lambda m: f"{m[1]}{int(m[2]) + new.points}{m[3]}", text, count=1)


# --- the whole change ------------------------------------------------------------------------


def _registered_generators(source: str) -> set[str]:
    """Exercise names of the `@generator(MODULE, "name")` decorators in a cases file."""
    return {
        arg.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "generator"
        for arg in node.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
    }


def refuse_conflicts(new: NewExercise, texts: dict[str, str]) -> None:
    """Refuse a name that any place already uses (a half-added exercise included)."""
    policy = tomllib.loads(texts["policy"]).get("modules", {}).get(new.module, {})
    used = {
        "the contract": new.name in contract_names(texts["contract"], new.module),
        "the reference": new.name in _top_level_names(texts["solution"]),
        "the checks": f"check_{new.name}" in _top_level_names(texts["check"]),
        "the case generators": new.name in _registered_generators(texts["cases"])
        or f"{new.name}_case" in _top_level_names(texts["cases"]),
        "the policy": new.name in policy.get("points", {}) or new.name in policy.get("written", {}),
        "the lesson": any(name == new.name for _, _, name in lesson_directives(texts["lesson"])),
        "the feedback texts": diagnosis_key(new) in messages.catalog(),
    }
    places = [place for place, taken in used.items() if taken]
    if places:
        raise ScaffoldError(f"{new.qualified} already exists in {', '.join(places)}")


def planned_texts(new: NewExercise, texts: dict[str, str]) -> dict[str, str]:
    """The new contents of every target, by role (nothing written yet)."""
    module_constant = "MODULE" if "MODULE" in _top_level_names(texts["cases"]) else repr(new.module)
    check = add_import(texts["check"], "..expect", ("expect_close", "expect_not_mutated"))
    cases_file = add_import(texts["cases"], ".", ("generator",))
    planned = {
        "contract": add_to_contract(texts["contract"], new),
        "solution": _appended(texts["solution"], solution_skeleton(new)),
        "check": _appended(check, check_skeleton(new)),
        "cases": _appended(cases_file, cases_skeleton(new, module_constant)),
        "policy": add_points(texts["policy"], new),
        "locale": _appended(texts["locale"], locale_skeleton(new)),
        "lesson": add_lesson_marker(texts["lesson"], new),
        "readme": add_readme_points(texts["readme"], new),
    }
    for role in ("contract", "solution", "check", "cases"):
        ast.parse(planned[role])  # what is written is valid Python
    for role in ("policy", "locale"):
        tomllib.loads(planned[role])
    return planned


def validate(module: str, name: str, points: int, args: tuple[str, ...]) -> NewExercise:
    if module not in contract.MODULES:
        raise ScaffoldError(f"unknown module {module!r} (modules: {', '.join(contract.MODULES)})")
    for what, identifier in [("name", name), *(("argument", arg) for arg in args)]:
        if not identifier.isidentifier() or keyword.iskeyword(identifier) or identifier.startswith("_"):
            raise ScaffoldError(f"{what} {identifier!r} is not a public Python identifier")
    if len(set(args)) != len(args) or not args:
        raise ScaffoldError(f"--args {', '.join(args)!r}: give one or more distinct argument names")
    if points <= 0:
        raise ScaffoldError(f"--points {points}: a positive integer")
    return NewExercise(module, name, points, args)


def new_exercise(
    module: str, name: str, *, points: int = 1, args: tuple[str, ...] = ("x",), policy_path: Path = DEFAULT_POLICY
) -> list[Path]:
    """Write the skeletons of `module.name`; returns the files changed, all or none of them."""
    new = validate(module, name, points, args)
    paths = targets(module, policy_path)
    absent = [str(path) for path in paths.values() if not path.is_file()]
    if absent:
        raise ScaffoldError(
            f"{module}: missing {', '.join(absent)} "
            "(new-exercise extends an existing module of a checkout; CONTRIBUTING.md)"
        )
    texts = {role: path.read_text(encoding="utf-8") for role, path in paths.items()}
    refuse_conflicts(new, texts)
    planned = planned_texts(new, texts)
    for role, text in planned.items():
        paths[role].write_text(text, encoding="utf-8")
    return list(paths.values())


def next_steps(new: NewExercise) -> str:
    """What the contributor does next: the thought the scaffold cannot supply."""
    return f"""Skeletons of {new.qualified} written. Next (CONTRIBUTING.md, 'Adding an exercise'):
  1. every {TODO}: the reference, its docstring and # Dica, the case generator and its oracle,
     the check's diagnoses and their texts, the lesson's prose, the README's cell;
  2. whether it is from scratch ([modules.{new.module}.from_scratch]); its mistakes in tests/test_{new.module}.py;
  3. make generated (stubs, notebooks, fixtures), then the tests;
  4. ../shared/API.md does not list {new.name}: send its owner the row | `{new.name}({", ".join(new.args)})` | ... |"""


def cmd_new_exercise(args) -> int:
    names = tuple(arg.strip() for arg in args.args.split(",") if arg.strip())
    try:
        written = new_exercise(args.module, args.name, points=args.points, args=names, policy_path=Path(args.policy))
    except ScaffoldError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(str(path) for path in written))
    print(next_steps(NewExercise(args.module, args.name, args.points, names)))
    return 0


def add_command(commands) -> None:
    """`python -m autograder new-exercise MODULE NAME [--points N] [--args A,B]` (registered by cli.py)."""
    parser = commands.add_parser(
        "new-exercise",
        help="write the skeletons of a new exercise (CONTRIBUTING.md)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("module", help=f"an existing module ({', '.join(contract.MODULES)})")
    parser.add_argument("name", help="the exercise's name, a new Python identifier")
    parser.add_argument("--points", type=int, default=1, help="its points in the policy")
    parser.add_argument("--args", default="x", help="its argument names, comma-separated")
    parser.set_defaults(run=cmd_new_exercise)

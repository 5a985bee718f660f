"""Generate the student stubs from the reference solutions (the single master).

Each `### BEGIN SOLUTION` ... `### END SOLUTION` region of `solutions/<module>.py` becomes
`raise NotImplementedError("Dica: <hint>")`, the hint taken from the `# Dica:` comment
right above the region (which the stub then drops, the exception saying it).
`python -m autograder stubs` writes `assignments/`; a test fails when the committed stubs
differ from what this produces.
"""

from __future__ import annotations

import re
from pathlib import Path

from .. import PROJECT as ROOT

SOLUTIONS, ASSIGNMENTS = ROOT / "solutions", ROOT / "assignments"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
HINT = re.compile(r"^\s*# Dica:\s*(?P<hint>.+?)\s*$")
HEADER = "# Gerado a partir da solução de referência por `make stubs`: complete cada exercício.\n"


class MarkerError(ValueError):
    pass


def solution_regions(source: str):
    """Yield (begin_line, end_line, indent, hint) for every solution region (0-based lines)."""
    lines = source.splitlines()
    begin = None
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped == BEGIN:
            if begin is not None:
                raise MarkerError(f"line {number + 1}: nested {BEGIN}")
            begin = number
        elif stripped == END:
            if begin is None:
                raise MarkerError(f"line {number + 1}: {END} without {BEGIN}")
            above = HINT.match(lines[begin - 1]) if begin else None
            if above is None:
                raise MarkerError(f"line {begin + 1}: a solution region needs a '# Dica: ...' line above it")
            indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
            yield begin, number, indent, above["hint"]
            begin = None
    if begin is not None:
        raise MarkerError(f"line {begin + 1}: {BEGIN} without {END}")


def hinted_raise(indent: str, hint: str) -> str:
    """The stub's line: the exercise raises its hint."""
    return f"{indent}raise NotImplementedError({'Dica: ' + hint!r})\n"


def make_stub(source: str) -> str:
    """The student version of a solution file."""
    lines = source.splitlines(keepends=True)
    out, cursor = [], 0
    for begin, end, indent, hint in solution_regions(source):
        out += lines[cursor : begin - 1]
        out.append(hinted_raise(indent, hint))
        cursor = end + 1
    out += lines[cursor:]
    return HEADER + "".join(out)


def stub_paths() -> list[tuple[Path, Path]]:
    return [(path, ASSIGNMENTS / path.name) for path in sorted(SOLUTIONS.glob("*.py"))]


def write_stubs() -> list[Path]:
    ASSIGNMENTS.mkdir(exist_ok=True)
    written = []
    for solution, stub in stub_paths():
        stub.write_text(make_stub(solution.read_text(encoding="utf-8")), encoding="utf-8")
        written.append(stub)
    return written

"""Stage 2 — load a submission: find each module of the contract in a student's folder.

A submission is a folder holding any of the six modules as `<module>.py`, or the released
notebooks as `<module>.ipynb` (also nbgrader's `<module>/<module>.ipynb`). From a notebook
only the answer cells and the read-only setup cells are taken (students' exploratory cells
are not), written as a plain `.py` file in a staging folder, and graded like a module.
"""
from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .messages import Message


class SubmissionError(ValueError):
    """The submission as a whole cannot be read (one-line error, exit code 2)."""


@dataclass(frozen=True)
class ModuleSource:
    module: str
    path: Path | None                  # the file to import, or None
    problem: Message | None = None     # why the module cannot be graded
    origin: Path | None = None         # the notebook it was extracted from

    def to_json(self) -> dict:
        return {"module": self.module, "path": str(self.path) if self.path else None,
                "origin": str(self.origin) if self.origin else None,
                "problem": self.problem.to_json() if self.problem else None}


@dataclass(frozen=True)
class Submission:
    root: Path
    modules: dict[str, ModuleSource] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"root": str(self.root), "modules": [m.to_json() for m in self.modules.values()]}

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")


def _is_graded_code(cell: dict) -> bool:
    """An answer cell, or a read-only setup cell (locked, neither graded nor an answer)."""
    meta = (cell.get("metadata") or {}).get("nbgrader") or {}
    if cell.get("cell_type") != "code" or not meta:
        return False
    return bool(meta.get("solution")) or (bool(meta.get("locked")) and not meta.get("grade") and not meta.get("task"))


def _cell_code(cell: dict) -> str:
    source = cell.get("source", "")
    text = "".join(source) if isinstance(source, list) else str(source)
    # IPython magics and shell escapes mean nothing in a module
    return "\n".join("# " + line if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines())


def notebook_code(path: Path, module: str) -> tuple[str | None, Message | None]:
    """The module source made of a notebook's graded code cells, or why there is none."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cells = notebook["cells"]
        if not isinstance(cells, list):
            raise TypeError("cells is not a list")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        return None, Message("notebook_invalid", {"module": module, "detail": f"{type(error).__name__}: {error}"[:200]})
    code = [_cell_code(cell) for cell in cells if isinstance(cell, dict) and _is_graded_code(cell)]
    if not any((cell.get("metadata") or {}).get("nbgrader", {}).get("solution") for cell in cells if isinstance(cell, dict)):
        return None, Message("notebook_no_answers", {"module": module})
    return f"# Extracted from {path.name}: its answer and setup cells.\n\n" + "\n\n\n".join(code) + "\n", None


def _staging_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="submission-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def load_submission(root: str | Path, modules, staging: Path | None = None) -> Submission:
    """Locate each module; notebooks are extracted into `staging` (a temporary folder if None)."""
    root = Path(root)
    if not root.exists():
        raise SubmissionError(f"{root}: submission folder does not exist")
    if not root.is_dir():
        raise SubmissionError(f"{root}: not a folder (a submission is a folder of .py modules or notebooks)")
    found = {}
    for module in modules:
        script = root / f"{module}.py"
        notebooks = [p for p in (root / f"{module}.ipynb", root / module / f"{module}.ipynb") if p.is_file()]
        if script.is_file():
            found[module] = ModuleSource(module, script.resolve())
        elif notebooks:
            code, problem = notebook_code(notebooks[0], module)
            path = None
            if code is not None:
                staging = staging or _staging_folder()
                staging.mkdir(parents=True, exist_ok=True)
                path = staging / f"{module}.py"
                path.write_text(code, encoding="utf-8")
            found[module] = ModuleSource(module, path, problem, notebooks[0].resolve())
        else:
            found[module] = ModuleSource(module, None, Message("missing_module", {"module": module}))
    return Submission(root.resolve(), found)

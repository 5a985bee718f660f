"""Stage 2 — load a submission: find each module of the contract in a student's folder.

A submission is a folder holding any of the six modules as `<module>.py`. Later stages
get, per module, either the file to import or the reason it cannot be graded.
"""
from __future__ import annotations

import json
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

    def to_json(self) -> dict:
        return {"module": self.module, "path": str(self.path) if self.path else None,
                "problem": self.problem.to_json() if self.problem else None}


@dataclass(frozen=True)
class Submission:
    root: Path
    modules: dict[str, ModuleSource] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"root": str(self.root), "modules": [m.to_json() for m in self.modules.values()]}

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")


def load_submission(root: str | Path, modules) -> Submission:
    root = Path(root)
    if not root.exists():
        raise SubmissionError(f"{root}: submission folder does not exist")
    if not root.is_dir():
        raise SubmissionError(f"{root}: not a folder (a submission is a folder of .py modules)")
    found = {}
    for module in modules:
        path = root / f"{module}.py"
        if path.is_file():
            found[module] = ModuleSource(module, path.resolve())
        else:
            found[module] = ModuleSource(module, None, Message("missing_module", {"module": module}))
    return Submission(root.resolve(), found)

"""Stage 2 — load a submission: find each module of the contract in a student's folder.

A submission is a folder holding any of the six modules as `<module>.py`, or the released
notebooks as `<module>.ipynb` (also nbgrader's `<module>/<module>.ipynb`), and any helper
modules (other `.py` files beside them). From a notebook only the answer cells and the
read-only setup cells are taken (students' exploratory cells are not). Every file is read
once, as a regular file only (never through a link, never a folder or a device) and within
the policy's size caps, and what is graded is written to a staging folder: later stages
never open the student's folder again.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..messages import Message
from ..sandbox.settings import SandboxPolicy


class SubmissionError(ValueError):
    """The submission as a whole cannot be read (one-line error, exit code 2)."""


@dataclass(frozen=True)
class ModuleSource:
    module: str
    path: Path | None  # the file to import, or None
    problem: Message | None = None  # why the module cannot be graded
    origin: Path | None = None  # the notebook it was extracted from

    def to_json(self) -> dict:
        return {
            "module": self.module,
            "path": str(self.path) if self.path else None,
            "origin": str(self.origin) if self.origin else None,
            "problem": self.problem.to_json() if self.problem else None,
        }


@dataclass(frozen=True)
class Submission:
    root: Path
    modules: dict[str, ModuleSource] = field(default_factory=dict)
    helpers: dict[str, Path] = field(default_factory=dict)  # file name -> its staged copy
    ignored: dict[str, str] = field(default_factory=dict)  # file name -> why it was left out

    def to_json(self) -> dict:
        return {
            "root": str(self.root),
            "modules": [m.to_json() for m in self.modules.values()],
            "helpers": {name: str(path) for name, path in self.helpers.items()},
            "ignored": self.ignored,
        }

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


class FileRefused(Exception):
    """A file that is not read: `reason` is a message key, `params` its parameters."""

    def __init__(self, reason: str, **params):
        super().__init__(reason)
        self.reason, self.params = reason, params

    def message(self, path: Path) -> Message:
        return Message(self.reason, {"file": path.name, **self.params})


NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
# non-blocking (a FIFO does not hang the open), not inherited, binary (Windows); each where the OS has it
OPEN_FLAGS = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def read_regular_file(path: Path, limit_kb: int) -> bytes:
    """The bytes of `path` if it is a regular file (not a link, folder, pipe or device) of at
    most `limit_kb` KiB; checked on the open file itself, so a swap after the check is caught."""
    if not NO_FOLLOW and path.is_symlink():  # where the OS cannot refuse a link at open (Windows)
        raise FileRefused("file_not_regular", kind="a symbolic link")
    try:
        fd = os.open(path, os.O_RDONLY | NO_FOLLOW | OPEN_FLAGS)
    except OSError as error:  # ELOOP: a symbolic link
        kind = "a symbolic link" if path.is_symlink() else (error.strerror or "unreadable")
        raise FileRefused("file_not_regular", kind=kind) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise FileRefused("file_not_regular", kind=kind)
        if info.st_size > limit_kb << 10:
            raise FileRefused("file_too_large", size_kb=-(-info.st_size // 1024), limit_kb=limit_kb)
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read((limit_kb << 10) + 1)
        if len(data) > limit_kb << 10:
            raise FileRefused("file_too_large", size_kb=-(-len(data) // 1024), limit_kb=limit_kb)
        return data
    finally:
        os.close(fd)


def notebook_code(
    path: Path, module: str, limit_kb: int = SandboxPolicy.max_notebook_kb
) -> tuple[str | None, Message | None]:
    """The module source made of a notebook's graded code cells, or why there is none."""
    try:
        notebook = json.loads(read_regular_file(path, limit_kb).decode("utf-8"))
        cells = notebook["cells"]
        if not isinstance(cells, list):
            raise TypeError("cells is not a list")
    except FileRefused as refused:
        return None, refused.message(path)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        return None, Message("notebook_invalid", {"module": module, "detail": f"{type(error).__name__}: {error}"[:200]})
    code = [_cell_code(cell) for cell in cells if isinstance(cell, dict) and _is_graded_code(cell)]
    if not any(
        (cell.get("metadata") or {}).get("nbgrader", {}).get("solution") for cell in cells if isinstance(cell, dict)
    ):
        return None, Message("notebook_no_answers", {"module": module})
    return f"# Extracted from {path.name}: its answer and setup cells.\n\n" + "\n\n\n".join(code) + "\n", None


def _staging_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="submission-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _module_code(root: Path, module: str, caps: SandboxPolicy) -> tuple[bytes | None, Message | None, Path | None]:
    """A module's code (from its .py file, else its notebook), or why not, and the notebook."""
    script = root / f"{module}.py"
    if _exists(script):
        try:
            return read_regular_file(script, caps.max_file_kb), None, None
        except FileRefused as refused:
            return None, refused.message(script), None
    for notebook in (root / f"{module}.ipynb", root / module / f"{module}.ipynb"):
        if _exists(notebook):
            code, problem = notebook_code(notebook, module, caps.max_notebook_kb)
            return code.encode("utf-8") if code is not None else None, problem, notebook.absolute()
    return None, Message("missing_module", {"module": module}), None


def _helpers(root: Path, modules, caps: SandboxPolicy) -> tuple[dict[str, bytes], dict[str, str]]:
    """The other .py files beside the modules (students may add helper modules)."""
    helpers, ignored = {}, {}
    for path in sorted(root.glob("*.py")):
        if path.stem in modules:
            continue
        try:
            helpers[path.name] = read_regular_file(path, caps.max_file_kb)
        except FileRefused as refused:
            ignored[path.name] = refused.reason
        except OSError as error:
            ignored[path.name] = error.strerror or "unreadable"
    return helpers, ignored


def load_submission(
    root: str | Path, modules, staging: Path | None = None, caps: SandboxPolicy = SandboxPolicy()
) -> Submission:
    """Read each module and the helpers, within `caps`; write what is graded into `staging`
    (a temporary folder if None)."""
    root = Path(root)
    if not root.exists():
        raise SubmissionError(f"{root}: submission folder does not exist")
    if not root.is_dir():
        raise SubmissionError(f"{root}: not a folder (a submission is a folder of .py modules or notebooks)")
    staging = staging or _staging_folder()
    staging.mkdir(parents=True, exist_ok=True)
    codes = {module: _module_code(root, module, caps) for module in modules}
    helpers, ignored = _helpers(root, modules, caps)
    total = sum(len(code) for code, _, _ in codes.values() if code is not None) + sum(map(len, helpers.values()))
    if total > caps.max_submission_kb << 10:
        too_large = Message("submission_too_large", {"size_kb": -(-total // 1024), "limit_kb": caps.max_submission_kb})
        codes = {
            module: (None, too_large if code is not None else problem, origin)
            for module, (code, problem, origin) in codes.items()
        }
        ignored.update(dict.fromkeys(helpers, "submission_too_large"))
        helpers = {}
    found = {}
    for module, (code, problem, origin) in codes.items():
        path = None
        if code is not None:
            path = staging / f"{module}.py"
            path.write_bytes(code)
        found[module] = ModuleSource(module, path, problem, origin)
    staged = {}
    for name, code in helpers.items():
        staged[name] = staging / name
        staged[name].write_bytes(code)
    return Submission(root.resolve(), found, staged, ignored)

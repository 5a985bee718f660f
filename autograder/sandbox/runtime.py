"""What a child starts from: the runtime package copied into its folder, and its environment.

The runtime (RUNTIME_FILES, importable as package `gradechild`) is the only code of the grader
that a child runs; those files import only each other, relatively, and the standard library
(numpy and torch once the zygote warms up).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

RUNTIME_FILES = (
    "wire.py",
    "modules.py",
    "tracer_state.py",
    "patches.py",
    "tracing.py",
    "child.py",
    "zygote.py",
    "template.py",
)
RUNTIME_PACKAGE = "gradechild"


def write_runtime(folder: Path) -> Path:
    """The child's runtime package (RUNTIME_FILES as `gradechild`) under `folder`/runtime."""
    runtime = folder / "runtime"
    (runtime / RUNTIME_PACKAGE).mkdir(parents=True)
    (runtime / RUNTIME_PACKAGE / "__init__.py").write_text("")
    for name in RUNTIME_FILES:
        shutil.copyfile(Path(__file__).with_name(name), runtime / RUNTIME_PACKAGE / name)
    return runtime


def child_environment(device: str, home: Path | None = None) -> dict[str, str]:
    """The child's whole environment (nothing else of the grader's): one thread for the libraries,
    no GPU unless grading on one, its home (None: the warm template's, which has none)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
    }
    if home is not None:
        env["HOME"] = env["TMPDIR"] = str(home)
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH"):
        if key in os.environ and key not in env:
            env[key] = os.environ[key]
    return env

"""What a child starts from: the runtime package copied into its folder, and its environment.

The runtime (RUNTIME_FILES, importable as package `gradechild`) is the only code of the grader
that a child runs; those files import only each other, relatively, and the standard library
(numpy and torch once the zygote warms up).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .proxies import Peer

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


class ChildRunner(Peer):
    """What both runners of the child hold (`sandbox.StudentProcess`, `portable.PortableProcess`):
    the student's files, the limits, and the counters the timings report.

    `sources` maps each module to its file; `time_limits` gives each module's wall seconds per
    exercise (`limits.time_s` when absent); `warm_optimizer` creates an optimizer during the
    warm-up, whose first use imports torch._dynamo (seconds) — for modules that train.
    """

    def __init__(
        self,
        sources: dict[str, Path],
        limits,
        *,
        time_limits: dict[str, float] | None = None,
        warm_optimizer: bool = True,
        helpers: dict[str, Path] | None = None,
    ):
        self.sources = {module: Path(path) for module, path in sources.items()}
        self.helpers = {name: Path(path) for name, path in (helpers or {}).items()}
        self.limits, self.time_limits, self.warm_optimizer = limits, dict(time_limits or {}), warm_optimizer
        self.workdir: Path | None = None
        self.loaded: dict[str, list[str]] = {}  # the modules the child serves now: their names
        self.starts = 0  # children started (interpreters or zygotes)
        self.templated = 0  # of which forked by grade-all's warm template
        self.forks = 0  # processes forked for modules
        self.start_seconds = 0.0  # starting children and their warm-up (our imports)
        self.import_seconds: dict[str, float] = {}

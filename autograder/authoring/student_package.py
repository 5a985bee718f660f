"""The student package: the grader's public part as a wheel (`release` puts it in the bundle).

`pip install rnn_autograder_student-<version>-py3-none-any.whl` makes `import autograder`,
`python -m autograder check` and the notebooks' `grade_cell` work from any folder, in any
Jupyter, VS Code, JupyterHub or Colab. It holds the checks, the case generators, the stored
fixtures, the feedback texts, the child's runtime (Linux and portable runners) and a public
`grading.toml` (hidden seed blanked) beside the code, where `policy.DEFAULT_POLICY` finds it.
It leaves out what handles solutions, hidden tests or a whole class. Its requirements are
ranges (see `REQUIREMENTS`), not the instructor's lock: the instructor's grading keeps
`requirements.lock`. The wheel is written directly (a zip with its metadata), so building it
needs no network and no build backend.
"""

from __future__ import annotations

import base64
import hashlib
import tomllib
import zipfile
from pathlib import Path

from .. import PACKAGE, PROJECT

DISTRIBUTION = "rnn_autograder_student"
# handle solutions and hidden tests, compute mistakes with the answer's own code, or grade a class
# (paths inside autograder/: a folder leaves out all it holds)
LEFT_OUT = ("authoring", "classroom", "exercises/diagnoses.py")
# Ranges of the public checks' libraries. Run by the bundle test (tests/test_bundle.py), which installs
# the newest release in each range on Python 3.11; resolved (pip --dry-run) for 3.11, 3.12 and 3.13.
# torch's upper bound keeps pip on the CPU wheels it already has rather than a new CUDA build.
REQUIREMENTS = (
    "torch>=2.2,<2.14",
    "numpy>=2.0,<3",
    "pytest>=8.0,<10",
    "rich>=13.0,<16",
    "matplotlib>=3.8,<4",
    "scikit-learn>=1.4,<2",
    "faker>=40,<41",
    "statsmodels>=0.14,<0.16",
)
NOTEBOOK_EXTRA = ("notebook>=7.0,<8", "ipykernel>=6.25,<8")
PYTHON = ">=3.11,<3.14"
WHEN = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same sources give the same wheel


def version() -> str:
    return tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def wheel_name() -> str:
    return f"{DISTRIBUTION}-{version()}-py3-none-any.whl"


def package_files() -> dict[str, bytes]:
    """The package's files as the wheel holds them (path inside the wheel -> bytes)."""
    files = {}
    for path in sorted(PACKAGE.rglob("*")):
        relative = path.relative_to(PACKAGE)
        if path.is_dir() or "__pycache__" in relative.parts or path.suffix == ".pyc":
            continue
        if any(relative.is_relative_to(left) for left in LEFT_OUT):
            continue
        files[f"autograder/{relative.as_posix()}"] = path.read_bytes()
    return files


def _metadata() -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {DISTRIBUTION.replace('_', '-')}",
        f"Version: {version()}",
        "Summary: Public checks of the RNN exercise kit (check your own work; notebooks' grade_cell)",
        f"Requires-Python: {PYTHON}",
        *[f"Requires-Dist: {r}" for r in REQUIREMENTS],
        "Provides-Extra: notebook",
        *[f'Requires-Dist: {r}; extra == "notebook"' for r in NOTEBOOK_EXTRA],
    ]
    return "\n".join(lines) + "\n"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_wheel(folder: Path, public_policy: str) -> Path:
    """Write the wheel into `folder` with `public_policy` as its grading.toml; its path."""
    info = f"{DISTRIBUTION}-{version()}.dist-info"
    files = {
        **package_files(),
        "autograder/grading.toml": public_policy.encode("utf-8"),
        f"{info}/METADATA": _metadata().encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: autograder.authoring.student_package\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": b"[console_scripts]\nautograder = autograder.cli:main\n",
        f"{info}/top_level.txt": b"autograder\n",
    }
    record = "\n".join([*(_record_line(name, data) for name, data in files.items()), f"{info}/RECORD,,"]) + "\n"
    path = Path(folder) / wheel_name()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in [*files.items(), (f"{info}/RECORD", record.encode())]:
            entry = zipfile.ZipInfo(name, WHEN)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(entry, data)
    return path

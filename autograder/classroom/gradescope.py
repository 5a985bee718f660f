"""Gradescope: build the autograder zip, and grade one submission inside Gradescope.

`python -m autograder gradescope OUT.zip` writes a zip holding `setup.sh` (a venv with the
pinned `requirements.lock` and this package), `run_autograder`, the grader package (checks,
fixtures, locale), `grading.toml`, `pyproject.toml` and `README.md`; never `solutions/`,
`assignments/`, tests or student files. Gradescope unpacks it into `/autograder/source`, runs
`setup.sh` once, then `run_autograder` per submission:
`/autograder/submission` → `/autograder/results/results.json`. `AUTOGRADER_ROOT` (or `--root`)
replaces `/autograder`, so the same script runs against a simulated layout. Gradescope's
containers usually refuse the namespaces the confinement needs: build the zip with
`--unconfined` to grade there anyway (each submission gets its own throwaway container;
the results say it ran unconfined), else the results hold the refusal.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

from .. import PACKAGE, PROJECT
from ..exercises import contract
from ..grading.feedback import redacted
from ..grading.report import gradescope_json, write_json_atomically

PACKAGE_SUFFIXES = (".py", ".toml", ".npz", ".ini")
PROJECT_FILES = ("requirements.lock", "pyproject.toml", "README.md")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once when the autograder is built: a venv with the pinned dependencies.
set -euo pipefail
SOURCE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${PYTHON:-python3.11}"
if ! command -v "$PYTHON" >/dev/null; then
    apt-get update && apt-get install -y --no-install-recommends python3.11 python3.11-venv
fi
"$PYTHON" -m venv "$SOURCE/.venv"
PIP="$SOURCE/.venv/bin/python -m pip install --disable-pip-version-check -q"
# torch 2.13.0 from the CPU wheel index (the lock pins the version; PyPI's wheel bundles CUDA)
$PIP --extra-index-url "${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}" -r "$SOURCE/requirements.lock"
$PIP --no-deps "$SOURCE"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission: grade $ROOT/submission into $ROOT/results/results.json.
# AUTOGRADER_ROOT replaces /autograder; AUTOGRADER_PYTHON the venv's python (for tests).
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${AUTOGRADER_PYTHON:-$ROOT/source/.venv/bin/python}"
mkdir -p "$ROOT/results"
cd "$ROOT/source" && exec "$PYTHON" -m autograder.classroom.gradescope --root "$ROOT" "$@"
"""


def run_autograder_script(unconfined: bool) -> str:
    if not unconfined:
        return RUN_AUTOGRADER
    return RUN_AUTOGRADER.replace('--root "$ROOT" "$@"', '--root "$ROOT" --unconfined "$@"')


def zip_members(policy_path: Path, unconfined: bool = False) -> dict[str, bytes]:
    """Archive name -> content of everything the autograder zip holds."""
    members = {
        "setup.sh": SETUP_SH.encode(),
        "run_autograder": run_autograder_script(unconfined).encode(),
        "grading.toml": Path(policy_path).read_bytes(),
    }
    for name in PROJECT_FILES:
        members[name] = (PROJECT / name).read_bytes()
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and path.suffix in PACKAGE_SUFFIXES and "__pycache__" not in path.parts:
            members[path.relative_to(PROJECT).as_posix()] = path.read_bytes()
    return members


def build_zip(out: Path, policy_path: Path, unconfined: bool = False) -> Path:
    out = Path(out)
    temporary = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in zip_members(policy_path, unconfined).items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name in ("setup.sh", "run_autograder") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    temporary.replace(out)
    return out


def submission_folder(root: Path) -> Path:
    """The folder of the upload that holds the modules (students sometimes zip a folder)."""
    names = {f"{module}.py" for module in contract.MODULES}
    candidates = sorted(
        (p.parent for p in root.rglob("*.py") if p.name in names and "__MACOSX" not in p.parts),
        key=lambda p: (len(p.relative_to(root).parts), str(p)),
    )
    return candidates[0] if candidates else root


def run_autograder(
    root: Path, policy_path: Path, device: str = "cpu", only: str | None = None, unconfined: bool = False
) -> dict:
    """Grade `root`/submission; write and return Gradescope's results."""
    from ..grading.pipeline import grade_pipeline
    from ..grading.policy import PolicyError
    from ..grading.runner import UnconfinedRefused
    from ..grading.submission import SubmissionError

    results_path = root / "results" / "results.json"
    results_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        policy, report = grade_pipeline(
            submission_folder(root / "submission"),
            policy_path=policy_path,
            only=only,
            device=device,
            unconfined=unconfined,
        )
        results = gradescope_json(redacted(report), policy.language)
    except (PolicyError, SubmissionError, UnconfinedRefused) as error:
        results = {"score": 0, "output": f"error: {error}", "tests": []}
    write_json_atomically(results, results_path)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.classroom.gradescope", description="grade inside Gradescope"
    )
    parser.add_argument("--root", default="/autograder", help="the Gradescope layout's root (default /autograder)")
    parser.add_argument("--policy", help="grading policy (default: ROOT/source/grading.toml)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--only", help="comma-separated modules to grade (default: all in the policy)")
    parser.add_argument("--unconfined", action="store_true", help="grade where student code cannot be confined")
    args = parser.parse_args(argv)
    root = Path(args.root)
    results = run_autograder(
        root, Path(args.policy or root / "source" / "grading.toml"), args.device, args.only, args.unconfined
    )
    print(json.dumps({"score": results["score"], "tests": len(results["tests"])}))
    return 0


def add_command(commands) -> None:
    """`python -m autograder gradescope OUT.zip` (registered by cli.py)."""
    parser = commands.add_parser("gradescope", help="build the Gradescope autograder zip")
    parser.add_argument("zip", help="the zip to write, e.g. autograder.zip")
    parser.add_argument(
        "--unconfined",
        action="store_true",
        help="its run_autograder grades even where student code cannot be confined (Gradescope's "
        "containers usually refuse namespaces; each submission has its own container)",
    )
    parser.set_defaults(run=lambda args: print(build_zip(Path(args.zip), Path(args.policy), args.unconfined)) or 0)


if __name__ == "__main__":
    sys.exit(main())

"""The practical tasks' margins: the reference and the correct variants over several hidden seeds.

For each hidden seed, grades the three practical modules of the reference (solutions/) and of
tests/practical_variants.py with that seed in a copy of grading.toml, and prints each trained
metric next to the thresholds. This is the table of the README's "Reference margins".

    .venv/bin/python bench/margins.py [--seeds 0,1,2,3,4] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from common import PYTHON, ROOT

sys.path.insert(0, str(ROOT / "tests"))
from conftest import patched_source
from practical_variants import write_variants

MODULES = "name_classifier,forecast,pixel_gru"
METRICS = {
    "name_classifier": ("train_name_classifier", "predict_nationality"),
    "forecast": ("train_forecaster",),
    "pixel_gru": ("train_pixel_gru", "predict_digits"),
}


def policy_with_seed(seed: int, folder: Path) -> Path:
    text = re.sub(r"^hidden_seed\s*=\s*\d+", f"hidden_seed = {seed}", (ROOT / "grading.toml").read_text(), flags=re.M)
    path = folder / f"grading-{seed}.toml"
    path.write_text(text)
    return path


def grade(submission: Path, policy: Path, out: Path, device: str) -> dict:
    subprocess.run(
        [
            PYTHON,
            "-m",
            "autograder",
            "--policy",
            str(policy),
            "grade",
            str(submission),
            "--only",
            MODULES,
            "--device",
            device,
            "--out",
            str(out),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return json.loads(out.read_text())


def metrics(report: dict) -> dict[str, str]:
    """exercise -> "value (score/max)" of each trained metric."""
    found = {}
    for exercise in report["exercises"]:
        values = [m["params"]["value"] for m in exercise["messages"] if m["key"].startswith("score_")]
        name = exercise["id"].split(".")[1]
        if values:
            found[name] = f"{values[0]:.3f} ({exercise['score']:g}/{exercise['max_score']:g})"
        elif exercise["score"] < exercise["max_score"]:
            found[name] = f"{exercise['status']} ({exercise['score']:g}/{exercise['max_score']:g})"
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    columns = [name for names in METRICS.values() for name in names]
    print("| submission | hidden seed | score | " + " | ".join(columns) + " |")
    print("|---|---|---|" + "---|" * len(columns))
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        write_variants(scratch / "variants", patched_source)
        for seed in (int(s) for s in args.seeds.split(",")):
            policy = policy_with_seed(seed, scratch)
            for label, submission in (("reference", ROOT / "solutions"), ("variants", scratch / "variants")):
                report = grade(submission, policy, scratch / "report.json", args.device)
                found = metrics(report)
                print(
                    f"| {label} | {seed} | {report['score']:g}/{report['max_score']:g} | "
                    + " | ".join(found.get(name, "") for name in columns)
                    + " |",
                    flush=True,
                )


if __name__ == "__main__":
    main()

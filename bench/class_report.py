"""`class-report` on the results of a 100-student run: wall time, CPU time and peak memory,
cold (no tokenized-code cache: as at the end of `grade-all`) and warm (`class-report` on results
that already have it), and where a cold build's time goes.

The 100 students' results are synthesized, not graded: three real submissions are graded once
with all six modules (the reference, the stubs, the reference with two rnn_basics mistakes);
each synthetic student takes every exercise's result from one of those three reports (a
trained task's metric value varied and its points recomputed), and keeps as answer code, per
module, the reference's or the stub's text with a line of its own; students 7 and 8 share a
renamed-and-reordered copy, which the report should flag.

    .venv/bin/python bench/class_report.py [--students 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, grader, timed

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from autograder.classroom.gradebook import gradebook_columns, write_gradebook
from autograder.grading.policy import load_policy
from copied_code import ANA, BRUNO_RENAMES, near_copy

MISTAKES = """
def rnn_step(x, h_prev, W_xh, W_hh, b_h):
    return np.tanh(x @ W_xh.T + h_prev @ W_hh.T)

def rnn_readout(hs, W_hy, b_y):
    return np.tanh(hs @ W_hy.T + b_y)
"""
SOURCES = {"reference": ROOT / "solutions", "stubs": ROOT / "assignments"}
WEIGHTS = {"reference": 6, "mistakes": 3, "stubs": 1}


def graded_reports(scratch: Path) -> dict[str, dict]:
    """The three real reports, each graded once with all six modules."""
    folders = dict(SOURCES)
    folders["mistakes"] = scratch / "mistakes"
    folders["mistakes"].mkdir()
    for source in (ROOT / "solutions").glob("*.py"):
        extra = MISTAKES if source.stem == "rnn_basics" else ""
        (folders["mistakes"] / source.name).write_text(source.read_text() + extra)
    reports = {}
    for name, folder in folders.items():
        out = scratch / f"{name}.json"
        subprocess.run(
            grader("grade", folder, "--out", out, "--device", "cpu"),
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        reports[name] = json.loads(out.read_text())
    return reports


def _varied(exercise: dict, rng: random.Random) -> dict:
    """A trained task's metric moved a little, its points recomputed as practical.award does."""
    exercise = json.loads(json.dumps(exercise))
    for message in exercise["messages"]:
        params = message["params"]
        if message["key"].startswith("score_") and "full" in params:
            params["value"] = params["value"] * rng.uniform(0.75, 1.1)
            params["seconds"] = round(rng.uniform(1.0, 15.0), 1) if "seconds" in params else None
            fraction = (params["value"] - params["zero"]) / (params["full"] - params["zero"])
            exercise["score"] = round(exercise["max_score"] * min(max(fraction, 0.0), 1.0), 4)
            params = {k: v for k, v in params.items() if v is not None}
            message["params"] = params
    return exercise


def synthetic_report(sources: dict[str, dict], rng: random.Random) -> dict:
    names = list(WEIGHTS)
    exercises = [
        _varied(rng.choices([sources[n]["exercises"][i] for n in names], [WEIGHTS[n] for n in names])[0], rng)
        for i in range(len(sources["reference"]["exercises"]))
    ]
    modules: dict = {}
    for e in exercises:
        totals = modules.setdefault(e["module"], {"score": 0.0, "max_score": 0.0})
        totals["score"] = round(totals["score"] + e["score"], 4)
        totals["max_score"] = round(totals["max_score"] + e["max_score"], 4)
    return {
        "score": round(sum(e["score"] for e in exercises), 4),
        "max_score": sources["reference"]["max_score"],
        "language": "pt",
        "modules": modules,
        "exercises": exercises,
    }


def synthetic_results(folder: Path, sources: dict[str, dict], students: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    policy = load_policy(ROOT / "grading.toml")
    modules = list(sources["reference"]["modules"])
    reports = {}
    for number in range(students):
        name = f"student{number:03d}"
        reports[name] = synthetic_report(sources, rng)
        answers = folder / name / "answers"
        answers.mkdir(parents=True)
        (folder / name / "report.json").write_text(json.dumps(reports[name]))
        for module in modules:
            kind = rng.choices(list(SOURCES), [4, 1])[0]
            code = (SOURCES[kind] / f"{module}.py").read_text() + f"\n# {name}: {rng.random()}\n"
            if module == "rnn_basics" and number in (7, 8):
                code += ANA if number == 7 else near_copy(ANA, BRUNO_RENAMES)
            (answers / f"{module}.py").write_text(code)
    write_gradebook(folder / "grades.csv", gradebook_columns(policy, modules), reports)
    manifest = {name: {"status": "graded"} for name in reports}
    (folder / "manifest.json").write_text(json.dumps({"format": 1, "students": manifest}))
    return folder


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured_run(results: Path, cold: bool) -> tuple[float, float, float]:
    """(wall s, CPU s, peak MiB) of one `class-report` process."""
    if cold:
        shutil.rmtree(results / ".class-cache", ignore_errors=True)
    before = cpu_seconds()
    wall, peak = timed(grader("class-report", results))
    return wall, cpu_seconds() - before, peak


def stage_seconds(results: Path, cold: bool) -> dict[str, float]:
    """In this process: each stage of one class report, timed."""
    from autograder.classroom import class_report
    from autograder.classroom.class_report import build, render, stats
    from autograder.classroom.class_report.results import read_results

    similarity = load_policy(ROOT / "grading.toml").similarity
    seconds, started = {}, time.perf_counter()

    def lap(name):
        nonlocal started
        now = time.perf_counter()
        seconds[name], started = now - started, now

    if cold:
        shutil.rmtree(results / ".class-cache", ignore_errors=True)
    class_results = read_results(results)
    lap("read")
    report = build.ClassReport(
        class_results,
        stats.exercise_summaries(class_results),
        stats.module_summaries(class_results),
        stats.total_summary(class_results),
        stats.mistakes(class_results),
        stats.metrics(class_results),
        stats.flags(class_results),
        similarity,
    )
    lap("statistics")
    report.similarity = build._similarity(
        class_results, stats.modules_of(class_results), similarity, class_report.STUBS
    )
    lap("similarity")
    report.figures = build._figures(report, "pt")
    lap("plots")
    render.render_markdown(report, "pt"), render.render_html(report, "pt")
    lap("render")
    seconds["flagged pairs"] = sum(len(r.pairs) for r in report.similarity.values())
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        started = time.perf_counter()
        sources = graded_reports(scratch)
        print(f"graded the 3 source submissions (all six modules) in {time.perf_counter() - started:.1f} s")
        results = synthetic_results(scratch / "results", sources, args.students)
        print(
            f"class-report on {args.students} students x {len(sources['reference']['modules'])} modules, "
            f"{args.repeat} runs each, cold and warm interleaved:"
        )
        runs = {"cold": [], "warm": []}
        for _ in range(args.repeat):
            for kind in runs:
                runs[kind].append(measured_run(results, kind == "cold"))
        for kind, measured in runs.items():
            walls, cpus = [m[0] for m in measured], [m[1] for m in measured]
            print(
                f"  {kind}: wall median {statistics.median(walls):.2f} s (all {', '.join(f'{w:.2f}' for w in walls)}), "
                f"CPU median {statistics.median(cpus):.2f} s, peak {max(m[2] for m in measured):.0f} MiB"
            )
        cache = sum(p.stat().st_size for p in (results / ".class-cache").glob("*.json")) / 2**20
        print(
            f"  class.html {(results / 'class.html').stat().st_size / 1024:.0f} KiB, cache {cache:.1f} MiB; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        for kind in ("cold", "warm"):
            stages = stage_seconds(results, kind == "cold")
            flagged = stages.pop("flagged pairs")
            print(
                f"{kind} build, in-process stages: "
                + ", ".join(f"{name} {s:.2f} s" for name, s in stages.items())
                + f"; flagged pairs: {flagged:g} (expected: student007 and student008 in rnn_basics)"
            )
    print("goal: a few seconds for 100 students")


if __name__ == "__main__":
    main()

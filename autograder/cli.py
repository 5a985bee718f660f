"""`python -m autograder …`: grade a submission, check your own work, regenerate stubs and fixtures.

The `grade` pipeline, one module per stage:
policy.load_policy → submission.load_submission → runner.run_checks → scoring.score → report.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console

from . import contract
from .policy import DEFAULT_POLICY, PolicyError, load_policy
from .feedback import redacted
from .report import gradescope_json, print_report, write_json_atomically
from .runner import UnconfinedRefused, confinement, run_checks, write_outcomes
from .scoring import score
from .submission import SubmissionError, load_submission


class UsageError(ValueError):
    pass


def resolve_device(requested: str) -> str:
    if requested == "cpu":
        return "cpu"
    import torch
    available = torch.cuda.is_available()
    if requested == "cuda" and not available:
        raise UsageError("--device cuda: no CUDA device is available here (use --device auto or cpu)")
    return "cuda" if available else "cpu"


def selected_modules(only: str | None, policy) -> list[str]:
    if not only:
        return [m for m in contract.MODULES if m in policy.modules]
    names = [name.strip() for name in only.split(",") if name.strip()]
    for name in names:
        if name not in contract.MODULES:
            raise UsageError(f"--only: unknown module {name!r} (modules: {', '.join(contract.MODULES)})")
        if name not in policy.modules:
            raise UsageError(f"--only: module {name!r} has no section in {policy.path}")
    return names


def grade_pipeline(directory, *, policy_path=DEFAULT_POLICY, only=None, device="cpu", hidden=True, stages=None,
                   unconfined=False):
    """Run the five stages; with `stages`, write each stage's output there as a plain file.
    `unconfined`: the instructor allows hidden checks where student code cannot be confined."""
    policy = load_policy(policy_path)
    sandbox = confinement(hidden=hidden, unconfined=unconfined)
    if stages:
        Path(stages).mkdir(parents=True, exist_ok=True)
    staging = Path(stages) / "modules" if stages else None
    submission = load_submission(directory, selected_modules(only, policy), staging, policy.sandbox)
    timings: dict = {}
    outcomes = run_checks(policy, submission, hidden=hidden, device=device, timings=timings,
                          confine=sandbox["confined"])
    report = score(outcomes, policy)
    report.sandbox = sandbox
    if stages:
        stages = Path(stages)
        submission.write(stages / "1-submission.json")
        write_outcomes(outcomes, stages / "2-outcomes.json")
        write_json_atomically(report.to_json(policy.language), stages / "3-report.json")
        write_json_atomically(timings, stages / "timings.json")  # where the time went (bench/grade_one.py)
    return policy, report


def cmd_grade(args) -> int:
    device = resolve_device(args.device)
    started = time.monotonic()
    policy, report = grade_pipeline(args.submission, policy_path=args.policy, only=args.only,
                                    device=device, stages=args.stages, unconfined=args.unconfined)
    language = args.lang or policy.language
    title = f"{Path(args.submission).name or args.submission} — {report.score:g}/{report.max_score:g}"
    print_report(redacted(report), language, title)   # the table leaves out hidden inputs, as report.md does
    Console(stderr=True).print(f"[dim]{time.monotonic() - started:.1f} s, device {device}[/dim]")
    if args.out:
        write_json_atomically(report.to_json(language), args.out)
    if args.gradescope:
        write_json_atomically(gradescope_json(redacted(report), language), args.gradescope)
    return 0


def cmd_check(args) -> int:
    directory = args.directory or ("assignments" if Path("assignments").is_dir() else ".")
    policy, report = grade_pipeline(directory, policy_path=args.policy, only=args.only, hidden=False)
    language = args.lang or policy.language
    title = {"pt": "Testes públicos", "en": "Public checks"}[language]
    print_report(report, language, title)
    failing = [e for e in report.exercises if e.status != "passed"]
    console = Console()
    if failing:
        console.print({"pt": f"{len(failing)} de {len(report.exercises)} exercícios ainda não passam.",
                       "en": f"{len(failing)} of {len(report.exercises)} exercises do not pass yet."}[language])
        return 1
    console.print({"pt": "Todos os testes públicos passam. Os testes ocultos usam outros dados.",
                   "en": "All public checks pass. The hidden checks use other data."}[language])
    return 0


def add_unconfined_option(parser) -> None:
    parser.add_argument("--unconfined", action="store_true",
                        help="grade even where student code cannot be confined (not root, no namespaces); "
                             "the report records it")


# commands of the instructor's kit that the student package leaves out (grade-all, class-report, gradescope,
# new-exercise)
INSTRUCTOR_COMMANDS = ("classroom", "class_report", "gradescope", "scaffold")


def _optional_module(name: str):
    """An instructor command's module, or None where it is not installed (the student package)."""
    import importlib
    try:
        return importlib.import_module(f"autograder.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"autograder.{name}":
            raise
        return None


def instructor_module(name: str):
    """A module that the student package leaves out (it handles solutions and hidden tests)."""
    module = _optional_module(name)
    if module is None:
        raise UsageError("this command is part of the instructor's kit, not of the student package")
    return module


def cmd_stubs(args) -> int:
    write_stubs = instructor_module("codegen").write_stubs
    for path in write_stubs():
        print(path)
    return 0


def cmd_release(args) -> int:
    write_bundle = instructor_module("bundle").write_bundle
    try:
        print(write_bundle(Path(args.out_dir), Path(args.policy), package_url=args.package_url))
    except FileExistsError as error:
        raise UsageError(str(error)) from None
    return 0


def cmd_notebooks(args) -> int:
    write_notebooks = instructor_module("lessons").write_notebooks
    for path in write_notebooks(load_policy(args.policy).modules):
        print(path)
    return 0


def cmd_fixtures(args) -> int:
    from .cases import write_public_fixtures
    policy = load_policy(args.policy)
    for module in policy.modules:
        print(write_public_fixtures(module, policy.public_seed))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default=str(DEFAULT_POLICY), help="grading policy (default: grading.toml)")
    commands = parser.add_subparsers(dest="command", required=True)

    grade = commands.add_parser("grade", help="grade a submission folder (public and hidden checks)")
    grade.add_argument("submission", help="folder with the student's modules (.py)")
    grade.add_argument("--out", help="write the JSON report here")
    grade.add_argument("--gradescope", help="write Gradescope's results.json here")
    grade.add_argument("--only", help="comma-separated modules to grade (default: all in the policy)")
    grade.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    grade.add_argument("--lang", choices=("pt", "en"), help="feedback language (default: the policy's)")
    grade.add_argument("--stages", help="write each pipeline stage's output (JSON) into this folder")
    add_unconfined_option(grade)
    grade.set_defaults(run=cmd_grade)

    check = commands.add_parser("check", help="for students: run the public checks on your work")
    check.add_argument("directory", nargs="?", help="folder with your modules (default: assignments/ or .)")
    check.add_argument("--only", help="comma-separated modules to check")
    check.add_argument("--lang", choices=("pt", "en"))
    check.set_defaults(run=cmd_check)

    commands.add_parser("stubs", help="regenerate assignments/ from solutions/").set_defaults(run=cmd_stubs)
    release = commands.add_parser("release", help="write the student bundle (notebooks, stubs, public checks)")
    release.add_argument("out_dir")
    release.add_argument("--package-url", help="where the notebooks' setup cell installs the student package "
                         "from when no wheel lies beside the notebook (e.g. for Colab)")
    release.set_defaults(run=cmd_release)
    commands.add_parser("notebooks", help="regenerate source/<module>/<module>.ipynb from lessons/ and solutions/"
                        ).set_defaults(run=cmd_notebooks)
    commands.add_parser("fixtures", help="regenerate the public checks' stored fixtures").set_defaults(run=cmd_fixtures)
    for name in INSTRUCTOR_COMMANDS:
        module = _optional_module(name)
        if module is not None:
            module.add_command(commands)
    return parser


def _usage_errors() -> tuple[type[Exception], ...]:
    classroom = _optional_module("classroom")
    return (PolicyError, SubmissionError, UsageError, UnconfinedRefused,
            *([classroom.ClassroomError] if classroom else []))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except _usage_errors() as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

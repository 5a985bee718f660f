"""The `grade` command: one submission through the five stages, and what the command writes.

policy.load_policy → submission.load_submission → runner.run_checks → scoring.score → report.
cli.py registers it beside the other commands; grade-all's workers run it alone (`grade_main`),
so neither needs the whole command line.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console

from ..exercises import contract
from .feedback import redacted
from .outcomes import write_outcomes
from .policy import DEFAULT_POLICY, PolicyError, load_policy
from .report import gradescope_json, print_report, write_json_atomically
from .runner import UnconfinedRefused, confinement, run_checks
from .scoring import score
from .submission import SubmissionError, load_submission


class UsageError(ValueError):
    pass


USAGE_ERRORS = (PolicyError, SubmissionError, UsageError, UnconfinedRefused)  # one line on stderr, exit 2


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


def grade_pipeline(
    directory, *, policy_path=DEFAULT_POLICY, only=None, device="cpu", hidden=True, stages=None, unconfined=False
):
    """Run the five stages; with `stages`, write each stage's output there as a plain file.
    `unconfined`: the instructor allows hidden checks where student code cannot be confined."""
    policy = load_policy(policy_path)
    sandbox = confinement(hidden=hidden, unconfined=unconfined)
    if stages:
        Path(stages).mkdir(parents=True, exist_ok=True)
    staging = Path(stages) / "modules" if stages else None
    submission = load_submission(directory, selected_modules(only, policy), staging, policy.sandbox)
    timings: dict = {}
    outcomes = run_checks(
        policy, submission, hidden=hidden, device=device, timings=timings, confine=sandbox["confined"]
    )
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
    policy, report = grade_pipeline(
        args.submission,
        policy_path=args.policy,
        only=args.only,
        device=device,
        stages=args.stages,
        unconfined=args.unconfined,
    )
    language = args.lang or policy.language
    title = f"{Path(args.submission).name or args.submission} — {report.score:g}/{report.max_score:g}"
    print_report(redacted(report), language, title)  # the table leaves out hidden inputs, as report.md does
    Console(stderr=True).print(f"[dim]{time.monotonic() - started:.1f} s, device {device}[/dim]")
    if args.out:
        write_json_atomically(report.to_json(language), args.out)
    if args.gradescope:
        write_json_atomically(gradescope_json(redacted(report), language), args.gradescope)
    return 0


def add_unconfined_option(parser) -> None:
    parser.add_argument(
        "--unconfined",
        action="store_true",
        help="grade even where student code cannot be confined (not root, no namespaces); the report records it",
    )


def add_policy_option(parser) -> None:
    parser.add_argument("--policy", default=str(DEFAULT_POLICY), help="grading policy (default: grading.toml)")


def add_grade_command(commands) -> None:
    """`grade SUBMISSION [--out …]` on a subparsers object."""
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


def run_command(parser: argparse.ArgumentParser, argv=None, usage_errors: tuple = ()) -> int:
    """Parse `argv` and run its command; a usage error is one line on stderr and exit code 2."""
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (*USAGE_ERRORS, *usage_errors) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def grade_main(argv) -> int:
    """`python -m autograder [--policy P] grade …` with no other command (grade-all's workers)."""
    parser = argparse.ArgumentParser(prog="python -m autograder")
    add_policy_option(parser)
    add_grade_command(parser.add_subparsers(dest="command", required=True))
    return run_command(parser, argv)

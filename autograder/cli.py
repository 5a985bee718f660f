"""`python -m autograder …`: grade a submission, check your own work, regenerate stubs and fixtures.

The `grade` command and its pipeline are grading/pipeline.py's; the instructor's other commands
register themselves from their packages (classroom/, authoring/), which the student package leaves out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from .grading.pipeline import UsageError, add_grade_command, add_policy_option, grade_pipeline, run_command
from .grading.policy import load_policy
from .grading.report import print_report


def cmd_check(args) -> int:
    directory = args.directory or ("assignments" if Path("assignments").is_dir() else ".")
    policy, report = grade_pipeline(directory, policy_path=args.policy, only=args.only, hidden=False)
    language = args.lang or policy.language
    title = {"pt": "Testes públicos", "en": "Public checks"}[language]
    print_report(report, language, title)
    failing = [e for e in report.exercises if e.status != "passed"]
    console = Console()
    if failing:
        console.print(
            {
                "pt": f"{len(failing)} de {len(report.exercises)} exercícios ainda não passam.",
                "en": f"{len(failing)} of {len(report.exercises)} exercises do not pass yet.",
            }[language]
        )
        return 1
    console.print(
        {
            "pt": "Todos os testes públicos passam. Os testes ocultos usam outros dados.",
            "en": "All public checks pass. The hidden checks use other data.",
        }[language]
    )
    return 0


# commands of the instructor's kit that the student package leaves out (grade-all, class-report, gradescope,
# new-exercise)
INSTRUCTOR_COMMANDS = ("classroom.classroom", "classroom.class_report", "classroom.gradescope", "authoring.scaffold")


def _optional_module(name: str):
    """An instructor command's module, or None where it is not installed (the student package)."""
    import importlib

    try:
        return importlib.import_module(f"autograder.{name}")
    except ModuleNotFoundError as error:  # the module, or its whole package, left out
        if error.name != f"autograder.{name}" and not f"autograder.{name}".startswith(f"{error.name}."):
            raise
        return None


def instructor_module(name: str):
    """A module that the student package leaves out (it handles solutions and hidden tests)."""
    module = _optional_module(name)
    if module is None:
        raise UsageError("this command is part of the instructor's kit, not of the student package")
    return module


def cmd_stubs(args) -> int:
    write_stubs = instructor_module("authoring.codegen").write_stubs
    for path in write_stubs():
        print(path)
    return 0


def cmd_release(args) -> int:
    write_bundle = instructor_module("authoring.bundle").write_bundle
    try:
        print(write_bundle(Path(args.out_dir), Path(args.policy), package_url=args.package_url))
    except FileExistsError as error:
        raise UsageError(str(error)) from None
    return 0


def cmd_notebooks(args) -> int:
    write_notebooks = instructor_module("authoring.lessons").write_notebooks
    for path in write_notebooks(load_policy(args.policy).modules):
        print(path)
    return 0


def cmd_fixtures(args) -> int:
    from .exercises.cases import write_public_fixtures

    policy = load_policy(args.policy)
    for module in policy.modules:
        print(write_public_fixtures(module, policy.public_seed))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.splitlines()[0])
    add_policy_option(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    add_grade_command(commands)

    check = commands.add_parser("check", help="for students: run the public checks on your work")
    check.add_argument("directory", nargs="?", help="folder with your modules (default: assignments/ or .)")
    check.add_argument("--only", help="comma-separated modules to check")
    check.add_argument("--lang", choices=("pt", "en"))
    check.set_defaults(run=cmd_check)

    commands.add_parser("stubs", help="regenerate assignments/ from solutions/").set_defaults(run=cmd_stubs)
    release = commands.add_parser("release", help="write the student bundle (notebooks, stubs, public checks)")
    release.add_argument("out_dir")
    release.add_argument(
        "--package-url",
        help="where the notebooks' setup cell installs the student package "
        "from when no wheel lies beside the notebook (e.g. for Colab)",
    )
    release.set_defaults(run=cmd_release)
    commands.add_parser(
        "notebooks", help="regenerate source/<module>/<module>.ipynb from lessons/ and solutions/"
    ).set_defaults(run=cmd_notebooks)
    commands.add_parser("fixtures", help="regenerate the public checks' stored fixtures").set_defaults(run=cmd_fixtures)
    for name in INSTRUCTOR_COMMANDS:
        module = _optional_module(name)
        if module is not None:
            module.add_command(commands)
    return parser


def main(argv=None) -> int:
    classroom = _optional_module("classroom.classroom")
    return run_command(build_parser(), argv, (classroom.ClassroomError,) if classroom else ())

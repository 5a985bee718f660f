"""Stage 1 — load the grading policy (`grading.toml`) and validate every key.

Any problem is a `PolicyError` naming the file, the key and what is wrong; the CLI prints
it as one line and exits with code 2.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .. import PACKAGE, PROJECT
from ..exercises.contract import EXERCISES
from ..exercises.expect import Tolerance
from ..sandbox.settings import SandboxPolicy
from ..sandbox.tracer_state import RECURRENT_FUNCTIONS, RECURRENT_MODULES, SCIPY_ROUTINES

# the student package carries its public copy beside the code; the instructor's kit, at the root
_PACKAGED_POLICY = PACKAGE / "grading.toml"
DEFAULT_POLICY = _PACKAGED_POLICY if _PACKAGED_POLICY.is_file() else PROJECT / "grading.toml"


class PolicyError(ValueError):
    def __init__(self, path, key: str, problem: str):
        super().__init__(f"{path}: {key}: {problem}")


def _positive(v):
    return v > 0


def _non_negative(v):
    return v >= 0


# key -> (python types, predicate, description of a valid value)
NUMBER = ((int, float), _non_negative, "a number >= 0")
POSITIVE = ((int, float), _positive, "a number > 0")
COUNT = ((int,), _positive, "an integer > 0")
SEED = ((int,), _non_negative, "an integer >= 0")
LANGUAGE = ((str,), lambda v: v in ("pt", "en"), '"pt" or "en"')

GRADER_SCHEMA = {
    "language": LANGUAGE,
    "public_seed": SEED,
    "hidden_seed": SEED,
    "hidden_cases": COUNT,
    "import_limit_s": POSITIVE,
}
TOLERANCE_SCHEMA = {"rtol": NUMBER, "atol": NUMBER}
MODULE_SCHEMA = {"time_limit_s": POSITIVE, "memory_limit_mb": COUNT}
SANDBOX_SCHEMA = {
    "scratch_mb": COUNT,
    "shm_mb": COUNT,
    "max_processes": COUNT,
    "max_file_kb": COUNT,
    "max_notebook_kb": COUNT,
    "max_submission_kb": COUNT,
}
PATH = ((str,), lambda v: True, 'a folder path (string; "" for none)')
SERIES_NAME = ((str,), lambda v: v in ("co2", "sine"), '"co2" or "sine"')
FRACTION = ((int, float), lambda v: 0 < v < 1, "a number between 0 and 1")
EMBEDDED_DATA_SCHEMA = {"max_literal_chars": COUNT, "max_numbers": COUNT, "max_data_kb": POSITIVE}
# The class report's similarity check (autograder/classroom/class_report/similarity.py).
SIMILARITY_SCHEMA = {
    "threshold": ((int, float), lambda v: 0 < v <= 1, "a number > 0 and <= 1"),
    "min_shared_tokens": COUNT,
    "common_above": COUNT,
}

# Extra per-module tables (training budgets, thresholds) that later assignments declare:
# module -> {table name -> {key -> spec}}.
_TRAINING = {"budget_s": POSITIVE, "overrun_grace_s": NUMBER}
_THRESHOLD = {"full": NUMBER, "zero": NUMBER}  # metric giving full credit / no credit
_CLASS_SPLIT = {"test_fraction": FRACTION, "validation_fraction": FRACTION}  # drawn from the public/hidden seed
MODULE_TABLES: dict[str, dict[str, dict]] = {
    "name_classifier": {
        "data": _CLASS_SPLIT,
        "training": _TRAINING,
        "accuracy": _THRESHOLD,
        "balanced_accuracy": _THRESHOLD,
    },
    "pixel_gru": {
        "data": _CLASS_SPLIT,
        "training": _TRAINING,
        "accuracy": _THRESHOLD,
        "balanced_accuracy": _THRESHOLD,
        "mnist": {
            "path": PATH,
            "train_size": COUNT,
            "test_size": COUNT,
            "budget_s": POSITIVE,
            "accuracy_full": NUMBER,
            "accuracy_zero": NUMBER,
            "balanced_accuracy_full": NUMBER,
            "balanced_accuracy_zero": NUMBER,
        },
    },
    "forecast": {
        "data": {
            "series": SERIES_NAME,
            "window": COUNT,
            "horizon": COUNT,
            "test_fraction": FRACTION,
            "validation_fraction": FRACTION,
        },
        "training": _TRAINING,
        "mse_ratio": _THRESHOLD,
    },
}


@dataclass(frozen=True)
class EmbeddedDataPolicy:
    """How much data a file may carry in its literals and comments (autograder/exercises/embedded_data.py)."""

    max_literal_chars: int = 4000  # the longest string or bytes literal
    max_numbers: int = 1000  # numeric literals in one file
    max_data_kb: float = 16  # all literals and comments of one file


@dataclass(frozen=True)
class ModulePolicy:
    name: str
    time_limit_s: float
    memory_limit_mb: int
    points: dict[str, float]
    tables: dict[str, dict] = field(default_factory=dict)
    from_scratch: dict[str, str] = field(default_factory=dict)  # exercise -> name of a forbid list
    written: dict[str, float] = field(default_factory=dict)  # written answer -> points (graded by hand)


@dataclass(frozen=True)
class Policy:
    path: Path
    language: str
    public_seed: int
    hidden_seed: int
    hidden_cases: int
    import_limit_s: float
    tolerances: dict[str, Tolerance]
    modules: dict[str, ModulePolicy]
    sandbox: SandboxPolicy = SandboxPolicy()
    similarity: dict = field(default_factory=dict)
    forbid: dict[str, tuple[str, ...]] = field(default_factory=dict)  # [from_scratch.forbid]: list -> routines
    embedded_data: EmbeddedDataPolicy = EmbeddedDataPolicy()

    def points(self, module: str, exercise: str) -> float:
        return self.modules[module].points[exercise]

    def tolerance(self, dtype_name: str) -> Tolerance:
        return self.tolerances["float64" if dtype_name == "float64" else "float32"]


def _check_table(path, prefix: str, table, schema: dict) -> dict:
    if not isinstance(table, dict):
        raise PolicyError(path, prefix, "must be a table")
    for key in table:
        if key not in schema:
            raise PolicyError(path, f"{prefix}.{key}", f"unknown key (expected one of: {', '.join(schema)})")
    for key, (types, valid, description) in schema.items():
        if key not in table:
            raise PolicyError(path, f"{prefix}.{key}", f"missing (expected {description})")
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, types) or not valid(value):
            raise PolicyError(path, f"{prefix}.{key}", f"{value!r} is not {description}")
    return dict(table)


def _require_tables(path, prefix: str, table: dict, names: tuple) -> None:
    """`table` has exactly the sub-tables `names`."""
    where = prefix.rstrip(".") or "(top level)"
    if not isinstance(table, dict):
        raise PolicyError(path, where, "must be a table")
    for key in table:
        if key not in names:
            raise PolicyError(path, prefix + key, f"unknown key (expected one of: {', '.join(names)})")
    for key in names:
        if key not in table:
            raise PolicyError(path, prefix + key, "missing table")


def _known_routine(name: str) -> bool:
    """A name the from-scratch watch can see (autograder/sandbox/tracing.py): "torch" (any torch call),
    a recurrent module "torch.nn.<Class>", a watched "scipy.special.<f>", or a torch function
    "torch.<f>" / "torch.nn.functional.<f>" / method "torch.Tensor.<f>" that exists."""
    static = (
        {f"torch.nn.{m}" for m in RECURRENT_MODULES}
        | {f"torch.{f}" for f in RECURRENT_FUNCTIONS}
        | {f"scipy.special.{f}" for f in SCIPY_ROUTINES}
    )
    if name == "torch" or name in static:
        return True
    owner, _, attribute = name.rpartition(".")
    if owner not in ("torch", "torch.nn.functional", "torch.Tensor") or not attribute.isidentifier():
        return False
    import importlib

    import torch

    return callable(
        getattr(torch.Tensor if owner == "torch.Tensor" else importlib.import_module(owner), attribute, None)
    )


def forbid_lists(path, table) -> dict[str, tuple[str, ...]]:
    """[from_scratch.forbid]: named lists of the routines a from-scratch exercise may not reach."""
    _require_tables(path, "from_scratch.", table, ("forbid",))
    lists = table["forbid"]
    if not isinstance(lists, dict):
        raise PolicyError(path, "from_scratch.forbid", "must be a table: list name = [routine, ...]")
    for rule, names in lists.items():
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise PolicyError(path, f"from_scratch.forbid.{rule}", "must be a non-empty list of routine names")
        for name in names:
            if not _known_routine(name):
                raise PolicyError(
                    path, f"from_scratch.forbid.{rule}", f"unknown routine {name!r} (see README: From scratch)"
                )
    return {rule: tuple(names) for rule, names in lists.items()}


def from_scratch_exercises(path, module: str, table, forbid: dict) -> dict[str, str]:
    """[modules.<m>.from_scratch]: exercise = the name of its forbid list."""
    prefix = f"modules.{module}.from_scratch"
    if not isinstance(table, dict):
        raise PolicyError(path, prefix, "must be a table: exercise = forbid list")
    for exercise, rule in table.items():
        if exercise not in EXERCISES[module]:
            raise PolicyError(path, f"{prefix}.{exercise}", f"not an exercise of {module} in the API contract")
        if rule not in forbid:
            raise PolicyError(
                path,
                f"{prefix}.{exercise}",
                f"{rule!r} is not a list of [from_scratch.forbid] ({', '.join(forbid) or 'none'})",
            )
    return dict(table)


def _module_policy(path, name: str, table, forbid: dict) -> ModulePolicy:
    prefix = f"modules.{name}"
    if name not in EXERCISES:
        raise PolicyError(path, prefix, f"not a module of the API contract ({', '.join(EXERCISES)})")
    if not isinstance(table, dict):
        raise PolicyError(path, prefix, "must be a table")
    extra_tables = MODULE_TABLES.get(name, {})
    plain = {k: v for k, v in table.items() if k not in ("points", "from_scratch", "written") and k not in extra_tables}
    values = _check_table(path, prefix, plain, MODULE_SCHEMA)
    points = table.get("points")
    if points is None:
        raise PolicyError(path, f"{prefix}.points", "missing (a table: exercise = points)")
    exercise_schema = dict.fromkeys(EXERCISES[name], NUMBER)
    for key in points if isinstance(points, dict) else ():
        if key not in exercise_schema:
            raise PolicyError(path, f"{prefix}.points.{key}", f"not an exercise of {name} in the API contract")
    points = _check_table(path, f"{prefix}.points", points, exercise_schema)
    tables = {t: _check_table(path, f"{prefix}.{t}", table.get(t), schema) for t, schema in extra_tables.items()}
    return ModulePolicy(
        name,
        float(values["time_limit_s"]),
        int(values["memory_limit_mb"]),
        {k: float(v) for k, v in points.items()},
        tables,
        from_scratch_exercises(path, name, table.get("from_scratch", {}), forbid),
        written_answers(path, name, table.get("written", {})),
    )


WRITTEN_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def written_answers(path, module: str, table) -> dict[str, float]:
    """[modules.<m>.written]: answer = points, the written answers graded by hand (nbgrader's
    formgrader); a name is an nbgrader grade_id, unlike any exercise's."""
    prefix = f"modules.{module}.written"
    if not isinstance(table, dict):
        raise PolicyError(path, prefix, "must be a table: answer = points")
    for key, value in table.items():
        if not WRITTEN_NAME.match(key) or key in EXERCISES[module] or key.removesuffix("_test") in EXERCISES[module]:
            raise PolicyError(path, f"{prefix}.{key}", "not a valid name (lower case, digits, _; not an exercise's)")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise PolicyError(path, f"{prefix}.{key}", f"{value!r} is not a positive number of points")
    return {key: float(value) for key, value in table.items()}


def load_policy(path: str | Path = DEFAULT_POLICY) -> Policy:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(path, "(file)", "not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(path, "(file)", f"cannot be read ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(path, "(syntax)", str(error)) from None
    _require_tables(
        path,
        "",
        {k: v for k, v in data.items() if k != "from_scratch"},
        ("grader", "tolerances", "modules", "sandbox", "similarity", "embedded_data"),
    )
    forbid = forbid_lists(path, data.get("from_scratch", {"forbid": {}}))
    grader = _check_table(path, "grader", data["grader"], GRADER_SCHEMA)
    tolerances_table = data["tolerances"]
    _require_tables(path, "tolerances.", tolerances_table, ("float64", "float32"))
    tolerances = {
        name: Tolerance(**_check_table(path, f"tolerances.{name}", tolerances_table[name], TOLERANCE_SCHEMA))
        for name in ("float64", "float32")
    }
    modules_table = data["modules"]
    if not isinstance(modules_table, dict) or not modules_table:
        raise PolicyError(path, "modules", "must be a table with at least one module")
    modules = {name: _module_policy(path, name, table, forbid) for name, table in modules_table.items()}
    sandbox = SandboxPolicy(**_check_table(path, "sandbox", data["sandbox"], SANDBOX_SCHEMA))
    similarity = _check_table(path, "similarity", data["similarity"], SIMILARITY_SCHEMA)
    embedded = EmbeddedDataPolicy(**_check_table(path, "embedded_data", data["embedded_data"], EMBEDDED_DATA_SCHEMA))
    return Policy(
        path,
        grader["language"],
        grader["public_seed"],
        grader["hidden_seed"],
        grader["hidden_cases"],
        float(grader["import_limit_s"]),
        tolerances,
        modules,
        sandbox,
        similarity,
        forbid,
        embedded,
    )

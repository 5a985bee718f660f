"""Stage 3's output: one `Outcome` per exercise (its status, share of the points, messages),
and how a check's verdict, a failure of student code or a from-scratch violation becomes one."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..exercises.contract import exercise_id
from ..exercises.expect import CheckFailure, PartialCredit
from ..exercises.scratch import ScratchViolation
from ..messages import Message
from ..sandbox.proxies import StudentFailure
from ..sandbox.settings import Limits


@dataclass
class Outcome:
    module: str
    exercise: str
    status: str  # passed | failed | error | timeout | missing
    fraction: float = 0.0  # of the exercise's points
    messages: list[Message] = field(default_factory=list)
    seconds: float = 0.0
    artifacts: dict = field(default_factory=dict)  # plot data the check attached (autograder/exercises/artifacts.py)

    @property
    def id(self) -> str:
        return exercise_id(self.module, self.exercise)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "module": self.module,
            "exercise": self.exercise,
            "status": self.status,
            "fraction": self.fraction,
            "messages": [m.to_json() for m in self.messages],
            "seconds": round(self.seconds, 3),
            **({"artifacts": self.artifacts} if self.artifacts else {}),
        }

    @classmethod
    def from_json(cls, data: dict) -> Outcome:
        return cls(
            data["module"],
            data["exercise"],
            data["status"],
            data["fraction"],
            [Message.from_json(m) for m in data["messages"]],
            data.get("seconds", 0.0),
            data.get("artifacts", {}),
        )


def write_outcomes(outcomes: list[Outcome], path: Path) -> None:
    path.write_text(json.dumps([o.to_json() for o in outcomes], indent=2, ensure_ascii=False), encoding="utf-8")


def failure_outcome(module: str, exercise: str, failure: StudentFailure, limits: Limits) -> Outcome:
    """What a failure of student code means for the exercise being checked, labelled with the
    case it happened on when known (so a hidden case's exception text stays the instructor's)."""
    outcome = _failure_outcome(module, exercise, failure, limits)
    if failure.case is not None and failure.case.key == "case_hidden":
        outcome.messages.append(failure.case)
    return outcome


def _failure_outcome(module: str, exercise: str, failure: StudentFailure, limits: Limits) -> Outcome:
    name = exercise
    if failure.kind == "timeout":
        return Outcome(
            module, exercise, "timeout", 0.0, [Message("timeout", {"name": name, "seconds": failure.message})]
        )
    if failure.kind == "missing":
        return Outcome(
            module, exercise, "missing", 0.0, [Message("missing_name", {"name": failure.message, "module": module})]
        )
    if failure.kind == "internal":
        return Outcome(module, exercise, "error", 0.0, [Message("internal", {"detail": failure.message})])
    if failure.kind == "crash":
        return Outcome(
            module,
            exercise,
            "error",
            0.0,
            [Message("crash", {"name": name, "module": module, "detail": failure.message})],
        )
    if failure.kind == "memory" or failure.exc_type == "MemoryError":
        return Outcome(
            module, exercise, "error", 0.0, [Message("memory", {"name": name, "limit_mb": limits.memory_mb})]
        )
    if failure.exc_type == "ValueError" and "read-only" in failure.message:  # numpy refused an in-place change
        return Outcome(module, exercise, "failed", 0.0, [Message("mutated_read_only", {"name": name})])
    if failure.kind == "protocol":
        return Outcome(module, exercise, "error", 0.0, [Message("protocol", {"name": name, "detail": failure.message})])
    if failure.exc_type == "NotImplementedError":
        return Outcome(
            module, exercise, "failed", 0.0, [Message("not_implemented", {"name": name, "hint": failure.message})]
        )
    detail = failure.message.strip().splitlines()[-1][:300] if failure.message.strip() else ""
    return Outcome(
        module,
        exercise,
        "error",
        0.0,
        [Message("raised", {"name": name, "exc_type": failure.exc_type, "message": detail})],
    )


def outcome_of(module: str, exercise: str, error: BaseException | None, limits: Limits) -> Outcome:
    """The outcome of one check, from what it raised (None: it passed)."""
    if error is None:
        return Outcome(module, exercise, "passed", 1.0)
    if isinstance(error, PartialCredit):
        status = "passed" if error.fraction >= 1.0 else "failed"
        return Outcome(module, exercise, status, error.fraction, error.messages)
    if isinstance(error, CheckFailure):
        return Outcome(module, exercise, "failed", 0.0, error.messages)
    if isinstance(error, StudentFailure):
        return failure_outcome(module, exercise, error, limits)
    if isinstance(error, ScratchViolation):
        return Outcome(module, exercise, "failed", 0.0, error.messages())
    return Outcome(
        module, exercise, "error", 0.0, [Message("internal", {"detail": f"{type(error).__name__}: {error}"[:300]})]
    )

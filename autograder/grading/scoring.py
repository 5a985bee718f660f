"""Stage 4 — score: turn each exercise's outcome into points under the policy."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..messages import Message, render_all
from .outcomes import Outcome
from .policy import Policy


@dataclass
class ExerciseScore:
    id: str
    module: str
    exercise: str
    score: float
    max_score: float
    status: str
    messages: list[Message] = field(default_factory=list)
    artifacts: dict = field(default_factory=dict)

    def to_json(self, language: str) -> dict:
        return {
            "id": self.id,
            "module": self.module,
            "score": self.score,
            "max_score": self.max_score,
            "status": self.status,
            "feedback": render_all(self.messages, language),
            "messages": [m.to_json() for m in self.messages],
            **({"artifacts": self.artifacts} if self.artifacts else {}),
        }


@dataclass
class PendingAnswer:
    """A written answer, graded by hand (nbgrader's formgrader): never scored here, and never
    counted in the auto-graded score or maximum."""

    id: str
    module: str
    name: str
    max_score: float

    def to_json(self, language: str) -> dict:
        return {
            "id": self.id,
            "module": self.module,
            "max_score": self.max_score,
            "status": "pending",
            "feedback": Message("written_pending").render(language),
        }


@dataclass
class Report:
    exercises: list[ExerciseScore]
    sandbox: dict = field(default_factory=dict)  # how student code ran (runner.confinement)
    pending: list[PendingAnswer] = field(default_factory=list)  # written answers, to be graded by hand

    @property
    def pending_max_score(self) -> float:
        return round(sum(p.max_score for p in self.pending), 4)

    @property
    def score(self) -> float:
        return round(sum(e.score for e in self.exercises), 4)

    @property
    def max_score(self) -> float:
        return round(sum(e.max_score for e in self.exercises), 4)

    def modules(self) -> dict[str, tuple[float, float]]:
        totals: dict[str, tuple[float, float]] = {}
        for e in self.exercises:
            got, top = totals.get(e.module, (0.0, 0.0))
            totals[e.module] = (round(got + e.score, 4), round(top + e.max_score, 4))
        return totals

    def to_json(self, language: str) -> dict:
        return {
            "score": self.score,
            "max_score": self.max_score,
            "language": language,
            "modules": {m: {"score": s, "max_score": t} for m, (s, t) in self.modules().items()},
            "exercises": [e.to_json(language) for e in self.exercises],
            **(
                {"pending": [p.to_json(language) for p in self.pending], "pending_max_score": self.pending_max_score}
                if self.pending
                else {}
            ),
            **({"sandbox": self.sandbox} if self.sandbox else {}),
        }


def score(outcomes: list[Outcome], policy: Policy) -> Report:
    exercises = []
    for outcome in outcomes:
        points = policy.points(outcome.module, outcome.exercise)
        exercises.append(
            ExerciseScore(
                outcome.id,
                outcome.module,
                outcome.exercise,
                round(points * outcome.fraction, 4),
                points,
                outcome.status,
                list(outcome.messages),
                dict(outcome.artifacts),
            )
        )
    modules = list(dict.fromkeys(outcome.module for outcome in outcomes))
    return Report(exercises, pending=pending_answers(policy, modules))


def pending_answers(policy: Policy, modules: list[str]) -> list[PendingAnswer]:
    """The written answers of `modules`, in the policy's order: pending until graded by hand."""
    return [
        PendingAnswer(f"{module}.{name}", module, name, points)
        for module in modules
        for name, points in policy.modules[module].written.items()
    ]

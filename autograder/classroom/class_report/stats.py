"""The class's numbers, computed from the students' JSON reports (`results.ClassResults`).

Only keys, statuses, points and the metrics' values are read here; no message about a hidden
case is ever rendered, so nothing computed here can show hidden data.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from ...messages import Message, catalog
from .results import ClassResults

# The from-scratch enforcement (autograder/exercises/scratch.py) records a forbidden shortcut, or a way
# around its watch, as one of these messages (with the routine and the exercise).
SHORTCUT_KEYS = ("scratch_forbidden", "scratch_tampered")
METRIC_PREFIX = "score_"  # practical.award: score_accuracy, score_mse_ratio, …
NOT_ATTEMPTED_KEYS = ("not_implemented",)  # the stub's raise NotImplementedError
HOSTILE_KEYS = {"crash": "crash", "memory": "memory", "protocol": "protocol"}
FORBIDDEN_ERRORS = ("PermissionError",)
FORBIDDEN_TEXTS = ("Read-only file system", "Permission denied", "Network is unreachable")


@dataclass
class Summary:
    """Points of one exercise, one module or the total, over the graded students."""

    name: str
    max_score: float
    points: list[float]
    not_attempted: int = 0
    failed_runs: int = 0  # timeout or error

    @property
    def count(self) -> int:
        return len(self.points)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.points) if self.points else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.points) if self.points else 0.0

    @property
    def full_share(self) -> float:
        return self._share(sum(1 for p in self.points if p >= self.max_score))

    @property
    def not_attempted_share(self) -> float:
        return self._share(self.not_attempted)

    @property
    def failed_runs_share(self) -> float:
        return self._share(self.failed_runs)

    def outcomes(self) -> dict[str, int]:
        """Students per outcome: full, partial, zero (attempted, ran), not_attempted, failed_runs."""
        zeros = sum(1 for p in self.points if p <= 0)
        full = sum(1 for p in self.points if p >= self.max_score > 0)
        return {
            "full": full,
            "partial": self.count - full - zeros,
            "zero": max(zeros - self.not_attempted - self.failed_runs, 0),
            "not_attempted": self.not_attempted,
            "failed_runs": self.failed_runs,
        }

    def distribution(self) -> list[tuple[float, int]]:
        """(points, students) for each value that occurs, lowest first."""
        return sorted(Counter(self.points).items())

    def _share(self, count: int) -> float:
        return count / len(self.points) if self.points else 0.0


@dataclass(frozen=True)
class Mistake:
    exercise: str
    key: str
    params: dict
    students: int


@dataclass
class Metric:
    exercise: str
    metric: str  # accuracy, balanced_accuracy, mse_ratio
    values: list[float] = field(default_factory=list)
    full: float | None = None
    zero: float | None = None
    training_seconds: list[float] = field(default_factory=list)

    def label(self, language: str) -> str:
        key = f"class_metric_{self.metric}"
        return Message(key).render(language) if key in catalog() else self.metric


@dataclass(frozen=True)
class Flag:
    student: str
    kind: str  # shortcut | timeout | crash | memory | protocol | forbidden | internal | grading_failed
    exercise: str = ""
    message: dict | None = None  # a shortcut's message (key, params), rendered by the report


def is_not_attempted(exercise: dict) -> bool:
    messages = exercise.get("messages") or []
    return exercise["status"] == "missing" or bool(messages and messages[0]["key"] in NOT_ATTEMPTED_KEYS)


def exercise_summaries(results: ClassResults) -> dict[str, Summary]:
    """exercise id -> its Summary, in the reports' order."""
    summaries: dict[str, Summary] = {}
    for student in results.graded:
        for exercise in results.reports[student]["exercises"]:
            summary = summaries.setdefault(exercise["id"], Summary(exercise["id"], exercise["max_score"], []))
            summary.points.append(exercise["score"])
            summary.not_attempted += is_not_attempted(exercise)
            summary.failed_runs += exercise["status"] in ("timeout", "error")
    return summaries


def module_summaries(results: ClassResults) -> dict[str, Summary]:
    """module -> Summary of its totals; not attempted = none of its exercises attempted."""
    summaries: dict[str, Summary] = {}
    for student in results.graded:
        report = results.reports[student]
        for module, totals in report["modules"].items():
            exercises = [e for e in report["exercises"] if e["module"] == module]
            summary = summaries.setdefault(module, Summary(module, totals["max_score"], []))
            summary.points.append(totals["score"])
            summary.not_attempted += all(is_not_attempted(e) for e in exercises)
            summary.failed_runs += any(e["status"] in ("timeout", "error") for e in exercises)
    return summaries


def total_summary(results: ClassResults) -> Summary:
    """The total score; not attempted = no exercise attempted at all."""
    reports = [results.reports[s] for s in results.graded]
    summary = Summary("total", max((r["max_score"] for r in reports), default=0.0), [r["score"] for r in reports])
    summary.not_attempted = sum(all(is_not_attempted(e) for e in r["exercises"]) for r in reports)
    summary.failed_runs = sum(any(e["status"] in ("timeout", "error") for e in r["exercises"]) for r in reports)
    return summary


def mistakes(results: ClassResults) -> list[Mistake]:
    """Diagnosed mistakes (diag_* messages), each counted once per student and exercise; most
    frequent first, then in the reports' exercise order."""
    counts: Counter = Counter()
    order: dict[str, int] = {}
    for student in results.graded:
        for exercise in results.reports[student]["exercises"]:
            order.setdefault(exercise["id"], len(order))
            seen = {
                (exercise["id"], m["key"], json.dumps(m.get("params", {}), sort_keys=True))
                for m in exercise.get("messages", [])
                if m["key"].startswith("diag_")
            }
            counts.update(seen)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], order[item[0][0]], item[0][1], item[0][2]))
    return [Mistake(exercise, key, json.loads(params), count) for (exercise, key, params), count in ranked]


def metrics(results: ClassResults) -> list[Metric]:
    """The trained tasks' metric values (score_* messages) and training times."""
    found: dict[tuple[str, str], Metric] = {}
    for student in results.graded:
        for exercise in results.reports[student]["exercises"]:
            for message in exercise.get("messages", []):
                if not message["key"].startswith(METRIC_PREFIX):
                    continue
                params = message.get("params", {})
                metric = found.setdefault(
                    (exercise["id"], message["key"]), Metric(exercise["id"], message["key"].removeprefix(METRIC_PREFIX))
                )
                metric.values.append(float(params["value"]))
                metric.full, metric.zero = params.get("full"), params.get("zero")
                if "seconds" in params:
                    metric.training_seconds.append(float(params["seconds"]))
    return list(found.values())


def _hostile_kind(exercise: dict) -> str | None:
    if exercise["status"] == "timeout":
        return "timeout"
    for message in exercise.get("messages", []):
        if message["key"] in HOSTILE_KEYS:
            return HOSTILE_KEYS[message["key"]]
        params = message.get("params", {})
        if message["key"] == "raised" and (
            params.get("exc_type") in FORBIDDEN_ERRORS
            or any(t in str(params.get("message", "")) for t in FORBIDDEN_TEXTS)
        ):
            return "forbidden"
        if message["key"] == "internal":
            return "internal"
    return None


def flags(results: ClassResults) -> list[Flag]:
    """Shortcut violations, hostile behaviour and grading failures, by student."""
    found = [
        Flag(student, "grading_failed", message={"reason": reason}) for student, reason in results.failures.items()
    ]
    for student in results.graded:
        for exercise in results.reports[student]["exercises"]:
            found += [
                Flag(student, "shortcut", exercise["id"], m)
                for m in exercise.get("messages", [])
                if m["key"] in SHORTCUT_KEYS
            ]
            kind = _hostile_kind(exercise)
            if kind:
                found.append(Flag(student, kind, exercise["id"]))
    return sorted(found, key=lambda flag: (flag.student, flag.kind, flag.exercise))


def flag_counts(found: list[Flag]) -> dict[str, int]:
    """kind -> number of students with at least one such flag."""
    return dict(Counter(kind for kind, _ in {(f.kind, f.student) for f in found}))


def modules_of(results: ClassResults) -> list[str]:
    seen: dict[str, None] = {}
    for student in results.graded:
        seen.update(dict.fromkeys(results.reports[student]["modules"]))
    return list(seen)


def exercises_by_module(summaries: dict[str, Summary]) -> dict[str, list[Summary]]:
    grouped: dict[str, list[Summary]] = defaultdict(list)
    for exercise_id, summary in summaries.items():
        grouped[exercise_id.split(".", 1)[0]].append(summary)
    return dict(grouped)

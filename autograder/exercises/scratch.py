"""From scratch, on the grader's side: arm each watched request, and judge what comes back.

grading.toml says what each from-scratch exercise may not reach (`from_scratch`, validated
by policy.py). While such an exercise's check runs, every request that runs student code
carries a watch spec (a nonce, a sequence number, the forbidden names); the student's side
(autograder/sandbox/tracing.py) answers with what the call reached. The report is untrusted data: the
verdict is taken here, and a reply without a report that echoes the nonce and sequence number
means the watch was taken out — tampering, as is any tampering the report itself records.
"""

from __future__ import annotations

import secrets

from ..messages import Message, catalog
from ..sandbox.tracer_state import matches, notable


class ScratchViolation(Exception):
    """The exercise reached a forbidden routine (kind "forbidden") or got around the watch
    ("tampered"); either scores the exercise zero."""

    def __init__(self, kind: str, exercise: str, rule: str, *, routine: str = "", where: str = "", what: str = ""):
        super().__init__(f"{kind}: {exercise}: {routine or what}")
        self.kind, self.exercise, self.rule = kind, exercise, rule
        self.routine, self.where, self.what = routine, where, what

    def messages(self) -> list[Message]:
        """The feedback: what was called, where, and what to do instead (pt and en)."""
        if self.kind == "tampered":
            return [Message("scratch_tampered", {"name": self.exercise, "what": self.what})]
        found = [
            Message(
                "scratch_forbidden",
                {
                    "name": self.exercise,
                    "where": self.where or self.exercise,
                    "routine": self.routine,
                    "rule": self.rule,
                },
            )
        ]
        hint = f"scratch_hint_{self.rule}"
        return found + ([Message(hint, {"name": self.exercise})] if hint in catalog() else [])


class ExerciseWatch:
    """The watch of one from-scratch exercise's check: arms requests and judges their replies."""

    def __init__(self, exercise: str, rule: str, forbid: tuple[str, ...]):
        self.exercise, self.rule, self.forbid = exercise, rule, tuple(forbid)
        self.nonce = secrets.token_hex(8)
        self.sequence = 0
        self.pending: int | None = None  # the sequence number of the request awaiting its reply

    def spec(self) -> dict:
        """What goes with the next request: the child echoes nonce and seq in its report."""
        self.sequence += 1
        self.pending = self.sequence
        return {"nonce": self.nonce, "seq": self.sequence, "forbid": list(self.forbid)}

    def verify(self, reply: dict) -> None:
        """Raise ScratchViolation when the reply to the armed request says (or shows) a shortcut."""
        if self.pending is None:
            return
        expected, self.pending = self.pending, None
        report = untampered_report(reply, self.nonce, expected, self.exercise, self.rule)
        reached = [
            item
            for item in report.get("reached") or []
            if isinstance(item, dict) and matches(str(item.get("routine", "")), self.forbid)
        ]
        if reached:  # named first: a routine the list names, or a recurrent one, over any torch call
            item = sorted(reached, key=lambda found: not notable(str(found["routine"]), self.forbid))[0]
            raise self._violation("forbidden", routine=str(item["routine"]), where=str(item.get("where", ""))[:120])

    def _violation(self, kind: str, **details) -> ScratchViolation:
        return ScratchViolation(kind, self.exercise, self.rule, **details)


def untampered_report(reply: dict, nonce: str, sequence: int, exercise: str, rule: str) -> dict:
    """The watch's report in `reply`; ScratchViolation("tampered") when it does not echo `nonce`
    and `sequence` (the watch was taken out) or records tampering."""
    report = reply.get("scratch")
    if not isinstance(report, dict) or report.get("nonce") != nonce or report.get("seq") != sequence:
        raise ScratchViolation("tampered", exercise, rule, what="no report from the watch")
    tampered = report.get("tampered")
    if isinstance(tampered, list) and tampered:
        raise ScratchViolation("tampered", exercise, rule, what=str(tampered[0])[:200])
    return report


def watch_for(policy, module: str, exercise: str) -> ExerciseWatch | None:
    """The watch an exercise's check runs under, or None when the policy does not restrict it."""
    rule = policy.modules[module].from_scratch.get(exercise) if module in policy.modules else None
    return None if rule is None else ExerciseWatch(exercise, rule, policy.forbid[rule])

"""Check of `rnn_basics.TAXONOMY`: the lecture's problems and the course's tasks, each with its shape.

Graded per item: each right answer is worth an equal share. A wrong one is explained twice,
by what the chosen shape means and by what the problem's inputs and outputs are. Collected
through `checks/rnn_basics.py`.
"""

from __future__ import annotations

import hashlib

from ...messages import Message
from ..expect import PartialCredit, fail

SHAPES = ("one_to_many", "many_to_one", "many_to_many", "many_to_many_synced")
# problem -> (its slug in the locale keys, the accepted answers as digests of "problem=shape": the
# student bundle ships this file, and trying the four shapes with `check` is the way to learn).
# Forecasting accepts two: the course's Forecaster reads the window and gives all the horizon
# values from its last step (many to one, a vector output); a decoder writing them one by one
# is many to many.
PROBLEMS = {
    "image captioning": ("image_captioning", {"f1621da6500e29be"}),
    "sentiment analysis": ("sentiment", {"331e0d5870da5a58"}),
    "speech to text": ("speech", {"5d9615d8739f2cd9"}),
    "named-entity recognition": ("ner", {"46bbd4e533ed2630"}),
    "name to nationality": ("nationality", {"8ec517ef11357d8f"}),
    "forecasting the next values": ("forecasting", {"3fa61afbc104fe12", "ceecdffdf37785b2"}),
    "digit read row by row": ("digits", {"0faa6cf0c9d14fd8"}),
}
HINT = "Dica: troque cada None de TAXONOMY por um destes textos: " + ", ".join(f'"{s}"' for s in SHAPES) + "."


def digest(problem: str, answer: str) -> str:
    return hashlib.sha256(f"{problem}={answer}".encode()).hexdigest()[:16]


def _right(problem: str, answer, accepted: set) -> bool:
    return isinstance(answer, str) and digest(problem, answer) in accepted


def item_messages(problem: str, answer) -> list[Message]:
    """Why `answer` is not the shape of `problem` (empty when it is)."""
    slug, accepted = PROBLEMS[problem]
    if _right(problem, answer, accepted):
        return []
    if answer is None:
        return [Message("taxonomy_unanswered", {"problem": problem})]
    if answer not in SHAPES:
        return [
            Message("taxonomy_unknown", {"problem": problem, "got": repr(answer)[:60], "choices": ", ".join(SHAPES)})
        ]
    return [
        Message("taxonomy_wrong", {"problem": problem, "got": answer}),
        Message(f"taxonomy_shape_{answer}"),
        Message(f"diag_taxonomy_{slug}"),
    ]


def check_TAXONOMY(student):
    answers = student.get("TAXONOMY")
    if not isinstance(answers, dict):
        fail("wrong_type", what="TAXONOMY", expected="dict", got=type(answers).__name__)
    if all(answers.get(problem) is None for problem in PROBLEMS):
        fail("not_implemented", name="TAXONOMY", hint=HINT)
    messages = [message for problem in PROBLEMS for message in item_messages(problem, answers.get(problem))]
    right = sum(_right(problem, answers.get(problem), accepted) for problem, (_, accepted) in PROBLEMS.items())
    if right < len(PROBLEMS):
        raise PartialCredit(
            right / len(PROBLEMS), Message("taxonomy_partial", {"right": right, "total": len(PROBLEMS)}), *messages
        )

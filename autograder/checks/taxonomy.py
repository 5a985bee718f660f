"""Check of `rnn_basics.TAXONOMY`: the lecture's problems and the course's tasks, each with its shape.

Graded per item: each right answer is worth an equal share. A wrong one is explained twice,
by what the chosen shape means and by what the problem's inputs and outputs are. Collected
through `checks/rnn_basics.py`.
"""
from __future__ import annotations

from ..expect import PartialCredit, fail
from ..messages import Message

SHAPES = ("one_to_many", "many_to_one", "many_to_many", "many_to_many_synced")
# problem -> (its slug in the locale keys, the shapes accepted). Forecasting: the course's
# Forecaster reads the window and gives all the horizon values from its last step (many to
# one, with a vector output); an encoder-decoder that writes them one by one is many to many.
PROBLEMS = {
    "image captioning": ("image_captioning", {"one_to_many"}),
    "sentiment analysis": ("sentiment", {"many_to_one"}),
    "speech to text": ("speech", {"many_to_many"}),
    "named-entity recognition": ("ner", {"many_to_many_synced"}),
    "name to nationality": ("nationality", {"many_to_one"}),
    "forecasting the next values": ("forecasting", {"many_to_one", "many_to_many"}),
    "digit read row by row": ("digits", {"many_to_one"}),
}
HINT = ("Dica: troque cada None de TAXONOMY por um destes textos: " + ", ".join(f'"{s}"' for s in SHAPES) + ".")


def _right(answer, accepted: set) -> bool:
    return isinstance(answer, str) and answer in accepted


def item_messages(problem: str, answer) -> list[Message]:
    """Why `answer` is not the shape of `problem` (empty when it is)."""
    slug, accepted = PROBLEMS[problem]
    if _right(answer, accepted):
        return []
    if answer is None:
        return [Message("taxonomy_unanswered", {"problem": problem})]
    if answer not in SHAPES:
        return [Message("taxonomy_unknown", {"problem": problem, "got": repr(answer)[:60],
                                             "choices": ", ".join(SHAPES)})]
    return [Message("taxonomy_wrong", {"problem": problem, "got": answer}), Message(f"taxonomy_shape_{answer}"),
            Message(f"diag_taxonomy_{slug}")]


def check_TAXONOMY(student):
    answers = student.get("TAXONOMY")
    if not isinstance(answers, dict):
        fail("wrong_type", what="TAXONOMY", expected="dict", got=type(answers).__name__)
    if all(answers.get(problem) is None for problem in PROBLEMS):
        fail("not_implemented", name="TAXONOMY", hint=HINT)
    messages = [message for problem in PROBLEMS for message in item_messages(problem, answers.get(problem))]
    right = sum(_right(answers.get(problem), accepted) for problem, (_, accepted) in PROBLEMS.items())
    if right < len(PROBLEMS):
        raise PartialCredit(right / len(PROBLEMS), Message("taxonomy_partial", {"right": right,
                                                                                "total": len(PROBLEMS)}), *messages)

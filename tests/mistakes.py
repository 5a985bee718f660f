"""The mistake corpus: mutations of the reference solutions, each graded on its own.

Every module's tests declare a list of `Mistake`s (tests/test_<module>.py, `CORPUS`). A
mistake is a patch of the reference; grading it must cost points in its own exercise (and
in those that call it, `also`) and nowhere else, and that exercise's feedback must name it
with `diagnosis`, a message that renders in Portuguese and English. `diagnosis=None` marks
a mistake the grader catches but cannot name: its feedback must then carry no diagnosis,
so the share of named mistakes is measured, not declared.

`python tests/mistakes.py` prints that share per module.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from autograder.messages import LANGUAGES, catalog
from conftest import patched_source


@dataclass(frozen=True)
class Mistake:
    name: str
    exercise: str  # where the mistake is
    diagnosis: str | None  # the message key that names it there (None: caught, not named)
    patches: tuple = ()  # (old, new) replacements in the reference
    append: str = ""  # code appended after the patched reference
    also: frozenset = frozenset()  # exercises that call the broken one and so lose points too

    @property
    def broken(self) -> set[str]:
        return {self.exercise, *self.also}


def mistake(name, exercise, diagnosis, *patches, append="", also=()) -> Mistake:
    return Mistake(name, exercise, diagnosis, tuple(patches), textwrap.dedent(append), frozenset(also))


def mistake_source(module: str, mistake: Mistake) -> str:
    return patched_source(module, mistake.patches) + "\n" + mistake.append


def diagnosis_keys(messages) -> list[str]:
    return [message.key for message in messages if message.key.startswith("diag_")]


def assert_renders_in_both_languages(message) -> None:
    """The message has a template in every language, and each formats with its parameters."""
    templates = catalog()[message.key]
    for language in LANGUAGES:
        text = templates[language].format(**message.params)
        assert text and "{" not in text, (message.key, language, text)


def assert_lost_only_its_exercises_and_named(mistake: Mistake, lost: set[str], messages: dict) -> None:
    """`lost`: the exercises that lost points; `messages`: exercise -> its feedback messages."""
    assert lost == mistake.broken, {name: [m.key for m in found] for name, found in messages.items() if name in lost}
    own = messages[mistake.exercise]
    if mistake.diagnosis is None:
        assert not diagnosis_keys(own), [m.key for m in own]
        return
    named = [m for m in own if m.key == mistake.diagnosis]
    assert named, (mistake.exercise, [m.key for m in own])
    assert_renders_in_both_languages(named[0])


def noise_code(names) -> str:
    """Code that wraps the functions `names` so every float they return is off by ~1e-10 relative:
    right up to floating-point noise, such a submission must pass with no diagnosis."""
    return textwrap.dedent(f"""
        import functools as _functools
        import numpy as np
        import torch
        _NOISE = np.random.default_rng(7)

        def _jitter(value):
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                return value * (1 + 1e-10 * _NOISE.choice([-1.0, 1.0], value.shape))
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                signs = torch.from_numpy(_NOISE.choice([-1.0, 1.0], tuple(value.shape))).to(value.dtype)
                return value * (1 + 1e-10 * signs) if value.dtype == torch.float64 else value
            if isinstance(value, float):
                return value * (1 + 1e-10)
            if isinstance(value, (tuple, list)):
                return type(value)(_jitter(item) for item in value)
            if isinstance(value, dict):
                return {{key: _jitter(item) for key, item in value.items()}}
            return value

        def _noisy(function):
            @_functools.wraps(function)
            def wrapper(*args, **kwargs):
                return _jitter(function(*args, **kwargs))
            return wrapper

        for _name in {list(names)!r}:
            globals()[_name] = _noisy(globals()[_name])
    """)


def named_share(corpus) -> float:
    return sum(m.diagnosis is not None for m in corpus) / len(corpus)


def corpus_table() -> list[tuple[str, int, int, int]]:
    """(module, mistakes, named, exercises covered) for every module's corpus."""
    import importlib

    rows = []
    for module in ("rnn_basics", "bptt", "gated_units", "name_classifier", "forecast", "pixel_gru"):
        corpus = importlib.import_module(f"test_{module}").CORPUS
        rows.append(
            (module, len(corpus), sum(m.diagnosis is not None for m in corpus), len({m.exercise for m in corpus}))
        )
    return rows


if __name__ == "__main__":
    total = named = 0
    for module, count, found, exercises in corpus_table():
        total, named = total + count, named + found
        print(f"{module:16} {found:3}/{count:3} named ({100 * found / count:5.1f} %), {exercises} exercises")
    print(f"{'all':16} {named:3}/{total:3} named ({100 * named / total:5.1f} %)")

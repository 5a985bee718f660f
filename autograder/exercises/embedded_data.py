"""Data carried in a submission's code, refused for the practical tasks.

The practical tasks measure what a model learns from its training data. A table of the public
datasets carried in the code (names and their nationality, a hash of each digit image, the CO₂
series), as long literals or as a compressed base64 blob, would answer from memory instead.
Every channel a module can read counts: string and bytes literals (docstrings too: `__doc__`
reads them), numbers, and comments (a module can read its own source file).

The files that count for a practical module are its own, the helpers (any module may import
them) and every other module of the submission that its code or the helpers name. A file over
one of `[embedded_data]`'s limits gets that module's trained exercises (`train_*`, `predict_*`:
the checks that draw the task's data) refused with a message naming the file; the other
exercises are graded as usual.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

from ..messages import Message

_PREFIX = re.compile(r"^[rRbBuUfF]*")
_FSTRING_PART = getattr(tokenize, "FSTRING_MIDDLE", None)  # Python 3.12+: f-strings are split


@dataclass(frozen=True)
class DataMeasure:
    longest_literal: int  # characters of the longest string or bytes literal
    numbers: int  # numeric literals
    data_kb: float  # all literals and comments, in KiB of text
    names: frozenset[str]  # identifiers and words in strings: which modules the file names


def _literal_length(token: str) -> int:
    body = _PREFIX.sub("", token)
    quote = 3 if body[:3] in ('"""', "'''") else 1
    return max(0, len(body) - 2 * quote)


def measure(source: bytes) -> DataMeasure | None:
    """What `source` carries as data; None when it is not Python that tokenizes (its import fails)."""
    longest = numbers = characters = 0
    names: set[str] = set()
    try:
        for token in tokenize.tokenize(io.BytesIO(source).readline):
            if token.type == tokenize.STRING:
                length = _literal_length(token.string)
                longest, characters = max(longest, length), characters + length
                names.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", token.string))
            elif token.type in (_FSTRING_PART, tokenize.COMMENT):
                characters += len(token.string)
                if token.type == _FSTRING_PART:
                    longest = max(longest, len(token.string))
            elif token.type == tokenize.NUMBER:
                numbers, characters = numbers + 1, characters + len(token.string)
            elif token.type == tokenize.NAME:
                names.add(token.string)
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError):
        return None
    return DataMeasure(longest, numbers, characters / 1024, frozenset(names))


def over_limit(found: DataMeasure, limits) -> tuple[str, str] | None:
    """(what the file carries, the limit it passes), or None within every limit."""
    if found.longest_literal > limits.max_literal_chars:
        return f"a literal of {found.longest_literal} characters", f"{limits.max_literal_chars} characters"
    if found.numbers > limits.max_numbers:
        return f"{found.numbers} numbers", f"{limits.max_numbers} numbers"
    if found.data_kb > limits.max_data_kb:
        return f"{found.data_kb:.0f} KiB of literals and comments", f"{limits.max_data_kb} KiB"
    return None


def files_of(
    module: str, modules: dict[str, Path], helpers: dict[str, Path], measures: dict[Path, DataMeasure | None]
) -> list[Path]:
    """The files that count for `module`: its own, the helpers, and the modules they name."""
    own = [modules[module], *helpers.values()]
    named = set().union(*(measures[path].names for path in own if measures.get(path)))
    return own + [path for other, path in modules.items() if other != module and other in named]


def refusals(
    modules: dict[str, Path],
    helpers: dict[str, Path],
    practical: list[str],
    limits,
    shown: dict[Path, str] | None = None,
) -> dict[str, Message]:
    """module -> why its practical exercises are refused (the first file over a limit). `shown`:
    the name a file goes by in the messages (a notebook's, for the code extracted from it)."""
    measures = {path: measure(path.read_bytes()) for path in [*modules.values(), *helpers.values()]}
    refused = {}
    for module in practical:
        if module not in modules:
            continue
        for path in files_of(module, modules, helpers, measures):
            found = measures.get(path)
            excess = over_limit(found, limits) if found else None
            if excess:
                file = (shown or {}).get(path, path.name)
                refused[module] = Message(
                    "pr_embedded_data", {"file": file, "detail": excess[0], "limit": excess[1], "name": module}
                )
                break
    return refused

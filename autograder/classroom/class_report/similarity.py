"""Pairs of students whose answer code is suspiciously alike, per module (copydetect).

copydetect (MOSS-like winnowing over tokens, names replaced by placeholders, so renamed
variables and reordered functions still match) fingerprints each student's module. Two kinds of
passage are no evidence of copying and are left out before comparing:
- the stub's own code (every student starts from it), given to copydetect as boilerplate;
- passages found in more than `common_above` students: the canonical answer many write alike
  (MOSS's `-m`). So copying a passage half the class shares goes unnoticed.
A pair is flagged when the shared part is at least `threshold` of either student's remaining
code and at least `min_shared_tokens` long (after the placeholders: one name is one token).
"""

from __future__ import annotations

import bisect
import io
import itertools
from collections import Counter
from dataclasses import dataclass

from .token_cache import TokenCache

NOISE_TOKENS = 25  # copydetect's default k-gram length (noise threshold)
WINDOW = 1  # guarantee threshold = noise threshold: every k-gram is kept
MAX_FRAGMENT_LINES = 80  # per student and pair in the report


@dataclass(frozen=True)
class SimilarPair:
    module: str
    first: str
    second: str
    similarity: float  # the larger of the two shares
    shares: tuple[float, float]
    shared_tokens: int
    fragments: tuple[str, str]  # each student's shared lines, in file order


def _fingerprint(code: str, boilerplate, tokens: TokenCache, window: int = WINDOW):
    """copydetect's fingerprint of `code`, from its tokenized form (cached); the same as
    CodeFingerprint(…, filter=True) gives, which would lex the code again."""
    from copydetect import CodeFingerprint

    filtered, offsets = tokens.filtered(code)
    fingerprint = CodeFingerprint(
        "answer.py", NOISE_TOKENS, window, boilerplate, filter=False, fp=io.StringIO(filtered)
    )
    fingerprint.raw_code, fingerprint.offsets = code, offsets
    return fingerprint


def _stub_hashes(stub: str | None, tokens: TokenCache) -> list:
    return sorted(_fingerprint(stub, None, tokens, window=1).hashes) if stub else []


def _shared_lines(code: str, slices) -> str:
    """The whole lines that hold each copied slice, in order; '…' between runs that are apart."""
    line_starts = [0] + [i + 1 for i, char in enumerate(code) if char == "\n"]
    lines = code.splitlines()
    wanted = set()
    for start, end in zip(*slices):
        first, last = bisect.bisect_right(line_starts, start) - 1, bisect.bisect_left(line_starts, end) - 1
        wanted.update(range(first, min(last, len(lines) - 1) + 1))
    shown, previous = [], None
    for number in sorted(wanted)[:MAX_FRAGMENT_LINES]:
        if previous is not None and number != previous + 1:
            shown.append("…")
        shown.append(lines[number])
        previous = number
    return "\n".join(shown)


@dataclass(frozen=True)
class ModuleSimilarity:
    module: str
    pairs: list[SimilarPair]  # flagged, most alike first
    overlaps: list[tuple[float, int]]  # (similarity, shared tokens) of each pair sharing anything
    compared: int = 0  # pairs of students compared


def _without(fingerprint, ignored: set):
    """`fingerprint` with the passages `ignored` left out, as copydetect's boilerplate does."""
    from copydetect.utils import get_token_coverage

    fingerprint.hashes = fingerprint.hashes - ignored
    fingerprint.hash_idx = {h: i for h, i in fingerprint.hash_idx.items() if h not in ignored}
    fingerprint.token_coverage = get_token_coverage(fingerprint.hash_idx, fingerprint.k, len(fingerprint.filtered_code))
    return fingerprint


def _fingerprints(answers: dict[str, str], stub: str | None, common_above: int, tokens: TokenCache) -> dict:
    """Each student's fingerprint without the stub's passages and the class's common ones
    (one per distinct text)."""
    stub_hashes = _stub_hashes(stub, tokens)
    by_text = {code: _fingerprint(code, stub_hashes, tokens) for code in set(answers.values())}
    counts = Counter(h for code in answers.values() for h in by_text[code].hashes)
    common = {h for h, count in counts.items() if count > common_above}
    by_text = {code: _without(fingerprint, common) for code, fingerprint in by_text.items()}
    return {name: by_text[code] for name, code in answers.items()}


def compare_module(
    module: str,
    answers: dict[str, str],
    stub: str | None,
    *,
    threshold: float,
    min_shared_tokens: int,
    common_above: int,
    tokens: TokenCache | None = None,
) -> ModuleSimilarity:
    """`answers`: student -> the module's source."""
    from copydetect import compare_files

    fingerprints = _fingerprints(answers, stub, common_above, tokens or TokenCache())
    pairs, overlaps = [], []
    for first, second in itertools.combinations(sorted(fingerprints), 2):
        a, b = fingerprints[first], fingerprints[second]
        if not a.hashes & b.hashes:
            continue
        shared, shares, slices = compare_files(a, b)
        similarity = float(max(shares))
        overlaps.append((similarity, int(shared)))
        if similarity >= threshold and shared >= min_shared_tokens:
            pairs.append(
                SimilarPair(
                    module,
                    first,
                    second,
                    round(similarity, 4),
                    (round(float(shares[0]), 4), round(float(shares[1]), 4)),
                    int(shared),
                    (_shared_lines(a.raw_code, slices[0]), _shared_lines(b.raw_code, slices[1])),
                )
            )
    pairs.sort(key=lambda pair: (-pair.similarity, -pair.shared_tokens, pair.first, pair.second))
    return ModuleSimilarity(module, pairs, overlaps, len(fingerprints) * (len(fingerprints) - 1) // 2)

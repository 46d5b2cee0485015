"""Error analysis of entity spans: the MUC categories of each prediction and miss, a confusion table of types, and
how well span confidences are calibrated. Pure functions of spans ``(start, end, label)``, ``end`` exclusive."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate

Span = tuple[int, int, str]
CORRECT, MISSED, SPURIOUS = "correct", "missed", "spurious"
WRONG_TYPE, WRONG_BOUNDARY, WRONG_BOTH = "wrong_type", "wrong_boundary", "wrong_type_and_boundary"
CATEGORIES = (CORRECT, MISSED, SPURIOUS, WRONG_TYPE, WRONG_BOUNDARY, WRONG_BOTH)
NONE = "O"  # the confusion table's type of the gold span a spurious prediction lacks, or the prediction a miss lacks
ROUNDING = 1e-6  # how far outside [0, 1] a probability computed as exp(log p) may stray
_BY_AGREEMENT = {(True, True): CORRECT, (True, False): WRONG_TYPE, (False, True): WRONG_BOUNDARY}


@dataclass(frozen=True)
class Match:
    """A predicted span and the gold span it was compared with (``None``: spurious), or a missed gold span
    (``predicted`` ``None``), with its category."""

    category: str
    gold: Span | None
    predicted: Span | None

    @property
    def label(self) -> str:
        """The type it counts for: the gold span's, or the prediction's when spurious."""
        return (self.gold or self.predicted)[2]


@dataclass
class Example:
    """A sentence or document compared: its ``text``, gold and predicted character spans of it, and the predicted
    spans' confidences (``scores``, one per predicted span)."""

    text: str
    gold: list[Span]
    predicted: list[Span]
    scores: list[float]

    @classmethod
    def of_tokens(cls, tokens: Sequence[str], gold: list[Span], predicted: list[Span], scores: list[float]):
        """The example of a sentence of ``tokens`` with token spans: the tokens joined by spaces, the spans of it."""
        starts = [0, *accumulate(len(token) + 1 for token in tokens[:-1])]

        def characters(spans: list[Span]) -> list[Span]:
            return [(starts[s], starts[e - 1] + len(tokens[e - 1]), label) for s, e, label in spans]

        return cls(" ".join(tokens), characters(gold), characters(predicted), list(scores))

    @cached_property
    def matches(self) -> list[Match]:
        """``categorise`` of its spans, computed once (``analyse`` and ``worst`` both read them)."""
        return categorise(self.gold, self.predicted)


def categorise(gold: Sequence[Span], predicted: Sequence[Span]) -> list[Match]:
    """The match of each of one sentence's ``predicted`` spans, in order, then a miss for each ``gold`` span that
    no prediction overlaps.

    A prediction is compared with the overlapping gold span that agrees most: of the same boundaries (correct, or
    wrong type), else of the same label (wrong boundary), else the first (wrong type and boundary); one that
    overlaps no gold span is spurious. Several predictions may be compared with one gold span, as in nervaluate.
    """
    matches = []
    for span in predicted:
        overlapping = [g for g in gold if _overlap(g, span)]
        if not overlapping:
            matches.append(Match(SPURIOUS, None, span))
            continue
        best = min(overlapping, key=lambda g: (g[:2] != span[:2], g[2] != span[2]))
        agreement = (best[:2] == span[:2], best[2] == span[2])
        matches.append(Match(_BY_AGREEMENT.get(agreement, WRONG_BOTH), best, span))
    return matches + [Match(MISSED, g, None) for g in gold if not any(_overlap(g, p) for p in predicted)]


def _overlap(first: Span, second: Span) -> bool:
    return first[0] < second[1] and second[0] < first[1]


def category_counts(matches: Iterable[Match]) -> dict:
    """``overall``: how many ``matches`` fall in each category; ``per_type``: the same per type (``Match.label``)."""
    matches = list(matches)
    per_type = {label: _counted(m for m in matches if m.label == label) for label in sorted({m.label for m in matches})}
    return {"overall": _counted(matches), "per_type": per_type}


def _counted(matches: Iterable[Match]) -> dict[str, int]:
    counts = Counter(m.category for m in matches)
    return {category: counts[category] for category in CATEGORIES}


def confusion(matches: Iterable[Match]) -> dict[str, dict[str, int]]:
    """``[gold type][predicted type]``: how many of the ``matches`` pair them; ``NONE`` stands for the gold span of
    a spurious prediction and the prediction of a miss. Every row has every column."""
    pairs = Counter((m.gold[2] if m.gold else NONE, m.predicted[2] if m.predicted else NONE) for m in matches)
    labels = sorted({label for pair in pairs for label in pair} - {NONE}) + [NONE]
    return {gold: {predicted: pairs[gold, predicted] for predicted in labels} for gold in labels}


def calibration(scores: Sequence[float], correct: Sequence[bool], bins: int = 10) -> dict:
    """How often predicted spans of each confidence are right.

    ``scores`` are probabilities (``ROUNDING`` beyond [0, 1] allowed), ``correct`` whether each span is right.
    Returns ``bins``, equal bins of the scores, each with its ``low`` and ``high`` bounds, ``count``, mean
    ``confidence`` and ``precision`` (the fraction of its spans correct; both ``None`` when empty); and ``ece``,
    the expected calibration error: the mean over spans of |precision - confidence| of their bin (``None``
    without spans).
    """
    if len(scores) != len(correct):
        raise ValueError(f"calibration needs one correctness per score, got {len(scores)} scores, {len(correct)}")
    if bins < 1:
        raise ValueError(f"calibration needs at least one bin, got {bins}")
    outside = [s for s in scores if not -ROUNDING <= s <= 1.0 + ROUNDING]
    if outside:
        raise ValueError(f"calibration needs scores in [0, 1], got {outside[0]}")
    members = [[] for _ in range(bins)]
    for score, right in zip(scores, correct):
        members[min(int(score * bins), bins - 1)].append((score, right))
    table = [
        {"low": number / bins, "high": (number + 1) / bins, "count": len(inside), **_means(inside)}
        for number, inside in enumerate(members)
    ]
    gaps = sum(row["count"] * abs(row["precision"] - row["confidence"]) for row in table if row["count"])
    return {"bins": table, "ece": gaps / len(scores) if scores else None}


def _means(inside: list[tuple[float, bool]]) -> dict:
    """The mean ``confidence`` and the ``precision`` of a bin's ``(score, correct)`` pairs; ``None`` when empty."""
    if not inside:
        return {"confidence": None, "precision": None}
    return {"confidence": sum(s for s, _ in inside) / len(inside), "precision": sum(r for _, r in inside) / len(inside)}


def analyse(examples: Iterable[Example], bins: int = 10) -> dict:
    """The ``errors`` (``category_counts``), ``confusion`` and ``calibration`` (in ``bins`` bins; a prediction is
    right when a gold span is exactly it) of ``examples``."""
    matches, scores, correct = [], [], []
    for example in examples:
        matches += example.matches
        gold = set(example.gold)
        scores += example.scores
        correct += [span in gold for span in example.predicted]
    return {
        "errors": category_counts(matches),
        "confusion": confusion(matches),
        "calibration": calibration(scores, correct, bins),
    }


def worst(examples: Iterable[Example], limit: int = 50) -> list[tuple[Example, list[Match]]]:
    """Up to ``limit`` examples with errors (matches not correct) and their matches, most errors first (ties in
    input order)."""
    matched = [(example, example.matches) for example in examples]
    wrong = [(example, matches) for example, matches in matched if error_count(matches)]
    return sorted(wrong, key=lambda pair: -error_count(pair[1]))[:limit]


def error_count(matches: Iterable[Match]) -> int:
    """How many of ``matches`` are not correct."""
    return sum(m.category != CORRECT for m in matches)

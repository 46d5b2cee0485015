"""Tag schemes as pure functions: detection, spans, conversion and allowed transitions.

A span is ``(start, end, label)`` over token indices, ``end`` exclusive.
Schemes: ``IOB1`` (I- starts a chunk, B- only between two adjacent chunks of one type),
``IOB2`` (every chunk starts with B-) and ``IOBES`` (S- for single tokens, E- ends a chunk).
"""

from __future__ import annotations

from typing import Iterable, Sequence

SCHEMES = ("IOB1", "IOB2", "IOBES")
OUTSIDE = "O"
Span = tuple[int, int, str]


class SchemeError(ValueError):
    """A tag that no scheme allows, or an unknown scheme name."""


def split_tag(tag: str) -> tuple[str, str | None]:
    """``"B-Disease"`` → ``("B", "Disease")``; ``"O"`` → ``("O", None)``."""
    if tag == OUTSIDE:
        return OUTSIDE, None
    prefix, sep, label = tag.partition("-")
    if not sep or prefix not in ("B", "I", "E", "S") or not label:
        raise SchemeError(f"tag {tag!r} is neither 'O' nor PREFIX-LABEL with PREFIX in B, I, E, S")
    return prefix, label


def check_scheme(scheme: str) -> str:
    """Return the canonical scheme name or raise for an unknown one."""
    canonical = scheme.upper()
    if canonical == "BIOES":
        canonical = "IOBES"
    if canonical not in SCHEMES:
        raise SchemeError(f"unknown tag scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    return canonical


def detect_scheme(sequences: Iterable[Sequence[str]]) -> str:
    """Guess the scheme of tag sequences; ambiguous data (no chunk tells) counts as IOB2."""
    starts_with_inside = False
    begin_after_other = False
    for tags in sequences:
        previous_label = None
        for tag in tags:
            prefix, label = split_tag(tag)
            if prefix in ("E", "S"):
                return "IOBES"
            if prefix == "I" and label != previous_label:
                starts_with_inside = True
            if prefix == "B" and label != previous_label:
                begin_after_other = True
            previous_label = label
    if starts_with_inside and not begin_after_other:
        return "IOB1"
    return "IOB2"


def to_spans(tags: Sequence[str]) -> list[Span]:
    """Chunks of a tag sequence in any scheme, read leniently as conlleval does.

    B- and S- always open a chunk, I- and E- continue one of the same label (or open
    one after anything else), E- and S- close it.
    """
    spans: list[Span] = []
    start, current = 0, None
    for i, tag in enumerate(tags):
        prefix, label = split_tag(tag)
        if not (current is not None and label == current and prefix in ("I", "E")):
            if current is not None:
                spans.append((start, i, current))
            start, current = i, label
        if prefix in ("E", "S"):
            spans.append((start, i + 1, current))
            current = None
    if current is not None:
        spans.append((start, len(tags), current))
    return spans


def continuations(tags: Sequence[str]) -> list[list[bool]]:
    """``[a][b]``: whether tag ``tags[b]`` on the next token continues the chunk of ``tags[a]``, as ``to_spans``
    reads tags (an I- or E- of the same label after a B- or I-)."""
    split = [split_tag(tag) for tag in tags]
    return [
        [
            label_a is not None and prefix_a in ("B", "I") and prefix_b in ("I", "E") and label_b == label_a
            for prefix_b, label_b in split
        ]
        for prefix_a, label_a in split
    ]


def from_spans(spans: Iterable[Span], length: int, scheme: str) -> list[str]:
    """Tags of ``length`` tokens holding non-overlapping ``spans`` in ``scheme``."""
    scheme = check_scheme(scheme)
    tags = [OUTSIDE] * length
    previous_end, previous_label = -1, None
    for start, end, label in sorted(spans):
        if not 0 <= start < end <= length:
            raise SchemeError(f"span {(start, end, label)} lies outside a sentence of {length} tokens")
        if start < previous_end:
            raise SchemeError(f"span {(start, end, label)} overlaps the span before it")
        for i in range(start, end):
            tags[i] = f"I-{label}"
        if scheme == "IOB2" or (scheme == "IOB1" and start == previous_end and label == previous_label):
            tags[start] = f"B-{label}"
        elif scheme == "IOBES":
            if end - start == 1:
                tags[start] = f"S-{label}"
            else:
                tags[start], tags[end - 1] = f"B-{label}", f"E-{label}"
        previous_end, previous_label = end, label
    return tags


def convert(tags: Sequence[str], target: str) -> list[str]:
    """Rewrite a tag sequence into ``target`` (lossless between valid sequences)."""
    return from_spans(to_spans(tags), len(tags), target)


def repair(tags: Sequence[str], scheme: str) -> tuple[list[str], int]:
    """Rewrite ill-formed chunks (``O`` then ``I-X`` in IOB2, say) validly; count repairs."""
    fixed = convert(tags, scheme)
    return fixed, sum(a != b for a, b in zip(tags, fixed))


def labels_of(tags: Iterable[str]) -> list[str]:
    """The sorted entity labels that occur in ``tags``."""
    return sorted({label for _, label in map(split_tag, tags) if label is not None})


def tags_for(labels: Iterable[str], scheme: str) -> list[str]:
    """Every tag of ``scheme`` over ``labels``, ``O`` first."""
    prefixes = {"IOB1": "BI", "IOB2": "BI", "IOBES": "BIES"}[check_scheme(scheme)]
    return [OUTSIDE] + [f"{p}-{label}" for label in sorted(labels) for p in prefixes]


def allowed_transitions(scheme: str, tags: Sequence[str]) -> tuple[list[bool], list[list[bool]], list[bool]]:
    """Which tags may start a sentence, follow each tag, and end a sentence.

    Returns ``(start, transitions, end)``, where ``transitions[i][j]`` says whether
    ``tags[j]`` may follow ``tags[i]``.
    """
    scheme = check_scheme(scheme)
    parsed = [split_tag(tag) for tag in tags]

    def may_follow(previous: tuple[str, str | None] | None, following: tuple[str, str | None]) -> bool:
        prev_prefix, prev_label = previous if previous else (OUTSIDE, None)
        prefix, label = following
        inside_chunk = prev_prefix in ("B", "I") if scheme == "IOBES" else prev_prefix != OUTSIDE
        if scheme == "IOB2":
            return prefix != "I" or (inside_chunk and prev_label == label)
        if scheme == "IOB1":
            return prefix != "B" or (inside_chunk and prev_label == label)
        if prefix in ("I", "E"):
            return inside_chunk and prev_label == label
        return not inside_chunk  # O, B, S only after O, E or S

    def may_end(tag: tuple[str, str | None]) -> bool:
        return scheme != "IOBES" or tag[0] in ("O", "E", "S")

    start = [may_follow(None, tag) for tag in parsed]
    transitions = [[may_follow(a, b) for b in parsed] for a in parsed]
    end = [may_end(tag) for tag in parsed]
    return start, transitions, end


def chunk_links(scheme: str, tags: Sequence[str]) -> tuple[list[int], list[int]] | None:
    """What an entity's probability needs beyond its own tags: ``(continues, alternative)`` by tag index.

    ``continues[i]`` is the index of the tag that, on the next token, would continue the chunk
    ``tags[i]`` is in (``I-X`` after ``B-X`` or ``I-X`` in IOB1 and IOB2), -1 if none;
    ``alternative[i]`` the other tag that can begin the same chunk (IOB1 begins one with
    ``I-X``, or ``B-X`` after a chunk of the same type), -1 if none. ``None`` for IOBES, where
    the tags over a chunk alone say it is one.
    """
    scheme = check_scheme(scheme)
    if scheme == "IOBES":
        return None
    index = {tag: i for i, tag in enumerate(tags)}
    continues, alternative = [], []
    for tag in tags:
        prefix, label = split_tag(tag)
        inside, begin = index.get(f"I-{label}", -1), index.get(f"B-{label}", -1)
        continues.append(inside if prefix in ("B", "I") else -1)
        other = {"B": inside, "I": begin}.get(prefix, -1)
        alternative.append(other if scheme == "IOB1" else -1)
    return continues, alternative


def is_valid(tags: Sequence[str], scheme: str) -> bool:
    """Whether ``tags`` obey every transition rule of ``scheme``."""
    if not tags:
        return True
    unique = sorted(set(tags))
    start, transitions, end = allowed_transitions(scheme, unique)
    index = {tag: i for i, tag in enumerate(unique)}
    ids = [index[tag] for tag in tags]
    return start[ids[0]] and end[ids[-1]] and all(transitions[a][b] for a, b in zip(ids, ids[1:]))

"""What the formats with character offsets share: span alignment to tokens and its report.

A character span is ``(start, end, label)`` over a sentence's ``text``, ``end`` exclusive.
"""

from __future__ import annotations

import logging
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple, Sequence, TypeVar

from ..corpus import CorpusFormatError, Sentence
from ..schemes import Span, from_spans

CharSpan = tuple[int, int, str]
ALIGNMENT = ("exact", "expanded", "dropped")
logger = logging.getLogger(__name__)
Item = TypeVar("Item")
Parsed = TypeVar("Parsed")


@dataclass
class Alignment:
    """Token spans of aligned character spans, and what alignment did to each span."""

    spans: list[Span] = field(default_factory=list)
    exact: int = 0
    expanded: list[tuple[CharSpan, CharSpan]] = field(default_factory=list)  # (span, its token-boundary span)
    dropped: list[tuple[CharSpan, str]] = field(default_factory=list)  # (span, why)


def align(offsets: Sequence[tuple[int, int]], spans: Iterable[CharSpan]) -> Alignment:
    """Token spans for character ``spans`` over tokens at ``offsets`` (sorted, disjoint).

    A span whose ends are token boundaries is exact. One that cuts into a token, or begins
    or ends in whitespace, is moved to the boundaries of the tokens it touches (expanded).
    One that touches no token, or a token of a span kept before it, is dropped. Spans are
    taken by start, longest first; a duplicate counts once.
    """
    starts = [start for start, _ in offsets]
    ends = [end for _, end in offsets]
    result = Alignment()
    taken = 0  # tokens before this index belong to kept spans
    for span in sorted(set(spans), key=lambda span: (span[0], -span[1], span[2])):
        start, end, label = span
        first, last = bisect_right(ends, start), bisect_left(starts, end)  # tokens first..last-1 overlap it
        if first >= last:
            result.dropped.append((span, "it covers no token"))
        elif first < taken:
            result.dropped.append((span, "it overlaps a span before it"))
        else:
            taken = last
            result.spans.append((first, last, label))
            if (starts[first], ends[last - 1]) == (start, end):
                result.exact += 1
            else:
                result.expanded.append((span, (starts[first], ends[last - 1], label)))
    return result


def tag(sentence: Sentence, spans: list[CharSpan], notes: Counter, where: str) -> Sentence:
    """Give ``sentence`` the IOB2 tags of ``spans`` aligned to its tokens; count and log the alignment.

    ``spans`` are kept as ``sentence.char_spans``; ``notes`` gains the ``exact``, ``expanded``
    and ``dropped`` counts (and ``duplicate_spans``); each expanded or dropped span is
    logged at DEBUG, prefixed by ``where``.
    """
    alignment = align(sentence.offsets, spans)
    sentence.tags = from_spans(alignment.spans, len(sentence), "IOB2")
    sentence.char_spans = list(spans)
    notes["exact"] += alignment.exact
    notes["expanded"] += len(alignment.expanded)
    notes["dropped"] += len(alignment.dropped)
    if len(set(spans)) < len(spans):
        notes["duplicate_spans"] += len(spans) - len(set(spans))
    text = sentence.text
    for (start, end, label), (new_start, new_end, _) in alignment.expanded:
        expanded_to = f"{text[new_start:new_end]!r} at {new_start}-{new_end}"
        logger.debug(
            "%s: %s %r at %d-%d expanded to token boundaries: %s",
            where,
            label,
            text[start:end],
            start,
            end,
            expanded_to,
        )
    for (start, end, label), reason in alignment.dropped:
        logger.debug("%s: %s %r at %d-%d dropped: %s", where, label, text[start:end], start, end, reason)
    return sentence


def joined(split: list[Sentence], spans: list[CharSpan], notes: Counter) -> list[tuple[Sentence, list[CharSpan]]]:
    """The sentences ``split`` of one text (in order, offsets into it), joined where a span of ``spans`` crosses
    them (counted in ``notes["joined_sentences"]``), each with the spans that begin in it; without a sentence,
    none, and the spans are counted as ``dropped``."""
    if not split:  # the text holds only whitespace: no token for any span
        notes["dropped"] += len(spans)
        return []
    cuts = [0, *(sentence.offsets[0][0] for sentence in split[1:])]  # sentence i owns the text from cuts[i]

    def owner(offset: int) -> int:
        return bisect_right(cuts, offset) - 1

    continued = {i for start, end, _ in spans for i in range(owner(start), owner(end - 1))}  # i + 1 continues i
    notes["joined_sentences"] += len(continued)
    result: list[tuple[Sentence, list[CharSpan]]] = []
    place = []  # where each split sentence went in result
    for i, sentence in enumerate(split):
        if i - 1 in continued:
            result[-1][0].tokens.extend(sentence.tokens)
            result[-1][0].offsets.extend(sentence.offsets)
        else:
            result.append((sentence, []))
        place.append(len(result) - 1)
    for span in spans:
        result[place[owner(span[0])]][1].append(span)
    return result


def log_alignment(source: str | Path, notes: Counter) -> None:
    """One line on how a file's spans aligned, when any was expanded or dropped."""
    exact, expanded, dropped = (notes[key] for key in ALIGNMENT)
    if expanded or dropped:
        message = "%s: %d spans: %d exact, %d expanded to token boundaries, %d dropped (--verbose lists them)"
        level = logging.WARNING if dropped else logging.INFO
        logger.log(level, message, source, exact + expanded + dropped, exact, expanded, dropped)


def nonempty(sentences: list[Sentence], notes: Counter) -> list[Sentence]:
    """The sentences that have tokens; the others are counted in ``notes["empty_sentences"]``."""
    kept = [sentence for sentence in sentences if len(sentence)]
    notes["empty_sentences"] += len(sentences) - len(kept)
    return kept


def check_span(text: str, start: int, end: int, where: str, mention: str | None = None) -> None:
    """Raise unless ``0 <= start < end <= len(text)`` and, when given, ``text[start:end] == mention``."""
    if not 0 <= start < end <= len(text):
        raise CorpusFormatError(
            f"{where}: expected offsets 0 <= start < end <= {len(text)} (the text's length), found {start}-{end}"
        )
    if mention is not None and text[start:end] != mention:
        raise CorpusFormatError(f"{where}: expected {mention!r} at {start}-{end}, found {text[start:end]!r}")


def parse_each(
    items: Iterable[Item], parse: Callable[[Item], Parsed], lenient: bool, notes: Counter, unit: str
) -> Iterator[Parsed]:
    """``parse`` each item; with ``lenient``, skip one that raises, counted as ``notes["skipped_<unit>"]``."""
    for item in items:
        try:
            yield parse(item)
        except CorpusFormatError as error:
            if not lenient:
                raise
            notes[f"skipped_{unit}"] += 1
            logger.warning("skipped: %s", error)


def with_text(sentence: Sentence) -> Sentence:
    """``sentence`` if it has a text, else a copy whose text is its tokens joined by spaces."""
    if sentence.text is not None:
        return sentence
    offsets, position = [], 0
    for token in sentence.tokens:
        offsets.append((position, position + len(token)))
        position += len(token) + 1
    return Sentence(sentence.tokens, sentence.tags, offsets, " ".join(sentence.tokens), sentence.id)


def char_spans(sentence: Sentence) -> list[CharSpan]:
    """The spans the source gave (``char_spans``), else those of the tags, over the token offsets."""
    if sentence.char_spans is not None:
        return sentence.char_spans
    return [(sentence.offsets[start][0], sentence.offsets[end - 1][1], label) for start, end, label in sentence.spans]


def documents(sentences: Iterable[Sentence]) -> Iterator[list[Sentence]]:
    """Runs of consecutive sentences that share one text, each after the one before (texts filled in)."""
    run: list[Sentence] = []
    for sentence in map(with_text, sentences):
        if run and not (
            sentence.text == run[-1].text
            and sentence.offsets
            and run[-1].offsets
            and sentence.offsets[0][0] >= run[-1].offsets[-1][1]
        ):
            yield run
            run = []
        run.append(sentence)
    if run:
        yield run


class Piece(NamedTuple):
    """A sentence, its own part of its text, where that part starts, and its spans within that part."""

    sentence: Sentence
    text: str
    start: int
    spans: list[CharSpan]


def pieces(sentences: Iterable[Sentence]) -> Iterator[Piece]:
    """Each sentence with its own part of its text; the parts of one shared text join back into it.

    A text shared by several sentences (a document split into sentences) is cut where each
    sentence's first token starts.
    """
    for document in documents(sentences):
        text = document[0].text
        cuts = [0, *(sentence.offsets[0][0] for sentence in document[1:]), len(text)]
        for sentence, start, end in zip(document, cuts, cuts[1:]):
            spans = [(s - start, e - start, label) for s, e, label in char_spans(sentence)]
            yield Piece(sentence, text[start:end], start, spans)

"""What tagging returns: a sentence's tags, entity spans and confidences; one prediction from several heads'; and a
raw text's entities as character spans."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from .corpus import Sentence
from .schemes import from_spans


@dataclass
class Span:
    """An entity over tokens ``start:end`` (end exclusive) with the CRF's probability of it.

    ``head`` names the head that found it in a prediction merged from several heads' (else ``None``).
    """

    start: int
    end: int
    label: str
    score: float
    head: str | None = None


@dataclass
class Prediction:
    """Tags of one sentence (in the model's output scheme), its spans and token confidences."""

    tags: list[str]
    spans: list[Span] = field(default_factory=list)
    token_scores: list[float] = field(default_factory=list)


@dataclass
class TextSpan:
    """An entity of a raw text: its characters ``start:end`` (end exclusive), which are ``text``, with the CRF's
    probability of it; ``head`` as in ``Span``."""

    start: int
    end: int
    label: str
    score: float
    text: str
    head: str | None = None

    def as_dict(self) -> dict:
        """``{start, end, label, text, score}``, and ``head`` unless it is ``None``."""
        found = {"start": self.start, "end": self.end, "label": self.label, "text": self.text, "score": self.score}
        if self.head is not None:
            found["head"] = self.head
        return found


@dataclass
class TaggedText:
    """A raw text, the sentences it was cut into (their offsets index ``text``) and its entities."""

    text: str
    sentences: list[Sentence]
    spans: list[TextSpan]


def text_spans(sentence: Sentence, prediction: Prediction) -> list[TextSpan]:
    """``prediction``'s entities as character spans into ``sentence.text``."""
    found = []
    for span in prediction.spans:
        start, end = sentence.offsets[span.start][0], sentence.offsets[span.end - 1][1]
        found.append(TextSpan(start, end, span.label, span.score, sentence.text[start:end], span.head))
    return found


def merged(
    predictions: Sequence[Prediction], names: Sequence[str], outside: Sequence[Sequence[float]], scheme: str
) -> Prediction:
    """One prediction of a sentence from those of the heads ``names``, with tags in ``scheme``.

    The heads' spans are taken by falling probability (a tie goes to the head named first, then to the
    earlier span), and each is kept unless it overlaps one kept before: of overlapping spans, the most
    probable stays. A token of a kept span has the confidence its head gave it; any other token, the
    lowest of the heads' probabilities that it is ``O`` (``outside``, per head and token).
    """
    length = len(predictions[0].tags)
    found = [(number, span) for number, prediction in enumerate(predictions) for span in prediction.spans]
    taken = [None] * length  # the number of the head whose kept span holds each token
    kept = []
    for number, span in sorted(found, key=lambda pair: (-pair[1].score, pair[0], pair[1].start)):
        if all(owner is None for owner in taken[span.start : span.end]):
            taken[span.start : span.end] = [number] * (span.end - span.start)
            kept.append(replace(span, head=names[number]))
    kept.sort(key=lambda span: span.start)
    scores = [
        min(probabilities[t] for probabilities in outside) if owner is None else predictions[owner].token_scores[t]
        for t, owner in enumerate(taken)
    ]
    tags = from_spans([(span.start, span.end, span.label) for span in kept], length, scheme)
    return Prediction(tags, kept, scores)

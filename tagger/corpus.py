"""The in-memory corpus shared by every reader, writer and the trainer."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from .schemes import detect_scheme, from_spans, to_spans


class CorpusFormatError(ValueError):
    """A corpus file that cannot be read; the message names the file and line."""


class EmptyCorpusError(CorpusFormatError):
    """A corpus without a sentence, given where sentences are needed (training, dev, evaluation)."""


@dataclass
class Sentence:
    """Tokens with their tags, and where known their ``(start, end)`` offsets into ``text``.

    ``char_spans`` are the ``(start, end, label)`` character spans the source file gave,
    before alignment to tokens, so writers can give them back unchanged; a copy with new
    tags (``with_spans``) has none.
    """

    tokens: list[str]
    tags: list[str] = field(default_factory=list)
    offsets: list[tuple[int, int]] | None = None
    text: str | None = None
    id: str | None = None
    char_spans: list[tuple[int, int, str]] | None = None

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def spans(self) -> list[tuple[int, int, str]]:
        """Token spans ``(start, end, label)`` of the tags, ``end`` exclusive."""
        return to_spans(self.tags)

    def with_spans(self, spans: list[tuple[int, int, str]], scheme: str) -> "Sentence":
        """A copy whose tags spell ``spans`` in ``scheme``."""
        return Sentence(self.tokens, from_spans(spans, len(self.tokens), scheme), self.offsets, self.text, self.id)


@dataclass
class Corpus:
    """Sentences read from one source, the scheme their tags are in, and what reading found."""

    sentences: list[Sentence]
    scheme: str = "IOB2"
    source: str | None = None
    notes: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.sentences)

    def __iter__(self):
        return iter(self.sentences)

    @classmethod
    def of(cls, sentences: list[Sentence], source: str | None = None) -> "Corpus":
        """A corpus whose scheme is detected from its tags."""
        return cls(sentences, detect_scheme(s.tags for s in sentences), source)

    def __add__(self, other: "Corpus") -> "Corpus":
        """Both corpora's sentences, in this corpus' scheme."""
        tail = other if other.scheme == self.scheme else other.in_scheme(self.scheme)
        return Corpus(self.sentences + tail.sentences, self.scheme, self.source, self.notes + other.notes)

    def require_sentences(self, purpose: str) -> "Corpus":
        """This corpus, or ``EmptyCorpusError`` naming its source when it has no sentence to ``purpose``."""
        if self.sentences:
            return self
        found = ", ".join(f"{key.replace('_', ' ')} {count}" for key, count in sorted(self.notes.items()) if count)
        raise EmptyCorpusError(
            f"{self.source or 'corpus'}: no sentences to {purpose}: expected at least one sentence of tokens, "
            f"found none" + (f" ({found})" if found else "")
        )

    def labels(self) -> list[str]:
        """The entity labels that occur, sorted."""
        return sorted({label for s in self.sentences for _, _, label in s.spans})

    def in_scheme(self, scheme: str) -> "Corpus":
        """The same sentences with their tags rewritten in ``scheme``."""
        return Corpus([s.with_spans(s.spans, scheme) for s in self.sentences], scheme, self.source, self.notes)

    def split(self, fraction: float, seed: int) -> tuple["Corpus", "Corpus"]:
        """A seeded random ``(rest, held_out)`` split holding out ``fraction`` of the sentences."""
        self.require_sentences("split into train and dev")
        order = list(range(len(self.sentences)))
        random.Random(seed).shuffle(order)
        cut = max(1, round(len(order) * fraction))
        if cut >= len(order):
            raise EmptyCorpusError(
                f"{self.source or 'corpus'}: {len(order)} sentence{'s' if len(order) != 1 else ''} cannot be split "
                f"into dev ({fraction:.0%}) and train with sentences in both; give a dev corpus"
            )
        held = sorted(order[:cut])
        rest = sorted(order[cut:])
        pick = lambda ids: Corpus([self.sentences[i] for i in ids], self.scheme, self.source)  # noqa: E731
        return pick(rest), pick(held)

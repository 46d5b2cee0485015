"""Corpus statistics: sizes, entities per type and length, span alignment, out-of-vocabulary rate."""

from __future__ import annotations

from collections import Counter

from .corpus import Corpus
from .formats.offsets import ALIGNMENT


def corpus_stats(corpus: Corpus) -> dict:
    """Counts of sentences, tokens and entities (the tagged spans), per type and per length in tokens.

    ``alignment`` counts how character spans met tokens (all zero for token-level formats);
    ``notes`` holds whatever else reading found (repaired tags, skipped sentences, ...).
    """
    spans = [span for sentence in corpus for span in sentence.spans]
    return {
        "sentences": len(corpus),
        "tokens": sum(len(sentence) for sentence in corpus),
        "entities": len(spans),
        "entities_per_type": dict(sorted(Counter(label for _, _, label in spans).items())),
        "alignment": {key: corpus.notes[key] for key in ALIGNMENT},
        "span_lengths": dict(sorted(Counter(end - start for start, end, _ in spans).items())),
        "notes": {key: count for key, count in sorted(corpus.notes.items()) if key not in ALIGNMENT},
    }


def oov_rate(corpus: Corpus, reference: Corpus) -> float:
    """The fraction of the tokens of ``corpus`` whose exact form never occurs in ``reference``."""
    known = {token for sentence in reference for token in sentence.tokens}
    tokens = [token for sentence in corpus for token in sentence.tokens]
    return sum(token not in known for token in tokens) / len(tokens) if tokens else 0.0

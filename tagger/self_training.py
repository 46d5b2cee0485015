"""Self-training (transductive transfer): a trained model tags raw in-domain text, and the sentences it tags
confidently become silver training data for the next model, trained on them beside the gold corpus.

A sentence is kept when the CRF gives each of its tokens' tags a marginal probability of at least
``min_confidence``, and (with ``entities_only``, the default) when it holds an entity: confident sentences
without one are most of any text and would mostly teach the next model to say O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice

from .corpus import Corpus, Sentence
from .predictions import Prediction
from .tagger import Tagger

TEXTS_AT_ONCE = 512  # texts cut and predicted together: batches of similar lengths, in bounded memory


def silver(
    tagger: Tagger,
    texts: Iterable[str],
    min_confidence: float = 0.95,
    entities_only: bool = True,
    max_sentences: int | None = None,
    batch_size: int = 256,
    head: str | Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Corpus:
    """The sentences of raw ``texts`` (cut by the model's tokenizer) that ``tagger`` tags confidently, with its
    tags, in its output scheme: at most ``max_sentences`` of them, the first found. ``progress`` is called with
    the number of texts read and of sentences kept after each group of texts."""
    if not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"min_confidence must be between 0 and 1, not {min_confidence}")
    kept: list[Sentence] = []
    for group in text_groups(iter(texts), TEXTS_AT_ONCE):
        for tagged in tagger.predict_texts(group, batch_size, head):
            kept += [Sentence(s.tokens, p.tags) for s, p in tagged if _confident(p, min_confidence, entities_only)]
        if progress is not None:
            progress(len(group), len(kept))  # texts with words
        if max_sentences is not None and len(kept) >= max_sentences:
            del kept[max_sentences:]
            break
    return Corpus(kept, tagger.output_scheme, "silver")


def _confident(prediction: Prediction, min_confidence: float, entities_only: bool) -> bool:
    if entities_only and not prediction.spans:
        return False
    return bool(prediction.token_scores) and min(prediction.token_scores) >= min_confidence


def text_groups(texts: Iterator[str], size: int) -> Iterator[list[str]]:
    """``texts`` ``size`` at a time, blank ones left out."""
    while read := list(islice(texts, size)):
        yield [text for text in read if text.strip()]

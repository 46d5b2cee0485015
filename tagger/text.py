"""Raw text to sentences of tokens that keep their character offsets (spaCy's tokenizer)."""

from __future__ import annotations

from functools import lru_cache

from .corpus import Sentence


@lru_cache(maxsize=1)
def _pipeline():
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def sentences(text: str) -> list[Sentence]:
    """Split ``text`` into sentences of non-space tokens; ``text[start:end]`` is each token."""
    result = []
    for span in _pipeline()(text).sents:
        tokens = [token for token in span if not token.is_space]
        if tokens:
            result.append(
                Sentence(
                    [t.text for t in tokens],
                    offsets=[(t.idx, t.idx + len(t.text)) for t in tokens],
                    text=text,
                )
            )
    return result

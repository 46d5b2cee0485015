"""Transfer learning: a tagger for a new corpus (and label set) that starts from a trained one."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from typing import Iterable, Sequence

import torch

from .config import TaggerConfig
from .corpus import Corpus
from .schemes import tags_for
from .tagger import Tagger
from .vocab import Vocab, normalize_word

logger = logging.getLogger(__name__)

# Config keys that shape the weights a model takes over: the source model's values win.
ARCHITECTURE = (
    "lowercase",
    "normalize_digits",
    "word_dim",
    "vectors",
    "vectors_format",
    "freeze_vectors",
    "vectors_keep",
    "char_encoder",
    "char_dim",
    "char_hidden",
    "char_kernel",
    "casing_dim",
    "hidden",
    "layers",
    "scheme",
)
# Weights carried over row by row, and the vocabulary their first dimension runs over; the CRF's
# transitions run over tags in both. Every other weight is carried over whole.
ROWS = {
    "words.weight": "words",
    "words.learned.weight": "words",  # with frozen vectors: the trained rows; ``words.fixed`` is whole
    "chars.embed.weight": "chars",
    "project.weight": "tags",
    "project.bias": "tags",
    "crf.crf.start_transitions": "tags",
    "crf.crf.end_transitions": "tags",
}
SQUARE = {"crf.crf.transitions": "tags"}


def build(config: TaggerConfig, train: Corpus, texts: Iterable[Sequence[str]] = ()) -> Tagger:
    """A new tagger for ``config``: from the model in ``config.init_from`` when it is set, else ``Tagger.build``."""
    if config.init_from:
        return transferred(Tagger.load(config.init_from), config, train)
    return Tagger.build(config, train, texts)


def transferred(source: Tagger, config: TaggerConfig, train: Corpus) -> Tagger:
    """A new tagger for ``train`` whose embeddings, character encoder and BiLSTM are ``source``'s.

    ``config``'s ``ARCHITECTURE`` keys give way to the source's. Training words (at least
    ``min_word_count`` times) and characters the source lacks join its vocabularies with fresh
    rows. The projection and the CRF are new, sized for ``train``'s tags, but tags the source
    has keep their rows: emission weights and bias, transition, start and end scores.
    """
    config = _with_architecture(config, source.config)
    old_words, old_chars, _ = source.vocabs
    counts = Counter(normalize_word(t, config.lowercase, config.normalize_digits) for s in train for t in s.tokens)
    first_pretrained = len(old_words) - source.pretrained  # pretrained vectors stay the last rows
    words = merged(old_words, Vocab.build(counts, config.min_word_count).items, first_pretrained)
    chars = merged(old_chars, Vocab.build(Counter(c for s in train for t in s.tokens for c in t)).items)
    tags = Vocab(tags_for(train.labels(), config.scheme))
    tagger = Tagger.fresh(config, words, chars, tags, train.scheme, source.pretrained)
    pairs = {name: shared(new, old) for name, new, old in zip(("words", "chars", "tags"), tagger.vocabs, source.vocabs)}
    tagger.model.load_state_dict(carried_over(tagger.model.state_dict(), source.model.state_dict(), pairs))
    logger.info(
        "starting from %s: %d new words, %d new characters; %d of %d tags known to it",
        config.init_from,
        len(words) - len(old_words),
        len(chars) - len(old_chars),
        len(pairs["tags"][0]),
        len(tags),
    )
    return tagger


def merged(vocab: Vocab, items: Iterable[str], at: int | None = None) -> Vocab:
    """``vocab`` with the ``items`` it lacks inserted, in order, before position ``at`` (default: at the end)."""
    at = len(vocab) if at is None else at
    new = [item for item in dict.fromkeys(items) if item not in vocab]
    return Vocab([*vocab.items[:at], *new, *vocab.items[at:]])


def shared(new: Vocab, old: Vocab) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids in ``new`` and in ``old`` of the items both have, shape (shared,) each."""
    ids = torch.tensor([[new.ids[item], old.ids[item]] for item in new.items if item in old], dtype=torch.long)
    ids = ids.reshape(-1, 2)  # shape: (shared, 2)
    return ids[:, 0], ids[:, 1]


def carried_over(
    fresh: dict[str, torch.Tensor], source: dict[str, torch.Tensor], pairs: dict[str, tuple[torch.Tensor, torch.Tensor]]
) -> dict[str, torch.Tensor]:
    """The new model's weights: ``fresh`` ones with the source's rows of shared items, the rest the source's."""
    state = {}
    for name, tensor in fresh.items():
        if name in ROWS:
            new, old = pairs[ROWS[name]]
            keep = new < len(tensor)  # a table of trained rows ends before the pretrained ones
            assert torch.equal(keep, old < len(source[name]))
            state[name] = tensor.clone()
            state[name][new[keep]] = source[name][old[keep]]
        elif name in SQUARE:
            new, old = pairs[SQUARE[name]]
            state[name] = tensor.clone()
            state[name][new[:, None], new[None, :]] = source[name][old[:, None], old[None, :]]
        else:
            state[name] = source[name]
    return state


def _with_architecture(config: TaggerConfig, source: TaggerConfig) -> TaggerConfig:
    """``config`` with the source's ``ARCHITECTURE`` keys, logging those that changed."""
    for key in ARCHITECTURE:
        if getattr(config, key) != getattr(source, key):
            logger.info(
                "%s: %r, as the model in %s (not %r)", key, getattr(source, key), config.init_from, getattr(config, key)
            )
    return replace(config, **{key: getattr(source, key) for key in ARCHITECTURE})

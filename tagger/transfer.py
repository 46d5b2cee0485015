"""Transfer learning: a tagger for a new corpus (and label set) that starts from a trained one."""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import replace
from typing import Iterable, Mapping, Sequence

import torch

from .config import ConfigError, TaggerConfig
from .corpus import Corpus
from .tagger import Tagger, heads_for, named_corpora
from .vocab import Vocab, normalize_word

logger = logging.getLogger(__name__)

# Config keys that shape the weights a model takes over: the source model's values win, but for ``layers``,
# which may be more than the source's (``_with_architecture``).
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
# Weights carried over row by row, and the vocabulary their first dimension runs over; each head's
# (named within the head) run over its tags, and its CRF's transitions over its tags in both
# dimensions. Every other weight is carried over whole.
ROWS = {
    "words.weight": "words",
    "words.learned.weight": "words",  # with frozen vectors: the trained rows; ``words.fixed`` is whole
    "chars.embed.weight": "chars",
}
HEAD_ROWS = ("project.weight", "project.bias", "crf.crf.start_transitions", "crf.crf.end_transitions")
HEAD_SQUARE = ("crf.crf.transitions",)
HEAD_NAME = re.compile(r"heads\.(\d+)\.(.+)")
ABOVE_THE_SOURCE = re.compile(r"encoder\.layers\.[1-9][0-9]*\..+")  # the only weights a source may lack


def build(config: TaggerConfig, train: Corpus | Mapping[str, Corpus], texts: Iterable[Sequence[str]] = ()) -> Tagger:
    """A new tagger for ``config`` (and ``train``: as ``Tagger.build`` takes it): from the model in
    ``config.init_from`` when it is set, else ``Tagger.build``."""
    if config.init_from:
        return transferred(Tagger.load(config.init_from), config, train)
    return Tagger.build(config, train, texts)


def transferred(source: Tagger, config: TaggerConfig, train: Corpus | Mapping[str, Corpus]) -> Tagger:
    """A new tagger for ``train`` (a corpus, or head names to corpora) whose embeddings, character encoder and
    BiLSTM are ``source``'s.

    ``config``'s ``ARCHITECTURE`` keys give way to the source's, but for more BiLSTM ``layers`` than the
    source has: those above its own start fresh, on top of the source's. Training words (at least
    ``min_word_count`` times) and characters the source lacks join its vocabularies with fresh
    rows. The heads are new, one per corpus, sized for its tags; a head takes over the rows of the
    tags it shares with the source's head of its name, or with the source's only head (emission
    weights and bias, transition, start and end scores).
    """
    if source.config.ensemble > 1:
        raise ConfigError(
            f"{config.init_from or 'the source'} is an ensemble of {source.config.ensemble} models: a transfer starts "
            "from one model's weights; start from a single model"
        )
    corpora = named_corpora(train, "transfer.build")
    sentences = [sentence for corpus in corpora.values() for sentence in corpus]
    config = _with_architecture(config, source.config)
    if config.layers > source.config.layers and "encoder" in config.frozen_parts:
        raise ConfigError(
            f"freeze encoder: the model has {config.layers} BiLSTM layers, {config.init_from or 'the source'} "
            f"{source.config.layers}; the layers above the source's would stay at their initial weights"
        )
    old_words, old_chars = source.encoder.word_vocab, source.encoder.char_vocab
    counts = Counter(normalize_word(t, config.lowercase, config.normalize_digits) for s in sentences for t in s.tokens)
    first_pretrained = len(old_words) - source.pretrained  # pretrained vectors stay the last rows
    words = merged(old_words, Vocab.build(counts, config.min_word_count).items, first_pretrained)
    chars = merged(old_chars, Vocab.build(Counter(c for s in sentences for t in s.tokens for c in t)).items)
    tagger = Tagger.fresh(config, words, chars, heads_for(corpora, config.scheme), source.pretrained)
    matched = {n: m for n, head in enumerate(tagger.heads) if (m := _matching(source, head.name)) is not None}
    pairs = {"words": shared(words, old_words), "chars": shared(chars, old_chars)}
    pairs |= {n: shared(tagger.heads[n].tags, source.heads[m].tags) for n, m in matched.items()}
    tagger.model.load_state_dict(carried_over(tagger.model.state_dict(), source.float_weights(), pairs, matched))
    logger.info(
        "starting from %s: %d new words, %d new characters; %d of %d tags known to it",
        config.init_from,
        len(words) - len(old_words),
        len(chars) - len(old_chars),
        sum(len(pairs[n][0]) for n in matched),
        sum(len(head.tags) for head in tagger.heads),
    )
    if len(tagger.heads) > 1 or len(source.heads) > 1:
        for number, head in enumerate(tagger.heads):
            taken = f"takes over the source's head {source.heads[matched[number]].name}" if number in matched else ""
            logger.info("head %s: %s", head.name, taken or "new, as the source has no head of its name")
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
    fresh: dict[str, torch.Tensor],
    source: dict[str, torch.Tensor],
    pairs: dict[str | int, tuple[torch.Tensor, torch.Tensor]],
    heads: dict[int, int],
) -> dict[str, torch.Tensor]:
    """The new model's weights: ``fresh`` ones with the source's rows of shared items, the rest the source's (but
    for BiLSTM layers above the source's, which stay ``fresh``).

    ``pairs`` holds the ids of shared items (``shared``) of ``"words"``, ``"chars"`` and of each new head
    number that ``heads`` matches to a source head; the other new heads keep their fresh weights.
    """
    state = {}
    for name, tensor in fresh.items():
        head = HEAD_NAME.fullmatch(name)
        if head is None and name not in source:
            assert ABOVE_THE_SOURCE.fullmatch(name), name
            state[name] = tensor
            continue
        if head is None:
            state[name] = _rows(tensor, source[name], *pairs[ROWS[name]]) if name in ROWS else source[name]
            continue
        number, part = int(head.group(1)), head.group(2)
        if number not in heads:
            state[name] = tensor
            continue
        old, (new_ids, old_ids) = source[f"heads.{heads[number]}.{part}"], pairs[number]
        if part in HEAD_SQUARE:
            state[name] = tensor.clone()
            state[name][new_ids[:, None], new_ids[None, :]] = old[old_ids[:, None], old_ids[None, :]]
        else:
            assert part in HEAD_ROWS, name
            state[name] = _rows(tensor, old, new_ids, old_ids)
    return state


def _rows(fresh: torch.Tensor, old: torch.Tensor, new_ids: torch.Tensor, old_ids: torch.Tensor) -> torch.Tensor:
    """``fresh`` with its rows ``new_ids`` from ``old``'s rows ``old_ids``."""
    keep = new_ids < len(fresh)  # a table of trained rows ends before the pretrained ones
    assert torch.equal(keep, old_ids < len(old))
    rows = fresh.clone()
    rows[new_ids[keep]] = old[old_ids[keep]]
    return rows


def _matching(source: Tagger, name: str) -> int | None:
    """The number of the source's head that a new head ``name`` takes over: the one of its name, else the only one."""
    if name in source.head_names:
        return source.head_names.index(name)
    return 0 if len(source.heads) == 1 else None


def _with_architecture(config: TaggerConfig, source: TaggerConfig) -> TaggerConfig:
    """``config`` with the source's ``ARCHITECTURE`` keys, but ``layers`` where ``config`` has more, logging those
    that changed."""
    taken = {key: getattr(source, key) for key in ARCHITECTURE} | {"layers": max(config.layers, source.layers)}
    for key, value in taken.items():
        if getattr(config, key) != value:
            logger.info("%s: %r, as the model in %s (not %r)", key, value, config.init_from, getattr(config, key))
    if config.layers > source.layers:
        logger.info("BiLSTM layers %d to %d start fresh, above the source's", source.layers + 1, config.layers)
    return replace(config, **taken)

"""Sentences to tensors: ids, the characters of each distinct word, lengths and masks."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from .vocab import Vocab, casing, word_forms


@dataclass
class Encoded:
    """One sentence as ids."""

    words: list[int]
    chars: list[tuple[int, ...]]
    casing: list[int]
    tags: list[int] | None = None


@dataclass
class Batch:
    """Padded tensors of a batch; the characters are those of its distinct words only."""

    words: torch.Tensor  # shape: (batch, seq_len)
    casing: torch.Tensor  # shape: (batch, seq_len)
    mask: torch.Tensor  # shape: (batch, seq_len), bool
    chars: torch.Tensor  # shape: (distinct_words, max_chars)
    char_lengths: torch.Tensor  # shape: (distinct_words,)
    char_index: torch.Tensor  # shape: (batch, seq_len), row of ``chars`` per token
    tags: torch.Tensor | None = None  # shape: (batch, seq_len)

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(dim=1)


class Encoder:
    """Turns token lists into ``Encoded`` sentences and those into ``Batch``es."""

    cache_size = 200_000  # distinct tokens remembered; the memo is emptied when full

    def __init__(self, words: Vocab, chars: Vocab, tags: Vocab, lowercase: bool, normalize_digits: bool):
        self.word_vocab, self.char_vocab, self.tag_vocab = words, chars, tags
        self.lowercase, self.normalize_digits = lowercase, normalize_digits
        self._memo: dict[str, tuple[int, tuple[int, ...], int]] = {}

    def encode(self, tokens: Sequence[str], tags: Sequence[str] | None = None) -> Encoded:
        parts = [self._memo.get(token) or self._encode_token(token) for token in tokens]
        return Encoded(
            [word for word, _, _ in parts],
            [chars for _, chars, _ in parts],
            [shape for _, _, shape in parts],
            None if tags is None else [self.tag_vocab.id(t) for t in tags],
        )

    def _encode_token(self, token: str) -> tuple[int, tuple[int, ...], int]:
        """Word id, character ids and casing id of a token, remembered for its next use.

        The word id is that of the first of the token's ``word_forms`` in the vocabulary, else ``<unk>``.
        """
        if len(self._memo) >= self.cache_size:
            self._memo.clear()
        forms = word_forms(token, self.lowercase, self.normalize_digits)
        encoded = (
            next((self.word_vocab.ids[form] for form in forms if form in self.word_vocab), self.word_vocab.unk),
            tuple(self.char_vocab.id(c) for c in token) or (self.char_vocab.unk,),
            casing(token),
        )
        self._memo[token] = encoded
        return encoded

    @staticmethod
    def collate(sentences: Sequence[Encoded]) -> Batch:
        """Pad a batch; each distinct character sequence is encoded once."""
        seq_len = max(len(s.words) for s in sentences)
        size = (len(sentences), seq_len)
        words = torch.zeros(size, dtype=torch.long)
        shapes = torch.zeros(size, dtype=torch.long)
        char_index = torch.zeros(size, dtype=torch.long)
        mask = torch.zeros(size, dtype=torch.bool)
        has_tags = sentences[0].tags is not None
        tags = torch.zeros(size, dtype=torch.long) if has_tags else None
        distinct: dict[tuple[int, ...], int] = {}
        for row, sentence in enumerate(sentences):
            n = len(sentence.words)
            words[row, :n] = torch.tensor(sentence.words)
            shapes[row, :n] = torch.tensor(sentence.casing)
            char_index[row, :n] = torch.tensor([distinct.setdefault(c, len(distinct)) for c in sentence.chars])
            mask[row, :n] = True
            if has_tags:
                tags[row, :n] = torch.tensor(sentence.tags)
        char_lengths = torch.tensor([len(c) for c in distinct], dtype=torch.long)
        chars = torch.zeros(len(distinct), int(char_lengths.max()), dtype=torch.long)
        for row, sequence in enumerate(distinct):
            chars[row, : len(sequence)] = torch.tensor(sequence)
        return Batch(words, shapes, mask, chars, char_lengths, char_index, tags)


def length_batches(lengths: Sequence[int], batch_size: int, rng: random.Random | None = None) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length.

    Without ``rng``: sorted by length, longest first (for prediction). With it: lengths
    are jittered so batches vary from epoch to epoch, and the batch order is shuffled.
    """
    if rng is None:
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        yield from (order[i : i + batch_size] for i in range(0, len(order), batch_size))
        return
    order = sorted(range(len(lengths)), key=lambda i: lengths[i] + rng.uniform(-2, 2))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    yield from batches

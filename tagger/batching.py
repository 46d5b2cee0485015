"""Sentences to tensors: ids, the characters of each distinct token, lengths and masks."""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import chain
from typing import Iterable, Iterator, Sequence

import torch
from torch.nn.utils.rnn import pad_sequence

from .charlm import BOUNDARY
from .lm_store import CharVocab
from .vocab import Vocab, casing, word_forms

MAX_PADDING = 0.2  # of a prediction batch's tokens; more padding opens a new batch (measured: benchmarks/README.md)
PACKED_MAX_PADDING = 1.0  # where the encoder reads packed (TokenTable.gates): padding costs only the CRF's steps
LM_MAX_PADDING = 0.1  # of the characters of a batch of a character LM's texts: of 0.05, 0.1 and 0.2 the fastest


@dataclass
class Encoded:
    """One sentence as ids."""

    words: list[int]
    chars: list[tuple[int, ...]]
    casing: list[int]
    tags: list[int] | None = None
    lm: tuple[list[int], list[int], list[int]] | None = None  # LM character ids; each token's first and last index

    def tokens(self) -> Iterator[tuple[int, tuple[int, ...], int]]:
        """Each token as a ``TokenTable`` tells tokens apart: word id, characters and casing."""
        return zip(self.words, self.chars, self.casing)


@dataclass
class TokenTable:
    """The distinct tokens (word id, characters, casing) of some sentences, the row of each, and their ids; the
    characters padded. ``features`` and ``gates`` are what the model computes of them once for several batches
    (``BiLSTMCRF.table_features``): the character encoder's output per row, or the encoder's input gates."""

    rows: dict[tuple[int, tuple[int, ...], int], int]
    words: torch.Tensor  # shape: (distinct_tokens,)
    casing: torch.Tensor  # shape: (distinct_tokens,)
    chars: torch.Tensor  # shape: (distinct_tokens, max_chars)
    lengths: torch.Tensor  # shape: (distinct_tokens,)
    # an ensemble's are lists, one per member
    features: torch.Tensor | list[torch.Tensor] | None = None  # shape: (distinct_tokens, char encoder output)
    gates: torch.Tensor | list[torch.Tensor] | None = None  # shape: (2 * distinct_tokens, 4 * hidden), input_gates

    @classmethod
    def of(cls, sentences: Sequence[Encoded]) -> "TokenTable":
        rows: dict[tuple[int, tuple[int, ...], int], int] = {}
        for sentence in sentences:
            for token in sentence.tokens():
                rows.setdefault(token, len(rows))
        lengths = [len(chars) for _, chars, _ in rows]
        return cls(
            rows,
            torch.tensor([word for word, _, _ in rows]),
            torch.tensor([shape for _, _, shape in rows]),
            _filled(_mask(lengths), _flat(chars for _, chars, _ in rows)),
            torch.tensor(lengths),
        )


@dataclass
class Batch:
    """Padded tensors of a batch; the characters are those of its distinct tokens, or of a ``TokenTable`` shared
    with other batches (``char_features`` and ``row_gates``: what the model computed of them, if it has)."""

    words: torch.Tensor  # shape: (batch, seq_len)
    casing: torch.Tensor  # shape: (batch, seq_len)
    mask: torch.Tensor  # shape: (batch, seq_len), bool
    chars: torch.Tensor  # shape: (distinct_tokens, max_chars)
    char_lengths: torch.Tensor  # shape: (distinct_tokens,)
    token_index: torch.Tensor  # shape: (batch, seq_len), row of ``chars`` per token
    char_features: torch.Tensor | list[torch.Tensor] | None = None  # TokenTable.features
    row_gates: torch.Tensor | list[torch.Tensor] | None = None  # TokenTable.gates
    tags: torch.Tensor | None = None  # shape: (batch, seq_len)
    lm_chars: torch.Tensor | None = None  # shape: (batch, text_len), each sentence's text for a character LM
    lm_lengths: torch.Tensor | None = None  # shape: (batch,)
    lm_starts: torch.Tensor | None = None  # shape: (batch, seq_len), index in lm_chars of each token's first char
    lm_ends: torch.Tensor | None = None  # shape: (batch, seq_len), and of its last
    lm_features: torch.Tensor | None = None  # shape: (batch, seq_len, LM output), the LM's, when already computed

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(dim=1)


class Encoder:
    """Turns token lists into ``Encoded`` sentences and those into ``Batch``es; tags are the caller's to number."""

    cache_size = 200_000  # distinct tokens remembered; the memo is emptied when full

    def __init__(
        self,
        words: Vocab,
        chars: Vocab,
        lowercase: bool,
        normalize_digits: bool,
        lm_chars: CharVocab | None = None,
    ):
        self.word_vocab, self.char_vocab, self.lm_vocab = words, chars, lm_chars
        self.lowercase, self.normalize_digits = lowercase, normalize_digits
        self._memo: dict[str, tuple[int, tuple[int, ...], int]] = {}

    def encode(
        self,
        tokens: Sequence[str],
        tags: Sequence[int] | None = None,
        text: str | None = None,
        offsets: Sequence[tuple[int, int]] | None = None,
    ) -> Encoded:
        """A sentence (and its tag ids, if given) as ids; with a character LM, its text is ``text`` at ``offsets``,
        else the tokens joined by single spaces."""
        parts = [self._memo.get(token) or self._encode_token(token) for token in tokens]
        return Encoded(
            [word for word, _, _ in parts],
            [chars for _, chars, _ in parts],
            [shape for _, _, shape in parts],
            None if tags is None else list(tags),
            None if self.lm_vocab is None else self._encode_text(tokens, text, offsets),
        )

    def _encode_text(
        self, tokens: Sequence[str], text: str | None, offsets: Sequence[tuple[int, int]] | None
    ) -> tuple[list[int], list[int], list[int]]:
        """LM ids of the sentence's text between two boundaries, and each token's first and last index in them."""
        if text is None or offsets is None:
            text, offsets, position = " ".join(tokens), [], 0
            for token in tokens:
                offsets.append((position, position + len(token)))
                position += len(token) + 1
        base = offsets[0][0] if offsets else 0
        stretch = text[base : offsets[-1][1]] if offsets else ""
        ids = self.lm_vocab.ids(BOUNDARY + stretch + BOUNDARY)
        return ids, [start - base + 1 for start, _ in offsets], [end - base for _, end in offsets]

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
    def collate(
        sentences: Sequence[Encoded], table: TokenTable | None = None, lm_features: Sequence[torch.Tensor] = ()
    ) -> Batch:
        """Pad a batch; each distinct token's characters are encoded once, in ``table`` if given (it must hold
        the batch's tokens), else in one of the batch's own; ``lm_features`` (per sentence: tokens × LM output),
        if given, stand for the LM's inputs. Each field is one tensor, made at once."""
        mask = _mask([len(s.words) for s in sentences])
        table = table or TokenTable.of(sentences)
        rows = [table.rows[token] for s in sentences for token in s.tokens()]
        words, shapes, rows = (
            _filled(mask, values)
            for values in (_flat(s.words for s in sentences), _flat(s.casing for s in sentences), rows)
        )
        tags = _filled(mask, _flat(s.tags for s in sentences)) if sentences[0].tags is not None else None
        batch = Batch(words, shapes, mask, table.chars, table.lengths, rows, table.features, table.gates, tags)
        if lm_features:
            batch.lm_features = pad_sequence(list(lm_features), batch_first=True)
        elif sentences[0].lm is not None:
            batch.lm_chars, batch.lm_lengths, batch.lm_starts, batch.lm_ends = Encoder.collate_texts(
                [s.lm for s in sentences]
            )
        return batch

    @staticmethod
    def collate_texts(
        texts: Sequence[tuple[list[int], list[int], list[int]]],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The LM inputs of some sentences (``Encoded.lm``), padded: characters, lengths, token starts and ends."""
        lengths = [len(ids) for ids, _, _ in texts]
        tokens = _mask([len(starts) for _, starts, _ in texts])
        return (
            _filled(_mask(lengths), _flat(ids for ids, _, _ in texts)),
            torch.tensor(lengths),
            _filled(tokens, _flat(starts for _, starts, _ in texts)),
            _filled(tokens, _flat(ends for _, _, ends in texts)),
        )


def _mask(lengths: Sequence[int]) -> torch.Tensor:
    """Shape (len(lengths), max(lengths)): true on each row's first ``lengths[row]`` steps."""
    lengths = torch.tensor(lengths)
    return torch.arange(int(lengths.max())) < lengths[:, None]


def _flat(rows: Iterable[Sequence[int]]) -> list[int]:
    return list(chain.from_iterable(rows))


def _filled(mask: torch.Tensor, values: list[int]) -> torch.Tensor:
    """Zeros shaped like ``mask`` with ``values`` where it is true, row by row."""
    padded = torch.zeros(mask.shape, dtype=torch.long)
    padded[mask] = torch.tensor(values, dtype=torch.long)
    return padded


def length_batches(
    lengths: Sequence[int], batch_size: int, rng: random.Random | None = None, max_padding: float = MAX_PADDING
) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length.

    Without ``rng`` (for prediction): sorted by length, longest first, a batch closing at ``batch_size``
    sentences or before its padding would exceed ``max_padding`` of its tokens, so that no short sentence
    waits through the steps of a long one. With it (for training): lengths are jittered so batches vary from
    epoch to epoch, every batch but the last holds ``batch_size``, and the batch order is shuffled.
    """
    if rng is None:
        longest_first = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        yield from _tight_batches(longest_first, lengths, batch_size, max_padding)
        return
    order = sorted(range(len(lengths)), key=lambda i: lengths[i] + rng.uniform(-2, 2))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    yield from batches


def _tight_batches(
    order: list[int], lengths: Sequence[int], batch_size: int, max_padding: float
) -> Iterator[list[int]]:
    """``order`` (longest first) cut into batches of at most ``batch_size`` padded by at most ``max_padding``."""
    batch: list[int] = []
    tokens = 0
    for index in order:
        longest = lengths[batch[0]] if batch else 0
        if len(batch) == batch_size or longest * (len(batch) + 1) > (1 + max_padding) * (tokens + lengths[index]):
            yield batch
            batch, tokens = [], 0
        batch.append(index)
        tokens += lengths[index]
    if batch:
        yield batch


def mixed_batches(corpora: Sequence[Sequence[int]], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Training batches of several corpora, given the sentence lengths of each: every batch from one corpus.

    Each corpus is batched by ``length_batches`` with ``rng``; sentences are numbered across the corpora
    in order (the second's first sentence follows the first's last). With more than one corpus, ``rng``
    then shuffles the batches of all together; one corpus' batches are exactly ``length_batches``'.
    """
    batches, offset = [], 0
    for lengths in corpora:
        batches += [[offset + i for i in batch] for batch in length_batches(lengths, batch_size, rng)]
        offset += len(lengths)
    if len(corpora) > 1:
        rng.shuffle(batches)
    return batches

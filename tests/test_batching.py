"""Batching: prediction batches of similar length with bounded padding, and collation into padded tensors."""

import random

import torch

from tagger.batching import MAX_PADDING, Encoded, Encoder, TokenTable, length_batches


def test_prediction_batches_cover_every_sentence_once_longest_first():
    lengths = [random.Random(7).randint(0, 120) for _ in range(1000)]
    batches = list(length_batches(lengths, 256))
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    flat = [lengths[i] for batch in batches for i in batch]
    assert flat == sorted(flat, reverse=True)


def test_prediction_batches_bound_their_padding_and_size():
    rng = random.Random(3)
    lengths = [rng.choice([rng.randint(1, 15), rng.randint(40, 150)]) for _ in range(2000)]
    batches = list(length_batches(lengths, 256))
    for batch in batches:
        assert len(batch) <= 256
        cells, tokens = len(batch) * lengths[batch[0]], sum(lengths[i] for i in batch)
        assert len(batch) == 1 or cells <= (1 + MAX_PADDING) * tokens
    assert max(map(len, batches)) == 256  # the many short sentences still fill whole batches


def test_sentences_of_one_length_batch_by_count():
    assert [len(batch) for batch in length_batches([9] * 70, 32)] == [32, 32, 6]


def test_collate_pads_each_field_and_shares_the_characters_of_repeated_tokens():
    sentences = [
        Encoded([5, 6, 5], [(1, 2), (3,), (1, 2)], [1, 2, 1], [0, 1, 2]),
        Encoded([7], [(4, 4, 4)], [3], [1]),
    ]
    batch = Encoder.collate(sentences)
    assert batch.words.tolist() == [[5, 6, 5], [7, 0, 0]]
    assert batch.casing.tolist() == [[1, 2, 1], [3, 0, 0]]
    assert batch.tags.tolist() == [[0, 1, 2], [1, 0, 0]]
    assert batch.mask.tolist() == [[True, True, True], [True, False, False]]
    assert batch.chars.tolist() == [[1, 2, 0], [3, 0, 0], [4, 4, 4]]
    assert batch.char_lengths.tolist() == [2, 1, 3]
    assert batch.token_index.tolist() == [[0, 1, 0], [2, 0, 0]]
    assert batch.lengths.tolist() == [3, 1]
    assert batch.words.dtype == batch.chars.dtype == torch.long


def test_a_token_table_row_is_a_word_its_characters_and_casing():
    """Tokens of the same characters but another word or casing id (characters read as unknown) get rows of
    their own: a row's word and casing are its tokens'."""
    sentences = [Encoded([5, 6, 5], [(1,), (1,), (1,)], [1, 1, 2])]
    table = TokenTable.of(sentences)
    assert table.words.tolist() == [5, 6, 5] and table.casing.tolist() == [1, 1, 2]
    assert Encoder.collate(sentences, table).token_index.tolist() == [[0, 1, 2]]


def test_collate_pads_character_lm_text_and_token_positions():
    sentences = [
        Encoded([5, 6], [(1,), (2,)], [1, 1], lm=([0, 8, 9, 8, 0], [1, 3], [1, 3])),
        Encoded([7], [(3,)], [1], lm=([0, 9, 0], [1], [1])),
    ]
    batch = Encoder.collate(sentences)
    assert batch.lm_chars.tolist() == [[0, 8, 9, 8, 0], [0, 9, 0, 0, 0]]
    assert batch.lm_lengths.tolist() == [5, 3]
    assert batch.lm_starts.tolist() == [[1, 3], [1, 0]] and batch.lm_ends.tolist() == [[1, 3], [1, 0]]
    assert batch.tags is None

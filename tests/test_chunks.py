"""Chunks read off batches of tag ids with tensor ops agree with ``schemes.to_spans`` on every sequence."""

import random

import pytest
import torch

from tagger.chunks import ChunkReader
from tagger.schemes import tags_for, to_spans


@pytest.mark.parametrize("scheme", ["IOB1", "IOB2", "IOBES"])
def test_chunks_of_any_tag_ids_are_those_to_spans_reads(scheme):
    tags = tags_for(["Chemical", "Disease"], scheme)
    reader, rng = ChunkReader(tags), random.Random(scheme)
    for _ in range(300):  # random ids: invalid sequences too, read leniently as to_spans reads them
        rows, steps = rng.randint(1, 6), rng.randint(1, 12)
        ids = torch.tensor([[rng.randrange(len(tags)) for _ in range(steps)] for _ in range(rows)])
        lengths = [rng.randint(1, steps) for _ in range(rows)]
        mask = torch.arange(steps) < torch.tensor(lengths)[:, None]
        expected = [to_spans([tags[i] for i in row[:length]]) for row, length in zip(ids.tolist(), lengths)]
        assert reader.spans(ids, mask) == expected


def test_a_chunk_ends_at_its_sentences_end_not_in_the_padding():
    tags = tags_for(["Disease"], "IOB2")
    reader = ChunkReader(tags)
    inside, begin = tags.index("I-Disease"), tags.index("B-Disease")
    ids = torch.tensor([[begin, inside, inside, inside]])
    assert reader.spans(ids, torch.tensor([[True, True, False, False]])) == [[(0, 2, "Disease")]]

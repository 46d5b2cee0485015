"""Aligning character spans to spaCy tokens: properties on arbitrary Unicode text, and the report."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from tagger.corpus import Sentence
from tagger.formats.offsets import align, documents, pieces, tag
from tagger.text import tokenize


@st.composite
def text_and_span(draw):
    text = draw(st.text(min_size=1, max_size=40))
    start = draw(st.integers(0, len(text) - 1))
    end = draw(st.integers(start + 1, len(text)))
    return text, (start, end, "X")


@settings(max_examples=300, deadline=None)
@given(text_and_span())
def test_one_span_is_exact_expanded_or_dropped_as_promised(case):
    text, (start, end, label) = case
    sentence = tokenize(text)
    assert all(text[s:e] == token for token, (s, e) in zip(sentence.tokens, sentence.offsets))
    alignment = align(sentence.offsets, [(start, end, label)])
    assert alignment.exact + len(alignment.expanded) + len(alignment.dropped) == 1
    if alignment.dropped:
        assert text[start:end].isspace()  # only a span of whitespace meets no token
        return
    [(first, last, _)] = alignment.spans
    new_start, new_end = sentence.offsets[first][0], sentence.offsets[last - 1][1]
    if alignment.exact:
        assert (new_start, new_end) == (start, end)
        assert text[new_start:new_end] == text[start:end]
    else:
        assert alignment.expanded == [((start, end, label), (new_start, new_end, label))]
        assert (new_start, new_end) != (start, end)
        covered = set(range(new_start, new_end))
        assert all(i in covered for i in range(start, end) if not text[i].isspace())  # it covers the term


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.lists(st.tuples(st.integers(0, 40), st.integers(1, 8)), max_size=6))
def test_every_distinct_span_is_accounted_for_and_tags_spell_the_kept_ones(text, raw):
    spans = [(start, min(start + length, len(text)), "X") for start, length in raw if start < len(text)]
    notes = Counter()
    sentence = tag(tokenize(text), spans, notes, "test")
    assert notes["exact"] + notes["expanded"] + notes["dropped"] == len(set(spans))
    assert len(sentence.spans) == notes["exact"] + notes["expanded"]
    assert sentence.char_spans == spans


def test_overlapping_and_duplicate_spans_are_counted():
    sentence = tokenize("the battery life is great")
    spans = [(4, 16, "A"), (12, 16, "A"), (4, 16, "A"), (16, 17, "A")]  # "battery life", "life", again, " "
    notes = Counter()
    tag(sentence, spans, notes, "test")
    assert sentence.tags == ["O", "B-A", "I-A", "O", "O"]
    assert (notes["exact"], notes["expanded"], notes["dropped"], notes["duplicate_spans"]) == (1, 0, 2, 1)


def test_pieces_of_a_split_document_join_back_into_its_text():
    text = "First one. Second one!  Third."
    sentences = [
        Sentence(["First", "one", "."], offsets=[(0, 5), (6, 9), (9, 10)], text=text),
        Sentence(["Second", "one", "!"], offsets=[(11, 17), (18, 21), (21, 22)], text=text),
        Sentence(["Third", "."], offsets=[(24, 29), (29, 30)], text=text),
        Sentence(["Third", "."], offsets=[(24, 29), (29, 30)], text=text),  # a second document, same text
    ]
    assert [len(document) for document in documents(sentences)] == [3, 1]
    parts = list(pieces(sentences))
    assert "".join(part.text for part in parts[:3]) == text
    assert [part.start for part in parts] == [0, 11, 24, 0]

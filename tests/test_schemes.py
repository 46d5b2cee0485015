"""Tag schemes: detection, conversion round trips, transitions and repair."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagger.schemes import (
    SCHEMES,
    SchemeError,
    allowed_transitions,
    check_scheme,
    convert,
    detect_scheme,
    from_spans,
    is_valid,
    repair,
    tags_for,
    to_spans,
)


@st.composite
def sentences_with_spans(draw):
    length = draw(st.integers(0, 25))
    cuts = sorted(draw(st.sets(st.integers(0, length), max_size=12)))
    spans = []
    for start, end in zip(cuts, cuts[1:]):
        if draw(st.booleans()):
            spans.append((start, end, draw(st.sampled_from(["Disease", "Chemical", "ASPECT"]))))
    return length, spans


@given(sentences_with_spans(), st.sampled_from(SCHEMES), st.sampled_from(SCHEMES))
def test_spans_survive_every_conversion(case, source, target):
    length, spans = case
    tags = from_spans(spans, length, source)
    assert is_valid(tags, source)
    assert to_spans(tags) == spans
    converted = convert(tags, target)
    assert is_valid(converted, target)
    assert to_spans(converted) == spans
    assert convert(converted, source) == tags


def test_conversions_of_a_known_sentence():
    iob2 = ["B-X", "I-X", "O", "B-Y", "B-Y", "I-Y", "I-Y"]
    assert convert(iob2, "IOB1") == ["I-X", "I-X", "O", "I-Y", "B-Y", "I-Y", "I-Y"]
    assert convert(iob2, "IOBES") == ["B-X", "E-X", "O", "S-Y", "B-Y", "I-Y", "E-Y"]


@pytest.mark.parametrize(
    "sequences, expected",
    [
        ([["I-X", "I-X", "O", "I-Y", "B-Y"]], "IOB1"),
        ([["B-X", "I-X", "O", "B-Y"]], "IOB2"),
        ([["B-X", "E-X", "O", "S-Y"]], "IOBES"),
        ([["O", "O"]], "IOB2"),
        ([["B-X", "O", "I-X"]], "IOB2"),  # an IOB2 file with an error, not IOB1
    ],
)
def test_detect_scheme(sequences, expected):
    assert detect_scheme(sequences) == expected


def test_repair_counts_what_it_fixes():
    assert repair(["O", "I-X", "I-X", "O", "B-Y", "I-Z"], "IOB2") == (["O", "B-X", "I-X", "O", "B-Y", "B-Z"], 2)
    assert repair(["B-X", "I-X"], "IOBES") == (["B-X", "E-X"], 1)


def test_allowed_transitions_forbid_what_the_scheme_forbids():
    tags = tags_for(["X"], "IOB2")  # O, B-X, I-X
    start, transitions, end = allowed_transitions("IOB2", tags)
    assert start == [True, True, False]
    assert transitions[0] == [True, True, False]  # O → I-X forbidden
    assert transitions[1] == [True, True, True]
    assert end == [True, True, True]
    tags = tags_for(["X"], "IOBES")  # O, B, I, E, S
    start, transitions, end = allowed_transitions("IOBES", tags)
    assert start == [True, True, False, False, True]
    assert end == [True, False, False, True, True]
    assert transitions[tags.index("B-X")] == [False, False, True, True, False]


def test_bad_tags_and_schemes_are_named():
    with pytest.raises(SchemeError, match="'X-Disease'"):
        to_spans(["O", "X-Disease"])
    with pytest.raises(SchemeError, match="unknown tag scheme 'BILOU'"):
        check_scheme("BILOU")
    assert check_scheme("bioes") == "IOBES"

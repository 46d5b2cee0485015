"""Sentence splitting and tokenisation: exact offsets on any text, abbreviations, bounded length."""

from __future__ import annotations

from functools import cache

import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st

from tagger import text as text_module
from tagger.formats import read_corpus
from tagger.text import TOKENIZERS, TokenizerError, sentences, tokenize

# Pieces that stress offsets and splitting; joined with arbitrary Unicode between them.
TRICKY = [
    "\r\n", "\t", "   ", "\n\n", "\u200b", "\u200d", "\ufeff", "e\u0301", "\xa0", "\u2028",
    "\U0001f469\u200d\U0001f52c", "\U0001f1eb\U0001f1f7",
    "e.g.", "et al.", "Fig.", "i.v.", ". ", "? ", "!", "(", ")", '"', "'", "...", "U.S.", "E. coli",
]  # fmt: skip
TEXTS = st.lists(st.one_of(st.text(max_size=6), st.sampled_from(TRICKY), st.sampled_from(["The", "cancer", "a"])))


@cache
def english_tokenizers():
    """Ours (``spacy_tokenizer``) and ``spacy.blank("en")``'s."""
    return text_module.spacy_tokenizer("english"), spacy.blank("en").tokenizer


def spans_of(text: str, **options) -> list[str]:
    return [text[s.offsets[0][0] : s.offsets[-1][1]] for s in sentences(text, **options)]


@settings(max_examples=300, deadline=None)
@given(TEXTS.map("".join), st.integers(1, 12), st.sampled_from(TOKENIZERS))
def test_tokens_keep_exact_offsets_on_any_unicode(text, max_tokens, tokenizer):
    split = sentences(text, max_tokens=max_tokens, tokenizer=tokenizer)
    offsets = [offset for sentence in split for offset in sentence.offsets]
    for sentence in split:
        assert 1 <= len(sentence) <= max_tokens and sentence.text is text
        assert sentence.tokens == [text[start:end] for start, end in sentence.offsets]
        assert all(token and not any(c.isspace() for c in token) for token in sentence.tokens)
    assert all(a[1] <= b[0] for a, b in zip(offsets, offsets[1:]))  # in order, never overlapping
    covered = set().union(*(range(start, end) for start, end in offsets))
    marked = text.startswith("\ufeff")  # a byte-order mark that begins the text is in no token
    assert covered == {i for i, c in enumerate(text) if not c.isspace() and not (i == 0 and marked)}  # none lost


@settings(max_examples=300, deadline=None)
@given(TEXTS.map("".join) | st.sampled_from(["Don't go to the U.S.A. at 5:30pm, e.g. http://x.org :-)", "can't"]))
def test_the_english_tokenizer_is_spacys_blank_english_one(text):
    """Built without a ``Language`` (no component imported), it tokenises as ``spacy.blank("en")`` does."""
    ours, spacys = (tokenizer(text) for tokenizer in english_tokenizers())
    assert [(token.idx, token.text) for token in ours] == [(token.idx, token.text) for token in spacys]


@pytest.mark.parametrize(
    "text",
    [
        "Smith et al. reported it in 2001.",
        "Drugs (e.g. Aspirin) help.",
        "It was given i.v. Twice a day it helped.",
        "See Fig. 2 and Figs. 3-4 for details.",
        "Growth of E. coli and S. aureus was slowed.",
        "Treated vs. Untreated mice differed by approx. 5 g.",
    ],
)
def test_abbreviations_do_not_end_sentences(text):
    assert spans_of(text) == [text]


def test_sentences_end_at_final_punctuation_with_closing_quotes_and_at_blank_lines():
    text = 'He said "stop." Then he left! Did it work? (Yes.) Title line\n\nAbstract\r\n\r\nBody text. 42 mice.'
    assert spans_of(text) == [
        'He said "stop."',
        "Then he left!",
        "Did it work?",
        "(Yes.)",
        "Title line",
        "Abstract",
        "Body text.",
        "42 mice.",
    ]


def test_a_single_line_break_and_a_lowercase_word_continue_the_sentence():
    text = "Patients with breast\ncancer were seen. and then more."
    assert spans_of(text) == [text]


def test_long_sentences_are_cut_into_near_equal_chunks():
    text = " ".join(f"w{i}" for i in range(1001)) + ". Short one."
    split = sentences(text, max_tokens=100)
    sizes = [len(s) for s in split]
    assert len(sizes) == 12 and sum(sizes[:11]) == 1002 and set(sizes[:11]) == {91, 92} and sizes[11] == 3
    assert [t for s in split[:11] for t in s.tokens] == [f"w{i}" for i in range(1001)] + ["."]


def test_empty_and_whitespace_texts_have_no_sentences():
    assert sentences("") == [] and sentences(" \r\n\t\u3000") == []
    with pytest.raises(ValueError, match="max_tokens must be at least 1, not 0"):
        sentences("x", max_tokens=0)


def test_the_tokenizer_vocabulary_stays_bounded(monkeypatch):
    monkeypatch.setattr(text_module, "MAX_VOCAB", 2000)
    for batch in range(10):
        text = " ".join(f"word{batch}x{i}" for i in range(500)) + "."
        assert [t for s in sentences(text) for t in s.tokens] == text[:-1].split() + ["."]
    assert len(text_module.spacy_doc("x").vocab) <= 2000 + 501


def test_biomedical_rules_cut_every_punctuation_mark_and_keep_letter_digit_runs():
    text = "GSK-3beta and/or Tcf-4 (I1307K) at q11.2, p<0.05; i.v. doses in H_RG364P16 cannot fail."
    [sentence] = sentences(text, tokenizer="biomedical")
    expected = (
        "GSK - 3beta and / or Tcf - 4 ( I1307K ) at q11 . 2 , p < 0 . 05 ; i . v . doses in H _ RG364P16 cannot fail ."
    )
    assert sentence.tokens == expected.split()
    assert [text[start:end] for start, end in sentence.offsets] == sentence.tokens


def test_biomedical_rules_keep_initials_and_decimals_inside_a_sentence():
    text = "The patient (J. B.) had 2.5 mg. Vitamin A. The end."
    assert [" ".join(s.tokens) for s in sentences(text, tokenizer="biomedical")] == [
        "The patient ( J . B . ) had 2 . 5 mg .",
        "Vitamin A .",
        "The end .",
    ]


def test_biomedical_rules_reproduce_the_tokens_of_ncbi_disease(shared_corpora):
    """The PubTator release's raw text, cut by the rules, gives exactly the tokens of the CoNLL release."""
    tokens = [t for s in read_corpus(shared_corpora / "ncbi-disease" / "test.tsv").sentences for t in s.tokens]
    documents = read_corpus(shared_corpora / "ncbi-disease-pubtator" / "test.pubtator").sentences
    texts = {sentence.id: sentence.text for sentence in documents}
    ours = [t for text in texts.values() for t in tokenize(text, tokenizer="biomedical").tokens]
    assert sorted(ours) == sorted(tokens)  # the two releases order their abstracts differently


def test_an_unknown_tokenizer_is_refused():
    with pytest.raises(TokenizerError, match="unknown tokenizer 'scispacy'; expected one of english, biomedical"):
        sentences("x", tokenizer="scispacy")

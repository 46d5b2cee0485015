"""SemEval ABSA XML: the laptop corpus read in full, written back term for term, and errors that name the sentence."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import pytest

from tagger.corpus import Corpus, CorpusFormatError, Sentence
from tagger.formats import read_corpus, semeval, write_corpus

LAPTOP = {"train.xml": (3045, 2358), "test.xml": (800, 654)}


def _xml(tmp_path, body, name="absa.xml"):
    path = tmp_path / name
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<sentences>{body}</sentences>\n', encoding="utf-8")
    return path


def _terms(path):
    """``(sentence id, text, term, from, to)`` of every term of a SemEval XML file, in file order."""
    return [
        (sentence.get("id"), sentence.findtext("text"), term.get("term"), term.get("from"), term.get("to"))
        for sentence in ET.parse(path).getroot().iter("sentence")
        for term in sentence.iter("aspectTerm")
    ]


@pytest.fixture(scope="module")
def laptop(shared_corpora):
    return {name: read_corpus(shared_corpora / "semeval14-laptop" / name) for name in LAPTOP}


@pytest.mark.parametrize("name", LAPTOP)
def test_laptop_corpus_every_term_accounted_for(laptop, name):
    corpus = laptop[name]
    sentences, terms = LAPTOP[name]
    assert len(corpus) == sentences
    assert corpus.notes["exact"] + corpus.notes["expanded"] + corpus.notes["dropped"] == terms
    assert corpus.notes["dropped"] == 0
    assert sum(len(s.spans) for s in corpus) == terms
    assert corpus.labels() == [semeval.ASPECT] and corpus.scheme == "IOB2"
    for sentence in corpus:
        assert all(sentence.text[s:e] == token for token, (s, e) in zip(sentence.tokens, sentence.offsets))


@pytest.mark.parametrize("name", LAPTOP)
def test_laptop_corpus_xml_round_trip_keeps_every_term_and_offset(laptop, shared_corpora, tmp_path, name):
    write_corpus(laptop[name], tmp_path / name)
    assert _terms(tmp_path / name) == _terms(shared_corpora / "semeval14-laptop" / name)
    again = read_corpus(tmp_path / name)
    assert [(s.id, s.text, s.tags) for s in again] == [(s.id, s.text, s.tags) for s in laptop[name]]


def test_terms_inside_tokens_are_expanded_counted_and_logged(tmp_path, caplog):
    body = (
        '<sentence id="7"><text>Runs OS X. Great\u00a0battery life.</text><aspectTerms>'
        '<aspectTerm term="OS X" polarity="neutral" from="5" to="9"/>'
        '<aspectTerm term="battery life" polarity="positive" from="17" to="29"/>'
        "</aspectTerms></sentence>"
    )
    with caplog.at_level(logging.DEBUG, logger="tagger"):
        corpus = read_corpus(_xml(tmp_path, body))
    [sentence] = corpus.sentences
    assert sentence.tags == ["O", "B-ASPECT", "I-ASPECT", "O", "B-ASPECT", "I-ASPECT", "O"]  # "X." is one token
    assert (corpus.notes["exact"], corpus.notes["expanded"]) == (1, 1)
    assert "sentence '7': ASPECT 'OS X' at 5-9 expanded to token boundaries: 'OS X.' at 5-10" in caplog.text
    assert "1 expanded to token boundaries, 0 dropped" in caplog.text


def test_semeval_2016_opinions_null_targets_and_duplicates(tmp_path):
    path = tmp_path / "restaurants.xml"
    path.write_text(
        '<Reviews><Review rid="1004293"><sentences><sentence id="1004293:0"><text>Judging from the food, go.</text>'
        '<Opinions><Opinion target="food" category="FOOD#QUALITY" polarity="positive" from="17" to="21"/>'
        '<Opinion target="food" category="FOOD#PRICES" polarity="neutral" from="17" to="21"/>'
        '<Opinion target="NULL" category="RESTAURANT#GENERAL" polarity="positive" from="0" to="0"/>'
        "</Opinions></sentence></sentences></Review></Reviews>",
        encoding="utf-8",
    )
    corpus = read_corpus(path)
    assert corpus.sentences[0].id == "1004293:0"
    assert corpus.sentences[0].spans == [(3, 4, "ASPECT")]
    assert dict(corpus.notes) == {"exact": 1, "duplicate_spans": 1, "null_targets": 1}


@pytest.mark.parametrize(
    "body, message",
    [
        ('<sentence id="s1"><text>Good screen', r"absa.xml: malformed XML: .*line 2"),
        ('<sentence id="s1"/>', r"absa.xml: sentence 's1': expected a <text> element"),
        (
            '<sentence id="s1"><text>Good screen</text><aspectTerm term="screen" from="5" to="99"/></sentence>',
            r"sentence 's1': <aspectTerm .*>: expected offsets 0 <= start < end <= 11 .* found 5-99",
        ),
        (
            '<sentence id="s1"><text>Good screen</text><aspectTerm term="screen" from="4" to="10"/></sentence>',
            r"sentence 's1': <aspectTerm .*>: expected 'screen' at 4-10, found ' scree'",
        ),
        (
            '<sentence id="s1"><text>Good screen</text><aspectTerm term="screen" from="five" to="11"/></sentence>',
            r"sentence 's1': <aspectTerm .*>: expected integer 'from' and 'to' attributes",
        ),
        ("<review/>", r"absa.xml: expected <sentence> elements, found none under <sentences>"),
    ],
)
def test_bad_input_names_file_and_sentence(tmp_path, body, message):
    with pytest.raises(CorpusFormatError, match=message):
        read_corpus(_xml(tmp_path, body))


def test_unknown_encoding_and_bad_bytes(tmp_path):
    path = tmp_path / "absa.xml"
    path.write_bytes(b'<?xml version="1.0" encoding="klingon"?><sentences/>')
    with pytest.raises(CorpusFormatError, match=r"absa.xml: the XML declaration names encoding 'klingon': unknown"):
        read_corpus(path)
    path.write_bytes(b"<sentences>\n<sentence id='1'><text>caf\xe9</text></sentence></sentences>")
    with pytest.raises(CorpusFormatError, match=r"absa.xml:2: not utf-8 text: byte 0xe9 at offset 38"):
        read_corpus(path)
    assert read_corpus(path, encoding="latin-1").sentences[0].tokens == ["caf\xe9"]


def test_lenient_reading_skips_and_counts_bad_sentences(tmp_path, caplog):
    body = (
        '<sentence id="a"><text>Nice keyboard</text><aspectTerm term="keyboard" from="5" to="13"/></sentence>'
        '<sentence id="b"><text>Bad screen</text><aspectTerm term="screen" from="3" to="9"/></sentence>'
    )
    with pytest.raises(CorpusFormatError, match="sentence 'b'"):
        read_corpus(_xml(tmp_path, body))
    with caplog.at_level(logging.WARNING):
        corpus = read_corpus(_xml(tmp_path, body), lenient=True)
    assert [s.id for s in corpus] == ["a"]
    assert corpus.notes["skipped_sentences"] == 1 and corpus.notes["exact"] == 1
    assert "skipped:" in caplog.text and "sentence 'b'" in caplog.text


def test_writer_takes_predicted_tags_and_token_only_corpora(tmp_path):
    gold = read_corpus(_xml(tmp_path, '<sentence id="9"><text>The battery-life rocks</text></sentence>'))
    predicted = Corpus([gold.sentences[0].with_spans([(1, 4, "ASPECT")], "IOB2")])
    write_corpus(predicted, tmp_path / "predicted.xml")
    assert _terms(tmp_path / "predicted.xml") == [("9", "The battery-life rocks", "battery-life", "4", "16")]
    tokens_only = Corpus([Sentence(["Fast", "SSD", "&", "<b>"], ["O", "B-ASPECT", "O", "O"])])
    write_corpus(tokens_only, tmp_path / "tokens.xml")
    assert _terms(tmp_path / "tokens.xml") == [("1", "Fast SSD & <b>", "SSD", "5", "8")]


def test_writer_refuses_what_semeval_xml_cannot_hold(tmp_path):
    with pytest.raises(CorpusFormatError, match="holds ASPECT spans only; found Disease"):
        write_corpus(Corpus([Sentence(["flu"], ["B-Disease"])]), tmp_path / "out.xml")
    with pytest.raises(CorpusFormatError, match=r"sentence '1': XML cannot hold the character '\\x00'"):
        write_corpus(Corpus([Sentence(["a\x00b"], ["O"])]), tmp_path / "out.xml")
    assert not (tmp_path / "out.xml").exists()


def test_carriage_returns_and_quotes_survive_the_round_trip(tmp_path):
    sentence = Sentence(['"Pro"\r\nscreen'], ["B-ASPECT"], [(0, 13)], '"Pro"\r\nscreen', "r")
    write_corpus(Corpus([sentence]), tmp_path / "out.xml")
    again = read_corpus(tmp_path / "out.xml")
    assert again.sentences[0].text == sentence.text
    assert again.sentences[0].char_spans == [(0, 13, "ASPECT")]

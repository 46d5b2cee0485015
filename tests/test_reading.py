"""Reading text in every reader: byte-order marks dropped, other encodings named, bad bytes located, no crash."""

from __future__ import annotations

import codecs
import json

import pytest

from tagger import reading
from tagger.corpus import CorpusFormatError, EmptyCorpusError
from tagger.formats import read_corpus
from tagger.reading import EncodingError

BOM = codecs.BOM_UTF8
CONLL = "Aspirin\tB-Chemical\ncauses\tO\nnausea\tB-Disease\n"
JSONL = json.dumps({"text": "Aspirin causes nausea", "spans": [{"start": 0, "end": 7, "label": "Chemical"}]}) + "\n"
PUBTATOR = "1|t|Aspirin causes nausea\n1|a|It does.\n1\t0\t7\tAspirin\tChemical\n\n"
XML = (
    '<sentences><sentence id="1"><text>Aspirin causes nausea</text><aspectTerms>'
    '<aspectTerm term="Aspirin" from="0" to="7"/></aspectTerms></sentence></sentences>'
)
FILES = {"corpus.tsv": CONLL, "corpus.jsonl": JSONL, "corpus.pubtator": PUBTATOR, "corpus.xml": XML}


@pytest.mark.parametrize("name", FILES)
def test_every_reader_drops_a_byte_order_mark(tmp_path, name):
    plain, marked = tmp_path / name, tmp_path / f"bom-{name}"
    plain.write_text(FILES[name], encoding="utf-8")
    marked.write_bytes(BOM + FILES[name].encode())
    first = read_corpus(marked).sentences[0]
    assert first.tokens[0] == "Aspirin" and first.tokens == read_corpus(plain).sentences[0].tokens
    assert first.tags[0] == "B-" + ("ASPECT" if name.endswith(".xml") else "Chemical")


def test_a_byte_order_mark_before_docstart_starts_no_sentence(tmp_path):
    path = tmp_path / "corpus.tsv"
    path.write_bytes(BOM + b"-DOCSTART- -X- O O\n\n" + CONLL.encode())
    assert [s.tokens for s in read_corpus(path)] == [["Aspirin", "causes", "nausea"]]


@pytest.mark.parametrize("name", FILES)
def test_latin1_bytes_are_an_error_naming_the_file_line_and_offset_unless_the_encoding_is_given(tmp_path, name):
    text = FILES[name].replace("nausea", "naus\xe9e")
    path = tmp_path / name
    path.write_bytes(text.encode("latin-1"))
    offset = text.index("\xe9")
    line = text.count("\n", 0, offset) + 1
    with pytest.raises(EncodingError, match=rf"^{path}:{line}: not utf-8 text: byte 0xe9 at offset {offset} "):
        read_corpus(path)
    assert "naus\xe9e" in read_corpus(path, encoding="latin-1").sentences[0].tokens


@pytest.mark.parametrize("name", FILES)
def test_binary_files_are_a_format_error(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(CorpusFormatError):
        read_corpus(path)


def test_xml_is_read_as_it_declares_or_as_told(tmp_path):
    path = tmp_path / "reviews.xml"
    declared = '<?xml version="1.0" encoding="ISO-8859-1"?>' + XML.replace("nausea", "naus\xe9e")
    path.write_bytes(declared.encode("latin-1"))
    assert read_corpus(path).sentences[0].tokens == ["Aspirin", "causes", "naus\xe9e"]
    path.write_bytes(XML.replace("nausea", "naus\xe9e").encode("utf-16"))  # a byte-order mark says UTF-16
    assert read_corpus(path).sentences[0].tokens == ["Aspirin", "causes", "naus\xe9e"]
    path.write_bytes(XML.replace("nausea", "naus\xe9e").encode("cp1252"))
    with pytest.raises(EncodingError, match="not utf-8 text: byte 0xe9"):
        read_corpus(path)
    assert read_corpus(path, encoding="cp1252").sentences[0].tokens[-1] == "naus\xe9e"


def test_an_unknown_encoding_is_a_clear_error(tmp_path):
    path = tmp_path / "corpus.tsv"
    path.write_text(CONLL)
    with pytest.raises(EncodingError, match="unknown encoding 'klingon'"):
        read_corpus(path, encoding="klingon")
    with pytest.raises(EncodingError, match="'base64' is not a text encoding"):
        read_corpus(path, encoding="base64")


def test_a_folder_or_an_unreadable_file_is_a_format_error(tmp_path):
    with pytest.raises(CorpusFormatError, match="is a folder; expected a corpus file"):
        read_corpus(tmp_path, format="conll")


def test_streamed_lines_locate_bad_bytes_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "CHUNK", 7)
    path = tmp_path / "text.txt"
    path.write_bytes(BOM + "a\xe9\nb\xe9\n".encode() + b"x\xffy\n")
    with pytest.raises(EncodingError, match=rf"{path}:3: not utf-8 text: byte 0xff at offset 12 "):
        list(reading.text_lines(path))
    with pytest.raises(EncodingError, match=rf"{path}:3: not utf-8 text: byte 0xff at offset 12 "):
        reading.check_text_file(path)
    assert list(reading.text_lines(path, "latin-1"))[0] == "ï»¿a\xc3\xa9\n"  # Latin-1 has no byte-order mark
    path.write_bytes(BOM + "a\xe9\n".encode())
    assert list(reading.text_lines(path)) == ["a\xe9\n"]


@pytest.mark.parametrize(
    "record, where",
    [
        ('{"text": "bad \\ud800 text"}', "the text holds a lone surrogate '\\\\ud800' at character 4"),
        ('{"text": "ok", "spans": [{"start": 0, "end": 2, "label": "\\udc00"}]}', "a span label holds a lone"),
        ('{"id": "\\ud83d", "text": "ok"}', "the id holds a lone surrogate"),
    ],
)
def test_lone_surrogates_in_jsonl_are_a_bad_line(tmp_path, record, where):
    path = tmp_path / "corpus.jsonl"
    path.write_text(JSONL + record + "\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError, match=f"corpus.jsonl:2: {where}"):
        read_corpus(path)
    assert len(read_corpus(path, lenient=True)) == 1
    path.write_text('{"text": "a pair \\ud83d\\ude00 is fine"}\n', encoding="utf-8")
    assert read_corpus(path).sentences[0].tokens[2] == "\U0001f600"


@pytest.mark.parametrize(
    "document",
    [
        "1|t|   \n1|a|   \n1\t0\t3\t   \tDisease\n",  # nothing but whitespace, and a mention of it
        "1|t|   \n1|a|Cancer\n1\t0\t2\t  \tDisease\n",
        "1|t|\n1|a|\n",
        "1|t| \n1|a|Cancer of the lung.\n1\t2\t8\tCancer\tDisease\n",
    ],
)
def test_whitespace_only_titles_and_abstracts_are_read(tmp_path, document):
    path = tmp_path / "docs.pubtator"
    path.write_text(document + "\n" + PUBTATOR, encoding="utf-8")
    corpus = read_corpus(path)
    assert corpus.sentences[-2].tokens == ["Aspirin", "causes", "nausea"]
    assert all(len(sentence) for sentence in corpus)


def test_a_corpus_without_sentences_names_its_file_where_sentences_are_needed(tmp_path):
    path = tmp_path / "empty.tsv"
    path.write_text("-DOCSTART- -X- O O\n\n\n")
    corpus = read_corpus(path)
    assert len(corpus) == 0
    with pytest.raises(EmptyCorpusError, match=f"^{path}: no sentences to train on"):
        corpus.require_sentences("train on")
    one = tmp_path / "one.tsv"
    one.write_text(CONLL)
    with pytest.raises(EmptyCorpusError, match=f"{one}: 1 sentence cannot be split into dev"):
        read_corpus(one).split(0.1, 13)

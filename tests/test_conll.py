"""The CoNLL reader and writer on real files: errors name the file and line."""

from __future__ import annotations

import logging

import pytest

from tagger.corpus import CorpusFormatError
from tagger.formats import read_corpus, write_corpus


def _write(tmp_path, text, name="corpus.tsv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_sentences_docstart_and_blank_runs(tmp_path):
    path = _write(tmp_path, "-DOCSTART-\tO\n\nAspirin\tB-Chemical\ncauses\tO\n\n\n\nnausea\tB-Disease\n.\tO\n")
    corpus = read_corpus(path)
    assert [s.tokens for s in corpus] == [["Aspirin", "causes"], ["nausea", "."]]
    assert corpus.scheme == "IOB2"
    assert corpus.labels() == ["Chemical", "Disease"]


def test_whitespace_separated_columns_pick_first_and_last(tmp_path):
    corpus = read_corpus(_write(tmp_path, "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n", "c.conll"))
    assert corpus.sentences[0].tags == ["B-ORG", "O"]


def test_columns_choose_the_token_and_the_tag(tmp_path):
    path = _write(tmp_path, "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n", "c.conll")
    corpus = read_corpus(path, columns=(0, 2))
    assert corpus.sentences[0].tokens == ["EU", "rejects"] and corpus.sentences[0].tags == ["B-NP", "B-VP"]
    assert read_corpus(path, columns=(-4, -1)).sentences[0].tags == ["B-ORG", "O"]
    with pytest.raises(CorpusFormatError, match=r"c.conll:1: token column 0 and tag column 4 asked for, but the lin"):
        read_corpus(path, columns=(0, 4))


@pytest.mark.parametrize(
    "text, message",
    [
        ("tumour\tB-Disease\ncells\n", r"corpus.tsv:2: expected 2 columns like the first line, found 1"),
        ("tumour\n", r"corpus.tsv:1: expected a token and a tag"),
        ("tumour\tB-Disease\ncells\tQ-Disease\n", r"corpus.tsv:2: tag 'Q-Disease'"),
        ("tumour\tB-Disease\ncells\tB-Disease\tO\n", r"corpus.tsv:2: expected 2 columns"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, text, message):
    with pytest.raises(CorpusFormatError, match=message):
        read_corpus(_write(tmp_path, text))


def test_inside_after_outside_is_repaired_with_a_warning(tmp_path, caplog):
    path = _write(tmp_path, "the\tO\nbreast\tB-Disease\ncancer\tI-Disease\nand\tO\nglioma\tI-Disease\n")
    with caplog.at_level(logging.WARNING):
        corpus = read_corpus(path)
    assert corpus.sentences[0].tags[-1] == "B-Disease"
    assert corpus.notes["repaired_tags"] == 1
    assert "repaired 1 ill-formed IOB2 tags" in caplog.text


def test_unknown_extension_and_missing_file(tmp_path):
    with pytest.raises(CorpusFormatError, match="unknown corpus format '.xyz'"):
        read_corpus(tmp_path / "corpus.xyz")
    with pytest.raises(FileNotFoundError, match="corpus file not found"):
        read_corpus(tmp_path / "missing.tsv")


def test_write_read_round_trip_on_a_real_corpus(shared_corpora, tmp_path):
    corpus = read_corpus(shared_corpora / "bc5cdr" / "devel.tsv")
    write_corpus(corpus, tmp_path / "copy.tsv")
    again = read_corpus(tmp_path / "copy.tsv")
    assert [(s.tokens, s.tags) for s in again] == [(s.tokens, s.tags) for s in corpus]
    assert len(corpus) == 4581


def test_scheme_round_trip_on_a_real_corpus(shared_corpora):
    corpus = read_corpus(shared_corpora / "ncbi-disease" / "devel.tsv")
    back = corpus.in_scheme("IOBES").in_scheme("IOB1").in_scheme("IOB2")
    assert [s.tags for s in back] == [s.tags for s in corpus]

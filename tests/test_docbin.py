"""spaCy DocBin files as corpora: tokens, entities and sentence starts read without a pipeline, our splitter where a
doc has none, errors naming the file, the round trips from annotate and through corpora convert."""

from __future__ import annotations

import json
import zlib

import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span

from tagger.annotate import Job, annotate
from tagger.cli.main import main
from tagger.corpus import CorpusFormatError
from tagger.formats import format_of, read_corpus
from tagger.formats.offsets import documents
from tagger.text import sentences

TEXT = "As shown in Fig. 2 cisplatin kills cells.  It works!\n\nBRCA1 too."


def doc_bin(*docs: Doc) -> DocBin:
    return DocBin(docs=docs, store_user_data=True)


def test_entities_and_tokens_come_from_the_docs(tmp_path):
    nlp = spacy.blank("en")
    doc = nlp(TEXT)
    doc.ents = [doc.char_span(19, 28, "Chemical"), doc.char_span(54, 59, "Gene")]
    doc.user_data["id"] = 7
    doc_bin(doc).to_disk(tmp_path / "docs.spacy")
    corpus = read_corpus(tmp_path / "docs.spacy")
    assert [s.tokens for s in corpus] == [s.tokens for s in sentences(TEXT)]  # our splitter: no sentence starts set
    assert [[sentence.tokens[a:b] for a, b, _ in sentence.spans] for sentence in corpus] == [
        [["cisplatin"]],
        [],
        [["BRCA1"]],
    ]
    for sentence in corpus:
        assert sentence.id == "7" and [TEXT[a:b] for a, b in sentence.offsets] == sentence.tokens
    assert corpus.notes["exact"] == 2 and not corpus.notes["expanded"]


def test_sentence_starts_of_the_docs_are_kept(tmp_path):
    doc = Doc(spacy.blank("en").vocab, words=["One", ".", "Two", "more", "."], sent_starts=[1, 0, 0, 1, 0])
    doc_bin(doc).to_disk(tmp_path / "docs.spacy")
    assert [s.tokens for s in read_corpus(tmp_path / "docs.spacy")] == [["One", ".", "Two"], ["more", "."]]


def test_an_entity_across_sentence_starts_joins_them(tmp_path):
    doc = Doc(spacy.blank("en").vocab, words=["A", "b", "c", "d"], sent_starts=[1, 0, 1, 0])
    doc.ents = [Span(doc, 1, 3, "X")]
    doc_bin(doc).to_disk(tmp_path / "docs.spacy")
    corpus = read_corpus(tmp_path / "docs.spacy")
    assert [s.tags for s in corpus] == [["O", "B-X", "I-X", "O"]] and corpus.notes["joined_sentences"] == 1


@pytest.mark.parametrize("data", [b"not a DocBin", zlib.compress(b"\x81\xa1a\x01")])
def test_a_file_that_is_not_a_docbin_names_it_unless_lenient_skips_it(tmp_path, data):
    (tmp_path / "bad.spacy").write_bytes(data)
    with pytest.raises(CorpusFormatError, match=r"bad\.spacy: expected a spaCy DocBin \(\.spacy\), found data"):
        read_corpus(tmp_path / "bad.spacy")
    doc_bin(spacy.blank("en")("Good.")).to_disk(tmp_path / "good.spacy")
    corpus = read_corpus(tmp_path, lenient=True)  # the folder: every .spacy file in it
    assert [s.tokens for s in corpus] == [["Good", "."]] and corpus.notes["skipped_files"] == 1


def test_encoding_does_not_apply(tmp_path):
    doc_bin(spacy.blank("en")("Good.")).to_disk(tmp_path / "good.spacy")
    assert len(read_corpus(tmp_path / "good.spacy", encoding="latin-1")) == 1


def test_spans_written_by_annotate_read_back_the_same(tiny_model, sample, tmp_path, annotated):
    lines = [line for line in sample.joinpath("sample.txt").read_text(encoding="utf-8").split(". ") if line.strip()]
    texts = [f"{lines[i]}.\n\n{lines[i + 1]}.  {lines[(i + 3) % len(lines)]}." for i in range(len(lines) - 1)]
    texts += ["\ufeffBreast cancer and type 2\r\ndiabetes in mice. Fig. 2 shows AMPK.", "   "]
    inputs, expected = annotated(texts)
    assert sum(map(len, expected.values())) > 5
    annotate(Job(tiny_model, inputs, tmp_path / "spacy", format="spacy", window=4))
    assert format_of(tmp_path / "spacy") == "spacy"
    corpus = read_corpus(tmp_path / "spacy")  # the folder of parts
    found = {
        document[0].id: [(s.offsets[a][0], s.offsets[b - 1][1], label) for s in document for a, b, label in s.spans]
        for document in documents(corpus.sentences)
    }
    assert found == expected
    by_splitter = [s.offsets for text in texts for s in sentences(text)]
    assert [s.offsets for s in corpus] == by_splitter  # annotate sets no sentence starts: ours cut the same


def test_convert_writes_tokens_sentences_and_tags_that_read_back_the_same(shared_corpora, sample, tmp_path):
    pubtator = shared_corpora / "ncbi-disease-pubtator" / "test.pubtator"
    for source in (sample / "test.tsv", pubtator):
        output = tmp_path / f"{source.stem}.spacy"
        assert main(["corpora", "convert", str(source), "--output", str(output)]) == 0
        assert [(s.tokens, s.tags) for s in read_corpus(output)] == [(s.tokens, s.tags) for s in read_corpus(source)]
    again = read_corpus(tmp_path / "test.spacy")
    assert [(s.id, s.offsets, s.text) for s in again] == [(s.id, s.offsets, s.text) for s in read_corpus(pubtator)]
    docs = list(DocBin().from_disk(tmp_path / "test.spacy").get_docs(spacy.blank("en").vocab))
    assert len(docs) == len(list(documents(again)))  # one doc per document, its sentences as sentence starts


def test_stats_and_evaluate_take_a_docbin(tiny_model, sample, tmp_path, capsys):
    assert main(["corpora", "convert", str(sample / "test.tsv"), "--output", str(tmp_path / "test.spacy")]) == 0
    capsys.readouterr()
    assert main(["corpora", "stats", str(tmp_path / "test.spacy"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "spacy"
    scores = []
    for data in (sample / "test.tsv", tmp_path / "test.spacy"):
        assert main(["evaluate", "--model", str(tiny_model), "--data", str(data), "--json"]) == 0
        scores.append(json.loads(capsys.readouterr().out))
    assert scores[0]["f1"] == scores[1]["f1"]


def test_docs_without_an_entity_are_a_warning_in_stats_and_an_error_in_train(tmp_path, capsys, caplog):
    doc_bin(spacy.blank("en")(TEXT)).to_disk(tmp_path / "docs.spacy")
    assert main(["corpora", "stats", str(tmp_path / "docs.spacy")]) == 0
    assert f"{tmp_path / 'docs.spacy'}: no sentence has an entity to report on" in caplog.text
    capsys.readouterr()
    args = ["train", "--train", str(tmp_path / "docs.spacy"), "--dev", str(tmp_path / "docs.spacy")]
    assert main([*args, "--output", str(tmp_path / "run")]) == 2
    assert "no sentence has an entity to train on: a model of it would tag nothing" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()

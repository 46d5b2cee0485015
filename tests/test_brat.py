"""BRAT standoff as a corpus: entities aligned to tokens, discontinuous ones, other lines ignored, errors that name
file and line, the round trip from annotate, and the commands that read corpora."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from tagger.annotate import Job, annotate
from tagger.cli.main import main
from tagger.corpus import CorpusFormatError
from tagger.formats import format_of, read_corpus, write_corpus
from tagger.formats.offsets import documents

TEXT = "Mutations in BRCA1 cause breast cancer. Mice get it too.\n\nA new paragraph on SIRT1."
ANN = (
    "T1\tGene 13 18\tBRCA1\n"
    "T2\tDisease 25 38\tbreast cancer\n"
    "R1\tCauses Arg1:T1 Arg2:T2\n"
    "#1\tAnnotatorNotes T1\ta note\n"
    "A1\tNegated T2\n"
    "\n"
    "T3\tGene 77 82\tSIRT1\n"
)
TINY = ["--set", "word_dim=16", "--set", "char_dim=8", "--set", "char_hidden=8", "--set", "hidden=16"]


def pair(folder: Path, name: str, text: str, ann: str) -> Path:
    """Write ``NAME.txt`` and ``NAME.ann`` into ``folder``; the ``.ann``'s path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.txt").write_bytes(text.encode("utf-8"))
    (folder / f"{name}.ann").write_text(ann, encoding="utf-8")
    return folder / f"{name}.ann"


def mentions(sentence) -> list[str]:
    return [" ".join(sentence.tokens[start:end]) for start, end, _ in sentence.spans]


def test_a_folder_of_pairs_is_read_by_the_files_it_holds(tmp_path):
    pair(tmp_path, "a", TEXT, ANN)
    pair(tmp_path / "sub", "b", "Aspirin works.", "T1\tChemical 0 7\tAspirin\n")
    (tmp_path / "annotation.conf").write_text("[entities]\nGene\n", encoding="utf-8")
    assert format_of(tmp_path) == "brat"
    corpus = read_corpus(tmp_path)
    assert [sentence.id for sentence in corpus] == ["a", "a", "a", "sub/b"]
    assert [mentions(sentence) for sentence in corpus] == [["BRCA1", "breast cancer"], [], ["SIRT1"], ["Aspirin"]]
    for sentence in corpus:
        assert [sentence.text[start:end] for start, end in sentence.offsets] == sentence.tokens
    assert corpus.notes["other_lines"] == 3 and corpus.notes["exact"] == 4 and not corpus.notes["expanded"]
    one = read_corpus(tmp_path / "a.ann")
    assert [mentions(sentence) for sentence in one] == [["BRCA1", "breast cancer"], [], ["SIRT1"]]
    assert {sentence.id for sentence in one} == {"a"}
    assert [s.tokens for s in read_corpus(tmp_path / "a.txt", "brat")] == [s.tokens for s in one]  # the pair's text


def test_offsets_count_a_byte_order_mark_of_the_text(tmp_path):
    ann = pair(tmp_path, "bom", "\ufeffBRCA1 binds.", "T1\tGene 1 6\tBRCA1\n")
    [sentence] = read_corpus(ann).sentences
    assert sentence.tokens[0] == "BRCA1" and mentions(sentence) == ["BRCA1"]


def test_a_discontinuous_entity_is_taken_as_the_span_that_covers_it_with_a_warning(tmp_path, caplog):
    ann = pair(tmp_path, "d", "breast and ovarian cancer\nof mice", "T1\tDisease 0 6;19 25\tbreast cancer\n")
    with caplog.at_level(logging.WARNING, logger="tagger.formats.brat"):
        corpus = read_corpus(ann)
    assert mentions(corpus.sentences[0]) == ["breast and ovarian cancer"]
    assert corpus.notes["discontinuous_entities"] == 1
    assert "1 discontinuous entities taken as the span that covers their fragments" in caplog.text


def test_an_entity_across_a_blank_line_joins_its_sentences(tmp_path):
    ann = pair(tmp_path, "j", "It is breast.\n\nCancer here.", "T1\tDisease 6 13;15 21\tbreast. Cancer\n")
    corpus = read_corpus(ann)
    assert len(corpus) == 1 and corpus.notes["joined_sentences"] == 1
    assert mentions(corpus.sentences[0]) == ["breast . Cancer"]


@pytest.mark.parametrize(
    "ann, message",
    [
        ("T1\tGene 13\tBRCA1\n", "a.ann:1: expected an entity 'ID TAB TYPE START END[;START END...] TAB MENTION'"),
        ("T1\tGene 13 18\tBRCA1\nT2 Gene 0 9 Mutations\n", "a.ann:2: expected an entity"),
        ("T1\tGene 13 999\tBRCA1\n", "a.ann:1: entity T1: expected offsets 0 <= start < end <= 83 (the text's length)"),
        ("T1\tGene 0 5\tBRCA1\n", "a.ann:1: entity T1: expected 'BRCA1' at 0 5, found 'Mutat'"),
    ],
)
def test_a_malformed_line_names_file_and_line(tmp_path, ann, message):
    pair(tmp_path, "a", TEXT, ann)
    with pytest.raises(CorpusFormatError, match=re.escape(message)):
        read_corpus(tmp_path)


def test_a_missing_text_fails_unless_lenient_skips_the_pair(tmp_path):
    pair(tmp_path, "a", TEXT, ANN)
    (tmp_path / "b.ann").write_text("T1\tGene 0 1\tx\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError, match="b.ann: expected its text b.txt beside it"):
        read_corpus(tmp_path)
    corpus = read_corpus(tmp_path, lenient=True)
    assert {sentence.id for sentence in corpus} == {"a"} and corpus.notes["skipped_documents"] == 1


def test_a_folder_of_neither_format_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("just text", encoding="utf-8")
    with pytest.raises(CorpusFormatError, match="is a folder; expected a corpus file, or a folder of BRAT standoff"):
        read_corpus(tmp_path)


def test_text_is_cut_by_the_rules_it_is_given(tmp_path):
    ann = pair(tmp_path, "g", "GSK-3beta binds.", "T1\tGene 0 3\tGSK\n")
    assert mentions(read_corpus(ann, tokenizer="biomedical").sentences[0]) == ["GSK"]
    assert read_corpus(ann).notes["expanded"] == 1  # english: GSK-3beta is one token


def test_spans_written_by_annotate_read_back_the_same(tiny_model, sample, tmp_path, annotated):
    lines = [line for line in sample.joinpath("sample.txt").read_text(encoding="utf-8").split(". ") if line.strip()]
    texts = [f"{lines[i]}.\n{lines[i + 1]}.\t{lines[(i + 3) % len(lines)]}." for i in range(len(lines) - 1)]
    texts += ["\ufeffBreast\ncancer and type 2\r\ndiabetes in mice. Fig. 2 shows AMPK."]
    inputs, expected = annotated(texts)
    assert sum(map(len, expected.values())) > 5
    annotate(Job(tiny_model, inputs, tmp_path / "brat", format="brat"))
    corpus = read_corpus(tmp_path / "brat")
    found = {
        document[0].id: [span for sentence in document for span in sentence.char_spans]
        for document in documents(corpus.sentences)
    }
    assert found == expected
    aligned = {
        document[0].id: [(s.offsets[a][0], s.offsets[b - 1][1], label) for s in document for a, b, label in s.spans]
        for document in documents(corpus.sentences)
    }
    assert aligned == expected and corpus.notes["exact"] == sum(map(len, expected.values()))


def test_convert_stats_train_and_evaluate_take_a_brat_folder(sample, tmp_path, capsys):
    jsonl = tmp_path / "dev.jsonl"
    assert main(["corpora", "convert", str(sample / "dev.tsv"), "--output", str(jsonl)]) == 0
    assert main(["corpora", "convert", str(jsonl), "--output", str(tmp_path / "dev"), "--output-format", "brat"]) == 0
    assert main(["corpora", "stats", str(tmp_path / "dev"), "--json"]) == 0
    out = capsys.readouterr().out
    stats = json.loads(out[out.index("{") :])
    assert stats["format"] == "brat" and stats["entities"] == sum(len(s.spans) for s in read_corpus(jsonl))
    data = ["--train", str(tmp_path / "dev"), "--dev", str(tmp_path / "dev")]
    options = ["--output", str(tmp_path / "run"), "--epochs", "1", "--no-progress", "--set", "threads=1", *TINY]
    assert main(["train", *data, *options]) == 0
    model = str(tmp_path / "run" / "model")
    assert main(["evaluate", "--model", model, "--data", str(tmp_path / "dev"), "--json"]) == 0
    assert main(["evaluate", "--model", model, "--data", str(tmp_path / "dev"), "--raw-text", "--json"]) == 0


def test_write_refuses_two_documents_of_one_file_name(tmp_path):
    corpus = read_corpus(pair(tmp_path / "in", "a", TEXT, ANN))
    for sentence in corpus:
        sentence.id = "same"
    corpus.sentences[2].text = corpus.sentences[2].text + " "  # another text: another document
    with pytest.raises(CorpusFormatError, match="documents 'same' and 'same' would both be same.txt"):
        write_corpus(corpus, tmp_path / "out", "brat")


def test_a_text_without_annotations_is_left_out_counted_with_a_warning(tmp_path, caplog):
    pair(tmp_path, "a", TEXT, ANN)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "draft.txt").write_text("Not annotated yet.", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        corpus = read_corpus(tmp_path)
    assert {sentence.id for sentence in corpus} == {"a"}
    assert corpus.notes["unannotated_texts"] == 1
    assert "1 .txt files without a .ann beside them left out (not annotated yet?), such as sub/draft.txt" in caplog.text


def test_training_on_pairs_without_an_entity_is_one_line_naming_them(tmp_path, capsys):
    pair(tmp_path / "corpus", "a", TEXT, "R1\tCauses Arg1:T1 Arg2:T2\n")
    run = tmp_path / "run"
    assert (
        main(["train", "--train", str(tmp_path / "corpus"), "--dev", str(tmp_path / "corpus"), "--output", str(run)])
        == 2
    )
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == (
        f"tagger train: error: {tmp_path / 'corpus'}: no sentence has an entity to train on: a model of it would tag "
        "nothing; is it an export of annotations?"
    )
    assert not run.exists()

"""Span JSONL: lossless round trips with CoNLL on real corpora, both record variants, errors by line."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagger.corpus import CorpusFormatError
from tagger.formats import read_corpus, write_corpus


def _jsonl(path, *records):
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["ncbi-disease", "bc5cdr"])
def test_conll_to_jsonl_and_back_is_lossless_on_real_corpora(shared_corpora, tmp_path, name):
    conll = read_corpus(shared_corpora / name / "devel.tsv")
    write_corpus(conll, tmp_path / "spans.jsonl")
    spans = read_corpus(tmp_path / "spans.jsonl")
    assert [(s.tokens, s.tags) for s in spans] == [(s.tokens, s.tags) for s in conll]
    assert spans.notes["expanded"] == spans.notes["dropped"] == 0
    write_corpus(spans, tmp_path / "back.tsv")
    assert (tmp_path / "back.tsv").read_text() == (shared_corpora / name / "devel.tsv").read_text()
    write_corpus(read_corpus(tmp_path / "back.tsv"), tmp_path / "again.jsonl")
    assert (tmp_path / "again.jsonl").read_bytes() == (tmp_path / "spans.jsonl").read_bytes()


def test_plain_records_are_tokenised_and_spans_aligned(tmp_path):
    path = _jsonl(
        tmp_path / "doccano.jsonl",
        {"text": "Aspirin-induced nausea.", "spans": [{"start": 0, "end": 7, "label": "Chemical"}]},
        {"id": 42, "text": "Nausea\u00a0again", "spans": [{"start": 0, "end": 7, "label": "Disease"}]},
    )
    corpus = read_corpus(path)
    assert [s.tokens for s in corpus] == [["Aspirin", "-", "induced", "nausea", "."], ["Nausea", "again"]]
    assert [s.tags for s in corpus] == [["B-Chemical", "O", "O", "O", "O"], ["B-Disease", "O"]]
    assert corpus.sentences[1].id == "42"
    assert (corpus.notes["exact"], corpus.notes["expanded"]) == (1, 1)  # the second ends in a no-break space


def test_doccano_exports_of_both_kinds_are_read_and_rejected_prodigy_answers_skipped(tmp_path):
    text = "Aspirin-induced nausea."
    path = _jsonl(
        tmp_path / "doccano.jsonl",
        {"text": text, "label": [[0, 7, "Chemical"], [16, 22, "Disease"]]},
        {"text": text, "entities": [{"id": 3, "start_offset": 16, "end_offset": 22, "label": "Disease"}]},
        {"text": text, "spans": [{"start": 0, "end": 7, "label": "Chemical"}], "answer": "reject"},
        {"text": text, "spans": [], "answer": "ignore"},
        {"text": text, "spans": [{"start": 0, "end": 7, "label": "Chemical"}], "answer": "accept", "label": "X"},
    )
    corpus = read_corpus(path)
    assert [s.tags for s in corpus] == [
        ["B-Chemical", "O", "O", "B-Disease", "O"],
        ["O", "O", "O", "B-Disease", "O"],
        ["B-Chemical", "O", "O", "O", "O"],
    ]
    assert (corpus.notes["reject_answers"], corpus.notes["ignore_answers"]) == (1, 1)
    bad = _jsonl(tmp_path / "bad.jsonl", {"text": text, "label": [[0, 7]]})
    with pytest.raises(
        CorpusFormatError, match="bad.jsonl:1: expected 'label' to be a list of \\[start, end, label\\]"
    ):
        read_corpus(bad)


def test_prodigy_tokens_are_used_as_given(tmp_path):
    tokens = [
        {"text": "New", "start": 0, "end": 3, "id": 0},
        {"text": "York", "start": 4, "end": 8, "id": 1},
        {"text": "\n\n", "start": 9, "end": 11, "id": 2},
        {"text": "rocks", "start": 11, "end": 16, "id": 3},
    ]
    record = {"text": "New York \n\nrocks", "tokens": tokens, "spans": [{"start": 0, "end": 8, "label": "GPE"}]}
    corpus = read_corpus(_jsonl(tmp_path / "prodigy.jsonl", record))
    assert corpus.sentences[0].tokens == ["New", "York", "rocks"]
    assert corpus.sentences[0].tags == ["B-GPE", "I-GPE", "O"]
    write_corpus(corpus, tmp_path / "out.jsonl")
    written = json.loads((tmp_path / "out.jsonl").read_text())
    assert written["text"] == record["text"] and written["spans"] == record["spans"]
    assert [t["text"] for t in written["tokens"]] == ["New", "York", "rocks"]


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"text": "a b"', r"bad.jsonl:2: expected a JSON object, found invalid JSON"),
        ('["a b"]', r"bad.jsonl:2: expected an object with a string 'text'"),
        ('{"text": "a b", "spans": [{"start": 2, "end": 9, "label": "X"}]}', r"bad.jsonl:2: span X: .* found 2-9"),
        ('{"text": "a b", "spans": [{"start": "0", "end": 1, "label": "X"}]}', r"bad.jsonl:2: expected an integer"),
        ('{"text": "a b", "spans": [{"start": 0, "end": 1}]}', r"bad.jsonl:2: expected a string 'label'"),
        ('{"text": "a b", "spans": {"start": 0}}', r"bad.jsonl:2: expected 'spans' to be a list of objects"),
        (
            '{"text": "a b", "tokens": [{"text": "b", "start": 0, "end": 1}]}',
            r"bad.jsonl:2: token 0: expected 'b' at 0-1, found 'a'",
        ),
    ],
)
def test_bad_lines_name_file_and_line_or_are_skipped_when_lenient(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine", "spans": []}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError, match=message):
        read_corpus(path)
    corpus = read_corpus(path, lenient=True)
    assert len(corpus) == 1 and corpus.notes["skipped_sentences"] == 1


def test_bytes_that_are_not_utf8_name_the_line(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"text": "fine"}\n{"text": "caf\xe9"}\n')
    with pytest.raises(CorpusFormatError, match=r"latin1.jsonl:2: not utf-8 text: byte 0xe9 at offset 30"):
        read_corpus(path)


@st.composite
def records(draw):
    text = draw(st.text(min_size=1, max_size=30))
    spans = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, len(text) - 1))
        spans.append({"start": start, "end": draw(st.integers(start + 1, len(text))), "label": "X"})
    return {"text": text, "spans": spans}


@settings(max_examples=100, deadline=None)
@given(st.lists(records(), min_size=1, max_size=3))
def test_any_text_and_spans_survive_a_write_and_read(tmp_path_factory, written):
    directory = tmp_path_factory.mktemp("jsonl")
    corpus = read_corpus(_jsonl(directory / "in.jsonl", *written))
    write_corpus(corpus, directory / "out.jsonl")
    again = [json.loads(line) for line in (directory / "out.jsonl").read_text(encoding="utf-8").split("\n")[:-1]]
    # whitespace alone makes no sentence, after a byte-order mark that begins the text too (it is in no token)
    kept = [record for record in written if record["text"].removeprefix("\ufeff").strip()]
    assert [(r["text"], r["spans"]) for r in again] == [(r["text"], r["spans"]) for r in kept]


def test_training_on_a_jsonl_file_whose_records_have_no_spans_is_one_line_naming_it(tmp_path, capsys):
    from tagger.cli.main import main

    path = _jsonl(tmp_path / "export.jsonl", *({"text": "Aspirin works.", "annotations": []} for _ in range(3)))
    assert main(["train", "--train", str(path), "--dev", str(path), "--output", str(tmp_path / "run")]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == (
        f"tagger train: error: {path}: no record has spans to train on (looked for the keys 'spans', 'entities', "
        "'label'): a model of it would tag nothing; is it an export of annotations?"
    )
    assert not (tmp_path / "run").exists()


def test_stats_of_a_jsonl_file_whose_records_have_no_spans_warns(tmp_path, caplog):
    from tagger.cli.main import main

    path = _jsonl(tmp_path / "export.jsonl", {"text": "Aspirin works.", "annotations": []})
    assert main(["corpora", "stats", str(path)]) == 0
    assert f"{path}: no record has spans to report on (looked for the keys" in caplog.text

"""``.txt`` is CoNLL to train and evaluate but raw text to annotate: a .txt file that fails as CoNLL says so, and
annotate warns of an input that reads like CoNLL."""

from __future__ import annotations

import logging

import pytest

from tagger.cli.main import main
from tagger.formats import RAW_TEXT, conll

HINT = "A .txt file is read here as CoNLL"


@pytest.fixture
def prose(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Mutations in BRCA1 cause breast cancer.\nAspirin helps.\n", encoding="utf-8")
    return path


def error_of(argv, capsys) -> str:
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error and error.count("\n") == 1
    return error


def test_train_on_raw_prose_in_a_txt_file_says_how_txt_is_read(prose, tmp_path, capsys):
    error = error_of(["train", "--train", str(prose), "--output", str(tmp_path / "run")], capsys)
    assert error.startswith(f"tagger train: error: {prose}:1: ")
    assert HINT in error and f"--format ({', '.join(RAW_TEXT)})" in error and "tagger annotate" in error


def test_evaluate_on_raw_prose_says_it_too(tiny_model, prose, capsys):
    assert HINT in error_of(["evaluate", "--model", str(tiny_model), "--data", str(prose)], capsys)
    raw = error_of(["evaluate", "--model", str(tiny_model), "--data", str(prose), "--raw-text"], capsys)
    assert "raw-text scoring needs documents" in raw and HINT in raw


def test_the_hint_is_only_for_txt_files_read_as_conll_by_their_extension(prose, tmp_path, capsys):
    tsv = tmp_path / "notes.tsv"
    tsv.write_bytes(prose.read_bytes())
    assert HINT not in error_of(["corpora", "stats", str(tsv)], capsys)
    assert HINT not in error_of(["corpora", "stats", str(prose), "--format", "conll"], capsys)
    assert HINT in error_of(["corpora", "stats", str(prose)], capsys)


def test_an_empty_or_undecodable_txt_file_keeps_its_own_error(tmp_path, capsys):
    empty, latin1 = tmp_path / "empty.txt", tmp_path / "latin1.txt"
    empty.write_text("", encoding="utf-8")
    latin1.write_bytes("caf\xe9 O\n".encode("latin-1"))
    assert HINT not in error_of(["train", "--train", str(empty), "--output", str(tmp_path / "a")], capsys)
    assert HINT not in error_of(["train", "--train", str(latin1), "--output", str(tmp_path / "b")], capsys)


def test_conll_text_is_told_from_prose(sample, prose):
    assert conll.looks_like((sample / "train.tsv").read_text(encoding="utf-8"))
    assert conll.looks_like("-DOCSTART- O\n\nAspirin\tB-Chemical\nhelps\tO\n")
    assert not conll.looks_like(prose.read_text(encoding="utf-8"))
    assert not conll.looks_like((sample / "sample.txt").read_text(encoding="utf-8"))
    assert not conll.looks_like("") and not conll.looks_like("O\nO\n")


def test_annotate_warns_of_an_input_that_reads_like_conll(tiny_model, sample, prose, tmp_path, caplog):
    tagged = tmp_path / "tagged.txt"
    tagged.write_bytes((sample / "train.tsv").read_bytes())
    argv = ["annotate", "--model", str(tiny_model), "--no-progress", "--threads", "1"]
    with caplog.at_level(logging.WARNING, logger="tagger"):
        assert main([*argv, str(tagged), str(prose), "--output", str(tmp_path / "out.jsonl")]) == 0
    warned = [record.getMessage() for record in caplog.records if "reads like a CoNLL file" in record.getMessage()]
    assert len(warned) == 1 and warned[0].startswith(str(tagged))
    assert f"tagger evaluate --data {tagged}" in warned[0]

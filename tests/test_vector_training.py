"""``tagger embeddings train``: in-domain vectors that ``tagger train --vectors`` reads back."""

from __future__ import annotations

import pytest

from tagger.cli.main import main, parser
from tagger.vector_training import is_pretokenized
from tagger.vectors import read_vectors

RAW = (
    "Aspirin reduced tumour growth in mice (n=12). Cancer cells, however, kept growing.\n"
    "Mice given ibuprofen showed less inflammation; the effect was dose-dependent.\n"
)


@pytest.fixture
def raw_text(tmp_path):
    path = tmp_path / "raw.txt"
    path.write_text(RAW * 30, encoding="utf-8")
    return path


def test_tokenised_text_is_detected(raw_text, tmp_path):
    tokenised = tmp_path / "tokenised.txt"
    tokenised.write_text("Aspirin reduced tumour growth in mice ( n=12 ) .\nCancer cells , however , grew .\n")
    assert is_pretokenized(tokenised)
    assert not is_pretokenized(raw_text)


@pytest.mark.parametrize("out, kind", [("v.txt", "word2vec"), ("v.bin", "word2vec-binary")])
def test_word2vec_writes_a_file_the_loader_reads(raw_text, tmp_path, capsys, out, kind):
    args = ["--input", str(raw_text), "--algorithm", "word2vec", "--dim", "8", "--output", str(tmp_path / out)]
    assert main(["embeddings", "train", *args, "--min-count", "2", "--epochs", "2", "--threads", "1"]) == 0
    vectors = read_vectors(tmp_path / out, kind)
    assert vectors.dim == 8 and not vectors.subwords
    assert vectors.vector("(") is not None and vectors.vector("mice") is not None  # tokenised by tagger.text
    assert vectors.vector("mice).") is None
    assert f"to {tmp_path / out}" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["raw.txt", out])  # no temporary files left


def test_fasttext_bin_keeps_subwords(raw_text, tmp_path):
    out = tmp_path / "ft.bin"
    args = ["--input", str(raw_text), "--algorithm", "fasttext", "--dim", "6", "--output", str(out), "--min-count", "2"]
    assert main(["embeddings", "train", *args, "--epochs", "1", "--threads", "1", "--buckets", "500"]) == 0
    vectors = read_vectors(out)
    assert vectors.subwords and vectors.vector("tumour") is not None
    assert vectors.vector("tumours") is None and vectors.subword_vector("tumours") is not None


def test_text_too_small_is_a_clear_error(raw_text, tmp_path, capsys):
    args = ["--input", str(raw_text), "--algorithm", "word2vec", "--output", str(tmp_path / "v.txt")]
    assert main(["embeddings", "train", *args, "--min-count", "1000"]) == 2
    assert "no word occurs 1000 times or more" in capsys.readouterr().err
    assert not (tmp_path / "v.txt").exists()


@pytest.mark.parametrize("command", [["embeddings"], ["embeddings", "train"]])
def test_embeddings_commands_have_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: tagger embeddings" in capsys.readouterr().out

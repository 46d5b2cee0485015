"""No command writes over its own input: outputs that are, hold or lie inside an input are refused up front."""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest
import torch

from tagger import Tagger, TaggerConfig
from tagger.cli.main import main
from tagger.files import OverwriteError, refuse_overwrite
from tagger.formats import read_corpus
from tagger.training import Trainer

TINY = TaggerConfig(word_dim=16, char_dim=8, char_hidden=8, hidden=16, epochs=1, batch_size=8, dropout=0.0)


@pytest.fixture(scope="module")
def model(sample, tmp_path_factory):
    torch.set_num_threads(1)
    train = read_corpus(sample / "train.tsv")
    output = tmp_path_factory.mktemp("tiny")
    Trainer(Tagger.build(TINY, train), train, train, output).fit()
    return output / "model"


def digests(*roots):
    """Every file under ``roots`` by path, with the SHA-256 of its bytes."""
    files = [
        path for root in roots for path in ([root] if root.is_file() else sorted(root.rglob("*"))) if path.is_file()
    ]
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def test_the_same_file_by_name_by_link_and_by_hard_link_is_refused(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "x"}\n')
    (tmp_path / "link.jsonl").symlink_to(source)
    os.link(source, tmp_path / "hard.jsonl")
    for output in (source, tmp_path / "link.jsonl", tmp_path / "hard.jsonl", tmp_path / "sub" / ".." / "in.jsonl"):
        with pytest.raises(OverwriteError, match="is the input"):
            refuse_overwrite({"--output": output}, [source])


def test_an_output_inside_an_input_folder_or_holding_an_input_is_refused(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("text")
    with pytest.raises(OverwriteError, match="inside the input folder"):
        refuse_overwrite({"--output": folder / "out" / "x.jsonl"}, [folder])
    with pytest.raises(OverwriteError, match="holds the input"):
        refuse_overwrite({"--output": tmp_path}, [folder / "a.txt"])


def test_outputs_beside_the_inputs_and_standard_streams_pass(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("")
    refuse_overwrite({"--output": tmp_path / "out.jsonl", "--errors": None}, [source, "-", None])
    refuse_overwrite({"--output": "-"}, [source])


@pytest.mark.parametrize("option", ["--output", "--errors"])
def test_annotate_into_its_own_input_is_refused_and_the_input_kept(model, tmp_path, capsys, option):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": 1, "text": "Mutations in BRCA1 cause breast cancer."}\n')
    before = digests(tmp_path)
    output = [] if option == "--output" else ["--output", str(tmp_path / "out.jsonl")]
    code = main(["annotate", "--model", str(model), str(source), option, str(source), *output, "--no-progress"])
    assert code == 2
    assert "is the input" in capsys.readouterr().err
    assert digests(tmp_path) == before


def test_annotate_into_an_input_folder_or_over_the_model_is_refused(model, tmp_path, capsys):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Mutations in BRCA1 cause breast cancer.")
    before = digests(folder, model)
    for output, fmt in ((folder / "out.jsonl", "jsonl"), (folder, "brat"), (model / "weights.jsonl", "jsonl")):
        code = main(
            ["annotate", "--model", str(model), str(folder), "--output", str(output), "--format", fmt, "--no-progress"]
        )
        assert code == 2, output
    assert capsys.readouterr().err.count("error:") == 3
    assert digests(folder, model) == before


def test_convert_onto_its_input_is_refused(sample, tmp_path, capsys):
    corpus = tmp_path / "train.tsv"
    shutil.copy(sample / "train.tsv", corpus)
    before = digests(corpus)
    assert main(["corpora", "convert", str(corpus), "--output", str(corpus)]) == 2
    assert "is the input" in capsys.readouterr().err
    assert digests(corpus) == before


def test_train_into_the_model_it_starts_from_is_refused(sample, model, capsys):
    before = digests(model.parent)
    for output in (model, model.parent, model / "next"):
        code = main(["train", "--train", str(sample / "train.tsv"), "--init-from", str(model), "--output", str(output)])
        assert code == 2, output
    assert capsys.readouterr().err.count("error:") == 3
    assert digests(model.parent) == before


def test_train_and_tune_refuse_an_output_that_is_a_corpus(sample, tmp_path, capsys):
    corpus = tmp_path / "train.tsv"
    shutil.copy(sample / "train.tsv", corpus)
    before = digests(corpus)
    assert main(["train", "--train", str(corpus), "--output", str(corpus)]) == 2
    assert main(["tune", "--train", str(corpus), "--output", str(corpus)]) == 2
    assert capsys.readouterr().err.count("is the input") == 2
    assert digests(corpus) == before


def test_an_output_folder_may_hold_inputs_where_training_writes_nothing(sample, model, tmp_path, capsys):
    corpus = tmp_path / "train.tsv"
    shutil.copy(sample / "train.tsv", corpus)
    before = digests(corpus)
    config = ["--config", str(model / "config.json"), "--epochs", "1", "--no-progress"]
    assert main(["train", "--train", str(corpus), "--output", str(tmp_path), *config]) == 0
    assert main(["train", "--train", str(corpus), "--output", str(model.parent), *config]) == 2
    assert f"--output {model} holds the input {model / 'config.json'}" in capsys.readouterr().err
    assert digests(corpus) == before


def test_export_spacy_and_embeddings_refuse_their_input(model, tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("one two three\n")
    before = digests(model, text)
    assert main(["export-spacy", "--model", str(model), "--output", str(model)]) == 2
    assert main(["embeddings", "train", "--input", str(text), "--algorithm", "word2vec", "--output", str(text)]) == 2
    assert capsys.readouterr().err.count("is the input") == 2
    assert digests(model, text) == before

"""Model cards: tagger train writes meta.json and README.md beside every model, tagger evaluate --update-card adds
scores, and a model with a card still loads and predicts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from tagger import Tagger, TaggerConfig, cards
from tagger.cli.main import main
from tagger.corpus import Corpus
from tagger.formats import read_corpus, write_corpus
from tagger.presets import cache_dir, package_dir

QUICK = [*("--set", "word_dim=16", "--set", "hidden=16", "--set", "char_hidden=8"), "--no-progress"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def train(output: Path, *args: str) -> Path:
    assert main(["train", *args, "--output", str(output), "--epochs", "2", *QUICK]) == 0
    return output


@pytest.fixture(scope="module")
def run(sample, tmp_path_factory) -> Path:
    """tagger train on the sample with dev and test, refitted."""
    files = [f"--{split}={sample / f'{split}.tsv'}" for split in ("train", "dev", "test")]
    return train(tmp_path_factory.mktemp("run"), *files, "--refit")


@pytest.fixture(scope="module")
def aspects(sample, tmp_path_factory) -> Path:
    """The sample with only its Aspect entities, in a folder named aspects."""
    folder = tmp_path_factory.mktemp("corpora") / "aspects"
    for split in ("train", "dev", "test"):
        corpus = read_corpus(sample / f"{split}.tsv")
        kept = [s.with_spans([span for span in s.spans if span[2] == "Aspect"], "IOB2") for s in corpus]
        write_corpus(Corpus(kept, "IOB2"), folder / f"{split}.tsv")
    return folder


def test_train_writes_a_card_of_the_data_and_test_scores(run, sample):
    for model, refitted in ((run / "model", False), (run / "refit" / "model", True)):
        card = cards.read(model)
        (head,) = card["heads"]
        assert head["labels"] == read_corpus(sample / "train.tsv").labels() == Tagger.load(model).labels
        assert head["train"] == {
            "source": str(sample / "train.tsv"),
            "sentences": len(read_corpus(sample / "train.tsv")),
        }
        assert head["dev"]["sentences"] == len(read_corpus(sample / "dev.tsv")) and not head["dev"]["held_out"]
        assert card["training"]["refit"] is refitted and card["config"]["changed"]["hidden"] == 16
        scores = json.loads((model.parent / "test-scores.json").read_text())
        (test,) = card["test"]
        assert test["f1"] == scores["f1"] and test["per_type"] == scores["per_type"]
        assert (test["mode"], test["scheme"], test["source"]) == ("default", "IOB2", str(sample / "test.tsv"))
        readme = (model / cards.CARD_FILE).read_text()
        assert all(label in readme for label in head["labels"]) and f"{scores['f1']:.4f}" in readme


def test_a_model_with_a_card_loads_and_predicts(run, sample):
    tagger = Tagger.load(run / "model")
    sentences = [s.tokens for s in read_corpus(sample / "test.tsv")][:5]
    assert [len(p.tags) for p in tagger.predict(sentences)] == [len(s) for s in sentences]


def test_evaluate_update_card_adds_the_scores_of_a_fresh_evaluate(run, sample, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(run / "model", model)
    weights = {name: (model / name).read_bytes() for name in ("config.json", "vocab.json", "weights.safetensors")}
    data = ["--model", str(model), "--data", str(sample / "dev.tsv"), "--mode", "strict"]
    assert main(["evaluate", *data, "--update-card"]) == 0
    assert main(["evaluate", *data, "--update-card"]) == 0  # the same scores again replace the first
    capsys.readouterr()
    assert main(["evaluate", *data, "--json"]) == 0
    fresh = json.loads(capsys.readouterr().out)
    card = cards.read(model)
    assert [test["source"] for test in card["test"]] == [str(sample / "test.tsv"), str(sample / "dev.tsv")]
    added = card["test"][-1]
    assert added["f1"] == fresh["f1"] and added["per_type"] == fresh["per_type"] and added["mode"] == "strict"
    assert f"{sample / 'dev.tsv'} (head sample, seqeval, strict mode, IOB2" in (model / cards.CARD_FILE).read_text()
    assert weights == {name: (model / name).read_bytes() for name in weights}


def test_evaluate_update_card_refuses_a_model_without_one(tiny_model, sample, capsys):
    assert main(["evaluate", "--model", str(tiny_model), "--data", str(sample / "dev.tsv"), "--update-card"]) == 2
    assert "has no model card (meta.json)" in capsys.readouterr().err
    assert not (tiny_model / cards.META_FILE).exists()


def test_multi_corpus_card_lists_each_head(sample, aspects, tmp_path):
    files = [f"--{split}={folder / f'{split}.tsv'}" for folder in (sample, aspects) for split in ("train", "test")]
    output = train(tmp_path, *files)
    card = cards.read(output / "model")
    assert [(head["name"], head["labels"]) for head in card["heads"]] == [
        ("sample", read_corpus(sample / "train.tsv").labels()),
        ("aspects", ["Aspect"]),
    ]
    assert all(head["dev"]["held_out"] and head["dev"]["sentences"] > 0 for head in card["heads"])
    scores = json.loads((output / "test-scores.json").read_text())["corpora"]
    assert {test["head"]: test["f1"] for test in card["test"]} == {name: s["f1"] for name, s in scores.items()}
    assert "### sample" in (readme := (output / "model" / cards.CARD_FILE).read_text()) and "### aspects" in readme


def test_a_card_names_the_licence_of_a_catalogue_corpus():
    corpus = Corpus([])
    facts = cards.data_facts(corpus, corpus, "ncbi-disease")
    assert facts["corpus"]["licence"] and facts["corpus"]["domain"] == "biomedical"


def test_a_card_names_a_catalogue_corpus_files_by_their_place_in_a_data_directory(tmp_path):
    train = Corpus([], source=str(tmp_path / "mirror" / "ncbi-disease" / "train.tsv"))
    dev = Corpus([], source=str(tmp_path / "dev.tsv"))  # not the corpus' own file: its path
    facts = cards.data_facts(train, dev, "ncbi-disease")
    assert (facts["train"]["source"], facts["dev"]["source"]) == ("ncbi-disease/train.tsv", str(tmp_path / "dev.tsv"))
    assert cards.data_facts(train, dev)["train"]["source"] == train.source  # no catalogue corpus: as it is
    test = str(tmp_path / "ncbi-disease" / "test.tsv")
    assert cards.test_facts("default", test, {}, "ncbi-disease")["source"] == "ncbi-disease/test.tsv"
    assert cards.test_facts("default", test, {})["source"] == test


def test_a_card_names_shipped_resources_by_name_not_by_this_machines_path(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    shipped = package_dir("lms") / "reviews-128"
    config = TaggerConfig(char_lm=str(shipped), vectors=str(cache_dir("vectors") / "reviews-w2v-100.bin"))
    card = {"heads": [{"labels": ["ASPECT"], "train": {"sentences": 3, "source": "mine.xml"}}], "test": []}
    limits = cards.use_and_limits(card, config)["limits"]
    assert "Its character LM came from reviews-128: a shipped reviews resource" in " ".join(limits)
    assert "Its word vectors came from reviews-w2v-100.bin: a shipped reviews resource" in " ".join(limits)
    elsewhere = cards.use_and_limits(card, TaggerConfig(vectors=str(tmp_path / "mine.vec")))["limits"]
    assert f"Its word vectors came from {tmp_path / 'mine.vec'}: the licences" in " ".join(elsewhere)
    other_checkout = TaggerConfig(char_lm=str(tmp_path / "checkout" / "tagger" / "lms" / "reviews-128"))
    limits = cards.use_and_limits(card, other_checkout)["limits"]
    assert "Its character LM came from reviews-128: a shipped reviews resource" in " ".join(limits)

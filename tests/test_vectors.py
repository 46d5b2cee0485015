"""Pretrained vectors: every format reads, lookups fall back as documented, models keep only their rows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tagger import Tagger, TaggerConfig
from tagger.batching import Encoder
from tagger.cli.main import main
from tagger.config import ConfigError
from tagger.formats import read_corpus
from tagger.training import Trainer
from tagger.vectors import VectorsError, read_vectors, vocabulary_with_vectors
from tagger.vocab import PAD, UNK, Vocab

TABLE = {"aspirin": [0.5, -1.0, 2.0], "Cancer": [1.0, 0.0, -0.25], "p00": [3.0, 3.5, -4.0], "mice": [0, 1, 0]}
TINY = dict(word_dim=8, char_dim=4, char_hidden=4, hidden=8, casing_dim=2, batch_size=16)


def _text_lines(table: dict) -> list[str]:
    return [f"{word} {' '.join(str(float(x)) for x in vector)}" for word, vector in table.items()]


def _keyed(table: dict):
    from gensim.models import KeyedVectors

    keyed = KeyedVectors(len(next(iter(table.values()))))
    keyed.add_vectors(list(table), np.array(list(table.values()), dtype=np.float32))
    return keyed


def write_word2vec(path, table):
    path.write_text("\n".join([f"{len(table)} 3", *_text_lines(table)]) + "\n", encoding="utf-8")


def write_glove(path, table):
    path.write_text("\n".join(_text_lines(table)) + "\n", encoding="utf-8")


def write_word2vec_binary(path, table):
    _keyed(table).save_word2vec_format(str(path), binary=True)


def write_spacy_vectors(path, table):
    from spacy.vectors import Vectors

    Vectors(data=np.array(list(table.values()), dtype=np.float32), keys=list(table)).to_disk(path)


def write_spacy_pipeline(path, table):
    import spacy

    nlp = spacy.blank("en")
    for word, vector in table.items():
        nlp.vocab.set_vector(word, np.array(vector, dtype=np.float32))
    nlp.to_disk(path)


WRITERS = {
    "word2vec.txt": (write_word2vec, "word2vec"),
    "fasttext.vec": (write_word2vec, "fasttext"),
    "glove.txt": (write_glove, "glove"),
    "word2vec.bin": (write_word2vec_binary, "word2vec-binary"),
    "vectors": (write_spacy_vectors, "spacy"),
    "pipeline": (write_spacy_pipeline, "spacy"),
}


@pytest.mark.parametrize("name", WRITERS)
def test_every_format_reads_detected_and_named(name, tmp_path):
    write, kind = WRITERS[name]
    write(tmp_path / name, TABLE)
    for asked in ("auto", kind):
        vectors = read_vectors(tmp_path / name, asked)
        assert (vectors.dim, vectors.size) == (3, len(TABLE))
        for word, vector in TABLE.items():
            assert vectors.vector(word).tolist() == pytest.approx(vector)
        assert vectors.vector("cancer") is None and vectors.subword_vector("cancer") is None
        assert vectors.first_words(2) == ([] if name == "vectors" else ["aspirin", "Cancer"])  # bare: hashes only


@pytest.fixture(scope="module")
def fasttext_bin(tmp_path_factory):
    """A tiny fastText model trained by gensim, saved in fastText's .bin format."""
    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model

    sentences = [["aspirin", "reduced", "tumour", "growth", "in", "mice"], ["cancer", "in", "mice"]] * 20
    model = FastText(sentences, vector_size=6, min_count=1, bucket=500, epochs=2, workers=1, seed=1)
    path = tmp_path_factory.mktemp("fasttext") / "tiny.bin"
    save_facebook_model(model, str(path))
    return path, model


def test_fasttext_bin_gives_subword_vectors_to_unknown_words(fasttext_bin):
    path, model = fasttext_bin
    vectors = read_vectors(path)
    assert (vectors.dim, vectors.size, vectors.subwords) == (6, 7, True)
    assert vectors.vector("aspirin").tolist() == pytest.approx(model.wv["aspirin"].tolist(), abs=1e-6)
    assert vectors.vector("aspirins") is None
    assert vectors.subword_vector("aspirins").tolist() == pytest.approx(model.wv["aspirins"].tolist(), abs=1e-6)
    vocab, rows = vocabulary_with_vectors(vectors, ["aspirin"], ["aspirins"], lowercase=True, normalize_digits=True)
    assert vocab.items == [PAD, UNK, "aspirin", "aspirins"]
    assert rows[1].tolist() == pytest.approx(model.wv["aspirins"].tolist(), abs=1e-6)


def test_spacy_floret_vectors_are_all_subwords(tmp_path):
    from spacy.vectors import Vectors

    data = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    Vectors(mode="floret", data=data, minn=3, maxn=4, hash_count=1).to_disk(tmp_path)
    vectors = read_vectors(tmp_path)
    assert (vectors.dim, vectors.size, vectors.subwords) == (4, 0, True)
    assert vectors.vector("cancer") is None and vectors.subword_vector("cancer").shape == (4,)


def test_unreadable_and_missing_vectors_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3\naspirin 0.1 0.2\n")
    with pytest.raises(VectorsError, match=f"{bad}: cannot read as word2vec vectors .line 2: expected a word and 3"):
        read_vectors(bad)
    bad.write_text("aspirin 0.1 0.2\ncancer 0.1 x\n")
    with pytest.raises(VectorsError, match=f"{bad}: cannot read as glove vectors .line 2: could not convert"):
        read_vectors(bad)
    with pytest.raises(VectorsError, match="not a spaCy pipeline or vectors directory"):
        read_vectors(tmp_path, "spacy")
    with pytest.raises(FileNotFoundError, match="vectors not found"):
        read_vectors(tmp_path / "nowhere.vec")


def test_lookups_fall_back_exact_lowercase_digits_then_unk(tmp_path):
    write_word2vec(tmp_path / "v.txt", TABLE)
    vectors = read_vectors(tmp_path / "v.txt")
    train = ["Cancer", "ASPIRIN", "P53", "rare"]
    vocab, rows = vocabulary_with_vectors(vectors, train, ["mice", "unseen"], lowercase=False, normalize_digits=False)
    found = dict(zip(vocab.items[len(vocab) - len(rows) :], rows.tolist()))
    assert found == {
        "Cancer": TABLE["Cancer"],  # exact
        "ASPIRIN": TABLE["aspirin"],  # lowercased
        "P53": TABLE["p00"],  # lowercased, digits as 0
        "mice": TABLE["mice"],  # not a training word, but in the texts to tag
    }
    assert vocab.items[:3] == [PAD, UNK, "rare"] and "unseen" not in vocab
    encoder = Encoder(vocab, Vocab([PAD, UNK]), lowercase=False, normalize_digits=False)
    ids = encoder.encode(["Cancer", "P53", "p53", "RARE", "unseen"]).words
    assert ids == [vocab.id("Cancer"), vocab.id("P53"), vocab.unk, vocab.id("rare"), vocab.unk]


@pytest.fixture(scope="module")
def corpora(sample):
    return {name: read_corpus(sample / f"{name}.tsv") for name in ("train", "dev", "test")}


@pytest.fixture(scope="module")
def sample_vectors(corpora, tmp_path_factory):
    """Vectors for every other word of the sample, and for many words no text has."""
    words = sorted({token for corpus in corpora.values() for s in corpus for token in s.tokens})[::2]
    words += [f"absent{i}" for i in range(300)]
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("vectors") / "sample.txt"
    write_word2vec(path, {word: rng.normal(size=3).round(4).tolist() for word in words})
    return path


def test_model_keeps_only_the_rows_it_needs_and_predicts_without_the_file(sample, sample_vectors, tmp_path):
    vectors = tmp_path / "vectors.txt"
    vectors.write_bytes(sample_vectors.read_bytes())
    splits = [f"--{name}={sample / f'{name}.tsv'}" for name in ("train", "dev", "test")]
    quick = [f"--set={key}={value}" for key, value in TINY.items()]
    code = main(["train", *splits, "--output", str(tmp_path), "--epochs", "1", "--vectors", str(vectors), *quick])
    assert code == 0
    model = tmp_path / "model"
    config = json.loads((model / "config.json").read_text())["config"]
    assert config["vectors"] == str(vectors) and config["word_dim"] == 3 and not config["freeze_vectors"]
    words = json.loads((model / "vocab.json").read_text())["words"]
    assert not any(word.startswith("absent") for word in words)
    tagger = Tagger.load(model)
    assert tuple(tagger.model.words.weight.shape) == (len(words), 3)
    assert 0 < tagger.pretrained < len(words)
    test = read_corpus(sample / "test.tsv")
    before = tagger.predict([s.tokens for s in test])
    vectors.unlink()
    assert Tagger.load(model).predict([s.tokens for s in test]) == before


def test_kept_table_words_join_the_vocabulary_for_new_text(sample, corpora, tmp_path):
    vectors = tmp_path / "v.txt"
    write_word2vec(vectors, {"zygote": [1, 2, 3], "xylitol": [4, 5, 6], "quokka": [7, 8, 9]})
    config = TaggerConfig(**TINY, vectors=str(vectors), vectors_keep=2)
    tagger = Tagger.build(config, corpora["train"], [s.tokens for s in corpora["test"]])
    vocab = tagger.encoder.word_vocab
    assert "zygote" in vocab and "xylitol" in vocab and "quokka" not in vocab
    assert tagger.model.words.weight[vocab.id("xylitol")].tolist() == [4, 5, 6]
    assert tagger.encoder.encode(["Xylitol", "quokka"]).words == [vocab.id("xylitol"), vocab.unk]
    quick = [f"--set={key}={value}" for key, value in TINY.items()]
    train = ["train", f"--train={sample / 'train.tsv'}", "--output", str(tmp_path / "run"), "--epochs", "1"]
    assert main([*train, "--vectors", str(vectors), "--vectors-keep", "1", *quick]) == 0
    words = json.loads((tmp_path / "run" / "model" / "vocab.json").read_text())["words"]
    assert "zygote" in words and "xylitol" not in words
    with pytest.raises(ConfigError, match="vectors_keep must be >= 0, and needs vectors"):
        TaggerConfig(vectors_keep=10)


def test_frozen_vectors_stay_and_the_other_words_learn(corpora, sample_vectors, tmp_path):
    config = TaggerConfig(**TINY, vectors=str(sample_vectors), freeze_vectors=True, epochs=1)
    tagger = Tagger.build(config, corpora["dev"], [s.tokens for s in corpora["test"]])
    assert tagger.config.word_dim == 3 and tagger.pretrained > 0
    embedding = tagger.model.words
    fixed, learned = embedding.fixed.clone(), embedding.learned.weight.detach().clone()
    ids = torch.arange(len(tagger.encoder.word_vocab))
    assert torch.equal(embedding(ids)[-tagger.pretrained :], fixed)
    trainer = Trainer(tagger, corpora["dev"], None, tmp_path)
    assert not trainer.singletons[-tagger.pretrained :].any()  # words with a vector are never read as <unk>
    trainer.fit()
    assert torch.equal(embedding.fixed, fixed)
    assert not torch.equal(embedding.learned.weight, learned)
    loaded = Tagger.load(trainer.model_dir)
    assert torch.equal(loaded.model.words.fixed, fixed)
    sentences = [s.tokens for s in corpora["test"]]
    assert loaded.predict(sentences) == tagger.predict(sentences)


def test_fine_tuned_vectors_start_from_the_table_and_change(corpora, sample_vectors, tmp_path):
    config = TaggerConfig(**TINY, vectors=str(sample_vectors), epochs=1, lowercase=False, normalize_digits=False)
    tagger = Tagger.build(config, corpora["dev"])
    table = read_vectors(sample_vectors)
    vocab, weight = tagger.encoder.word_vocab, tagger.model.words.weight
    exact = [w for w in vocab.items[len(vocab) - tagger.pretrained :] if table.vector(w) is not None]
    assert len(exact) > 100
    assert torch.equal(weight[[vocab.id(w) for w in exact]], torch.tensor(np.stack([table.vector(w) for w in exact])))
    before = weight.detach().clone()
    Trainer(tagger, corpora["dev"], None, tmp_path).fit()
    assert not torch.equal(weight[len(vocab) - tagger.pretrained :], before[len(vocab) - tagger.pretrained :])

"""The Tagger: batch-independent predictions, save/load identity, clear errors on bad models."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from tagger import Tagger, TaggerConfig
from tagger.formats import read_corpus
from tagger.schemes import is_valid
from tagger.tagger import ModelError

FORMAT_1 = Path(__file__).parent / "data" / "format1"  # saved at d8290aa: a 2-layer BiLSTM trained on the sample
SMALL = TaggerConfig(word_dim=16, char_dim=8, char_hidden=8, hidden=16, dropout=0.0)


@pytest.fixture(scope="module")
def corpus(sample):
    return read_corpus(sample / "train.tsv")


@pytest.fixture(scope="module", params=["lstm", "cnn", "none"])
def tagger(request, corpus):
    """An untrained tagger with random weights: predictions are arbitrary but must be consistent."""
    built = Tagger.build(TaggerConfig(**{**SMALL.to_dict(), "char_encoder": request.param}), corpus)
    with torch.no_grad():
        for parameter in built.model.parameters():
            parameter.normal_(0, 0.5)
    return built


def test_prediction_does_not_depend_on_batch_mates(tagger, corpus):
    sentences = [s.tokens for s in corpus.sentences[:40]]
    together = tagger.predict(sentences, batch_size=40)
    alone = [tagger.predict([s], batch_size=1)[0] for s in sentences]
    for a, b in zip(together, alone):
        assert a.tags == b.tags
        assert a.token_scores == pytest.approx(b.token_scores, abs=1e-5)  # float32 emissions differ by batch shape
        assert [(s.start, s.end, s.label) for s in a.spans] == [(s.start, s.end, s.label) for s in b.spans]


def test_predictions_are_valid_and_scored(tagger, corpus):
    predictions = tagger.predict([s.tokens for s in corpus] + [[]], batch_size=16)
    assert predictions[-1].tags == [] and predictions[-1].spans == []
    for prediction, sentence in zip(predictions, corpus):
        assert len(prediction.tags) == len(sentence)
        assert is_valid(prediction.tags, tagger.output_scheme)
        assert all(0.0 <= p <= 1.0 + 1e-6 for p in prediction.token_scores)
        for span in prediction.spans:
            assert 0.0 <= span.score <= min(prediction.token_scores[span.start : span.end]) + 1e-5


def test_save_and_load_give_identical_predictions(tagger, corpus, tmp_path):
    tagger.save(tmp_path / "model")
    loaded = Tagger.load(tmp_path / "model")
    sentences = [s.tokens for s in corpus.sentences[:30]] + [["never", "seen", "ünïcödé", "tokens"]]
    for a, b in zip(tagger.predict(sentences), loaded.predict(sentences)):
        assert a == b
    assert loaded.config == tagger.config
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "config.json",
        "vocab.json",
        "weights.safetensors",
    ]


def test_tag_text_gives_exact_character_offsets(tagger):
    text = "Tamoxifen  reduced\tbreast cancer risk in mice.\r\nThe battery life is great 😀!"
    for span in tagger.tag_text(text):
        assert text[span["start"] : span["end"]] == span["text"]
        assert not math.isnan(span["score"])


def test_missing_corrupt_and_future_models_are_clear_errors(tagger, tmp_path):
    with pytest.raises(ModelError, match="missing config.json, vocab.json, weights.safetensors"):
        Tagger.load(tmp_path / "nowhere")
    model = tmp_path / "model"
    tagger.save(model)
    (model / "weights.safetensors").write_bytes(b"\x80\x04not a tensor file")
    with pytest.raises(ModelError, match="cannot read weights"):
        Tagger.load(model)
    tagger.save(model)
    meta = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(ModelError, match="model format 99"):
        Tagger.load(model)
    (model / "config.json").write_text(json.dumps({**meta, "config": {**meta["config"], "hidden": 7}}))
    with pytest.raises(ModelError, match="incompatible or corrupt"):
        Tagger.load(model)
    (model / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="config.json: cannot read"):
        Tagger.load(model)


def test_a_format_1_model_loads_and_predicts_as_it_did():
    expected = json.loads((FORMAT_1 / "predictions.json").read_text())
    loaded = Tagger.load(FORMAT_1)
    assert loaded.config.layers == 2
    predictions = loaded.predict(expected["sentences"])
    assert [p.tags for p in predictions] == expected["tags"]
    for prediction, scores in zip(predictions, expected["token_scores"]):
        assert prediction.token_scores == pytest.approx(scores, abs=1e-5)

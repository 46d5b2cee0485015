"""int8 dynamic quantisation: a quantised tagger predicts, saves the float weights with its scheme, and loads
quantised again (no pickle); it refuses training; ``tagger quantize`` writes a copy with its card."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from tagger import Tagger, TaggerConfig, cards
from tagger.cli.main import main
from tagger.formats import read_corpus
from tagger.named_models import resolve
from tagger.tagger import CONFIG_FILE, WEIGHTS_FILE, ModelError
from tagger.training import Trainer
from tagger.transfer import transferred

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def test_sentences(sample):
    return [s.tokens for s in read_corpus(sample / "test.tsv")]


def _quantised_modules(tagger: Tagger) -> set[str]:
    """The kinds of int8 dynamic layer in ``tagger``, after checking that no float LSTM or linear layer is left."""
    float_layers = [m for m in tagger.model.modules() if type(m) in (torch.nn.LSTM, torch.nn.Linear)]
    assert not float_layers
    dynamic = "torch.ao.nn.quantized.dynamic"
    return {type(m).__name__ for m in tagger.model.modules() if type(m).__module__.startswith(dynamic)}


def test_a_quantised_tagger_saves_its_float_weights_and_loads_quantised_with_the_same_predictions(
    tiny_model, test_sentences, tmp_path
):
    float_weights = load_file(tiny_model / WEIGHTS_FILE)
    quantised = Tagger.load(tiny_model).quantize()
    assert quantised.quantization == "int8"
    assert {"LSTM", "Linear"} <= _quantised_modules(quantised)
    quantised.save(tmp_path / "int8")
    saved = load_file(tmp_path / "int8" / WEIGHTS_FILE)
    assert saved.keys() == float_weights.keys()
    assert all(torch.equal(saved[name], float_weights[name]) for name in saved)
    assert json.loads((tmp_path / "int8" / CONFIG_FILE).read_text())["quantization"] == "int8"
    loaded = Tagger.load(tmp_path / "int8")
    assert loaded.quantization == "int8" and _quantised_modules(loaded) == _quantised_modules(quantised)
    before, after = quantised.predict(test_sentences), loaded.predict(test_sentences)
    assert [p.tags for p in after] == [p.tags for p in before]
    for old, new in zip(before, after):
        assert new.token_scores == pytest.approx(old.token_scores, abs=1e-6)
    tags = set(Tagger.load(tiny_model).heads[0].tags.items)
    assert all(set(p.tags) <= tags and all(0.0 <= s <= 1.0 for s in p.token_scores) for p in after)


def test_the_quantised_tags_mostly_agree_with_the_float_model(tiny_model, test_sentences):
    float_tags = [t for p in Tagger.load(tiny_model).predict(test_sentences) for t in p.tags]
    int8_tags = [t for p in Tagger.load(tiny_model).quantize().predict(test_sentences) for t in p.tags]
    assert sum(a == b for a, b in zip(float_tags, int8_tags)) >= 0.95 * len(float_tags)


def test_a_quantised_tagger_refuses_to_train_but_a_transfer_from_it_starts_from_its_float_weights(tiny_model, sample):
    train = read_corpus(sample / "train.tsv")
    quantised = Tagger.load(tiny_model).quantize()
    with pytest.raises(ModelError, match="only predicts: train the float model"):
        Trainer(quantised, train, None, "unused")
    with pytest.raises(ModelError, match="already quantised"):
        quantised.quantize()
    config = TaggerConfig.from_dict(quantised.config.to_dict() | {"init_from": str(tiny_model)})
    child = transferred(quantised, config, train)
    assert child.quantization is None
    reference = transferred(Tagger.load(tiny_model), config, train)
    assert all(torch.equal(a, b) for a, b in zip(child.float_weights().values(), reference.float_weights().values()))


def test_an_unknown_quantisation_is_refused_naming_the_file(tiny_model, tmp_path):
    Tagger.load(tiny_model).save(tmp_path / "model")
    config = tmp_path / "model" / CONFIG_FILE
    config.write_text(json.dumps(json.loads(config.read_text()) | {"quantization": "int4"}))
    with pytest.raises(ModelError, match=r"config\.json: quantization 'int4' is not one this tagger"):
        Tagger.load(tmp_path / "model")


def test_tagger_quantize_writes_a_copy_whose_card_keeps_the_float_scores_apart(tmp_path, capsys):
    output = tmp_path / "laptop-int8"
    assert main(["quantize", "--model", "semeval14-laptop-fast", "--output", str(output)]) == 0
    assert "tagger evaluate --model" in capsys.readouterr().err
    card, original = cards.read(output), cards.read(resolve("semeval14-laptop-fast"))
    assert card["quantization"] == "int8" and card["test"] == [] and card["float_test"] == original["test"]
    assert "The float model scored" in (output / cards.CARD_FILE).read_text()
    text = tmp_path / "review.txt"
    text.write_text("The battery life is great but the keyboard is bad.\n")
    assert main(["predict", "--model", str(output), str(text)]) == 0
    assert "battery life" in capsys.readouterr().out
    assert main(["quantize", "--model", str(output), "--output", str(tmp_path / "again")]) == 2
    assert "already quantised" in capsys.readouterr().err
    assert main(["quantize", "--model", "semeval14-laptop-fast", "--output", str(output)]) == 2
    assert main(["quantize", "--model", str(output), "--output", str(output)]) == 2

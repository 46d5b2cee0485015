"""Quantisation (int8 dynamic, bfloat16): a quantised tagger predicts, saves the float weights with its scheme, and
loads quantised again (no pickle); it refuses training; ``tagger quantize`` writes a copy with its card. Weights
stored in bfloat16 (``store_weights_in``): half the file, the same predictions once loaded, computed in float32."""

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


def _quantised_modules(tagger: Tagger, scheme: str) -> set[str]:
    """The kinds of layer in ``scheme`` in ``tagger``, after checking that no float LSTM or linear layer is left."""
    layers = [m for m in tagger.model.modules() if type(m) in (torch.nn.LSTM, torch.nn.Linear)]
    if scheme == "bf16":
        assert layers and all(p.dtype == torch.bfloat16 for layer in layers for p in layer.parameters())
        return {type(m).__name__ for m in layers}
    assert not layers
    dynamic = "torch.ao.nn.quantized.dynamic"
    return {type(m).__name__ for m in tagger.model.modules() if type(m).__module__.startswith(dynamic)}


@pytest.mark.parametrize("scheme", ["int8", "bf16"])
def test_a_quantised_tagger_saves_its_float_weights_and_loads_quantised_with_the_same_predictions(
    tiny_model, test_sentences, tmp_path, scheme
):
    float_weights = load_file(tiny_model / WEIGHTS_FILE)
    quantised = Tagger.load(tiny_model).quantize(scheme)
    assert quantised.quantization == scheme
    assert {"LSTM", "Linear"} <= _quantised_modules(quantised, scheme)
    with torch.inference_mode():  # a bf16 copy's BiLSTM is read packed, its projections in bfloat16; int8's padded
        assert quantised.model.encoder.reads_gates() == (scheme == "bf16")
    quantised.save(tmp_path / scheme)
    saved = load_file(tmp_path / scheme / WEIGHTS_FILE)
    assert saved.keys() == float_weights.keys()
    assert all(torch.equal(saved[name], float_weights[name]) for name in saved)
    assert json.loads((tmp_path / scheme / CONFIG_FILE).read_text())["quantization"] == scheme
    loaded = Tagger.load(tmp_path / scheme)
    assert loaded.quantization == scheme and _quantised_modules(loaded, scheme) == _quantised_modules(quantised, scheme)
    before, after = quantised.predict(test_sentences), loaded.predict(test_sentences)
    assert [p.tags for p in after] == [p.tags for p in before]
    for old, new in zip(before, after):
        assert new.token_scores == pytest.approx(old.token_scores, abs=1e-6)
    tags = set(Tagger.load(tiny_model).heads[0].tags.items)
    assert all(set(p.tags) <= tags and all(0.0 <= s <= 1.0 for s in p.token_scores) for p in after)


@pytest.mark.parametrize("scheme", ["int8", "bf16"])
def test_the_quantised_tags_mostly_agree_with_the_float_model(tiny_model, test_sentences, scheme):
    float_tags = [t for p in Tagger.load(tiny_model).predict(test_sentences) for t in p.tags]
    quantised_tags = [t for p in Tagger.load(tiny_model).quantize(scheme).predict(test_sentences) for t in p.tags]
    assert sum(a == b for a, b in zip(float_tags, quantised_tags)) >= 0.95 * len(float_tags)


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


def test_weights_stored_in_bfloat16_halve_the_file_and_load_to_the_predictions_made_before_saving(
    tiny_model, test_sentences, tmp_path
):
    float_weights = load_file(tiny_model / WEIGHTS_FILE)
    stored = Tagger.load(tiny_model).store_weights_in("bfloat16")
    stored.save(tmp_path / "bf16")
    saved = load_file(tmp_path / "bf16" / WEIGHTS_FILE)
    assert saved.keys() == float_weights.keys()
    for name, tensor in saved.items():
        assert tensor.dtype == torch.bfloat16 and torch.equal(tensor, float_weights[name].to(torch.bfloat16))
    assert (tmp_path / "bf16" / WEIGHTS_FILE).stat().st_size < 0.55 * (tiny_model / WEIGHTS_FILE).stat().st_size
    assert json.loads((tmp_path / "bf16" / CONFIG_FILE).read_text())["weights_dtype"] == "bfloat16"
    loaded = Tagger.load(tmp_path / "bf16")
    assert loaded.weights_dtype == "bfloat16" and loaded.quantization is None
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())  # it computes in float32
    before, after = stored.predict(test_sentences), loaded.predict(test_sentences)
    assert [p.tags for p in after] == [p.tags for p in before]
    assert [p.token_scores for p in after] == [p.token_scores for p in before]
    loaded.save(tmp_path / "again")  # saved as it was loaded
    assert (tmp_path / "again" / WEIGHTS_FILE).read_bytes() == (tmp_path / "bf16" / WEIGHTS_FILE).read_bytes()
    with pytest.raises(ValueError, match="unknown weights dtype 'float8'"):
        Tagger.load(tiny_model).store_weights_in("float8")
    with pytest.raises(ModelError, match="choose how to store it before"):
        Tagger.load(tiny_model).quantize().store_weights_in("bfloat16")


def test_an_unknown_quantisation_is_refused_naming_the_file(tiny_model, tmp_path):
    Tagger.load(tiny_model).save(tmp_path / "model")
    config = tmp_path / "model" / CONFIG_FILE
    config.write_text(json.dumps(json.loads(config.read_text()) | {"quantization": "int4"}))
    with pytest.raises(ModelError, match=r"config\.json: quantization 'int4' is not one this tagger"):
        Tagger.load(tmp_path / "model")
    config.write_text(json.dumps(json.loads(config.read_text()) | {"quantization": None, "weights_dtype": "fp8"}))
    with pytest.raises(ModelError, match=r"config\.json: weights_dtype 'fp8' is not one this tagger"):
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


def test_tagger_quantize_weights_dtype_stores_a_half_size_copy_whose_card_keeps_the_float_scores_apart(
    tmp_path, capsys
):
    output = tmp_path / "laptop-bf16"
    source = resolve("semeval14-laptop-fast")
    assert (
        main(["quantize", "--model", "semeval14-laptop-fast", "--output", str(output), "--weights-dtype", "bfloat16"])
        == 0
    )
    assert "bfloat16 weights" in capsys.readouterr().err
    stored = Tagger.load(output)
    assert stored.weights_dtype == "bfloat16" and stored.quantization is None
    assert (output / WEIGHTS_FILE).stat().st_size < 0.55 * (source / WEIGHTS_FILE).stat().st_size
    card, original = cards.read(output), cards.read(source)
    assert "quantization" not in card and card["test"] == [] and card["float_test"] == original["test"]
    assert card["config"]["architecture"]["weights_dtype"] == "bfloat16"
    assert (
        "Weights stored in bfloat16, computed in float32. The float model scored"
        in (output / cards.CARD_FILE).read_text()
    )
    again = ["quantize", "--model", str(output), "--output", str(tmp_path / "again"), "--weights-dtype", "bfloat16"]
    assert main(again) == 2
    assert "already stored in bfloat16" in capsys.readouterr().err
    for refused in (["--weights-dtype", "bfloat16", "--scheme", "int8"], ["--weights-dtype", "float32"]):
        with pytest.raises(SystemExit) as exit_info:  # one or the other; float32 is how models are trained
            main([*again[:5], *refused])
        assert exit_info.value.code == 2

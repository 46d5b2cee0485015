"""The Tagger: batch-independent predictions, save/load identity, clear errors on bad models."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save

from tagger import Tagger, TaggerConfig, recurrence
from tagger.corpus import Corpus, CorpusFormatError, Sentence
from tagger.evaluation import evaluate
from tagger.formats import read_corpus
from tagger.schemes import is_valid, to_spans
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
    with pytest.raises(
        ModelError, match="weights.safetensors: SHA-256 .* differs from the .* that config.json records"
    ):
        Tagger.load(model)
    meta = json.loads((model / "config.json").read_text())
    del meta["weights_sha256"]  # as a model saved before checksums
    (model / "config.json").write_text(json.dumps(meta))
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


@pytest.mark.parametrize(
    "sentences, message",
    [
        ("Aspirin causes nausea.", "expects a list of sentences, each a list of token strings.*got str 'Aspirin"),
        (["Aspirin", "causes", "nausea"], "got a list of strings \\('Aspirin' at 0\\): wrap a single sentence"),
        ([["Aspirin", 5]], "sentence 0, token 1 is int 5, not a string"),
        ([["Aspirin"], None], "sentence 1 is NoneType None"),
        ([[b"Aspirin"]], "sentence 0, token 0 is bytes b'Aspirin', not a string"),
        ({"a": ["b"]}, "got a dict"),
        (42, "got int 42"),
    ],
)
def test_predict_says_what_it_expects(tagger, sentences, message):
    with pytest.raises(TypeError, match=f"^Tagger.predict {message}" if "expects" in message else message):
        tagger.predict(sentences)


def test_predict_refuses_a_batch_size_below_one_and_takes_any_iterable(tagger):
    for size, error in ((0, ValueError), (-4, ValueError), (True, TypeError), (2.0, TypeError)):
        with pytest.raises(error, match="batch_size must be an integer >= 1"):
            tagger.predict([["a"]], batch_size=size)
    sentences = [["Aspirin", "works"], ("and", "heals"), []]
    assert tagger.predict(iter(sentences)) == tagger.predict(sentences)


def test_tag_text_and_build_check_their_input(tagger, corpus):
    with pytest.raises(TypeError, match="Tagger.tag_text expects the text as a str, not a list"):
        tagger.tag_text(["Aspirin", "works"])
    with pytest.raises(ValueError, match="lone surrogate '\\\\udcff' at character 4"):
        tagger.tag_text("bad \udcff text")
    with pytest.raises(TypeError, match="expects the training data as a Corpus"):
        Tagger.build(SMALL, [["a"]])
    with pytest.raises(CorpusFormatError, match="empty.tsv: no sentences to train on"):
        Tagger.build(SMALL, Corpus([], source="empty.tsv"))
    with pytest.raises(TypeError, match="Tagger.build: texts expects a list of sentences"):
        Tagger.build(SMALL, corpus, "raw text")


def test_evaluation_data_must_have_sentences(tagger):
    with pytest.raises(CorpusFormatError, match="test.tsv: no sentences to evaluate on"):
        evaluate(tagger, Corpus([], source="test.tsv"))


def test_the_weights_checksum_is_recorded_and_checked(tagger, tmp_path):
    model = tmp_path / "model"
    tagger.save(model)
    meta = json.loads((model / "config.json").read_text())
    weights = (model / "weights.safetensors").read_bytes()
    assert meta["weights_sha256"] == hashlib.sha256(weights).hexdigest()
    (model / "weights.safetensors").write_bytes(weights[: len(weights) // 2])  # truncated
    with pytest.raises(ModelError, match="weights.safetensors: SHA-256 [0-9a-f]{12}... differs .* truncated, corrupt"):
        Tagger.load(model)
    other = tmp_path / "other"
    Tagger.build(replace(SMALL, seed=1), tagger_corpus(tagger)).save(other)
    (model / "weights.safetensors").write_bytes((other / "weights.safetensors").read_bytes())  # whole, but another's
    with pytest.raises(ModelError, match="differs from the"):
        Tagger.load(model)


def tagger_corpus(tagger) -> Corpus:
    words = [w for w in tagger.encoder.word_vocab.items[2:12]]
    return Corpus([Sentence(words, ["O"] * len(words))], "IOB2", "words")


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_weights_that_are_not_finite_are_refused(tagger, tmp_path, bad):
    model = tmp_path / "model"
    tagger.save(model)
    weights = {name: tensor.clone() for name, tensor in load_file(model / "weights.safetensors").items()}
    weights["heads.0.project.bias"][0] = bad
    data = save(weights)
    (model / "weights.safetensors").write_bytes(data)
    meta = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**meta, "weights_sha256": hashlib.sha256(data).hexdigest()}))
    with pytest.raises(ModelError, match="weights.safetensors: heads.0.project.bias holds 1 NaN or infinite values"):
        Tagger.load(model)


@pytest.mark.parametrize(
    "part, change, message",
    [
        (
            "config.json",
            {"heads": [{"name": "default", "output_scheme": 5}]},
            "config.json: output_scheme of head 'default' must be one of IOB1, IOB2, IOBES, not 5",
        ),
        (
            "config.json",
            {"heads": [{"name": "default", "output_scheme": "BILOU"}]},
            "output_scheme of head 'default' must be one of IOB1, IOB2, IOBES, not \"BILOU\"",
        ),
        ("config.json", {"heads": []}, "config.json: expected 'heads', a list of objects with name and output_scheme"),
        ("config.json", {"heads": [{"name": "all", "output_scheme": "IOB2"}]}, "config.json: 'heads': 'all' cannot"),
        ("config.json", {"config": {"hidden": "16"}}, 'config.json: config: hidden must be an integer, not "16"'),
        ("config.json", {"config": {"lowercase": 1}}, "config.json: config: lowercase must be true or false, not 1"),
        ("config.json", {"config": {"batch_size": -1}}, "config.json: config: batch_size must be an integer >= 1"),
        ("config.json", {"config": [1]}, "config.json: expected 'config', an object of config keys, found a list"),
        ("config.json", {"format_version": True}, "config.json: model format True is not one"),
        ("vocab.json", {"words": ["the", "<unk>"]}, "vocab.json: 'words' must begin with the special entries <pad>"),
        ("vocab.json", {"chars": ["a", "b"]}, "vocab.json: 'chars' must begin with the special entries"),
        ("vocab.json", {"tags": {"default": ["B-X", "O"]}}, "vocab.json: 'tags' of head 'default' must be O and then"),
        ("vocab.json", {"tags": {"default": ["O", "Q-X"]}}, "vocab.json: 'tags' of head 'default': tag 'Q-X' is"),
        ("vocab.json", {"tags": ["O"]}, "vocab.json: expected 'tags', an object of the tags of heads \\['default'\\]"),
        ("vocab.json", {"tags": {"x": ["O"]}}, "of the tags of heads \\['default'\\], found \\['x'\\]"),
        ("vocab.json", {"words": ["<pad>", "<unk>", 3]}, "vocab.json: expected 'words', a list of strings"),
        ("vocab.json", {"words": ["<pad>", "<unk>", "a", "a"]}, "vocab.json: 'words' lists an entry twice"),
        ("vocab.json", {"pretrained": -1}, "vocab.json: 'pretrained' must be a count of words from 0 to"),
        ("vocab.json", {"pretrained": "0"}, "vocab.json: 'pretrained' must be a count"),
    ],
)
def test_model_files_of_the_wrong_shape_name_the_file_and_the_key(tagger, tmp_path, part, change, message):
    model = tmp_path / "model"
    tagger.save(model)
    values = json.loads((model / part).read_text())
    if isinstance(change.get("config"), dict):
        change = {"config": {**values["config"], **change["config"]}}
    (model / part).write_text(json.dumps({**values, **change}))
    with pytest.raises(ModelError, match=message) as error:
        Tagger.load(model)
    assert str(error.value).startswith(f"{model / part}: ")


@pytest.mark.parametrize("scheme", ["IOB1", "IOB2", "IOBES"])
def test_the_entity_scores_users_see_are_each_entitys_probability(corpus, scheme):
    """Brute force over every tag sequence of the model's own CRF, for a model trained in each scheme."""
    two = Corpus(
        [s.with_spans([span for span in s.spans if span[2] in ("Chemical", "Disease")], "IOB2") for s in corpus],
        "IOB2",
        "two labels",
    )
    tagger = Tagger.build(replace(SMALL, scheme=scheme), two)
    with torch.no_grad():
        for parameter in tagger.model.parameters():
            parameter.normal_(0, 1.0)
    tags = tagger.heads[0].tags.items
    start, transitions, end = (part.detach().double() for part in tagger.model.heads[0].crf.scores())
    sentences = [s.tokens[i : i + 4] for s in corpus.sentences[:30] for i in (0, 4)]
    checked = 0
    for tokens, prediction in zip(sentences, tagger.predict(sentences)):
        batch = tagger.encoder.collate([tagger.encoder.encode(tokens)])
        with torch.no_grad():
            emissions = tagger.model.emissions(batch)[0].double()
        weights = {}
        for path in itertools.product(range(len(tags)), repeat=len(tokens)):
            if is_valid([tags[i] for i in path], scheme):
                score = start[path[0]] + end[path[-1]] + sum(emissions[t, k] for t, k in enumerate(path))
                score += sum(transitions[a, b] for a, b in zip(path, path[1:]))
                weights[path] = float(score)
        top = max(weights.values())
        total = sum(math.exp(w - top) for w in weights.values())
        spans = {path: set(to_spans([tags[i] for i in path])) for path in weights}
        for span in prediction.spans:
            key = (span.start, span.end, span.label)
            expected = sum(math.exp(w - top) for path, w in weights.items() if key in spans[path]) / total
            assert span.score == pytest.approx(expected, abs=1e-5)
            checked += 1
    assert checked >= 10


@pytest.fixture(scope="module")
def trained(tiny_model):
    return Tagger.load(tiny_model)


TEXTS = [
    "Tamoxifen  reduced\tbreast cancer risk in mice. Fig. 2 shows it.\r\nThe battery life is great 😀!",
    "",
    "Mutations in BRCA1 cause breast cancer.\n\nAspirin causes nausea in some patients.",
]


def test_tag_gives_the_sentences_and_spans_whose_offsets_index_each_text(trained):
    results = list(trained.tag(TEXTS, batch_size=3))
    assert [result.text for result in results] == TEXTS
    assert any(result.spans for result in results)  # the tiny model finds something
    for result in results:
        assert all(sentence.text is result.text for sentence in result.sentences)
        assert [(s.start, s.end, s.label) for s in result.spans] == [
            (span["start"], span["end"], span["label"]) for span in trained.tag_text(result.text)
        ]
        for span in result.spans:
            assert result.text[span.start : span.end] == span.text
            assert 0.0 <= span.score <= 1.0 + 1e-6 and span.head is None
    assert_same_tagging(trained.tag(TEXTS[2]), results[2])


def assert_same_tagging(a, b):
    """The same text, sentences and spans, the scores up to float32's batch-shape noise."""
    assert (a.text, a.sentences) == (b.text, b.sentences)
    assert [(s.start, s.end, s.label, s.text) for s in a.spans] == [(s.start, s.end, s.label, s.text) for s in b.spans]
    assert [s.score for s in a.spans] == pytest.approx([s.score for s in b.spans], abs=1e-5)


def test_tag_streams_a_generator_in_input_order(trained, monkeypatch):
    monkeypatch.setattr("tagger.tagger.TEXTS_AT_ONCE", 2)
    taken = []

    def texts():
        for number in itertools.count():
            taken.append(number)
            yield TEXTS[number % 3] + f" Case {number}."

    results = trained.tag(texts())
    first = list(itertools.islice(results, 5))
    assert taken == list(range(6))  # three chunks of two were read: no more than the results need
    assert [result.text for result in first] == [TEXTS[n % 3] + f" Case {n}." for n in range(5)]
    for result in first:
        assert_same_tagging(result, trained.tag(result.text))


def test_tag_and_predict_say_which_takes_raw_text(trained):
    with pytest.raises(TypeError, match="got str 'Mutations in BRCA1.*; to tag raw text, use Tagger.tag"):
        trained.predict("Mutations in BRCA1 cause breast cancer.")
    with pytest.raises(
        TypeError, match="wrap a single sentence in a list, \\[tokens\\]; to tag raw text, use Tagger.tag"
    ):
        trained.predict(["Mutations in BRCA1 cause breast cancer."])
    with pytest.raises(TypeError, match="Tagger.tag expects a str or an iterable of str, not bytes"):
        trained.tag(b"Aspirin")
    with pytest.raises(TypeError, match="Tagger.tag \\(text 1\\) expects the text as a str, not a list"):
        list(trained.tag(["Aspirin works.", ["Aspirin", "works"]]))
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        trained.tag(iter([]), batch_size=0)  # checked at once, before any text is read


@pytest.mark.parametrize("name", ["ncbi-disease-fast", "semeval14-laptop"], ids=["fast", "ensemble with a char LM"])
def test_the_packed_encoder_tags_as_torchs_lstm(name, sample, monkeypatch):
    """``predict`` reads its encoders packed from input gates per distinct token (``recurrence``), in batches
    padded more; the shipped models tag the sample as with torch's LSTMs (the reference), to float32 rounding."""
    tagger = Tagger.load(name)
    sentences = [s.tokens for s in read_corpus(sample / "test.tsv")]
    with torch.inference_mode():
        assert tagger._token_table([tagger.encode(sentences[0])]).gates is not None
    packed = tagger.predict(sentences, batch_size=64)
    monkeypatch.setattr(recurrence, "readable", lambda *lstms: False)
    with torch.inference_mode():
        assert tagger._token_table([tagger.encode(sentences[0])]).gates is None
    reference = tagger.predict(sentences, batch_size=64)
    for a, b in zip(packed, reference):
        assert a.tags == b.tags
        assert a.token_scores == pytest.approx(b.token_scores, abs=1e-5)
        assert [s.score for s in a.spans] == pytest.approx([s.score for s in b.spans], abs=1e-5)

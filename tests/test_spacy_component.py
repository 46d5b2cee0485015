"""The ``bilstm_crf`` component in real spaCy pipelines: annotate, batch, save, load, score, export."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
import srsly
from spacy import displacy
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from thinc.api import ConfigValidationError

from tagger import Tagger, TaggerConfig
from tagger.batching import PACKED_MAX_PADDING, length_batches
from tagger.cli.main import main
from tagger.evaluation import evaluate
from tagger.formats import read_corpus
from tagger.tagger import ModelError
from tagger.training import Trainer

TINY = dict(word_dim=16, char_dim=8, char_hidden=8, hidden=16)
MODEL_FILES = ("config.json", "vocab.json", "weights.safetensors")
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}
LOAD_AND_TAG = """
import json, sys
import spacy
assert "tagger" not in sys.modules  # the factory must come from the spacy_factories entry point
nlp = spacy.load(sys.argv[1])
texts = json.load(sys.stdin)
spans = [[[e.start_char, e.end_char, e.label_, e._.bilstm_crf_score] for e in doc.ents] for doc in nlp.pipe(texts)]
print(json.dumps(spans))
"""


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model(sample, tmp_path_factory) -> Path:
    """A tiny model trained for three epochs: weak, but it finds entities."""
    train, dev = read_corpus(sample / "train.tsv"), read_corpus(sample / "dev.tsv")
    config = TaggerConfig(**TINY, dropout=0.2, lr=0.03, batch_size=8, epochs=3)
    output = tmp_path_factory.mktemp("run")
    Trainer(Tagger.build(config, train), train, dev, output).fit()
    return output / "model"


@pytest.fixture(scope="module")
def tagger(model) -> Tagger:
    return Tagger.load(model)


@pytest.fixture(scope="module")
def test_corpus(sample):
    return read_corpus(sample / "test.tsv")


@pytest.fixture(scope="module")
def texts(sample, test_corpus) -> list[str]:
    """The sample prose, then test sentences as plain text."""
    return [(sample / "sample.txt").read_text(encoding="utf-8")] + [" ".join(s.tokens) for s in test_corpus][:15]


@pytest.fixture(scope="module")
def saved(model, texts, tmp_path_factory) -> tuple[Path, list]:
    """A pipeline saved with ``nlp.to_disk`` whose original model directory is gone; and what it annotated."""
    root = tmp_path_factory.mktemp("saved")
    copy = shutil.copytree(model, root / "model")
    nlp = blank(copy)
    expected = annotations(nlp.pipe(texts))
    nlp.to_disk(root / "pipeline")
    shutil.rmtree(copy)
    return root / "pipeline", expected


def blank(model: Path | None, **settings) -> spacy.Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_crf", config={"model": None if model is None else str(model), **settings})
    return nlp


def annotations(docs, key: str | None = None) -> list[list[tuple]]:
    """``(start_char, end_char, label, score)`` of the spans in ``doc.ents`` or ``doc.spans[key]``, per doc."""
    return [
        [(s.start_char, s.end_char, s.label_, s._.bilstm_crf_score) for s in (d.ents if key is None else d.spans[key])]
        for d in docs
    ]


def assert_same(actual: list[list], expected: list[list]) -> None:
    """Same spans and labels; scores equal up to float noise from different batch mates."""
    assert [[tuple(a[:3]) for a in doc] for doc in actual] == [[tuple(e[:3]) for e in doc] for doc in expected]
    assert [a[3] for doc in actual for a in doc] == pytest.approx([e[3] for doc in expected for e in doc], abs=1e-5)


def gold_docs(vocab, corpus, key: str | None = None) -> list[Doc]:
    """The corpus as reference docs: ``doc.ents``, and ``doc.spans[key]`` when a key is given."""
    docs = [Doc(vocab, words=s.tokens, ents=s.tags) for s in corpus]
    for doc, sentence in zip(docs, corpus):
        if key:
            doc.spans[key] = [Span(doc, start, end, label) for start, end, label in sentence.spans]
    return docs


def overlaps(a: tuple, b: tuple) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_entities_come_from_the_pipelines_own_tokens(model, tagger):
    doc = blank(model)("Metformin  lowers\tglucose in mice .\n\nThe battery life of HER2 - positive cells is poor .")
    kept = [token for token in doc if not token.is_space]
    assert len(kept) < len(doc)
    [prediction] = tagger.predict([[token.text for token in kept]])
    expected = [
        (kept[s.start].idx, kept[s.end - 1].idx + len(kept[s.end - 1]), s.label, s.score) for s in prediction.spans
    ]
    assert expected
    assert_same(annotations([doc]), [expected])
    assert all(not ent[0].is_space and not ent[-1].is_space for ent in doc.ents)


def test_pipe_tags_many_docs_in_predicts_batches_in_order(model, tagger, test_corpus):
    nlp = blank(model, batch_size=256)
    docs = [Doc(nlp.vocab, words=s.tokens) for s in test_corpus]  # pre-tokenised: any tokenizer will do
    calls = []
    model = nlp.get_pipe("bilstm_crf").tagger.model
    decode = model.decode
    model.decode = lambda *args, **kwargs: calls.append(1) or decode(*args, **kwargs)  # one call a batch
    try:
        piped = list(nlp.pipe(docs))
    finally:
        del model.decode
    lengths = [len(s.tokens) for s in test_corpus]
    batches = list(length_batches(lengths, 256, max_padding=PACKED_MAX_PADDING))  # one predict call's batches
    assert len(calls) == len(batches) < len(docs) / 10
    assert all(a is b for a, b in zip(piped, docs))
    predictions = tagger.predict([s.tokens for s in test_corpus])
    assert [[(e.start, e.end, e.label_) for e in doc.ents] for doc in piped] == [
        [(s.start, s.end, s.label) for s in p.spans] for p in predictions
    ]
    alone = [nlp(Doc(nlp.vocab, words=s.tokens)) for s in test_corpus.sentences[:10]]
    assert_same(annotations(alone), annotations(piped[:10]))


def test_sentences_from_an_earlier_component_are_tagged_apart(model, tagger, texts):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("bilstm_crf", config={"model": str(model)})
    doc = nlp(texts[0])
    sentences = [[token for token in sentence if not token.is_space] for sentence in doc.sents]
    assert len(sentences) > 3
    expected = [
        (tokens[s.start].idx, tokens[s.end - 1].idx + len(tokens[s.end - 1]), s.label, s.score)
        for tokens, prediction in zip(sentences, tagger.predict([[t.text for t in tokens] for tokens in sentences]))
        for s in prediction.spans
    ]
    assert_same(annotations([doc]), [expected])


def test_existing_entities_are_kept_or_overwritten(model, texts):
    ours = [(e.start, e.end, e.label_) for e in blank(model)(texts[0]).ents]
    patterns = [
        {"label": "RULE", "pattern": blank(model)(texts[0]).ents[0][0].text},
        {"label": "RULE", "pattern": "the"},
    ]

    def run(overwrite: bool | None) -> Doc:
        nlp = spacy.blank("en")
        nlp.add_pipe("entity_ruler").add_patterns(patterns)
        if overwrite is not None:
            nlp.add_pipe("bilstm_crf", config={"model": str(model), "overwrite": overwrite})
        return nlp(texts[0])

    rules = [(e.start, e.end, e.label_) for e in run(None).ents]
    kept, overwritten = run(False), run(True)
    assert [(e.start, e.end, e.label_) for e in kept.ents] == sorted(
        rules + [o for o in ours if not any(overlaps(o, r) for r in rules)]
    )
    assert [(e.start, e.end, e.label_) for e in overwritten.ents] == sorted(
        ours + [r for r in rules if not any(overlaps(r, o) for o in ours)]
    )
    assert kept.ents != overwritten.ents
    assert all((e._.bilstm_crf_score is None) == (e.label_ == "RULE") for e in kept.ents)


def test_spans_key_writes_a_span_group_beside_the_entities(model, texts):
    first = blank(model)(texts[0]).ents[0]
    ours = [(e.start, e.end, e.label_) for e in first.doc.ents]

    def run(overwrite: bool) -> Doc:
        nlp = spacy.blank("en")
        nlp.add_pipe("entity_ruler").add_patterns([{"label": "RULE", "pattern": first[0].text}])
        nlp.add_pipe("span_ruler", config={"spans_key": "targets"}).add_patterns([{"label": "OTHER", "pattern": "the"}])
        nlp.add_pipe("bilstm_crf", config={"model": str(model), "spans_key": "targets", "overwrite": overwrite})
        return nlp(texts[0])

    joined, replaced = run(False), run(True)
    rules = [(e.start, e.end) for e in joined.ents]
    assert rules and {e.label_ for e in joined.ents} == {"RULE"}
    assert any(overlaps((s.start, s.end), rule) for s in replaced.spans["targets"] for rule in rules)
    others = [(s.start, s.end, s.label_) for s in joined.spans["targets"] if s.label_ == "OTHER"]
    assert others
    assert [(s.start, s.end, s.label_) for s in joined.spans["targets"]] == others + ours
    assert [(s.start, s.end, s.label_) for s in replaced.spans["targets"]] == ours
    assert all(0.0 < s._.bilstm_crf_score <= 1.0 for s in replaced.spans["targets"])


def test_saved_pipeline_loads_in_a_fresh_process_without_the_model_path(saved, texts):
    path, expected = saved
    assert sorted(p.name for p in (path / "bilstm_crf").iterdir()) == list(MODEL_FILES)
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_TAG, str(path)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env=ONE_THREAD,
    )
    assert result.returncode == 0, result.stderr
    assert any(expected)
    assert_same(json.loads(result.stdout), expected)


def test_spacy_evaluate_command_agrees_with_seqeval(saved, tagger, test_corpus, tmp_path):
    path, _ = saved
    DocBin(docs=gold_docs(spacy.blank("en").vocab, test_corpus)).to_disk(tmp_path / "test.spacy")
    command = [sys.executable, "-m", "spacy", "evaluate", str(path), str(tmp_path / "test.spacy")]
    result = subprocess.run([*command, "--output", str(tmp_path / "scores.json")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    scores = json.loads((tmp_path / "scores.json").read_text())
    reference, _ = evaluate(tagger, test_corpus)
    assert reference["f1"] > 0.2
    for name in ("precision", "recall", "f1"):
        assert scores[f"ents_{name[0]}"] == pytest.approx(reference[name], abs=1e-3)


@pytest.mark.parametrize("key", [None, "targets"])
def test_nlp_evaluate_agrees_with_seqeval(model, tagger, test_corpus, key):
    nlp = blank(model, spans_key=key)
    scores = nlp.evaluate([Example(nlp.make_doc(d.text), d) for d in gold_docs(nlp.vocab, test_corpus, key)])
    prefix = "ents" if key is None else f"spans_{key}"
    reference, _ = evaluate(tagger, test_corpus)
    assert reference["f1"] > 0.2
    for name in ("precision", "recall", "f1"):
        assert scores[f"{prefix}_{name[0]}"] == pytest.approx(reference[name], abs=1e-3)
    for label, row in reference["per_type"].items():
        assert scores[f"{prefix}_per_type"][label]["f"] == pytest.approx(row["f1"], abs=1e-3)


def test_to_bytes_and_pickle_carry_the_weights(model, sample, texts, tmp_path):
    nlp = blank(model)
    expected = annotations(nlp.pipe(texts))
    Tagger.build(TaggerConfig(**TINY, seed=1), read_corpus(sample / "dev.tsv")).save(tmp_path / "other")
    restored = blank(tmp_path / "other")
    assert annotations(restored.pipe(texts)) != expected
    restored.from_bytes(nlp.to_bytes())
    assert_same(annotations(restored.pipe(texts)), expected)
    component = pickle.loads(pickle.dumps(nlp.get_pipe("bilstm_crf")))
    assert_same(annotations(component(nlp.make_doc(text)) for text in texts), expected)
    with pytest.raises(ModelError, match="expected msgpack with meta, vocab and weights"):
        component.from_bytes(b"not a model")


def test_pipe_with_two_processes_matches_one(model, texts):
    nlp = blank(model)
    expected = annotations(nlp.pipe(texts))
    assert_same(annotations(nlp.pipe(texts, n_process=2, batch_size=4)), expected)


def test_bad_models_fail_when_the_pipeline_is_built(model, tmp_path):
    nlp = spacy.blank("en")
    missing = tmp_path / "nowhere"
    with pytest.raises(
        ModelError, match=re.escape(f"{missing} is not a tagger model: missing {', '.join(MODEL_FILES)}")
    ):
        nlp.add_pipe("bilstm_crf", config={"model": str(missing)})
    future = shutil.copytree(model, tmp_path / "future")
    meta = json.loads((future / "config.json").read_text())
    (future / "config.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(ModelError, match=re.escape(f"{future / 'config.json'}: model format 99")):
        nlp.add_pipe("bilstm_crf", config={"model": str(future)})
    with pytest.raises(ConfigValidationError, match="missing required argument: 'model'"):
        nlp.add_pipe("bilstm_crf")
    assert nlp.pipe_names == []
    with pytest.raises(ValueError, match="batch_size must be a positive integer, not 0"):
        nlp.add_pipe("bilstm_crf", config={"model": str(model), "batch_size": 0})

    blank(model).to_disk(tmp_path / "pipeline")
    (tmp_path / "pipeline" / "bilstm_crf" / "weights.safetensors").unlink()
    with pytest.raises(ModelError, match=re.escape(f"{tmp_path / 'pipeline' / 'bilstm_crf'} is not a tagger model")):
        spacy.load(tmp_path / "pipeline")
    with pytest.raises(ModelError, match="has no model"):
        blank(None)("No weights yet.")


def test_export_spacy_writes_a_complete_pipeline(model, sample, tmp_path):
    output = tmp_path / "pipeline"
    assert main(["export-spacy", "--model", str(model), "--output", str(output)]) == 0
    nlp = spacy.load(output)
    assert nlp.pipe_names == ["tagger_sentences", "bilstm_crf"]
    doc = nlp((sample / "sample.txt").read_text(encoding="utf-8"))
    assert len(list(doc.sents)) > 3 and doc.ents
    html = displacy.render(doc, style="ent")
    assert all(ent.text in html and ent.label_ in html for ent in doc.ents)
    assert main(["export-spacy", "--model", str(model), "--output", str(output)]) == 2
    assert main(["export-spacy", "--model", str(tmp_path / "nowhere"), "--output", str(tmp_path / "other")]) == 2
    assert not (tmp_path / "other").exists()


def test_a_removed_component_added_again_loads_its_model(model, sample, texts, tmp_path):
    Tagger.build(TaggerConfig(**TINY, seed=1), read_corpus(sample / "dev.tsv")).save(tmp_path / "other")
    expected = annotations(blank(tmp_path / "other").pipe(texts))
    nlp = blank(model)
    nlp.remove_pipe("bilstm_crf")
    nlp.add_pipe("bilstm_crf", config={"model": str(tmp_path / "other")})
    assert_same(annotations(nlp.pipe(texts)), expected)
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")  # the saved weights, not a model path
    assert_same(annotations(loaded.pipe(texts)), expected)
    loaded.remove_pipe("bilstm_crf")
    loaded.add_pipe("bilstm_crf", config={"model": str(model)})
    assert_same(annotations(loaded.pipe(texts)), annotations(blank(model).pipe(texts)))


def test_add_pipe_can_be_retried_after_it_failed(model, texts, tmp_path):
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        nlp.add_pipe("bilstm_crf", config={"model": str(model), "batch_size": 0})
    with pytest.raises(ModelError, match="is not a tagger model"):
        nlp.add_pipe("bilstm_crf", config={"model": str(tmp_path)})  # neither a model nor a run directory
    nlp.add_pipe("bilstm_crf", config={"model": str(model)})
    assert_same(annotations(nlp.pipe(texts)), annotations(blank(model).pipe(texts)))


def test_a_saved_pipeline_loaded_without_the_component_can_add_it_again(model, texts, tmp_path):
    blank(model).to_disk(tmp_path / "pipeline")
    nlp = spacy.load(tmp_path / "pipeline", exclude=["bilstm_crf"])
    nlp.add_pipe("bilstm_crf", config={"model": str(model)})
    assert_same(annotations(nlp.pipe(texts)), annotations(blank(model).pipe(texts)))


def test_bytes_whose_weights_changed_are_refused(model):
    nlp = blank(model)
    parts = srsly.msgpack_loads(nlp.get_pipe("bilstm_crf").to_bytes())
    assert parts["meta"]["weights_sha256"] == hashlib.sha256(parts["weights"]).hexdigest()
    parts["weights"] = parts["weights"][:-8]
    with pytest.raises(ModelError, match="SHA-256 .* differs from the .* that its meta records"):
        nlp.get_pipe("bilstm_crf").from_bytes(srsly.msgpack_dumps(parts))


@pytest.mark.parametrize("bom", ["\ufeff", "\ufeff "])
def test_a_byte_order_mark_that_begins_the_doc_is_no_part_of_a_word(model, bom):
    text = "Metformin lowers glucose in mice . The battery life of HER2 - positive cells is poor ."
    plain, marked = annotations(blank(model).pipe([text, bom + text]))
    glued = not bom.endswith(" ")  # the BOM stays in the first word's token, so a span of that word starts at 0
    shifted = [
        (0 if glued and not start else start + len(bom), end + len(bom), label, score)
        for start, end, label, score in plain
    ]
    assert plain
    assert_same([marked], [shifted])

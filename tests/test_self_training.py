"""Self-training: a shipped model's confident sentences of raw text become a silver corpus, which trains the next."""

from __future__ import annotations

import json

import pytest

from tagger.cli.main import main
from tagger.formats import read_corpus
from tagger.self_training import silver


def test_silver_keeps_the_sentences_tagged_confidently_with_their_tags(disease_model, disease_texts):
    every = [(s, p) for group in disease_model.predict_texts([t for t in disease_texts if t]) for s, p in group]
    threshold = sorted(min(p.token_scores) for _, p in every)[len(every) // 2]  # about half pass
    corpus = silver(disease_model, disease_texts, min_confidence=threshold, entities_only=False)
    expected = [(s.tokens, p.tags) for s, p in every if min(p.token_scores) >= threshold]
    assert 0 < len(corpus) == len(expected) < len(every)
    assert [(s.tokens, s.tags) for s in corpus] == expected
    assert corpus.scheme == disease_model.output_scheme


def test_silver_keeps_only_sentences_with_an_entity_unless_told_and_stops_at_max_sentences(
    disease_model, disease_texts
):
    with_entities = silver(disease_model, disease_texts, min_confidence=0.0)
    assert with_entities.sentences and all(s.spans for s in with_entities)
    everything = silver(disease_model, disease_texts, min_confidence=0.0, entities_only=False)
    assert len(everything) == 5 > len(with_entities)  # every sentence of the disease_texts
    assert [s.tokens for s in silver(disease_model, disease_texts, 0.0, False, max_sentences=2)] == [
        s.tokens for s in everything.sentences[:2]
    ]
    with pytest.raises(ValueError, match="min_confidence"):
        silver(disease_model, disease_texts, min_confidence=1.5)


def test_silver_on_the_command_line_writes_a_corpus_that_trains_beside_the_gold_one(
    sample, tmp_path, capsys, disease_texts
):
    text = tmp_path / "unlabelled.txt"
    text.write_text("\n".join(disease_texts * 3) + "\n", encoding="utf-8")
    corpus = tmp_path / "silver.conll"
    code = main(["silver", "--model", "ncbi-disease-fast", "--input", str(text), "--output", str(corpus)])
    assert code == 0
    written = read_corpus(corpus)
    assert len(written) >= 3 and all(s.spans for s in written)
    assert f"wrote {corpus}: {len(written)} sentences" in capsys.readouterr().err
    output = tmp_path / "run"
    train = ["train", "--train", str(sample / "train.tsv"), "--dev", str(sample / "dev.tsv")]
    quick = ["--epochs", "1", "--set", "hidden=16", "--set", "char_hidden=8", "--no-progress"]
    assert main([*train, "--silver", str(corpus), "--output", str(output), *quick]) == 0
    card = json.loads((output / "model" / "meta.json").read_text())
    (head,) = card["heads"]
    assert head["silver"] == {"source": str(corpus), "sentences": len(written)}
    assert head["train"]["sentences"] == len(read_corpus(sample / "train.tsv"))
    assert any("silver" in limit for limit in card["limits"])


def test_silver_refuses_to_write_over_its_input_and_a_confidence_beyond_one(tmp_path, capsys, disease_texts):
    text = tmp_path / "unlabelled.txt"
    text.write_text(disease_texts[0] + "\n", encoding="utf-8")
    assert main(["silver", "--model", "ncbi-disease-fast", "--input", str(text), "--output", str(text)]) == 2
    assert text.read_text(encoding="utf-8") == disease_texts[0] + "\n"
    out = str(tmp_path / "silver.conll")
    with pytest.raises(SystemExit) as refused:  # argparse's usage error, before anything is read
        main(["silver", "--model", "ncbi-disease-fast", "--input", str(text), "--output", out, "--min-confidence", "2"])
    assert refused.value.code == 2
    assert "--min-confidence: expected a probability from 0 to 1, got 2" in capsys.readouterr().err
    unknown = str(tmp_path / "silver.xyz")
    assert main(["silver", "--model", "ncbi-disease-fast", "--input", str(text), "--output", unknown]) == 2
    assert "unknown corpus format" in capsys.readouterr().err


def test_train_takes_silver_for_one_training_corpus_only(sample, tmp_path, capsys):
    other = tmp_path / "other" / "train.tsv"
    other.parent.mkdir()
    other.write_bytes((sample / "dev.tsv").read_bytes())
    two = ["--train", str(sample / "train.tsv"), "--train", str(other)]
    code = main(["train", *two, "--silver", str(sample / "test.tsv"), "--output", str(tmp_path / "run")])
    assert code == 2
    assert "joins one training corpus" in capsys.readouterr().err

"""Multi-corpus training: a head per corpus over one encoder, mixed batches, per-corpus scores, choosing and merging
heads, saving and loading every head, the command line and its errors."""

from __future__ import annotations

import json
import logging
import random
from dataclasses import replace
from pathlib import Path

import pytest
import spacy
import torch

from tagger import Tagger, TaggerConfig
from tagger.annotate import Job, annotate
from tagger.batching import length_batches, mixed_batches
from tagger.callbacks import Callback, standard
from tagger.checkpoints import CheckpointError
from tagger.cli.main import main
from tagger.corpus import Corpus
from tagger.evaluation import evaluate
from tagger.formats import read_corpus, write_corpus
from tagger.heads import HeadError
from tagger.predictions import Prediction, Span, merged
from tagger.schemes import is_valid, to_spans
from tagger.training import Trainer
from tagger.transfer import build

TINY = TaggerConfig(word_dim=16, char_dim=8, char_hidden=8, hidden=16, batch_size=16, lr=0.02, dropout=0.0)
QUICK = [*("--set", "word_dim=16", "--set", "hidden=16", "--set", "char_hidden=8"), "--no-progress"]
LEARNS = [*("--set", "lr=0.03", "--set", "batch_size=8", "--set", "dropout=0.2")]  # weak, but finds entities


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def drugs(sample, tmp_path_factory) -> Path:
    """The sample corpus relabelled: its Chemical entities as Drug, the others left out (a folder named drugs)."""
    folder = tmp_path_factory.mktemp("corpora") / "drugs"
    folder.mkdir()
    for split in ("train", "dev", "test"):
        corpus = read_corpus(sample / f"{split}.tsv")
        chemicals = [[(a, b, "Drug") for a, b, label in s.spans if label == "Chemical"] for s in corpus]
        relabelled = [s.with_spans(spans, "IOB2") for s, spans in zip(corpus, chemicals)]
        write_corpus(Corpus(relabelled, "IOB2"), folder / f"{split}.tsv")
    return folder


def splits(folder: Path) -> dict[str, Corpus]:
    return {split: read_corpus(folder / f"{split}.tsv") for split in ("train", "dev", "test")}


@pytest.fixture(scope="module")
def corpora(sample, drugs) -> dict[str, dict[str, Corpus]]:
    """Split name → head name → corpus."""
    named = {"sample": splits(sample), "drugs": splits(drugs)}
    return {split: {name: named[name][split] for name in named} for split in ("train", "dev", "test")}


@pytest.fixture(scope="module")
def noisy(corpora) -> Tagger:
    """An untrained two-head tagger with large random weights: many spans, overlapping across heads."""
    tagger = Tagger.build(TINY, corpora["train"])
    with torch.no_grad():
        for parameter in tagger.model.parameters():
            parameter.normal_(0, 0.5)
    return tagger


@pytest.fixture(scope="module")
def trained(sample, drugs, tmp_path_factory) -> Path:
    """tagger train on the two corpora for three epochs, refitted."""
    output = tmp_path_factory.mktemp("run")
    files = [f"--{split}={folder / f'{split}.tsv'}" for folder in (sample, drugs) for split in ("train", "dev", "test")]
    assert main(["train", *files, "--output", str(output), "--epochs", "3", "--refit", *QUICK, *LEARNS]) == 0
    return output


def test_mixed_batches_take_every_sentence_once_each_batch_from_one_corpus():
    draw = random.Random(0)
    corpora = [[draw.randint(1, 30) for _ in range(size)] for size in (50, 7, 23)]
    starts = [0, 50, 57, 80]
    batches = mixed_batches(corpora, 8, random.Random(1))
    assert sorted(i for batch in batches for i in batch) == list(range(80))
    for batch in batches:
        assert len({next(n for n in range(3) if starts[n] <= i < starts[n + 1]) for i in batch}) == 1
    corpus_order = [next(n for n in range(3) if starts[n] <= batch[0] < starts[n + 1]) for batch in batches]
    assert corpus_order != sorted(corpus_order)  # interleaved
    assert batches == mixed_batches(corpora, 8, random.Random(1)) != mixed_batches(corpora, 8, random.Random(2))
    assert mixed_batches(corpora[:1], 8, random.Random(1)) == list(length_batches(corpora[0], 8, random.Random(1)))


def test_merged_spans_keep_the_more_probable_of_overlapping_ones():
    first = Prediction(
        ["B-X", "I-X", "O", "O", "B-X", "O", "B-X", "I-X", "O", "B-X", "I-X"],
        [Span(0, 2, "X", 0.9), Span(4, 5, "X", 0.3), Span(6, 8, "X", 0.8), Span(9, 11, "X", 0.6)],
        [0.9, 0.95, 0.7, 0.8, 0.3, 0.9, 0.8, 0.85, 0.6, 0.6, 0.7],
    )
    second = Prediction(
        ["O", "B-Y", "I-Y", "O", "B-Y", "O", "O", "B-Y", "I-Y", "I-Y", "O"],
        [Span(1, 3, "Y", 0.95), Span(4, 5, "Y", 0.3), Span(7, 10, "Y", 0.85)],
        [0.5, 0.96, 0.97, 0.9, 0.3, 0.8, 0.7, 0.9, 0.88, 0.86, 0.75],
    )
    outside = [  # P(O) per head and token
        [0.1, 0.05, 0.6, 0.7, 0.1, 0.9, 0.2, 0.1, 0.4, 0.3, 0.3],
        [0.5, 0.04, 0.03, 0.8, 0.7, 0.85, 0.9, 0.1, 0.1, 0.1, 0.9],
    ]
    result = merged([first, second], ["a", "b"], outside, "IOBES")
    # (1, 3) beats (0, 2); the tie at 4 goes to the head named first; (7, 10) beats both spans of a it overlaps
    assert result.spans == [Span(1, 3, "Y", 0.95, "b"), Span(4, 5, "X", 0.3, "a"), Span(7, 10, "Y", 0.85, "b")]
    assert result.tags == ["O", "B-Y", "E-Y", "O", "S-X", "O", "O", "B-Y", "I-Y", "E-Y", "O"]
    assert result.token_scores == [0.1, 0.96, 0.97, 0.7, 0.3, 0.85, 0.2, 0.9, 0.88, 0.86, 0.3]


def test_every_head_tags_alone_and_all_together_without_overlaps(noisy, corpora):
    sentences = [s.tokens for s in corpora["test"]["sample"]]
    alone = {name: noisy.predict(sentences, head=name) for name in ("sample", "drugs")}
    assert {span.label for p in alone["drugs"] for span in p.spans} == {"Drug"}
    assert "Drug" not in {span.label for p in alone["sample"] for span in p.spans}
    assert noisy.predict(sentences, head=["sample"]) == alone["sample"]
    together = noisy.predict(sentences)
    assert noisy.predict(sentences, head="all") == noisy.predict(sentences, head=["sample", "drugs"]) == together
    dropped = 0
    for number, prediction in enumerate(together):
        assert is_valid(prediction.tags, "IOB2")
        assert to_spans(prediction.tags) == [(s.start, s.end, s.label) for s in prediction.spans]
        kept = {(s.start, s.end, s.label, s.score, s.head) for s in prediction.spans}
        for name in ("sample", "drugs"):
            for span in alone[name][number].spans:
                if (span.start, span.end, span.label, span.score, name) in kept:
                    continue
                dropped += 1
                rivals = [s for s in prediction.spans if s.start < span.end and span.start < s.end]
                assert rivals and max(s.score for s in rivals) >= span.score
        assert all(0.0 <= p <= 1.0 + 1e-6 for p in prediction.token_scores)
    assert dropped > 10  # the heads overlap, and the rule decided
    assert all(s.head is None for p in alone["drugs"] for s in p.spans)


def test_unknown_and_malformed_head_choices_are_head_errors(noisy):
    for head, message in [
        ("nope", "no head named 'nope': this model's heads are 'sample', 'drugs'"),
        ([], "no head chosen"),
        (["all", "drugs"], "'all' chooses every head: give it alone"),
        ([5], "a head is chosen by its name, a string, not 5"),
    ]:
        with pytest.raises(HeadError, match=message):
            noisy.predict([["Aspirin"]], head=head)
    with pytest.raises(HeadError, match="no head named 'x'"):
        noisy.tag_text("Aspirin works.", head="x")
    with pytest.raises(HeadError, match="'all' cannot name a head"):
        Tagger.build(TINY, {"all": Corpus.of([])})


def test_two_corpora_train_score_each_save_and_reload_every_head(corpora, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    config = replace(TINY, epochs=2)
    trainer = Trainer(Tagger.build(config, corpora["train"]), corpora["train"], corpora["dev"], tmp_path)
    result = trainer.fit()
    assert "2 corpora, a head each (sample 271 sentences, drugs 271 sentences): early stopping" in caplog.text
    for record in result.history:
        assert set(record.corpora) == {"sample", "drugs"}
        assert record.dev_f1 == pytest.approx(sum(s["f1"] for s in record.corpora.values()) / 2)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["corpora"] for r in log] == [r.corpora for r in result.history]
    best = Tagger.load(tmp_path / "model")
    assert best.head_names == ["sample", "drugs"]
    assert best.labels == ["Aspect", "Chemical", "Disease", "Drug", "Gene", "Species"]
    last = result.history[result.best_epoch - 1]
    for name in ("sample", "drugs"):
        assert evaluate(best, corpora["dev"][name], head=name)[0]["f1"] == last.corpora[name]["f1"]
    trainer.tagger.save(tmp_path / "last")
    loaded = Tagger.load(tmp_path / "last")
    sentences = [s.tokens for s in corpora["test"]["sample"]] + [["never", "seen", "tokens"]]
    for head in ("sample", "drugs", None):
        assert loaded.predict(sentences, head=head) == trainer.tagger.predict(sentences, head=head)
    assert loaded.model.state_dict().keys() == trainer.tagger.model.state_dict().keys()


def test_a_two_head_initialisation_leaves_every_crf_as_torchcrf_draws_it(corpora):
    tagger = Tagger.build(replace(TINY, init="uniform", init_scale=0.001), corpora["train"])
    for head in tagger.model.heads:
        assert head.project.weight.abs().max() <= 0.001
        assert head.crf.crf.transitions.abs().max() > 0.01


class Interrupt(Callback):
    def on_epoch_end(self, trainer, record, improved):
        if record.epoch == 1:
            raise KeyboardInterrupt


def test_resume_of_two_corpora_continues_where_it_stopped(corpora, tmp_path):
    config = replace(TINY, epochs=2)
    train, dev = corpora["train"], corpora["dev"]
    whole = Trainer(Tagger.build(config, train), train, dev, tmp_path / "whole")
    whole.fit()
    cut = [*standard(tmp_path / "cut"), Interrupt()]
    with pytest.raises(KeyboardInterrupt):
        Trainer(Tagger.build(config, train), train, dev, tmp_path / "cut", cut).fit()
    resumed = Trainer.resume(tmp_path / "cut", dict(reversed(train.items())), dev)  # the order of the dict is free
    resumed.fit()
    assert [r.loss for r in resumed.history] == [r.loss for r in whole.history]
    state, expected = resumed.tagger.model.state_dict(), whole.tagger.model.state_dict()
    assert all(torch.equal(state[name], expected[name]) for name in expected)
    with pytest.raises(CheckpointError, match="the training data differ from the checkpoint's"):
        Trainer.resume(tmp_path / "cut", {"sample": train["sample"], "drugs": dev["drugs"]}, dev)


def test_a_tagger_trains_only_on_corpora_named_as_its_heads(noisy, corpora, tmp_path):
    with pytest.raises(HeadError, match="named \\['sample', 'other'\\], but the tagger's heads are"):
        Trainer(noisy, {"sample": corpora["train"]["sample"], "other": corpora["train"]["drugs"]}, None, tmp_path)
    with pytest.raises(HeadError, match="takes its train data as a dict of those names to corpora, not one corpus"):
        Trainer(noisy, corpora["train"]["sample"], None, tmp_path)


def test_a_format_2_model_loads_as_the_one_head_default(corpora, tmp_path):
    """Format 2 as the code before heads wrote it: output_scheme in config.json, one tag list, unprefixed weights."""
    from safetensors.torch import load_file, save_file

    one = Tagger.build(TINY, corpora["train"]["drugs"])
    one.save(tmp_path / "model")
    meta = json.loads((tmp_path / "model" / "config.json").read_text())
    vocab = json.loads((tmp_path / "model" / "vocab.json").read_text())
    meta = {"format_version": 2, "tagger_version": "0.1.0", "output_scheme": "IOB2", "config": meta["config"]}
    vocab["tags"] = vocab["tags"]["default"]
    path = tmp_path / "model" / "weights.safetensors"
    save_file({name.removeprefix("heads.0."): tensor for name, tensor in load_file(path).items()}, path)
    (tmp_path / "model" / "config.json").write_text(json.dumps(meta))
    (tmp_path / "model" / "vocab.json").write_text(json.dumps(vocab))
    old = Tagger.load(tmp_path / "model")
    assert old.head_names == ["default"] and old.output_scheme == "IOB2"
    sentences = [s.tokens for s in corpora["test"]["drugs"]]
    assert old.predict(sentences) == one.predict(sentences)


def test_transfer_takes_each_head_from_the_source_head_of_its_name(trained, corpora, tmp_path):
    source = Tagger.load(trained / "model")
    config = replace(TINY, init_from=str(trained / "model"), freeze="embeddings,chars,encoder", epochs=1)
    train = {"drugs": corpora["dev"]["drugs"], "other": corpora["dev"]["sample"]}
    target = build(config, train)
    old, new = source.model.heads[1], target.model.heads[0]  # both drugs
    assert source.head_names[1] == target.head_names[0] == "drugs"
    assert torch.equal(old.project.weight, new.project.weight)
    assert torch.equal(old.crf.crf.transitions, new.crf.crf.transitions)
    fresh = target.model.heads[1]  # other: no source head of its name, and the source has two
    assert not any(torch.equal(fresh.project.weight, head.project.weight) for head in source.model.heads)
    source_lstm, target_lstm = (t.model.encoder.layers[0].left_to_right for t in (source, target))
    assert torch.equal(source_lstm.weight_hh_l0, target_lstm.weight_hh_l0)
    lone = build(config, corpora["dev"]["drugs"])  # a Corpus: the head "default", which the source lacks
    assert lone.head_names == ["default"] and not torch.equal(lone.model.heads[0].project.weight, old.project.weight)
    before = {name: p.clone() for name, p in target.model.named_parameters()}
    Trainer(target, train, None, tmp_path, []).fit()
    after = dict(target.model.named_parameters())
    assert all(torch.equal(before[name], after[name]) for name in before if name.startswith(("words.", "encoder.")))
    assert not any(torch.equal(before[name], after[name]) for name in before if name.endswith("project.weight"))


def test_train_on_two_corpora_writes_scores_per_corpus_and_refits(trained):
    log = [json.loads(line) for line in (trained / "log.jsonl").read_text().splitlines()]
    assert len(log) == 3 and all(set(r["corpora"]) == {"sample", "drugs"} for r in log)
    for folder in (trained, trained / "refit"):
        scores = json.loads((folder / "test-scores.json").read_text())
        assert set(scores["corpora"]) == {"sample", "drugs"}
        each = [scores["corpora"][name]["f1"] for name in ("sample", "drugs")]
        assert scores["mean"]["f1"] == pytest.approx(sum(each) / 2)
        assert scores["corpora"]["drugs"]["per_type"].keys() <= {"Drug"}
        meta = json.loads((folder / "model" / "config.json").read_text())
        assert meta["heads"] == [{"name": name, "output_scheme": "IOB2"} for name in ("sample", "drugs")]
    best = max(log, key=lambda r: r["dev_f1"])["epoch"]
    assert len((trained / "refit" / "log.jsonl").read_text().splitlines()) == best


def test_predict_evaluate_and_annotate_choose_heads(trained, sample, drugs, tmp_path, capsys):
    model = ["--model", str(trained / "model")]
    text = str(sample / "sample.txt")
    assert main(["predict", *model, text, "--json", "--head", "drugs"]) == 0
    alone = json.loads(capsys.readouterr().out)["spans"]
    assert alone and {s["label"] for s in alone} == {"Drug"} and not any("head" in s for s in alone)
    assert main(["predict", *model, text, "--json", "--head", "sample"]) == 0
    each = {"drugs": alone, "sample": json.loads(capsys.readouterr().out)["spans"]}
    assert main(["predict", *model, text, "--json"]) == 0
    together = json.loads(capsys.readouterr().out)["spans"]
    assert all(together[i]["end"] <= together[i + 1]["start"] for i in range(len(together) - 1))
    for span in together:  # each as its head found it alone
        [same] = [s for s in each[span["head"]] if (s["start"], s["end"]) == (span["start"], span["end"])]
        assert same["label"] == span["label"] and same["score"] == pytest.approx(span["score"], abs=1e-6)
    for name, spans in each.items():  # and a head's span left out overlaps a kept one at least as probable
        for span in spans:
            if not any((k["start"], k["end"], k["head"]) == (span["start"], span["end"], name) for k in together):
                assert any(
                    k["start"] < span["end"] and span["start"] < k["end"] and k["score"] >= span["score"] - 1e-6
                    for k in together
                )
    assert main(["evaluate", *model, "--data", str(drugs / "test.tsv"), "--head", "drugs", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["f1"] == json.loads((trained / "test-scores.json").read_text())["corpora"]["drugs"]["f1"]
    output = tmp_path / "out.jsonl"
    annotate(Job(trained / "model", [text], output, heads=["drugs"]))
    spans = [s for line in output.read_text().splitlines() for s in json.loads(line)["spans"]]
    assert spans == alone
    brat = ["--output", str(tmp_path / "brat"), "--format", "brat", "--head", "drugs", "--no-progress"]
    assert main(["annotate", *model, text, *brat]) == 0
    assert (tmp_path / "brat" / "annotation.conf").read_text().startswith("[entities]\nDrug\n[relations]")


def test_the_spacy_component_tags_with_its_heads(trained):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("bilstm_crf", config={"model": str(trained / "model"), "head": "drugs"})
    text = "Metformin and aspirin were given to mice with type 2 diabetes ."
    assert nlp.get_pipe("bilstm_crf").labels == ("Drug",)
    expected = [(s["start"], s["end"], s["label"]) for s in Tagger.load(trained / "model").tag_text(text, head="drugs")]
    assert [(e.start_char, e.end_char, e.label_) for e in nlp(text).ents] == expected
    with pytest.raises(HeadError, match="bilstm_crf component 'other': no head named 'nope'"):
        nlp.add_pipe("bilstm_crf", name="other", config={"model": str(trained / "model"), "head": "nope"})


def test_a_corpora_file_names_the_corpora_and_holds_out_dev_where_it_has_none(sample, drugs, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    (tmp_path / "data" / "chemicals").mkdir(parents=True)
    for split in ("dev", "test"):
        (tmp_path / "data" / "chemicals" / f"{split}.tsv").write_bytes((drugs / f"{split}.tsv").read_bytes())
    (tmp_path / "work").mkdir()
    listing = tmp_path / "work" / "corpora.json"  # paths relative to it
    chemicals = {"name": "chemicals", "train": "../data/chemicals/dev.tsv", "test": "../data/chemicals/test.tsv"}
    listing.write_text(json.dumps([{"name": "mixed", "train": str(sample / "dev.tsv")}, chemicals]))
    assert main(["train", "--corpora", str(listing), "--output", str(tmp_path / "run"), "--epochs", "1", *QUICK]) == 0
    assert f"chemicals: no dev in {listing}: holding out 4 of 45 training sentences" in caplog.text
    assert Tagger.load(tmp_path / "run" / "model").head_names == ["mixed", "chemicals"]
    assert set(json.loads((tmp_path / "run" / "test-scores.json").read_text())["corpora"]) == {"chemicals"}


def test_a_single_corpus_is_named_after_its_folder_and_logs_as_before(sample, tmp_path):
    assert main(["train", "--train", str(sample / "dev.tsv"), "--output", str(tmp_path), "--epochs", "1", *QUICK]) == 0
    assert json.loads((tmp_path / "model" / "config.json").read_text())["heads"][0]["name"] == "sample"
    assert "corpora" not in json.loads((tmp_path / "log.jsonl").read_text())


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            ["--train", "{sample}/train.tsv", "--train", "{drugs}/train.tsv", "--dev", "{sample}/dev.tsv"],
            "--dev is given once and --train twice: give one --dev per --train, in the same order, or none "
            "(each dev is then held out of its train)",
        ),
        (
            ["--train", "{sample}/train.tsv", "--test", "{sample}/test.tsv", "--test", "{drugs}/test.tsv"],
            "--test is given twice and --train once: give one --test per --train, in the same order, or none",
        ),
        (
            ["--train", "{sample}/train.tsv", "--train", "{sample}/dev.tsv"],
            "two training corpora are named 'sample' ({sample}/train.tsv and {sample}/dev.tsv): each needs a name "
            "of its own; name them in a --corpora file",
        ),
        (["--corpora", "{listing}"], "{listing}: entry 2: no train; expected a JSON list of objects"),
        (["--corpora", "{listing}", "--dev", "{sample}/dev.tsv"], "--corpora {listing} gives each corpus' files"),
        (["--corpora", "{named}"], "'all' cannot name a head (or corpus): choosing the head 'all' chooses every"),
        (
            ["--corpus", "ncbi-disease", "--corpus", "bc5cdr", "--dev", "{sample}/dev.tsv"],
            "--corpus ncbi-disease --corpus bc5cdr gives the splits; leave out --dev",
        ),
    ],
)
def test_bad_corpora_on_the_command_line_are_one_error_line(sample, drugs, tmp_path, capsys, arguments, message):
    listing, named = tmp_path / "corpora.json", tmp_path / "named.json"
    listing.write_text(json.dumps([{"train": str(sample / "train.tsv")}, {"name": "x", "dev": "dev.tsv"}]))
    named.write_text(json.dumps([{"name": "all", "train": str(sample / "train.tsv")}]))
    places = {"sample": str(sample), "drugs": str(drugs), "listing": str(listing), "named": str(named)}
    arguments = [argument.format(**places) for argument in arguments]
    assert main(["train", *arguments, "--output", str(tmp_path / "run"), *QUICK]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"tagger train: error: {message.format(**places)}")
    assert not (tmp_path / "run").exists()


def test_an_unknown_head_on_the_command_line_is_one_error_line(trained, sample, drugs, tmp_path, capsys):
    model = ["--model", str(trained / "model")]
    commands = [
        ["predict", *model, str(sample / "sample.txt")],
        ["evaluate", *model, "--data", str(drugs / "test.tsv")],
        ["annotate", *model, str(sample / "sample.txt"), "--output", str(tmp_path / "out.jsonl"), "--no-progress"],
    ]
    for command in commands:
        assert main([*command, "--head", "chemicals"]) == 2
        error = f"tagger {command[0]}: error: no head named 'chemicals': this model's heads are 'sample', 'drugs'"
        assert capsys.readouterr().err.splitlines() == [error]
    assert not (tmp_path / "out.jsonl").exists()

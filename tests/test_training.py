"""Training on real data: the loss falls, dev F1 rises, a rerun repeats, a resume continues."""

from __future__ import annotations

import json
import re

import pytest
import torch

from tagger import Tagger, TaggerConfig
from tagger.averaging import WeightAverage
from tagger.callbacks import Callback, standard
from tagger.corpus import Corpus
from tagger.formats import read_corpus
from tagger.training import DivergedError, Trainer

FAST = dict(word_dim=50, char_dim=16, char_hidden=16, hidden=64)


@pytest.mark.slow
def test_short_training_on_ncbi_disease_learns(shared_corpora, tmp_path):
    train = read_corpus(shared_corpora / "ncbi-disease" / "train.tsv")
    dev = read_corpus(shared_corpora / "ncbi-disease" / "devel.tsv")
    train = Corpus(train.sentences[:1500], train.scheme)
    dev = Corpus(dev.sentences[:300], dev.scheme)
    config = TaggerConfig(**FAST, epochs=3, batch_size=16, lr=0.005)
    result = Trainer(Tagger.build(config, train), train, dev, tmp_path).fit()
    losses = [r.loss for r in result.history]
    assert losses[-1] < losses[0] / 2
    assert result.best_dev_f1 > 0.6
    assert (tmp_path / "learning-curve.png").stat().st_size > 1000
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 3


class Interrupt(Callback):
    def __init__(self, after: int):
        self.after = after

    def on_epoch_end(self, trainer, record, improved):
        if record.epoch == self.after:
            raise KeyboardInterrupt


def _train(sample, output, callbacks=(), resume=False, **settings):
    train, dev = read_corpus(sample / "train.tsv"), read_corpus(sample / "dev.tsv")
    if resume:
        trainer = Trainer.resume(output, train, dev, [*standard(output), *callbacks])
    else:
        config = TaggerConfig(**{**FAST, "epochs": 4, "patience": 10, **settings})
        trainer = Trainer(Tagger.build(config, train), train, dev, output, [*standard(output), *callbacks])
    return trainer, trainer.fit()


def _weights(trainer):
    return {k: v.clone() for k, v in trainer.tagger.model.state_dict().items()}


def test_rerun_with_the_same_seed_is_identical(sample, tmp_path):
    first, result_a = _train(sample, tmp_path / "a")
    second, result_b = _train(sample, tmp_path / "b")
    assert [r.loss for r in result_a.history] == [r.loss for r in result_b.history]
    assert all(torch.equal(v, _weights(second)[k]) for k, v in _weights(first).items())


@pytest.mark.parametrize("char_encoder", ["lstm", "cnn"])
def test_gradients_repeat_bit_for_bit_on_several_threads(sample, char_encoder):
    """Parallel kernels must not sum in a varying order (as indexing's backward with repeated words does)."""
    train = read_corpus(sample / "train.tsv")
    tagger = Tagger.build(TaggerConfig(char_encoder=char_encoder, dropout=0.0), train)  # default sizes
    batch = tagger.encoder.collate([tagger.encode(s.tokens, s.tags) for s in train.in_scheme("IOBES")][:32])
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        gradients = []
        for _ in range(3):
            tagger.model.zero_grad()
            tagger.model.loss(batch).backward()
            named = tagger.model.named_parameters()
            gradients.append({name: p.grad.clone() for name, p in named if p.grad is not None})
    finally:
        torch.set_num_threads(threads)
    for other in gradients[1:]:
        assert all(torch.equal(gradients[0][name], other[name]) for name in gradients[0])


# an ensemble's members draw batches of their own; a weight average is kept in the checkpoint; the dropouts
# of whole tokens and of a sentence's shared mask draw numbers of their own
@pytest.mark.parametrize(
    "settings",
    [{}, {"ensemble": 2}, {"weight_average": 0.9}, {"locked_dropout": True, "word_dropout": 0.1}],
    ids=["single", "ensemble", "weight average", "locked and word dropout"],
)
def test_resume_after_an_interruption_continues_where_it_stopped(sample, tmp_path, settings):
    whole, result = _train(sample, tmp_path / "whole", **settings)
    with pytest.raises(KeyboardInterrupt):
        _train(sample, tmp_path / "cut", [Interrupt(after=2)], **settings)
    assert len((tmp_path / "cut" / "log.jsonl").read_text().splitlines()) == 2
    resumed, resumed_result = _train(sample, tmp_path / "cut", resume=True)
    assert [r.loss for r in resumed_result.history] == [r.loss for r in result.history]
    assert [r.dev_f1 for r in resumed_result.history] == [r.dev_f1 for r in result.history]
    assert all(torch.equal(v, _weights(resumed)[k]) for k, v in _weights(whole).items())
    saved = [Tagger.load(path / "model").model.state_dict() for path in (tmp_path / "whole", tmp_path / "cut")]
    assert all(torch.equal(v, saved[1][k]) for k, v in saved[0].items())
    log = [json.loads(line) for line in (tmp_path / "cut" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2, 3, 4]


def test_a_weight_average_is_what_the_model_is_saved_with(sample, tmp_path):
    train = read_corpus(sample / "train.tsv")
    tagger = Tagger.build(TaggerConfig(**FAST, epochs=3, weight_average=0.9), train)
    trainer = Trainer(tagger, train, None, tmp_path)  # no dev: every epoch is saved, as in a refit
    trainer.fit()
    saved = dict(Tagger.load(tmp_path / "model").model.named_parameters())
    for (name, weights), average in zip(tagger.model.named_parameters(), trainer.average.averages, strict=True):
        assert torch.equal(saved[name], average)
        assert not torch.equal(saved[name], weights)  # the trainer's model keeps its own, to train on


def test_a_weight_average_follows_the_weights_with_a_decay_that_ramps_up():
    model = torch.nn.Linear(2, 1)
    average = WeightAverage(model, decay=0.5)
    start = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    average.update()  # first step: decay min(0.5, 2 / 11)
    assert torch.allclose(average.averages[0], start + 9 / 11)
    with average.applied():
        assert torch.equal(model.weight, average.averages[0])
    assert torch.equal(model.weight, start + 1.0)
    for _ in range(30):
        average.update()
    assert torch.allclose(average.averages[0], start + 1.0)


def test_resume_without_a_checkpoint_says_so(sample, tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        _train(sample, tmp_path, resume=True)


TINY = dict(word_dim=16, char_dim=8, char_hidden=8, hidden=16, batch_size=8)


class Poison(Callback):
    """Turns the projection's bias to NaN after the first step of epoch ``epoch``: the next loss is NaN."""

    def __init__(self, epoch: int):
        self.epoch, self.steps = epoch, 0

    def on_batch_end(self, trainer, loss, sentences):
        if trainer.epoch == self.epoch:
            self.steps += 1
            if self.steps == 1:
                with torch.no_grad():
                    trainer.tagger.model.heads[0].project.bias.fill_(float("nan"))


def test_a_nan_loss_stops_training_naming_epoch_and_step_and_keeps_the_best_model(sample, tmp_path):
    train, dev = read_corpus(sample / "dev.tsv"), read_corpus(sample / "test.tsv")
    callbacks = [*standard(tmp_path), Poison(epoch=2)]
    trainer = Trainer(Tagger.build(TaggerConfig(**TINY, epochs=3), train), train, dev, tmp_path, callbacks)
    with pytest.raises(DivergedError, match=r"epoch 2, step 2 of \d+: the loss is nan; training stopped") as caught:
        trainer.fit()
    assert "the checkpoint of epoch 1" in str(caught.value) and "the best model, of epoch 1" in str(caught.value)
    model = Tagger.load(tmp_path / "model")
    assert all(torch.isfinite(p).all() for p in model.model.parameters())
    assert model.predict([["a", "test"]])[0].tags
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 1
    resumed = Trainer.resume(tmp_path, train, dev)
    assert resumed.epoch == 1


@pytest.mark.parametrize("clip, clipped", [(1e-6, "all"), (0.0, "none")])
def test_the_log_records_gradient_norms_and_clipping(sample, tmp_path, clip, clipped):
    train = read_corpus(sample / "dev.tsv")
    config = TaggerConfig(**TINY, epochs=2, clip_grad_norm=clip)
    Trainer(Tagger.build(config, train), train, None, tmp_path).fit()
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    for record in log:
        assert 0 < record["grad_norm_mean"] <= record["grad_norm_max"]
        assert record["clipped_steps"] == (record["steps"] if clipped == "all" else 0) and record["steps"] > 0
    assert (tmp_path / "learning-curve.png").read_bytes()[:4] == b"\x89PNG"


def test_a_trainer_runs_only_the_callbacks_it_is_given(sample, tmp_path):
    train = read_corpus(sample / "dev.tsv")
    Trainer(Tagger.build(TaggerConfig(**TINY, epochs=1), train), train, None, tmp_path, []).fit()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model"]


def test_a_diverging_run_on_the_command_line_is_one_error_line(sample, tmp_path, capsys):
    from tagger.cli.main import main

    command = ["train", "--train", str(sample / "dev.tsv"), "--output", str(tmp_path), "--no-progress"]
    settings = ["--set", "optimizer=sgd", "--set", "lr=1e38", "--set", "clip_grad_norm=0", "--set", "hidden=16"]
    assert main([*command, *settings, "--epochs", "2"]) == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert re.match(r"tagger train: error: epoch 1, step \d+ of \d+: the (loss|gradient norm) is (nan|inf)", error)
    assert not (tmp_path / "model").exists()

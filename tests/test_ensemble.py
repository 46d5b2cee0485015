"""Ensembles: members trained side by side (config ``ensemble``) or apart (``ensemble_apart``, or ``tagger
ensemble``) that tag as one CRF of their mean scores."""

from __future__ import annotations

import copy
import itertools
import json
import math
import shutil

import pytest
import torch

from tagger import Tagger, TaggerConfig, cards
from tagger.batching import Encoder
from tagger.cli.main import main
from tagger.config import ConfigError
from tagger.formats import read_corpus
from tagger.model import Ensemble
from tagger.schemes import convert, is_valid
from tagger.training import Trainer
from tagger.transfer import build

SMALL = {"word_dim": 16, "char_dim": 8, "char_hidden": 8, "hidden": 12, "casing_dim": 4, "seed": 3}


@pytest.fixture(scope="module")
def corpora(sample):
    return read_corpus(sample / "train.tsv"), read_corpus(sample / "dev.tsv")


@pytest.fixture(scope="module")
def trained(corpora, tmp_path_factory):
    """An ensemble of three trained for two epochs on the sample corpus: its trainer and output directory."""
    train, dev = corpora
    torch.set_num_threads(1)
    output = tmp_path_factory.mktemp("ensemble")
    tagger = Tagger.build(TaggerConfig(**SMALL, ensemble=3, epochs=2), train)
    trainer = Trainer(tagger, train, dev, output, callbacks=[])
    trainer.fit()
    return trainer, output


def test_an_ensemble_decodes_the_mean_of_its_members_scores_exactly(corpora):
    """Tags and token confidences against enumeration of every valid path, scored by the mean of the members'
    path scores (each member's emissions and constrained CRF scores, computed alone)."""
    train, _ = corpora
    tagger = Tagger.build(TaggerConfig(**SMALL, ensemble=3), train)
    assert isinstance(tagger.model, Ensemble) and len(tagger.model.members) == 3
    tags = tagger.heads[0].tags.items
    sentences = [["Aspirin", "relieves", "pain"], ["tumour"], ["BRCA1", "mutations"]]
    predictions = tagger.predict(sentences)
    batch = tagger.encoder.collate([tagger.encode(sentence) for sentence in sentences])
    with torch.no_grad():
        members = [(m.emissions(batch), m.heads[0].crf.scores()) for m in tagger.model.members]
    for row, (sentence, prediction) in enumerate(zip(sentences, predictions)):
        n = len(sentence)
        paths = [p for p in itertools.product(range(len(tags)), repeat=n) if is_valid([tags[i] for i in p], "IOBES")]
        scores = {path: sum(_score(e[row], s, path) for e, s in members) / len(members) for path in paths}
        best = max(scores, key=scores.get)
        assert prediction.tags == convert([tags[i] for i in best], tagger.output_scheme)
        peak = scores[best]
        z = sum(math.exp(score - peak) for score in scores.values())
        for t in range(n):
            marginal = sum(math.exp(score - peak) for path, score in scores.items() if path[t] == best[t]) / z
            assert prediction.token_scores[t] == pytest.approx(marginal, abs=1e-5)


def _score(emissions: torch.Tensor, crf_scores, path: tuple[int, ...]) -> float:
    start, transitions, end = crf_scores
    total = start[path[0]] + end[path[-1]] + sum(emissions[t, tag] for t, tag in enumerate(path))
    return float(total + sum(transitions[a, b] for a, b in zip(path, path[1:])))


def test_members_start_apart_and_each_learns_from_batches_of_its_own(corpora, tmp_path):
    train, dev = corpora
    config = TaggerConfig(**SMALL, ensemble=2, dropout=0.0, unk_replace=0.0, clip_grad_norm=0.0)
    tagger = Tagger.build(config, train)
    first, second = tagger.model.members
    assert not torch.equal(first.words.weight, second.words.weight)
    assert [len(group) for group in tagger.model.parameter_groups()] == [len(list(first.parameters()))] * 2
    trainer = Trainer(tagger, train, dev, tmp_path, callbacks=[])
    mine, theirs = trainer.batches(), trainer.batches(trainer.member_rngs[0])
    assert sorted(map(sorted, mine)) != sorted(map(sorted, theirs))  # other batches, not only in another order
    assert sorted(i for batch in mine for i in batch) == sorted(i for batch in theirs for i in batch)
    before = copy.deepcopy(tagger.model)
    tagger.model.train()
    trainer.step(mine[0], [theirs[0]])
    for member, alone, own in zip(tagger.model.members, before.members, (mine[0], theirs[0])):
        alone.loss(Encoder.collate([trainer.train[i] for i in own])).div(len(own)).backward()
        assert all(torch.allclose(a.grad, b.grad, atol=1e-6) for a, b in zip(member.parameters(), alone.parameters()))


def test_a_trained_ensemble_saves_loads_and_predicts_the_same(trained, corpora, tmp_path):
    trainer, output = trained
    _, dev = corpora
    assert trainer.history[-1].loss < trainer.history[0].loss
    meta = json.loads((output / "model" / "config.json").read_text())  # the best epoch's ensemble
    assert meta["format_version"] == 4 and meta["config"]["ensemble"] == 3
    trainer.tagger.save(tmp_path / "last")  # the last epoch's
    loaded = Tagger.load(tmp_path / "last")
    assert isinstance(loaded.model, Ensemble)
    sentences = [s.tokens for s in dev]
    for found, wanted in zip(loaded.predict(sentences, batch_size=5), trainer.tagger.predict(sentences)):
        assert found.tags == wanted.tags
        assert found.token_scores == pytest.approx(wanted.token_scores, abs=1e-5)


@pytest.mark.parametrize("scheme", ["int8", "bf16"])
def test_a_quantised_ensemble_predicts_and_reloads(trained, corpora, tmp_path, scheme):
    _, output = trained
    _, dev = corpora
    quantised = Tagger.load(output / "model").quantize(scheme)
    quantised.save(tmp_path / scheme)
    again = Tagger.load(tmp_path / scheme)
    sentences = [s.tokens for s in dev]
    assert [p.tags for p in again.predict(sentences)] == [p.tags for p in quantised.predict(sentences)]


def test_an_ensemble_tags_raw_text(trained):
    _, output = trained
    tagger = Tagger.load(output / "model")
    tagged = tagger.tag("Aspirin relieves headache in patients with migraine. The battery life is great.")
    assert [s.text for s in tagged.sentences] and all(0.0 <= span.score <= 1.0 for span in tagged.spans)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"ensemble": 0}, "ensemble must be an integer >= 1"),
        ({"ensemble": 2, "char_lm": "lms/x", "char_lm_finetune": True}, "cannot take a fine-tuned character LM"),
        ({"ensemble": 2, "init_from": "runs/x/model"}, r"init_from \(transfer\) with its members trained side by side"),
    ],
)
def test_configs_an_ensemble_cannot_have_are_refused(values, message):
    with pytest.raises(ConfigError, match=message):
        TaggerConfig(**values)


def test_an_ensemble_is_no_transfer_source(trained, corpora):
    _, output = trained
    train, _ = corpora
    with pytest.raises(ConfigError, match="is an ensemble of 3 models"):
        build(TaggerConfig(**SMALL, init_from=str(output / "model")), train)


TRAIN_TINY = [*(f"--set={key}={value}" for key, value in SMALL.items() if key != "seed"), "--epochs=2", "--no-progress"]


@pytest.fixture(scope="module")
def apart(sample, tmp_path_factory):
    """Two models trained apart by ``tagger train`` (seeds 1 and 2, each with its card) and their run directories."""
    torch.set_num_threads(1)
    files = [f"--{split}={sample / f'{split}.tsv'}" for split in ("train", "dev", "test")]
    runs = [tmp_path_factory.mktemp(f"seed{seed}") for seed in (1, 2)]
    for seed, run in zip((1, 2), runs):
        assert main(["train", *files, f"--output={run}", f"--set=seed={seed}", *TRAIN_TINY]) == 0
    return runs


def test_models_trained_apart_combine_into_an_ensemble_of_their_weights(apart, sample, tmp_path, capsys):
    output = tmp_path / "ensemble"
    assert main(["ensemble", *(f"--model={run}" for run in apart), f"--output={output}"]) == 0
    combined = Tagger.load(output)
    assert isinstance(combined.model, Ensemble) and combined.config.ensemble == 2
    for member, run in zip(combined.model.members, apart):
        source = Tagger.load(run).model.state_dict()
        assert all(torch.equal(tensor, source[name]) for name, tensor in member.state_dict().items())
    card = cards.read(output)
    assert card["config"]["architecture"]["ensemble"] == 2 and len(card["training"]["members"]) == 2
    assert card["test"] == [] and "An ensemble of 2 models trained apart" in (output / "README.md").read_text()
    assert main(["evaluate", f"--model={output}", f"--data={sample / 'test.tsv'}", "--update-card"]) == 0
    assert cards.read(output)["test"][0]["source"].endswith("test.tsv")

    again = tmp_path / "three"  # an ensemble joins with each of its members
    assert main(["ensemble", f"--model={output}", f"--model={apart[0]}", f"--output={again}"]) == 0
    assert Tagger.load(again).config.ensemble == 3
    sentences = [s.tokens for s in read_corpus(sample / "dev.tsv")]
    found = Tagger.load(again).predict(sentences)
    assert all(is_valid(p.tags, "IOB2") and len(p.tags) == len(s) for p, s in zip(found, sentences))


def test_models_fine_tuned_from_one_model_combine(apart, sample, tmp_path):
    files = [f"--train={sample / 'train.tsv'}", f"--dev={sample / 'dev.tsv'}"]
    runs = [tmp_path / f"from-seed{seed}" for seed in (1, 2)]
    for seed, run in zip((1, 2), runs):
        command = ["train", *files, f"--output={run}", f"--init-from={apart[0]}", "--freeze=embeddings"]
        assert main([*command, f"--set=seed={seed}", *TRAIN_TINY]) == 0
    output = tmp_path / "ensemble"
    assert main(["ensemble", *(f"--model={run}" for run in runs), f"--output={output}"]) == 0
    config = Tagger.load(output).config  # members trained apart, each fine-tuned from the first run's model
    assert (config.ensemble, config.ensemble_apart, config.init_from) == (2, True, str(apart[0].resolve()))


def weights(directory) -> dict[str, torch.Tensor]:
    return Tagger.load(directory).model.state_dict()


def test_tagger_train_trains_an_ensemble_apart_and_resumes_a_run_cut_between_members(apart, sample, tmp_path):
    files = [f"--{split}={sample / f'{split}.tsv'}" for split in ("train", "dev", "test")]
    output = tmp_path / "apart"
    command = ["train", *files, f"--output={output}", "--refit", "--set=seed=1", *TRAIN_TINY]
    assert main([*command, "--set=ensemble=2", "--set=ensemble_apart=true"]) == 0
    member = tmp_path / "member2"  # member 2 is the model of seed 1 + 1000 trained alone, member 1 that of seed 1
    assert main(["train", *files, f"--output={member}", "--refit", "--set=seed=1001", *TRAIN_TINY]) == 0
    for model in ("model", "refit/model"):
        combined = Tagger.load(output / model)
        assert isinstance(combined.model, Ensemble) and combined.config.ensemble_apart
        assert combined.config.ensemble == 2 and combined.config.seed == 1
    for name, tensor in weights(member / "refit" / "model").items():
        assert torch.equal(tensor, weights(output / "refit" / "model")[f"members.1.{name}"])
    early = weights(output / "model")
    assert all(torch.equal(tensor, early[f"members.0.{name}"]) for name, tensor in weights(apart[0] / "model").items())
    card = cards.read(output / "refit" / "model")
    assert card["training"]["refit"] and len(card["training"]["members"]) == 2 and card["test"]

    finished = {path: path.read_bytes() for path in output.rglob("*.safetensors")}
    shutil.rmtree(output / "members" / "2")  # cut after the first member: the resumed run trains the second
    assert main([*command, "--set=ensemble=2", "--set=ensemble_apart=true", "--resume"]) == 0
    assert {path: path.read_bytes() for path in output.rglob("*.safetensors")} == finished


def test_an_ensemble_apart_without_refit_is_its_early_stopped_members(apart, sample, tmp_path):
    files = [f"--{split}={sample / f'{split}.tsv'}" for split in ("train", "dev", "test")]
    output = tmp_path / "apart"
    assert (
        main(
            [
                "train",
                *files,
                f"--output={output}",
                "--set=seed=1",
                "--set=ensemble=2",
                "--set=ensemble_apart=true",
                *TRAIN_TINY,
            ]
        )
        == 0
    )
    assert not (output / "refit").exists() and not cards.read(output / "model")["training"]["refit"]
    early = weights(output / "model")
    assert all(torch.equal(tensor, early[f"members.0.{name}"]) for name, tensor in weights(apart[0] / "model").items())


def test_an_ensemble_apart_with_refit_epochs_is_its_members_refitted_at_once(sample, tmp_path):
    files = [f"--{split}={sample / f'{split}.tsv'}" for split in ("train", "dev", "test")]
    output = tmp_path / "apart"
    settings = ["--set=seed=1", "--set=ensemble=2", "--set=ensemble_apart=true", "--set=refit_epochs=1"]
    assert main(["train", *files, f"--output={output}", "--refit", *settings, *TRAIN_TINY]) == 0
    assert not (output / "model").exists() and not (output / "members" / "1" / "model").exists()
    training = cards.read(output / "refit" / "model")["training"]
    assert training["refit"] and [member["best_epoch"] for member in training["members"]] == [1, 1]
    assert all(member["set_epochs"] for member in training["members"])


def test_models_that_cannot_tag_as_one_are_refused_by_name(apart, sample, tmp_path, capsys):
    other = tmp_path / "wider"
    files = [f"--train={sample / 'train.tsv'}", f"--dev={sample / 'dev.tsv'}"]
    assert main(["train", *files, f"--output={other}", *TRAIN_TINY, "--set=hidden=14"]) == 0
    smaller = tmp_path / "smaller"  # trained on other sentences: another vocabulary
    assert main(["train", f"--train={sample / 'dev.tsv'}", f"--output={smaller}", *TRAIN_TINY]) == 0
    int8 = tmp_path / "int8"
    assert main(["quantize", f"--model={apart[0]}", f"--output={int8}"]) == 0
    capsys.readouterr()
    for models, message in (
        ([other], "in hidden 14 (not 12): only models of one config combine"),
        ([smaller], "has other vocabularies or heads than"),
        ([int8], "is quantised (int8): combine the float models, then quantise"),
        ([], "an ensemble needs two models or more; got 1"),
    ):
        output = tmp_path / "refused"
        command = ["ensemble", f"--model={apart[0]}", *(f"--model={model}" for model in models), f"--output={output}"]
        assert main(command) == 2
        assert message in capsys.readouterr().err and not output.exists()
    assert main(["ensemble", f"--model={apart[0]}", f"--model={apart[1]}", f"--output={apart[1]}"]) == 2
    assert "holds the input" in capsys.readouterr().err and Tagger.load(apart[1])  # a run directory holds its model

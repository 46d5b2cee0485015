"""Hyperparameter search: search spaces, pruning, and tiny studies that resume from SQLite."""

from __future__ import annotations

import csv
import json

import optuna
import pytest

from tagger import Tagger, TaggerConfig, tuning
from tagger.cli.main import main
from tagger.config import ConfigError
from tagger.formats import read_corpus
from tagger.search_space import DEFAULT_SPACE, SearchSpace
from tagger.training import Trainer
from tagger.tuning import PruneWeakTrials, open_study

TINY = ["--set", "word_dim=8", "--set", "char_dim=4", "--set", "char_hidden=4", "--set", "casing_dim=2"]
SPACE = {"lr": {"low": 0.001, "high": 0.01, "log": True}, "hidden": {"choices": [8, 16]}}


def _tune(sample, output, *extra: str) -> int:
    splits = ["--train", str(sample / "train.tsv"), "--dev", str(sample / "dev.tsv")]
    return main(["tune", *splits, "--output", str(output), "--epochs", "1", *TINY, "--no-progress", *extra])


def _rows(output) -> list[dict]:
    with open(output / "trials.csv", encoding="utf-8") as rows:
        return list(csv.DictReader(rows))


def test_a_tiny_study_resumes_from_its_database_and_its_best_config_trains(sample, tmp_path):
    space = tmp_path / "space.json"
    space.write_text(json.dumps(SPACE))
    output = tmp_path / "tune"
    assert _tune(sample, output, "--space", str(space), "--trials", "2") == 0
    assert [row["number"] for row in _rows(output)] == ["0", "1"]
    assert _tune(sample, output, "--space", str(space), "--trials", "3") == 0  # the same study, one more trial
    rows = _rows(output)
    assert [row["number"] for row in rows] == ["0", "1", "2"] and {row["state"] for row in rows} == {"COMPLETE"}
    assert {"dev_f1", "seconds", "lr", "hidden"} <= set(rows[0]) and all(row["epochs"] == "1" for row in rows)
    study = optuna.load_study(study_name="tagger", storage=f"sqlite:///{output / 'study.db'}")
    assert len(study.trials) == 3
    best = json.loads((output / "best-config.json").read_text())
    assert best["hidden"] == study.best_params["hidden"] and best["word_dim"] == 8
    assert (output / "tuning.png").read_bytes()[:4] == b"\x89PNG"
    assert (output / "trials" / f"{study.best_trial.number:04d}" / "model" / "config.json").is_file()
    assert not list(output.glob("trials/*/checkpoint.pt"))
    assert _tune(sample, output, "--space", str(space), "--trials", "3") == 0  # nothing left to run
    assert len(_rows(output)) == 3
    train = ["train", "--train", str(sample / "dev.tsv"), "--output", str(tmp_path / "train"), "--no-progress"]
    assert main([*train, "--config", str(output / "best-config.json")]) == 0
    assert Tagger.load(tmp_path / "train" / "model").config.hidden == best["hidden"]


def test_a_study_continues_only_with_its_own_config(sample, tmp_path, capsys):
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"hidden": {"choices": [8]}}))
    assert _tune(sample, tmp_path / "out", "--space", str(space), "--trials", "1") == 0
    assert _tune(sample, tmp_path / "out", "--space", str(space), "--trials", "2", "--set", "dropout=0.1") == 2
    assert "differing: dropout" in capsys.readouterr().err


def test_an_interrupted_trial_fails_and_does_not_count(sample, tmp_path, monkeypatch):
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"hidden": {"choices": [8]}}))
    epochs, train_epoch = iter(range(100)), Trainer._train_epoch

    def interrupted_second(trainer):
        if next(epochs) == 1:
            raise KeyboardInterrupt
        return train_epoch(trainer)

    monkeypatch.setattr(Trainer, "_train_epoch", interrupted_second)
    assert _tune(sample, tmp_path / "out", "--space", str(space), "--trials", "2") == 130
    assert [row["state"] for row in _rows(tmp_path / "out")] == ["COMPLETE", "FAIL"]  # written on the way out
    assert _tune(sample, tmp_path / "out", "--space", str(space), "--trials", "2") == 0
    assert [row["state"] for row in _rows(tmp_path / "out")] == ["COMPLETE", "FAIL", "COMPLETE"]


def test_the_grid_sampler_stops_when_the_grid_is_done(sample, tmp_path):
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"hidden": {"low": 8, "high": 16, "step": 8}, "optimizer": {"choices": ["adam"]}}))
    assert _tune(sample, tmp_path / "out", "--space", str(space), "--sampler", "grid", "--trials", "5") == 0
    assert sorted(row["hidden"] for row in _rows(tmp_path / "out")) == ["16", "8"]


def test_search_space_values_and_grids():
    space = SearchSpace.from_dict(
        {
            "lr": {"low": 0.001, "high": 0.1, "log": True},
            "dropout": {"low": 0.1, "high": 0.3, "step": 0.1},
            "hidden": {"low": 50, "high": 200, "step": 50},
            "char_encoder": {"choices": ["lstm", "cnn"]},
        }
    )
    assert [(d.name, d.integer) for d in space.dimensions][:3] == [("lr", False), ("dropout", False), ("hidden", True)]
    with pytest.raises(ConfigError, match="lr: the grid sampler needs choices or a step"):
        space.grid()
    del space.dimensions[0]
    assert space.grid() == {"dropout": [0.1, 0.2, 0.3], "hidden": [50, 100, 150, 200], "char_encoder": ["lstm", "cnn"]}
    SearchSpace.from_dict(DEFAULT_SPACE).check(TaggerConfig())


@pytest.mark.parametrize(
    "space, message",
    [
        ({"learning_rate": {"low": 0.1, "high": 1}}, "'learning_rate' is not a config key"),
        ({"optimizer": {"low": 0, "high": 1}}, "optimizer: a str key takes choices, not a range"),
        ({"lr": {"low": 0.1, "high": 0.01}}, "lr: expected low < high"),
        ({"lr": {"low": 0, "high": 1, "log": True}}, "low > 0 on a log scale"),
        ({"lr": {"low": 0.1, "high": 1, "log": True, "step": 0.1}}, "log and step cannot go together"),
        ({"hidden": {"low": 10, "high": 20.5}}, "hidden: an integer key needs integer"),
        ({"hidden": {"choices": []}}, "choices must be a non-empty list"),
        ({"hidden": {"min": 1, "max": 2}}, "unknown settings max, min"),
        ({}, "expected a non-empty JSON object"),
    ],
)
def test_bad_search_spaces_say_what_is_wrong(space, message):
    with pytest.raises(ConfigError, match=message):
        SearchSpace.from_dict(space, "space.json")


def test_choices_that_make_no_valid_config_are_refused_before_training(sample, tmp_path, capsys):
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"optimizer": {"choices": ["adam", "rprop"]}}))
    assert _tune(sample, tmp_path / "out", "--space", str(space)) == 2
    assert "optimizer='rprop': optimizer must be one of sgd, rmsprop" in capsys.readouterr().err
    assert not (tmp_path / "out" / "study.db").exists()


def test_a_weak_trial_is_pruned_after_its_epoch(sample, tmp_path):
    train, dev = read_corpus(sample / "train.tsv"), read_corpus(sample / "dev.tsv")
    config = TaggerConfig(word_dim=8, char_dim=4, char_hidden=4, hidden=8, epochs=3)
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    trial = study.ask()
    trainer = Trainer(Tagger.build(config, train), train, dev, tmp_path, [PruneWeakTrials(trial)])
    with pytest.raises(optuna.TrialPruned, match="after epoch 1"):
        trainer.fit()
    assert list(study.trials[0].intermediate_values) == [1]


def test_an_unreadable_storage_is_a_clear_error(tmp_path):
    space = SearchSpace.from_dict({"hidden": {"choices": [8]}})
    with pytest.raises(ConfigError, match="cannot open study 'x' in nonsense"):
        open_study("nonsense", "x", "tpe", space, TaggerConfig())


def test_the_gaussian_process_sampler_runs_and_resumes_a_three_trial_study(sample, tmp_path, monkeypatch):
    monkeypatch.setattr(tuning, "STARTUP_TRIALS", 2)  # the third trial is the GP's
    space = tmp_path / "space.json"
    space.write_text(json.dumps(SPACE))
    assert _tune(sample, tmp_path / "out", "--space", str(space), "--sampler", "gp", "--trials", "2") == 0
    assert _tune(sample, tmp_path / "out", "--space", str(space), "--sampler", "gp", "--trials", "3") == 0
    rows = _rows(tmp_path / "out")
    assert [row["number"] for row in rows] == ["0", "1", "2"] and {row["state"] for row in rows} == {"COMPLETE"}
    assert all(0.001 <= float(row["lr"]) <= 0.01 and row["hidden"] in ("8", "16") for row in rows)


def test_enqueued_configs_run_first_and_once(sample, tmp_path, caplog):
    space = tmp_path / "space.json"
    space.write_text(json.dumps(SPACE))
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(json.dumps({"lr": 0.004, "hidden": 16, "dropout": 0.2}))
    second.write_text(json.dumps({"hidden": 8}))
    queued = ["--enqueue", str(first), "--enqueue", str(second)]
    assert _tune(sample, tmp_path / "out", "--space", str(space), "--trials", "3", *queued) == 0
    rows = _rows(tmp_path / "out")
    assert (rows[0]["lr"], rows[0]["hidden"], rows[1]["hidden"]) == ("0.004", "16", "8")
    assert "dropout not searched" in caplog.text
    assert _tune(sample, tmp_path / "out", "--space", str(space), "--trials", "4", *queued) == 0
    assert [row["lr"] for row in _rows(tmp_path / "out")].count("0.004") == 1  # not queued again


def test_an_enqueued_value_outside_the_space_is_refused(sample, tmp_path, capsys):
    space = tmp_path / "space.json"
    space.write_text(json.dumps(SPACE))
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"lr": 0.5}))
    assert _tune(sample, tmp_path / "out", "--space", str(space), "--enqueue", str(outside)) == 2
    assert "lr=0.5 lies outside the search space (0.001 to 0.01)" in capsys.readouterr().err

"""The command line as users run it: train, evaluate, predict on the bundled sample."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

from tagger.cli.main import main, parser

QUICK = ["--set", "word_dim=32", "--set", "hidden=32", "--set", "char_hidden=16", "--no-progress"]


def tagger_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tagger.cli.main", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def trained(sample, tmp_path_factory):
    output = tmp_path_factory.mktemp("run")
    code = main(
        [
            "train",
            "--train",
            str(sample / "train.tsv"),
            "--dev",
            str(sample / "dev.tsv"),
            "--test",
            str(sample / "test.tsv"),
            "--output",
            str(output),
            "--epochs",
            "3",
            *QUICK,
        ]
    )
    assert code == 0
    return output


def test_train_writes_model_log_plot_and_test_scores(trained):
    model_files = {"config.json", "vocab.json", "weights.safetensors", "meta.json", "README.md"}  # and its card
    assert {p.name for p in (trained / "model").iterdir()} == model_files
    assert len((trained / "log.jsonl").read_text().splitlines()) == 3
    assert (trained / "learning-curve.png").read_bytes()[:4] == b"\x89PNG"
    scores = json.loads((trained / "test-scores.json").read_text())
    assert 0.0 <= scores["f1"] <= 1.0 and scores["scheme"] == "IOB2"


def test_evaluate_json_contract_and_predictions_file(trained, sample, tmp_path):
    predictions = tmp_path / "predictions.tsv"
    result = tagger_cli(
        "evaluate",
        "--model",
        str(trained / "model"),
        "--data",
        str(sample / "test.tsv"),
        "--json",
        "--predictions",
        str(predictions),
    )
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert {"precision", "recall", "f1", "mode", "scheme", "per_type"} <= set(scores)
    assert scores["mode"] == "default" and scores["scheme"] == "IOB2"
    assert all(0.0 <= scores[k] <= 1.0 for k in ("precision", "recall", "f1"))
    assert set(next(iter(scores["per_type"].values()))) == {"precision", "recall", "f1", "support"}
    first = predictions.read_text().splitlines()[0].split("\t")
    assert len(first) == 3  # token, gold, predicted


def test_predict_prints_exact_character_spans(trained, sample):
    result = tagger_cli("predict", "--model", str(trained / "model"), str(sample / "sample.txt"), "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    for span in record["spans"]:
        assert record["text"][span["start"] : span["end"]] == span["text"]


def test_refit_trains_on_train_and_dev_for_the_best_epoch_count(sample, tmp_path, capsys):
    splits = [f"--{name}={sample / f'{name}.tsv'}" for name in ("train", "dev", "test")]
    assert main(["train", *splits, "--output", str(tmp_path), "--epochs", "3", "--refit", *QUICK]) == 0
    log, refit_log = (
        [json.loads(line) for line in (path / "log.jsonl").open()] for path in (tmp_path, tmp_path / "refit")
    )
    best_epoch = max(log, key=lambda record: record["dev_f1"])["epoch"]
    assert [r["epoch"] for r in refit_log] == list(range(1, best_epoch + 1))
    assert all(r["dev_f1"] is None for r in refit_log)
    vocab = json.loads((tmp_path / "refit" / "model" / "vocab.json").read_text())
    assert len(vocab["words"]) > len(json.loads((tmp_path / "model" / "vocab.json").read_text())["words"])
    assert json.loads((tmp_path / "refit" / "test-scores.json").read_text())["scheme"] == "IOB2"
    assert f"of {tmp_path / 'refit' / 'model'}" in capsys.readouterr().out


def test_refit_epochs_trains_the_refit_alone_to_the_same_weights(sample, tmp_path):
    splits = [f"--{name}={sample / f'{name}.tsv'}" for name in ("train", "dev", "test")]
    common = [*splits, "--epochs", "3", "--refit", *QUICK]
    assert main(["train", *common, "--output", str(tmp_path / "chosen")]) == 0
    chosen = len((tmp_path / "chosen" / "refit" / "log.jsonl").read_text().splitlines())
    at_once = tmp_path / "set"
    assert main(["train", *common, "--output", str(at_once), "--set", f"refit_epochs={chosen}"]) == 0
    assert sorted(path.name for path in at_once.iterdir()) == ["refit"]
    weights = [(tmp_path / run / "refit" / "model" / "weights.safetensors").read_bytes() for run in ("chosen", "set")]
    assert weights[0] == weights[1]
    card = (at_once / "refit" / "model" / "README.md").read_text()
    assert f"Trained on train + dev for {chosen} epochs, a count set beforehand" in card
    assert json.loads((at_once / "refit" / "test-scores.json").read_text())["scheme"] == "IOB2"


def test_resume_with_refit_runs_the_refit_a_finished_training_lacks(sample, tmp_path):
    splits = [f"--{name}={sample / f'{name}.tsv'}" for name in ("train", "dev")]
    common = [*splits, "--epochs", "2", *QUICK]
    assert main(["train", *common, "--output", str(tmp_path / "whole"), "--refit"]) == 0
    assert main(["train", *common, "--output", str(tmp_path / "parts")]) == 0
    assert main(["train", *common, "--output", str(tmp_path / "parts"), "--resume", "--refit"]) == 0
    weights = [(tmp_path / run / "refit" / "model" / "weights.safetensors").read_bytes() for run in ("whole", "parts")]
    assert weights[0] == weights[1]


def test_train_without_dev_carves_one_from_train(sample, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    code = main(["train", "--train", str(sample / "dev.tsv"), "--output", str(tmp_path), "--epochs", "1", *QUICK])
    assert code == 0
    assert "no --dev given: holding out" in caplog.text


def test_user_errors_are_one_clear_line(sample, tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("aspirin\tB-Chemical\nworks\n")
    result = tagger_cli("train", "--train", str(bad), "--output", str(tmp_path / "out"))
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"tagger train: error: {bad}:2: expected 2 columns like the first line, found 1: 'works'"
    )
    result = tagger_cli("evaluate", "--model", str(tmp_path), "--data", str(sample / "test.tsv"))
    assert result.returncode == 2 and "is not a tagger model" in result.stderr
    result = tagger_cli("train", "--train", str(sample / "dev.tsv"), "--output", str(tmp_path), "--set", "hiden=3")
    assert result.returncode == 2 and "unknown config keys: hiden" in result.stderr


@pytest.mark.parametrize("command", [[], ["train"], ["evaluate"], ["predict"]])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: tagger" in capsys.readouterr().out


@pytest.mark.parametrize("set_by_user", [None, "64"])
def test_the_command_line_caps_onednns_cache_unless_the_user_did(monkeypatch, capsys, set_by_user):
    """A bounded cache of compiled LSTMs keeps annotate's memory flat over any number of documents."""
    monkeypatch.setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", set_by_user or "")  # undone after the test
    if set_by_user is None:
        monkeypatch.delenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY")
    assert main(["models", "list"]) == 0
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == (set_by_user or "256")

"""The learning-rate range test on the sample corpus, alone and as tagger train --set lr=auto."""

from __future__ import annotations

import json

import pytest

from tagger import Tagger
from tagger.cli.main import main
from tagger.lr_finder import steepest

TINY = ["--set", "word_dim=16", "--set", "char_dim=8", "--set", "char_hidden=8", "--set", "hidden=16"]


def test_lr_find_suggests_a_rate_in_its_range_and_plots_the_curve(sample, tmp_path, capsys):
    splits = ["--train", str(sample / "train.tsv"), "--dev", str(sample / "dev.tsv")]
    range_ = ["--start", "1e-5", "--end", "0.5", "--steps", "60"]
    assert main(["lr-find", *splits, "--output", str(tmp_path), *TINY, "--set", "batch_size=8", *range_]) == 0
    found = json.loads((tmp_path / "lr-find.json").read_text())
    assert 1e-5 <= found["suggested_lr"] <= 0.5
    assert float(capsys.readouterr().out) == pytest.approx(found["suggested_lr"], rel=1e-3)
    assert len(found["lrs"]) == len(found["smoothed"]) <= 60 and found["lrs"] == sorted(found["lrs"])
    assert found["lrs"][0] == pytest.approx(1e-5)
    assert (tmp_path / "lr-find.png").read_bytes()[:4] == b"\x89PNG"


def test_train_with_lr_auto_trains_at_the_suggestion(sample, tmp_path):
    command = ["train", "--train", str(sample / "dev.tsv"), "--dev", str(sample / "test.tsv")]
    command += ["--output", str(tmp_path), *TINY, "--set", "lr=auto", "--no-progress"]
    assert main([*command, "--epochs", "1"]) == 0
    suggested = json.loads((tmp_path / "lr-find.json").read_text())["suggested_lr"]
    assert Tagger.load(tmp_path / "model").config.lr == suggested
    assert main([*command, "--epochs", "2", "--resume"]) == 0  # the checkpoint's lr stands, no new test
    assert Tagger.load(tmp_path / "model").config.lr == suggested


def test_the_suggestion_is_the_steepest_fall_before_the_lowest_loss():
    lrs = [10.0**-k for k in range(8, 0, -1)]
    smoothed = [5.0, 5.0, 4.9, 4.0, 2.0, 1.5, 1.4, 9.0]  # falls fastest around 1e-4, diverges at the end
    assert steepest(lrs, smoothed) == 1e-5

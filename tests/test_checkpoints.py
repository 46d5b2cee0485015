"""Checkpoints: unreadable ones are a clear error, stale temporaries go, a resume on other data or settings fails."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tagger.checkpoints import CheckpointError
from tagger.cli.main import main
from tagger.formats import read_corpus
from tagger.training import Trainer

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--set", "word_dim=16", "--set", "char_dim=8", "--set", "char_hidden=8", "--set", "hidden=16"]


@pytest.fixture(scope="module")
def run(sample, tmp_path_factory):
    """A one-epoch training run on the sample's dev split, and the command that made it."""
    output = tmp_path_factory.mktemp("run")
    command = ["train", "--train", str(sample / "dev.tsv"), "--output", str(output), "--no-progress", *TINY]
    assert main([*command, "--epochs", "1"]) == 0
    return output, command


def _copy(run, tmp_path):
    output, command = run
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("checkpoint.pt", "log.jsonl"):
        (copy / name).write_bytes((output / name).read_bytes())
    return copy, [part if part != str(output) else str(copy) for part in command]


@pytest.mark.parametrize("damage", ["truncated", "empty", "foreign tensor", "text"])
def test_an_unreadable_checkpoint_is_one_clear_error(run, sample, tmp_path, damage):
    path = tmp_path / "checkpoint.pt"
    whole = (run[0] / "checkpoint.pt").read_bytes()
    if damage == "foreign tensor":
        torch.save(torch.zeros(3), path)
    else:
        path.write_bytes({"truncated": whole[: len(whole) // 2], "empty": b"", "text": b"not a checkpoint\n"}[damage])
    train = read_corpus(sample / "dev.tsv")
    with pytest.raises(CheckpointError, match=f"{path}") as caught:
        Trainer.resume(tmp_path, train, None)
    assert "\n" not in str(caught.value) and "weights_only" not in str(caught.value)
    args = ["train", "--train", str(sample / "dev.tsv"), "--output", str(tmp_path), "--resume"]
    done = subprocess.run([sys.executable, "-m", "tagger.cli.main", *args], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith(f"tagger train: error: {path}")


def test_a_stale_temporary_file_is_removed(run, tmp_path):
    copy, command = _copy(run, tmp_path)
    stale = copy / ".checkpoint.pt.k3j2x9.tmp"
    stale.write_bytes(b"half a checkpoint")
    assert main([*command, "--epochs", "2", "--resume"]) == 0
    assert not stale.exists()
    assert [json.loads(line)["epoch"] for line in (copy / "log.jsonl").read_text().splitlines()] == [1, 2]


def test_resume_refuses_other_settings_and_says_what_changed(run, tmp_path, capsys):
    copy, command = _copy(run, tmp_path)
    assert main([*command, "--epochs", "1", "--resume", "--set", "hidden=32", "--set", "dropout=0.3"]) == 2
    error = capsys.readouterr().err
    assert "hidden 16 → 32" in error and "dropout 0.5 → 0.3" in error and "only epochs, patience" in error
    assert main([*command, "--epochs", "2", "--resume", "--set", "patience=20"]) == 0  # safe keys take effect
    state = torch.load(copy / "checkpoint.pt", weights_only=True)
    assert (state["epoch"], state["meta"]["config"]["patience"], state["meta"]["config"]["hidden"]) == (2, 20, 16)


def test_resume_refuses_other_data(run, sample, tmp_path, capsys):
    copy, command = _copy(run, tmp_path)
    other = [part if part != str(sample / "dev.tsv") else str(sample / "test.tsv") for part in command]
    assert main([*other, "--epochs", "2", "--resume"]) == 2
    assert "the training data differ from the checkpoint's" in capsys.readouterr().err


def test_a_checkpoint_of_format_1_still_resumes(run, tmp_path, caplog):
    copy, command = _copy(run, tmp_path)
    state = torch.load(copy / "checkpoint.pt", weights_only=True)
    best = state.pop("best")
    del state["fingerprints"]
    state |= {"format": 1, "stopper": {"patience": 8, "best_f1": best["f1"], "best_epoch": best["epoch"], "waited": 0}}
    torch.save(state, copy / "checkpoint.pt")
    assert main([*command, "--epochs", "2", "--resume"]) == 0
    assert "predates data fingerprints" in caplog.text
    assert [json.loads(line)["epoch"] for line in (copy / "log.jsonl").read_text().splitlines()] == [1, 2]

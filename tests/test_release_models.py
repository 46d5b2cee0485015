"""``scripts/release_models.py`` on a catalogue of its own: one quick model of the sample corpus (laid out as a
mirror of ncbi-disease), trained, tested, carded, stored and catalogued, and the same again on a rerun."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tagger import Tagger, cards, catalogue, named_models
from tagger.evaluation import evaluate
from tagger.formats import read_corpus
from tagger.named_models import FILES, ModelEntry

ROOT = Path(__file__).resolve().parents[1]
LABELS = ("Aspect", "Chemical", "Disease", "Gene", "Species")
QUICK = ["--set", "epochs=1", "--set", "hidden=16", "--set", "char_hidden=8", "--set", "char_dim=8"]


@pytest.fixture
def release(sample, tmp_path, vectors_cache):
    """Run the script on a table of ``sample-fast`` and an ``untouched`` entry; its completed process."""
    vectors_cache("biomedical-w2v-100.bin")  # the fast preset's vectors for biomedical text
    mirror = tmp_path / "data" / "ncbi-disease"
    mirror.mkdir(parents=True)
    for split, file in (("train", "train.tsv"), ("dev", "devel.tsv"), ("test", "test.tsv")):
        shutil.copy(sample / f"{split}.tsv", mirror / file)
    facts = {"corpus": "ncbi-disease", "domain": "biomedical", "labels": LABELS, "licence": "CC0"}
    table = {
        "sample-fast": ModelEntry("sample-fast", preset="fast", description="the sample", **facts),
        "sample-bf16": ModelEntry(
            "sample-bf16", preset="fast", description="in bfloat16", weights_dtype="bfloat16", **facts
        ),
        "untouched": ModelEntry("untouched", preset="accurate", description="not trained here", **facts),
    }
    named_models.save_table(table, tmp_path / "catalogue.json")
    places = ["--catalogue", str(tmp_path / "catalogue.json"), "--store", str(tmp_path / "store")]
    command = [sys.executable, str(ROOT / "scripts" / "release_models.py"), *places, "--data-dir", str(mirror.parent)]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*command, *args], env=environment, capture_output=True, text=True, timeout=600)

    return run


def test_a_release_trains_tests_cards_stores_and_catalogues_the_model(release, sample, tmp_path):
    result = release("--only", "sample-fast", "--seed", "3", *QUICK)
    assert result.returncode == 0, result.stderr
    stored = tmp_path / "store" / "sample-fast"
    models = named_models.entries(tmp_path / "catalogue.json")
    model, untouched = models["sample-fast"], models["untouched"]
    assert sorted(p.name for p in stored.iterdir()) == sorted(FILES) and not untouched.files
    assert model.files == {file: catalogue.sha256(stored / file) for file in FILES}
    assert model.size == sum((stored / file).stat().st_size for file in FILES)
    card = cards.read(stored)
    assert card["training"]["refit"] and card["test"][0]["f1"] == model.test["f1"]
    assert card["heads"][0]["corpus"]["name"] == "ncbi-disease" and model.test["corpus"] == "ncbi-disease"
    tagger = Tagger.load(stored)
    assert tagger.config.seed == 3 and tagger.config.tokenizer == "biomedical" and tagger.pretrained > 0
    fresh, _ = evaluate(tagger, read_corpus(sample / "test.tsv"))
    assert abs(fresh["f1"] - model.test["f1"]) < 0.001
    assert f"sample-fast: test P {model.test['precision']:.4f}" in result.stdout

    again = release("--only", "sample-fast", "--seed", "3", *QUICK)  # the same seed, the same model
    assert again.returncode == 0, again.stderr
    assert named_models.entries(tmp_path / "catalogue.json")["sample-fast"].files == model.files


def test_a_kept_release_resumes_to_the_same_model(release, tmp_path):
    keep = ["--only", "sample-fast", "--keep", str(tmp_path / "keep"), *QUICK]
    assert release(*keep).returncode == 0
    files = named_models.entries(tmp_path / "catalogue.json")["sample-fast"].files
    checkpoint = tmp_path / "keep" / "sample-fast" / "checkpoint.pt"
    trained = checkpoint.stat().st_mtime_ns
    resumed = release(*keep, "--resume")  # the run is finished: only scored and stored again
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from" in resumed.stderr and checkpoint.stat().st_mtime_ns == trained
    assert named_models.entries(tmp_path / "catalogue.json")["sample-fast"].files == files
    refused = release("--only", "sample-fast", "--resume")
    assert refused.returncode == 2 and "--resume continues the runs kept by --keep" in refused.stderr


def test_a_model_released_in_bfloat16_is_the_float_one_rounded_and_its_card_scores_it_as_stored(
    release, sample, tmp_path
):
    result = release("--only", "sample-fast", "--only", "sample-bf16", "--seed", "3", *QUICK)
    assert result.returncode == 0, result.stderr
    models = named_models.entries(tmp_path / "catalogue.json")
    full, half = (Tagger.load(tmp_path / "store" / name) for name in ("sample-fast", "sample-bf16"))
    assert (full.weights_dtype, half.weights_dtype) == ("float32", "bfloat16")
    assert all(
        torch.equal(a.bfloat16().float(), b)
        for a, b in zip(full.float_weights().values(), half.float_weights().values())
    )
    assert models["sample-bf16"].size < models["sample-fast"].size
    card = cards.read(tmp_path / "store" / "sample-bf16")
    assert card["config"]["architecture"]["weights_dtype"] == "bfloat16"
    fresh, _ = evaluate(half, read_corpus(sample / "test.tsv"))
    assert (
        card["test"][0]["f1"] == models["sample-bf16"].test["f1"] and abs(fresh["f1"] - card["test"][0]["f1"]) < 0.001
    )


def test_an_unknown_name_is_refused_with_the_names_there_are(release):
    result = release("--only", "nope")
    assert result.returncode == 2 and "--only nope: not in" in result.stderr
    assert "(it has sample-fast, sample-bf16, untouched)" in result.stderr

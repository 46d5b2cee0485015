"""Shipped presets: their values per domain, named resources, and tagger train --preset."""

from __future__ import annotations

import argparse
import json

import pytest

from tagger import presets
from tagger.cli.main import main
from tagger.cli.sources import preset_lessons, preset_values
from tagger.distillation import teach
from tagger.lm_store import load_lm

QUICK = ["--set", "hidden=16", "--set", "char_hidden=8", "--epochs", "1", "--no-progress"]
# What the accurate preset's members set apart from the fast model's values: their character BiLSTM and batches.
ACCURATE_MEMBERS = {"ensemble": 3, "char_hidden": 50, "batch_size": 32}


def test_every_preset_is_described_and_resolves_for_every_domain(vectors_cache):
    assert set(presets.names()) >= {"fast", "accurate"}
    for name in presets.names():
        assert presets.describe(name)
        for domain in presets.DOMAINS:
            for vectors in ("biomedical-w2v-100.bin", "reviews-w2v-100.bin"):
                vectors_cache(vectors)
            values = presets.values(name, domain)
            if values.get("char_lm"):
                load_lm(values["char_lm"], "forward")  # a shipped LM, loadable
                load_lm(values["char_lm"], "backward")


def test_the_biomedical_domain_takes_the_biomedical_tokenizer_and_resources(vectors_cache):
    vectors_cache("biomedical-w2v-100.bin")
    values = presets.values("accurate", "biomedical")
    assert values["tokenizer"] == "biomedical" and values["ensemble"] == 3
    assert values["vectors"] == str(presets.cache_dir("vectors") / "biomedical-w2v-100.bin")
    assert values == {**presets.values("fast", "biomedical"), **ACCURATE_MEMBERS}


def test_a_catalogue_corpus_takes_its_own_preset_values(vectors_cache):
    ncbi = presets.values("accurate", "biomedical", "ncbi-disease")  # from a model, whose vectors it reads: none built
    vectors_cache("biomedical-w2v-100.bin")
    fast, accurate = presets.values("fast", "biomedical"), presets.values("accurate", "biomedical")
    assert ncbi == {**fast, "layers": 2, "ensemble": 3, "ensemble_apart": True, "init_from": "bc5cdr-fast"}
    lm = str(presets.package_dir("lms") / "biomedical-256")
    bc5cdr = presets.values("accurate", "biomedical", "bc5cdr")
    assert bc5cdr == {**accurate, "hidden": 200, "char_lm": lm, "ensemble_apart": True}
    assert presets.values("fast", "biomedical", "bc5cdr") == {**fast, "refit_epochs": 29}
    one = argparse.Namespace(preset="accurate", domain=None, corpus=["ncbi-disease"])
    two = argparse.Namespace(preset="accurate", domain=None, corpus=["ncbi-disease", "bc5cdr"])
    assert preset_values(one)["init_from"] == "bc5cdr-fast" and "init_from" not in preset_values(two)


def test_the_accurate_reviews_preset_is_five_models_of_fast_resources_with_the_reviews_lm(vectors_cache):
    vectors_cache("reviews-w2v-100.bin")
    values = presets.values("accurate", "reviews")
    lm = str(presets.package_dir("lms") / "reviews-128")
    assert values == {**presets.values("fast", "reviews"), **ACCURATE_MEMBERS, "ensemble": 5, "char_lm": lm}


def test_a_preset_finds_a_shipped_character_lm_by_name():
    shipped = sorted(path.name for path in presets.package_dir("lms").iterdir() if path.is_dir())
    assert {"biomedical-128", "biomedical-256", "reviews-128", "reviews-256"} <= set(shipped)
    for name in shipped:
        path = presets._resource("char_lm", name, None)
        load_lm(path, "forward")
        load_lm(path, "backward")
    with pytest.raises(presets.PresetError, match="character LM 'huge-4096' is not among those shipped"):
        presets._resource("char_lm", "huge-4096", None)


def test_missing_vectors_say_how_to_build_them(vectors_cache):
    with pytest.raises(presets.PresetError, match=r"biomedical-w2v-100.bin' not found .*build them once with: tagger"):
        presets.values("accurate", "biomedical")


def test_a_preset_names_a_corpus_lessons_and_how_to_build_them(vectors_cache, disease_model, disease_texts):
    with pytest.raises(presets.PresetError, match=r"lessons .* not found .*build them once with: .*tagger teach"):
        presets.lessons("fast", "bc5cdr")
    path = presets.cache_dir("lessons") / "bc5cdr-5000.lessons.safetensors"
    teach(disease_model, disease_texts).save(path)
    assert presets.lessons("fast", "bc5cdr") == path
    assert presets.lessons("fast", "ncbi-disease") is None and presets.lessons("accurate", "bc5cdr") is None
    args = argparse.Namespace(preset="fast", corpus=["bc5cdr"])
    assert preset_lessons(args) == path
    assert preset_lessons(argparse.Namespace(preset=None, corpus=["bc5cdr"])) is None
    assert preset_lessons(argparse.Namespace(preset="fast", corpus=["bc5cdr", "ncbi-disease"])) is None


def test_a_preset_needs_a_known_domain():
    with pytest.raises(presets.PresetError, match="choose one with --domain"):
        presets.values("accurate", None)
    with pytest.raises(presets.PresetError, match="unknown domain 'legal'"):
        presets.values("accurate", "legal")
    with pytest.raises(presets.PresetError, match="unknown preset 'huge'; the presets are accurate, fast"):
        presets.values("huge", "biomedical")


def test_a_catalogue_corpus_gives_its_domain(vectors_cache):
    vectors_cache("reviews-w2v-100.bin")
    args = argparse.Namespace(preset="fast", domain=None, corpus="semeval14-laptop")
    assert preset_values(args)["vectors"].endswith("reviews-w2v-100.bin")
    with pytest.raises(presets.PresetError, match="--domain chooses the resources of a --preset"):
        preset_values(argparse.Namespace(preset=None, domain="reviews", corpus=None))


def test_train_with_a_preset_saves_its_values_and_lets_options_override_them(sample, tmp_path, vectors_cache):
    vectors_cache("biomedical-w2v-100.bin")
    output = tmp_path / "run"
    files = ["--train", str(sample / "train.tsv"), "--dev", str(sample / "dev.tsv"), "--output", str(output)]
    code = main(["train", *files, "--preset", "fast", "--domain", "biomedical", "--set", "casing_dim=4", *QUICK])
    assert code == 0
    config = json.loads((output / "model" / "config.json").read_text())["config"]
    assert config["tokenizer"] == "biomedical" and config["vectors"].endswith("biomedical-w2v-100.bin")
    assert config["casing_dim"] == 4 and config["hidden"] == 16


def test_train_refuses_a_preset_without_its_vectors_in_one_line(sample, tmp_path, vectors_cache, capsys):
    files = ["--train", str(sample / "train.tsv"), "--output", str(tmp_path / "run")]
    assert main(["train", *files, "--preset", "fast", "--domain", "reviews", *QUICK]) == 2
    error = capsys.readouterr().err
    assert (
        error.startswith("tagger train: error: word vectors 'reviews-w2v-100.bin' not found")
        and "Traceback" not in error
    )


def test_several_corpora_take_the_domain_they_share(vectors_cache):
    vectors_cache("biomedical-w2v-100.bin")
    both = argparse.Namespace(preset="fast", domain=None, corpus=["ncbi-disease", "bc5cdr"])
    assert preset_values(both)["tokenizer"] == "biomedical"
    mixed = argparse.Namespace(preset="fast", domain=None, corpus=["ncbi-disease", "semeval14-laptop"])
    with pytest.raises(
        presets.PresetError,
        match=r"the corpora are of several \(ncbi-disease: biomedical, semeval14-laptop: reviews\); choose one with "
        "--domain",
    ):
        preset_values(mixed)
    mixed.domain = "biomedical"
    assert preset_values(mixed)["tokenizer"] == "biomedical"


def test_train_on_several_files_with_a_preset_needs_its_domain(sample, tmp_path, vectors_cache, capsys):
    vectors_cache("biomedical-w2v-100.bin")
    files = []
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "train.tsv").write_text((sample / "train.tsv").read_text(encoding="utf-8"), encoding="utf-8")
        files += ["--train", str(tmp_path / name / "train.tsv")]
    command = ["train", *files, "--output", str(tmp_path / "run"), "--preset", "fast", *QUICK]
    assert main(command) == 2
    error = capsys.readouterr().err
    assert error.startswith("tagger train: error: preset 'fast' takes") and "choose one with --domain" in error
    assert main([*command, "--domain", "biomedical"]) == 0
    saved = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert saved["config"]["tokenizer"] == "biomedical"
    assert [head["name"] for head in saved["heads"]] == ["first", "second"]

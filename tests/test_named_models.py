"""Named models: the package's table, name resolution (path, run directory, name, unknown name), stored and
downloaded models (from a real HTTP server on 127.0.0.1), ``tagger models`` and the size budget."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
from pathlib import Path

import pytest
import spacy

from tagger import DISTRIBUTION, Tagger, __version__, cards, catalogue, named_models, presets
from tagger.catalogue import DownloadError
from tagger.cli.main import main
from tagger.named_models import FILES, ModelEntry, NamedModelError
from tagger.spacy_component import pipeline
from tagger.tagger import ModelError

pytestmark = pytest.mark.usefixtures("one_thread")
BUDGET = 80_000_000  # bytes: every model stored in the package together
SIX = ["ncbi-disease", "ncbi-disease-fast", "bc5cdr", "bc5cdr-fast", "semeval14-laptop", "semeval14-laptop-fast"]
LABELS = ["Aspect", "Chemical", "Disease", "Gene", "Species"]  # of the sample corpus
QUICK = ["--set", "word_dim=16", "--set", "hidden=16", "--set", "char_hidden=8", "--epochs", "2", "--no-progress"]


@pytest.fixture(scope="module")
def run(sample, tmp_path_factory) -> Path:
    """A run directory of ``tagger train`` on the sample: ``model/`` with its card and test scores."""
    output = tmp_path_factory.mktemp("run")
    splits = [f"--{split}={sample / split}.tsv" for split in ("train", "dev", "test")]
    assert main(["train", *splits, "--output", str(output), *QUICK]) == 0
    return output


def _entry(name: str, **fields) -> ModelEntry:
    facts = {"corpus": "ncbi-disease", "preset": "fast", "domain": "biomedical", "labels": tuple(LABELS)}
    return ModelEntry(name, **facts, licence="CC BY 4.0", description="a test model", **fields)


@pytest.fixture
def table(run, tmp_path, monkeypatch, file_server, cache):
    """A table of three models: ``tiny`` stored (and installed), ``tiny-later`` listed before release, and
    ``tiny-remote`` downloadable from ``file_server``; the package's table and store swapped for them."""
    store, path = tmp_path / "store", tmp_path / "store" / "catalogue.json"
    shutil.copytree(run / "model", store / "tiny")
    test = json.loads((run / "test-scores.json").read_text())
    scores = {"corpus": "ncbi-disease", **{key: test[key] for key in ("precision", "recall", "f1")}}
    tiny = named_models.released(_entry("tiny"), store / "tiny", scores)
    shutil.copytree(run / "model", file_server.root / "tiny-remote")
    remote = named_models.released(_entry("tiny-remote", url=file_server.url("tiny-remote/")), store / "tiny", scores)
    named_models.save_table({"tiny": tiny, "tiny-later": _entry("tiny-later"), "tiny-remote": remote}, path)
    monkeypatch.setattr(named_models, "TABLE", path)
    monkeypatch.setattr(named_models, "STORE", store)
    return store


def test_the_package_lists_six_models_of_catalogue_corpora_and_shipped_presets():
    models = named_models.entries()
    assert list(models) == SIX
    for name, model in models.items():
        corpus = catalogue.entry(model.corpus)
        assert model.preset in presets.names() and model.domain == corpus.domain and model.licence == corpus.licence
        assert name == model.corpus + ("" if model.preset == "accurate" else f"-{model.preset}")
        assert model.labels and model.description
        if model.installed:  # a released model: every file as the table's checksum says
            assert set(model.files) == set(FILES) and model.test["f1"] > 0
            assert all(catalogue.sha256(model.directory / file) == sha for file, sha in model.files.items())


def test_the_models_stored_in_the_package_fit_the_size_budget():
    stored = [path for path in named_models.STORE.rglob("*") if path.is_file()]
    assert sum(path.stat().st_size for path in stored) <= BUDGET
    assert sum(model.size or 0 for model in named_models.entries().values() if model.url is None) <= BUDGET


def test_a_path_wins_over_a_name_and_a_run_directory_gives_its_model(table, run, tmp_path, monkeypatch, caplog):
    assert named_models.resolve(run / "model") == run / "model"
    with caplog.at_level(logging.INFO):
        assert named_models.resolve(run) == run / "model"
    assert f"{run} is a run directory: using its model, {run / 'model'}" in caplog.text
    monkeypatch.chdir(tmp_path)
    shutil.copytree(run / "model", tmp_path / "tiny")
    assert named_models.resolve("tiny") == Path("tiny")
    shutil.rmtree(tmp_path / "tiny")
    assert named_models.resolve("tiny") == table / "tiny"


def test_a_stored_name_loads_the_same_model_as_its_directory(table, run):
    text = "Familial cancer and ataxia-telangiectasia are inherited."
    assert Tagger.load("tiny").tag_text(text) == Tagger.load(run / "model").tag_text(text)


def test_unknown_and_unreleased_names_are_one_clear_line(table, tmp_path):
    with pytest.raises(NamedModelError, match=r"^unknown model 'tinny'; the named models are tiny, tiny-later, "):
        Tagger.load("tinny")
    with pytest.raises(NamedModelError, match="model 'tiny-later' is listed but not installed"):
        named_models.resolve("tiny-later")
    missing = tmp_path / "nowhere"  # a path, not a name: Tagger.load says what is missing
    assert named_models.resolve(missing) == missing


def test_a_downloadable_model_is_fetched_once_into_the_cache(table, file_server, cache):
    directory = named_models.resolve("tiny-remote")
    assert directory == cache.parent / "models" / "tiny-remote"
    assert sorted(p.name for p in directory.iterdir()) == sorted(FILES)
    assert Tagger.load("tiny-remote").labels == LABELS
    assert all(count == 1 for count in file_server.requests.values()) and len(file_server.requests) == len(FILES)
    assert [p.name for p in directory.parent.iterdir()] == ["tiny-remote"]  # no staging folder left


def test_a_download_with_a_bad_checksum_leaves_nothing(table, file_server, cache):
    (file_server.root / "tiny-remote" / "weights.safetensors").write_bytes(b"not the weights")
    with pytest.raises(DownloadError, match="checksum mismatch for .*weights.safetensors: expected sha256"):
        named_models.resolve("tiny-remote")
    assert not (cache.parent / "models").exists() or not any((cache.parent / "models").iterdir())


def test_an_unreachable_server_says_how_to_get_the_model_offline(table, cache):
    remote = named_models.entry("tiny-remote")
    gone = dataclasses.replace(remote, url="http://127.0.0.1:9/tiny-remote")
    with pytest.raises(DownloadError, match=r"Offline\? Fetch it where there is a network \(tagger models download "):
        named_models.download(gone, progress=False)


def test_models_list_info_and_download(table, capsys):
    assert main(["models", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "labels", "test", "F1", "size", "licence", "status"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["tiny"].endswith("installed") and rows["tiny-later"].endswith("not installed")
    assert rows["tiny-remote"].endswith("downloadable")
    assert main(["models", "info", "tiny", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    card = cards.read(table / "tiny")
    assert {"name", "path", "labels", "licence", "test", "card"} <= set(info) and info["path"] == str(table / "tiny")
    assert info["labels"] == LABELS and info["test"]["corpus"] == "ncbi-disease"
    assert all(info["test"][key] == card["test"][0][key] for key in ("precision", "recall", "f1"))
    assert main(["models", "download", "tiny-remote", "--no-progress"]) == 0
    assert capsys.readouterr().err.startswith("tiny-remote: downloaded, ")
    assert named_models.entry("tiny-remote").installed
    assert main(["models", "download", "tiny"]) == 0
    assert capsys.readouterr().err == f"tiny: stored in the package, {table / 'tiny'}\n"
    assert main(["models", "download", "tiny-later"]) == 2
    assert "tagger models: error: model 'tiny-later' is listed but not installed" in capsys.readouterr().err
    assert main(["models", "info", "tinny"]) == 2
    assert capsys.readouterr().err.startswith("tagger models: error: unknown model 'tinny'")


def test_the_card_scores_equal_a_fresh_evaluate(table, sample, capsys):
    assert main(["evaluate", "--model", "tiny", "--data", str(sample / "test.tsv"), "--json"]) == 0
    fresh = json.loads(capsys.readouterr().out)
    info = named_models.facts(named_models.entry("tiny"))
    assert [round(info["test"][k], 6) for k in ("precision", "recall", "f1")] == [
        round(fresh[k], 6) for k in ("precision", "recall", "f1")
    ]


def test_predict_and_annotate_take_a_name_or_a_run_directory(table, run, sample, tmp_path, capsys, caplog):
    text = sample / "sample.txt"
    assert main(["predict", "--model", "tiny", str(text), "--json"]) == 0
    by_name = json.loads(capsys.readouterr().out)
    with caplog.at_level(logging.INFO):
        assert main(["predict", "--model", str(run), str(text), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == by_name
    assert f"using its model, {run / 'model'}" in caplog.text
    documents = tmp_path / "docs.jsonl"
    documents.write_text(json.dumps({"id": "a", "text": text.read_text()}) + "\n")
    output = tmp_path / "out.jsonl"
    assert main(["annotate", "--model", "tiny", str(documents), "--output", str(output), "--no-progress"]) == 0
    annotated = json.loads(output.read_text())["spans"]
    assert [(s["start"], s["end"], s["label"]) for s in annotated] == [
        (s["start"], s["end"], s["label"]) for s in by_name["spans"]
    ]


def test_training_starts_from_a_named_model(table, sample, tmp_path, caplog):
    output = tmp_path / "transferred"
    with caplog.at_level(logging.INFO):
        assert main(["train", f"--train={sample / 'train.tsv'}", "--init-from=tiny", f"--output={output}", *QUICK]) == 0
    assert Tagger.load(output / "model").config.init_from == "tiny" and "starting from tiny" in caplog.text


def test_the_spacy_component_and_export_take_a_name(table, run, tmp_path):
    text = "Familial cancer and ataxia-telangiectasia are inherited. Breast cancer is not."
    by_name, by_path = spacy.blank("en"), spacy.blank("en")
    by_name.add_pipe("bilstm_crf", config={"model": "tiny"})
    by_path.add_pipe("bilstm_crf", config={"model": str(run / "model")})
    assert _entities(by_name(text)) == _entities(by_path(text))
    with pytest.raises(ModelError, match=re.escape("bilstm_crf component 'other': unknown model 'tinny'; the named")):
        by_name.add_pipe("bilstm_crf", name="other", config={"model": "tinny"})
    pipeline("tiny").to_disk(tmp_path / "pipeline")  # what tagger export-spacy writes
    assert _entities(spacy.load(tmp_path / "pipeline")(text)) == _entities(pipeline(run / "model")(text))


def _entities(doc) -> list[tuple[int, int, str]]:
    return [(entity.start_char, entity.end_char, entity.label_) for entity in doc.ents]


def test_an_exported_pipeline_meta_has_the_card_performance_and_our_distribution(run, tiny_model, tmp_path):
    pipeline(run).to_disk(tmp_path / "pipeline")  # a run directory: its model/
    meta = json.loads((tmp_path / "pipeline" / "meta.json").read_text())
    test = cards.read(run / "model")["test"][0]
    assert meta["requirements"] == [f"{DISTRIBUTION}>={__version__}"] and DISTRIBUTION == "bilstm-crf-tagger"
    assert meta["name"] == "bilstm_crf_sample" and meta["version"] == __version__  # the head: train.tsv's folder
    assert meta["description"].startswith("BiLSTM-CRF tagger for Aspect, Chemical, Disease, Gene, Species")
    performance = meta["performance"]
    scores = [test[key] for key in ("precision", "recall", "f1")]  # spaCy writes floats to 10 digits
    assert [performance[key] for key in ("ents_p", "ents_r", "ents_f")] == pytest.approx(scores, abs=1e-9)
    assert performance["ents_per_type"]["Disease"]["f"] == pytest.approx(test["per_type"]["Disease"]["f1"], abs=1e-9)
    assert set(performance["ents_per_type"]) == set(LABELS)
    loaded = spacy.load(tmp_path / "pipeline").meta
    assert all(loaded[key] == meta[key] for key in ("name", "version", "license", "requirements"))
    pipeline(tiny_model).to_disk(tmp_path / "bare")  # a model without a card: no scores to state
    bare = json.loads((tmp_path / "bare" / "meta.json").read_text())
    assert "performance" not in bare and bare["requirements"] == meta["requirements"] and bare["name"] == "bilstm_crf"


def test_a_table_entry_of_the_wrong_shape_names_the_table_and_the_entry(tmp_path):
    table = tmp_path / "catalogue.json"
    table.write_text(json.dumps({"broken": {"corpus": "ncbi-disease"}}))
    with pytest.raises(NamedModelError, match=re.escape(f"{table}: entry 'broken' is not a model entry")):
        named_models.entries(table)


def test_an_unknown_name_reaches_a_cli_user_as_one_line(table, sample, capsys):
    assert main(["predict", "--model", "tinny", str(sample / "sample.txt")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("tagger predict: error: unknown model 'tinny'; the named models are tiny, ")
    assert len(error.splitlines()) == 1


@pytest.mark.parametrize("name", [name for name, model in named_models.entries().items() if model.installed])
def test_a_released_model_scores_its_card_on_its_corpus_test_split(name, shared_corpora, capsys):
    model = named_models.entry(name)
    args = ["evaluate", "--model", name, "--corpus", model.corpus, "--data-dir", str(shared_corpora), "--json"]
    assert main(args) == 0
    fresh = json.loads(capsys.readouterr().out)
    assert [fresh[key] for key in ("precision", "recall", "f1")] == pytest.approx(
        [model.test[key] for key in ("precision", "recall", "f1")], abs=0.001
    )

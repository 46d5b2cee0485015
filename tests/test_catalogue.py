"""The catalogue: its table, downloads from a real local HTTP server, the cache and local mirrors."""

from __future__ import annotations

import hashlib
import os
import re
import socket
from pathlib import Path

import pytest

from tagger import catalogue
from tagger.catalogue import CatalogueError, CorpusFile, DownloadError, Entry
from tagger.formats import FORMATS, format_of

TRAIN = "aspirin\tB-Chemical\nworks\tO\n\n"
TEST = "ibuprofen\tB-Chemical\n\n"


def _entry(server, sha256s: dict | None = None) -> Entry:
    """A two-split corpus ``tiny`` served by ``server`` (whose files the test writes)."""
    files = [
        CorpusFile(split, f"{split}.tsv", server.url(f"tiny/{split}.tsv"), (sha256s or {}).get(split))
        for split in ("train", "test")
    ]
    return Entry("tiny", "NER: chemicals", "biomedical", "conll", "CC0", "nobody", "a test", tuple(files))


def _serve(server, **texts: str) -> dict[str, str]:
    """Write ``tiny/SPLIT.tsv`` for each split under the server's root; their SHA-256s."""
    (server.root / "tiny").mkdir(exist_ok=True)
    for split, text in texts.items():
        (server.root / "tiny" / f"{split}.tsv").write_text(text)
    return {split: hashlib.sha256(text.encode()).hexdigest() for split, text in texts.items()}


def test_every_entry_names_its_files_format_licence_and_citation():
    for name, entry in catalogue.entries().items():
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) and entry.format in FORMATS
        assert entry.splits[0] == "train" and "test" in entry.splits
        assert entry.task and entry.licence and entry.citation and entry.source
        for file in entry.files:
            assert file.url.startswith("https://") and format_of(file.file) == entry.format
            assert file.sha256 is None or re.fullmatch("[0-9a-f]{64}", file.sha256)
    assert set(catalogue.entries()) >= {"bc5cdr-chem", "bc5cdr-disease", "jnlpba", "semeval16-restaurant"}


def test_known_checksums_are_those_of_the_shared_copies(shared_corpora):
    checked = 0
    for entry in catalogue.entries().values():
        for file in entry.files:
            copy = shared_corpora / entry.name / file.file
            if copy.is_file():
                assert file.sha256 == catalogue.sha256(copy), copy
                checked += 1
    assert checked == 8  # ncbi-disease and bc5cdr train/devel/test, semeval14-laptop train/test


def test_unknown_names_and_splits_are_one_clear_line():
    with pytest.raises(CatalogueError, match=r"unknown corpus 'ncbi'; the catalogue has ncbi-disease, bc5cdr, "):
        catalogue.entry("ncbi")
    with pytest.raises(CatalogueError, match="corpus 'semeval14-laptop' has no dev split; it has train, test"):
        catalogue.entry("semeval14-laptop").file("dev")


def test_a_good_download_lands_in_the_cache_and_is_not_fetched_again(file_server, cache):
    entry = _entry(file_server, _serve(file_server, train=TRAIN, test=TEST))
    paths = catalogue.locate(entry, progress=False)
    assert paths == {"train": cache / "tiny" / "train.tsv", "test": cache / "tiny" / "test.tsv"}
    assert paths["train"].read_text() == TRAIN and sorted(os.listdir(cache / "tiny")) == ["test.tsv", "train.tsv"]
    assert catalogue.locate(entry, progress=False) == paths
    assert file_server.requests == {"tiny/train.tsv": 1, "tiny/test.tsv": 1}


def test_a_cached_file_with_a_bad_checksum_is_downloaded_again(file_server, cache):
    entry = _entry(file_server, _serve(file_server, train=TRAIN, test=TEST))
    (cache / "tiny").mkdir(parents=True)
    (cache / "tiny" / "train.tsv").write_text("half a fi")
    (cache / "tiny" / "test.tsv").write_text(TEST)
    assert catalogue.locate(entry, ("train", "test"), progress=False)["train"].read_text() == TRAIN
    assert file_server.requests == {"tiny/train.tsv": 1}


def test_a_checksum_mismatch_is_refused_and_leaves_nothing(file_server, cache):
    _serve(file_server, train=TRAIN, test=TEST)
    entry = _entry(file_server, {"train": "0" * 64})
    with pytest.raises(DownloadError) as error:
        catalogue.locate(entry, progress=False)
    assert str(error.value) == (
        f"{file_server.url('tiny/train.tsv')}: checksum mismatch for tiny/train.tsv: expected sha256 {'0' * 64}, "
        f"got {hashlib.sha256(TRAIN.encode()).hexdigest()}; the download was not kept"
    )
    assert list((cache / "tiny").iterdir()) == []
    assert file_server.requests["tiny/train.tsv"] == 1  # a wrong file is not fetched again and again


def test_transient_server_errors_are_retried(file_server, cache):
    entry = _entry(file_server, _serve(file_server, train=TRAIN, test=TEST))
    file_server.failures["tiny/train.tsv"] = catalogue.RETRIES - 1
    assert catalogue.locate(entry, ("train",), progress=False)["train"].read_text() == TRAIN
    assert file_server.requests["tiny/train.tsv"] == catalogue.RETRIES


def test_a_truncated_download_is_retried_and_never_kept(file_server, cache):
    entry = _entry(file_server, _serve(file_server, train=TRAIN, test=TEST))
    file_server.truncations["tiny/train.tsv"] = 1
    assert catalogue.locate(entry, ("train",), progress=False)["train"].read_text() == TRAIN
    assert file_server.requests["tiny/train.tsv"] == 2


def test_a_server_error_after_every_attempt_is_one_clear_line(file_server, cache):
    entry = _entry(file_server, _serve(file_server, train=TRAIN, test=TEST))
    file_server.failures["tiny/train.tsv"] = catalogue.RETRIES
    with pytest.raises(DownloadError) as error:
        catalogue.locate(entry, ("train",), progress=False)
    url = file_server.url("tiny/train.tsv")
    assert str(error.value) == (
        f"cannot download {url}: the server answered 500 Internal Server Error ({catalogue.RETRIES} attempts)"
    )
    assert not (cache / "tiny" / "train.tsv").exists()
    with pytest.raises(DownloadError, match="the server answered 404 File not found$"):
        catalogue.fetch(file_server.url("tiny/missing.tsv"), cache / "missing.tsv", progress=False)
    assert file_server.requests["tiny/missing.tsv"] == 1  # not retried


def test_an_unreachable_server_says_so_and_how_to_work_offline(cache):
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DownloadError) as error:
        catalogue.fetch(f"http://127.0.0.1:{port}/train.tsv", cache / "tiny" / "train.tsv", progress=False)
    message = str(error.value)
    assert message.startswith(f"cannot download http://127.0.0.1:{port}/train.tsv: cannot reach the server (")
    assert message.endswith("Offline? Put tiny/train.tsv in a local mirror (--data-dir or $TAGGER_DATA_DIR)")


def test_data_dir_then_environment_then_cache(file_server, cache, tmp_path, monkeypatch):
    entry = _entry(file_server, _serve(file_server, train=TRAIN, test=TEST))
    given, environment = tmp_path / "given", tmp_path / "environment"
    for mirror in (given, environment):
        (mirror / "tiny").mkdir(parents=True)
        (mirror / "tiny" / "train.tsv").write_text(TRAIN)
    (environment / "tiny" / "test.tsv").write_text(TEST)
    monkeypatch.setenv(catalogue.DATA_DIR_VARIABLE, str(environment))
    assert catalogue.locate(entry, data_dir=given, progress=False) == {
        "train": given / "tiny" / "train.tsv",
        "test": environment / "tiny" / "test.tsv",
    }
    assert catalogue.locate(entry, progress=False)["train"] == environment / "tiny" / "train.tsv"
    monkeypatch.delenv(catalogue.DATA_DIR_VARIABLE)
    assert catalogue.locate(entry, data_dir=given, progress=False)["test"] == cache / "tiny" / "test.tsv"
    assert file_server.requests == {"tiny/test.tsv": 1}


def test_a_mirrored_file_is_used_as_it_is_with_a_warning_when_its_checksum_differs(file_server, tmp_path, caplog):
    entry = _entry(file_server, {"train": "0" * 64})
    (tmp_path / "tiny").mkdir()
    for split, text in (("train", TRAIN), ("test", TEST)):
        (tmp_path / "tiny" / f"{split}.tsv").write_text(text)
    assert catalogue.locate(entry, data_dir=tmp_path, progress=False)["train"] == tmp_path / "tiny" / "train.tsv"
    assert "train.tsv: checksum differs from the catalogue's" in caplog.text
    assert not file_server.requests


def test_the_cache_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert catalogue.cache_dir() == tmp_path / "tagger" / "corpora"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert catalogue.cache_dir() == Path.home() / ".cache" / "tagger" / "corpora"

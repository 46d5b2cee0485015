"""Shared fixtures: the real corpora beside the checkout, our bundled sample, a tiny model trained on it, a local
file server and cache."""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED_CORPORA = ROOT.parent / "shared" / "corpora"
SAMPLE = ROOT / "corpora" / "sample"


# Test files that take a minute or more: they start first, so that no pytest-xdist worker is left running one of
# them at the end while the others are idle.
LONGEST_FIRST = ("test_annotate_ray.py", "test_named_models.py", "test_training.py", "test_multi.py")


def pytest_collection_modifyitems(items):
    """The files of ``LONGEST_FIRST`` first, in that order; the rest as collected."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_configure(config):
    """A pytest-xdist worker has one core: torch gets one thread there, and so do the commands its tests start."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_corpora() -> Path:
    if not SHARED_CORPORA.is_dir():
        pytest.skip(f"real corpora not found at {SHARED_CORPORA}")
    return SHARED_CORPORA


@pytest.fixture(scope="session")
def sample() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def tiny_model(sample, tmp_path_factory) -> Path:
    """A model directory trained for two epochs on the sample corpus, with one torch thread (the same arithmetic in
    every process, and light on a shared CPU)."""
    import torch

    from tagger import Tagger, TaggerConfig
    from tagger.formats import read_corpus
    from tagger.training import Trainer

    torch.set_num_threads(1)
    config = TaggerConfig(
        word_dim=16, char_dim=8, char_hidden=8, hidden=16, epochs=2, lr=0.02, batch_size=4, dropout=0.0
    )
    train, dev = read_corpus(sample / "train.tsv"), read_corpus(sample / "dev.tsv")
    output = tmp_path_factory.mktemp("tiny")
    Trainer(Tagger.build(config, train), train, dev, output).fit()
    return output / "model"


@pytest.fixture(scope="session")
def disease_model():
    """The shipped ncbi-disease-fast model."""
    from tagger import Tagger

    return Tagger.load("ncbi-disease-fast")


@pytest.fixture(scope="session")
def disease_texts() -> list[str]:
    """Raw texts with diseases in some sentences, and a blank one: what ``disease_model`` reads as unlabelled text."""
    return [
        "Patients with cystic fibrosis and asthma were enrolled. The weather was mild that week.",
        "",
        "Huntington disease is an inherited neurodegenerative disorder. We thank the reviewers.",
        "Mutations in BRCA1 raise the risk of breast cancer and ovarian cancer in carriers.",
    ]


class FileServer:
    """The files under ``root`` over HTTP on 127.0.0.1, in a thread.

    ``failures[name] = n`` answers the next ``n`` requests for ``name`` with a 500,
    ``truncations[name] = n`` sends half the file and closes the connection; ``requests``
    counts the requests per name.
    """

    def __init__(self, root: Path):
        self.root = root
        self.failures: Counter = Counter()
        self.truncations: Counter = Counter()
        self.requests: Counter = Counter()
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self):
                name = self.path.lstrip("/")
                server.requests[name] += 1
                if server.failures[name] > 0:
                    server.failures[name] -= 1
                    self.send_error(500)
                    return
                if server.truncations[name] > 0:
                    server.truncations[name] -= 1
                    body = (root / name).read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                    return
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def file_server(tmp_path):
    """A local HTTP server of the files the test writes under ``file_server.root``."""
    root = tmp_path / "served"
    root.mkdir()
    server = FileServer(root)
    yield server
    server.close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty download cache under ``tmp_path`` and no ``$TAGGER_DATA_DIR``; downloads retried without waiting."""
    from tagger import catalogue

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv(catalogue.DATA_DIR_VARIABLE, raising=False)
    monkeypatch.setattr(catalogue, "BACKOFF", 0.0)
    return tmp_path / "xdg-cache" / "tagger" / "corpora"


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread for a module (``pytestmark = pytest.mark.usefixtures("one_thread")``): tiny models run
    fastest on one core, and the machine is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def vectors_cache(tmp_path, monkeypatch):
    """An empty vectors cache; ``add(name)`` puts a small word2vec text file there."""
    from tagger import presets

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def add(name: str) -> None:
        words = ["the", "cancer", "patients", "with", "of", "breast", "and"]
        path = presets.cache_dir("vectors") / name
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [f"{word} " + " ".join(f"{0.1 * (i + d):.1f}" for d in range(4)) for i, word in enumerate(words)]
        path.write_text("\n".join([f"{len(words)} 4", *rows]) + "\n", encoding="utf-8")

    return add


@pytest.fixture
def annotated(tiny_model, tmp_path):
    """A function of raw texts: annotate them (as JSONL records doc0, doc1, ...) with the tiny model into
    ``reference.jsonl``; it returns the inputs and, per document with a non-blank text, its spans
    ``(start, end, label)``."""

    def run(texts: list[str]) -> tuple[list[str], dict[str, list[tuple[int, int, str]]]]:
        from tagger.annotate import Job, annotate

        records = [{"id": f"doc{i}", "text": text} for i, text in enumerate(texts)]
        (tmp_path / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        inputs = [str(tmp_path / "docs.jsonl")]
        annotate(Job(tiny_model, inputs, tmp_path / "reference.jsonl"))
        annotated = map(json.loads, (tmp_path / "reference.jsonl").read_text(encoding="utf-8").splitlines())
        return inputs, {
            r["id"]: [(s["start"], s["end"], s["label"]) for s in r["spans"]] for r in annotated if r["text"].strip()
        }

    return run

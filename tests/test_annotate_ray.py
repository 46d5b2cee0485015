"""``--engine ray`` on a local Ray started here: the local engine's files byte for byte, after a killed worker too."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time

import pytest

from tagger.annotate import Job, annotate
from tagger.cli.main import main

ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install -c constraints.txt -e '.[ray]'")

RAY_WORKERS = 2
WORKER_NICENESS = "RAY_worker_niceness"  # read by Ray's raylet when it starts


@pytest.fixture(scope="module")
def local_ray():
    """A Ray of two CPUs on 127.0.0.1 with a small object store, shared by the tests here. Its workers run at
    normal priority, not Ray's nice 15, which starves them behind the test files that run beside these."""
    niceness = os.environ.get(WORKER_NICENESS)
    os.environ[WORKER_NICENESS] = "0"
    ray.init(
        address="local",
        num_cpus=RAY_WORKERS,
        object_store_memory=100 * 1024**2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        logging_level=logging.WARNING,
        log_to_driver=False,
    )
    yield
    ray.shutdown()
    if niceness is None:
        del os.environ[WORKER_NICENESS]
    else:
        os.environ[WORKER_NICENESS] = niceness


@pytest.fixture(scope="module")
def inputs(sample, tmp_path_factory) -> list[str]:
    """300 documents, 17 of them bad: a folder of text files and a JSONL file, both from the sample text."""
    sentences = [s.strip() + "." for s in sample.joinpath("sample.txt").read_text(encoding="utf-8").split(". ")]
    texts = [" ".join(sentences[(i * 7 + k) % len(sentences)] for k in range(1 + i % 4)) for i in range(300)]
    folder = tmp_path_factory.mktemp("inputs")
    (folder / "texts" / "sub").mkdir(parents=True)
    for i, text in enumerate(texts[:150]):
        (folder / "texts" / ("sub" if i % 3 else "") / f"{i:03d}.txt").write_text(text, encoding="utf-8")
    (folder / "texts" / "empty.txt").write_bytes(b"")
    (folder / "texts" / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (folder / "texts" / "blank.txt").write_text(" \n\t", encoding="utf-8")
    lines = [json.dumps({"id": f"j{i}", "text": text}) for i, text in enumerate(texts[150:])]
    for i, bad in enumerate(["{not json", "[1, 2]", '{"id": "none"}', '{"id": "n", "text": 4}', '{"text": "\\ud800"}']):
        lines.insert(20 * i + 3, bad)
    lines.insert(60, json.dumps({"id": "long", "text": "word " * 500}))
    (folder / "docs.jsonl").write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return [str(folder / "texts"), str(folder / "docs.jsonl")]


def job(model, inputs, output, **settings) -> Job:
    return Job(model, inputs, output, threads=1, window=6, max_chars=2000, **settings)


def on_ray(model, inputs, output, **settings) -> Job:
    return job(model, inputs, output, engine="ray", workers=RAY_WORKERS, **settings)


@pytest.fixture(scope="module")
def local_jsonl(tiny_model, inputs, tmp_path_factory):
    output = tmp_path_factory.mktemp("local") / "out.jsonl"
    summary = annotate(job(tiny_model, inputs, output))
    assert (summary.total.documents, summary.total.failed) == (309, 9)  # 300 good, and 9 bad
    return output


def assert_same_run(output, expected) -> None:
    """The same output, errors file and progress file (windows, digests and counts), and no parts left behind."""
    for suffix in ("", ".errors.jsonl", ".progress.json"):
        assert open(f"{output}{suffix}", "rb").read() == open(f"{expected}{suffix}", "rb").read(), suffix
    assert not os.path.exists(f"{output}.parts")


def test_ray_writes_the_local_engine_s_jsonl_and_errors_byte_for_byte(
    local_ray, tiny_model, inputs, local_jsonl, tmp_path
):
    output = tmp_path / "out.jsonl"
    arguments = ["--model", str(tiny_model), *inputs, "--output", str(output), "--window", "6", "--max-chars", "2000"]
    options = ["--engine", "ray", "--workers", str(RAY_WORKERS), "--threads", "1", "--no-progress"]
    assert main(["annotate", *arguments, *options]) == 1  # some documents failed
    assert_same_run(output, local_jsonl)


@pytest.mark.parametrize("kind", ["conll", "brat", "spacy"])
def test_ray_writes_the_local_engine_s_conll_brat_and_spacy_files(local_ray, tiny_model, inputs, tmp_path, kind):
    names = ["a/x", "a/x", "b", "a_x", "a/x"]  # brat: one file name for three texts, two of which fail
    ids = [json.dumps({"id": name, "text": f"Breast cancer in case {i}."}) for i, name in enumerate(names)]
    (tmp_path / "ids.jsonl").write_text("\n".join(ids) + "\n", encoding="utf-8")
    sources = [inputs[1], str(tmp_path / "ids.jsonl")]
    annotate(job(tiny_model, sources, tmp_path / "local", format=kind))
    annotate(on_ray(tiny_model, sources, tmp_path / "ray", format=kind))
    local, remote = tmp_path / "local", tmp_path / "ray"
    errors = (tmp_path / "local.errors.jsonl").read_bytes()
    assert (tmp_path / "ray.errors.jsonl").read_bytes() == errors and errors.count(b"\n") == 6 + 2 * (kind == "brat")
    if kind == "conll":
        assert remote.read_bytes() == local.read_bytes()
        return
    files = sorted(p.relative_to(local) for p in local.rglob("*"))
    assert files == sorted(p.relative_to(remote) for p in remote.rglob("*")) and len(files) > 5
    assert all((local / f).read_bytes() == (remote / f).read_bytes() for f in files if (local / f).is_file())


def _map_workers() -> list[int]:
    """The process ids of Ray Data's map actors under this process (the local Ray started here)."""
    parents, found = {}, []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if cmdline.read().startswith(b"ray::MapWorker"):
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue

    def ours(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == os.getpid():
                return True
        return False

    return [pid for pid in found if ours(pid)]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds Ray's workers in /proc")
def test_a_worker_killed_mid_run_still_gives_every_document_once(local_ray, tiny_model, inputs, local_jsonl, tmp_path):
    output, killed = tmp_path / "out.jsonl", []
    parts, stop = tmp_path / "out.jsonl.parts", threading.Event()

    def kill_one_worker_after_the_first_part():
        while not stop.is_set() and not killed:
            workers = _map_workers() if list(parts.glob("part-*.jsonl")) else []
            if workers:
                killed.append(workers[0])
                os.kill(workers[0], signal.SIGKILL)
            time.sleep(0.005)

    watcher = threading.Thread(target=kill_one_worker_after_the_first_part, daemon=True)
    watcher.start()
    try:
        annotate(on_ray(tiny_model, inputs, output))  # 52 blocks: the kill lands with most of them still to do
    finally:
        stop.set()
        watcher.join()
    assert killed, "no worker was killed"
    assert_same_run(output, local_jsonl)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds Ray's workers in /proc")
def test_an_interrupted_ray_run_resumes_keeping_the_parts_it_had(
    local_ray, tiny_model, inputs, local_jsonl, tmp_path, caplog
):
    output = tmp_path / "out.jsonl"
    parts = tmp_path / "out.jsonl.parts"

    def interrupt(summary):
        if summary.new.documents >= 30:
            deadline = time.monotonic() + 120  # the workers tag on meanwhile: wait for a part to keep, however loaded
            while len(list(parts.glob("part-*.jsonl"))) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        annotate(on_ray(tiny_model, inputs, output), on_window=interrupt)
    deadline = time.monotonic() + 60  # Ray kills the pool as the run stops, but a part being written may still land
    while _map_workers() and time.monotonic() < deadline:
        time.sleep(0.05)
    kept = len(list(parts.glob("part-*.jsonl"))) - 1  # not the one merged last
    assert kept > 0
    with caplog.at_level(logging.INFO, logger="tagger.annotate.ray_engine"):
        summary = annotate(on_ray(tiny_model, inputs, output), resume=True)
    assert f", {kept} already tagged" in caplog.text
    assert summary.total.documents == 309 and 30 <= summary.total.documents - summary.new.documents < 309
    assert_same_run(output, local_jsonl)

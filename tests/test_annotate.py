"""``tagger annotate``: exact offsets, order across processes, resume after a kill, nothing lost."""

from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import spacy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.tokens import DocBin

from tagger import Tagger
from tagger.annotate import AnnotateError, Document, Job, annotate, cutting, sources, tag_documents, write_brat
from tagger.annotate.cutting import Cutter, cut_ahead
from tagger.annotate.tagging import GC_THRESHOLD, collecting_less
from tagger.cli.main import main
from tagger.formats import conll

ODD = ["\r\n", "\t", "  ", "\n\n", "\u200b", "\u200d", "e\u0301", "\U0001f600", "\U0001f469\u200d\U0001f52c", "\xa0"]
ENTITIES = ["breast cancer", "interleukin-6", "AMPK", "type 2 diabetes", "battery life", "keyboard", "SIRT1"]


@pytest.fixture(scope="module")
def model(tiny_model):
    torch.set_num_threads(1)  # subprocesses get --threads 1 too: the same arithmetic, and light on a shared CPU
    return tiny_model


@pytest.fixture(scope="module")
def tagger(model):
    return Tagger.load(model)


@pytest.fixture(scope="module")
def texts(sample):
    """120 two-sentence documents from the sample text, odd whitespace and symbols between the sentences."""
    lines = [s.strip() for s in sample.joinpath("sample.txt").read_text(encoding="utf-8").split(". ") if s.strip()]
    return [f"{lines[i % len(lines)]}.{ODD[i % len(ODD)]}{lines[(i * 7 + 3) % len(lines)]}." for i in range(120)]


def tagger_cli(*args: str, **options) -> subprocess.CompletedProcess:
    if "cwd" in options:  # elsewhere, still this checkout's package
        options["env"] = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-m", "tagger.cli.main", "annotate", "--no-progress", "--threads", "1", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, **options)


def write_jsonl(path, records) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def assert_same_spans(found: list[dict], expected: list[dict]) -> None:
    """Equal spans; scores equal up to float noise from different batch-mates."""
    assert [{**s, "score": None} for s in found] == [{**s, "score": None} for s in expected]
    assert [s["score"] for s in found] == pytest.approx([s["score"] for s in expected], abs=1e-5)


def test_windows_cut_one_ahead_come_in_order_with_their_sentences(tagger, texts):
    windows = [
        [Document(i, "test", text) for i, text in enumerate(texts[start : start + 25], start)]
        for start in range(0, len(texts), 25)
    ]
    windows[1][3].error = "unreadable"  # not cut
    ahead = list(cut_ahead(iter(windows), tagger.config.tokenizer, 64))
    assert [window for window, _ in ahead] == windows
    for window, split in ahead:
        assert split == tagger.cut([d.text for d in window if d.error is None], 64)


def test_a_window_whose_cutting_fails_is_tagged_document_by_document(tagger, texts):
    window = [Document(0, "test", texts[0]), Document(1, "test", None), Document(2, "test", texts[2])]
    [(same, split)] = list(cut_ahead(iter([window]), tagger.config.tokenizer, 64))
    assert same is window and split is None
    tagged = tag_documents(tagger, window, split=split)
    assert tagged[1].error.startswith("tagging failed: ") and tagged[0].error is tagged[2].error is None
    assert tagged[0].spans == tag_documents(tagger, [Document(0, "test", texts[0])])[0].spans


def test_the_cutting_process_cuts_as_this_one_does_and_its_death_loses_nothing(tagger, texts):
    first, second = texts[:10], texts[10:20]
    with Cutter(tagger.config.tokenizer, 64) as cutter:
        assert cutter.send(first)  # once the process is ready
        assert cut_sentences(first, cutter.receive(first)) == tagger.cut(first, 64)
        cutter.process.kill()
        cutter.process.wait()
        assert not cutter.send(second) and cutter.process is None  # gone: from now on, cut here
        assert cut_sentences(second, cutter.receive(second)) == tagger.cut(second, 64)


def test_a_cutting_process_not_ready_in_time_is_stopped_and_windows_are_cut_here(tagger, texts, monkeypatch):
    monkeypatch.setattr(cutting, "STARTUP_SECONDS", 0.0)
    with Cutter(tagger.config.tokenizer, 64) as cutter:
        assert not cutter.send(texts[:10]) and cutter.process is None
        assert cut_sentences(texts[:10], cutter.receive(texts[:10])) == tagger.cut(texts[:10], 64)


def test_a_cutting_process_started_early_is_taken_by_the_run_else_stopped(tagger, texts):
    window = [Document(0, "test", texts[0])]
    with cutting.started_early(tagger.config.tokenizer, 64):
        [early] = cutting._early
        [(_, split)] = list(cut_ahead(iter([window]), tagger.config.tokenizer, 64))
        assert not cutting._early and early.process.poll() is not None  # taken, used and stopped by the run
    assert split == tagger.cut([texts[0]], 64)
    with cutting.started_early(tagger.config.tokenizer, 32):
        [unused] = cutting._early
        list(cut_ahead(iter([window]), tagger.config.tokenizer, 64))  # other settings: a process of its own
    assert not cutting._early and unused.process.poll() is not None


def cut_sentences(texts: list[str], cut) -> list:
    return cutting._sentences([Document(i, "test", text) for i, text in enumerate(texts)], cut)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.one_of(st.text(max_size=5), st.sampled_from(ODD + ENTITIES + [". ", "e.g."]))), max_size=6))
def test_span_offsets_are_exact_on_any_unicode(tagger, pieces):
    documents = [Document(i, "test", "".join(p)) for i, p in enumerate(pieces)]
    for document in tag_documents(tagger, documents, batch_size=8, max_tokens=7):
        assert document.error is None
        for span in document.spans:
            covered = document.text[span["start"] : span["end"]]
            assert covered == span["text"] == covered.strip() and 0.0 <= span["score"] <= 1.0 + 1e-6


def test_jsonl_records_have_exact_offsets_in_input_order(model, tagger, texts, tmp_path):
    write_jsonl(tmp_path / "docs.jsonl", [{"doc": f"d{i}", "body": t} for i, t in enumerate(texts[:40])])
    job = Job(model, [str(tmp_path / "docs.jsonl")], tmp_path / "out.jsonl", id_field="doc", text_field="body")
    summary = annotate(job)
    records = read_jsonl(tmp_path / "out.jsonl")
    assert [(r["id"], r["text"]) for r in records] == [(f"d{i}", t) for i, t in enumerate(texts[:40])]
    for record in records:
        assert_same_spans(record["spans"], tagger.tag_text(record["text"]))
        assert all(record["text"][s["start"] : s["end"]] == s["text"] for s in record["spans"])
    assert sum(len(r["spans"]) for r in records) == summary.total.spans > 0
    assert summary.total.failed == 0 and not (tmp_path / "out.jsonl.errors.jsonl").exists()  # only on a failure


def test_output_dash_writes_jsonl_to_standard_output_and_the_errors_file_only_on_a_failure(
    model, tagger, texts, tmp_path
):
    result = tagger_cli("--model", str(model), "-", "--output", "-", input=texts[0], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [record] = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["id"] == "<stdin>" and record["text"] == texts[0]
    assert_same_spans(record["spans"], tagger.tag_text(texts[0]))
    assert "Output: standard output" in result.stderr and "failed" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no progress file, no errors file
    result = tagger_cli("--model", str(model), "-", "--output", "-", input="", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert "1 failed documents: see annotate.errors.jsonl" in result.stderr
    assert [e["reason"] for e in read_jsonl(tmp_path / "annotate.errors.jsonl")] == ["empty document"]


@pytest.mark.parametrize(
    "options, message",
    [
        (["--format", "conll"], "--output - writes JSONL to standard output; --output-format conll needs a path"),
        (["--resume"], "cannot --resume into standard output (--output -)"),
    ],
)
def test_standard_output_refuses_other_formats_and_resume(model, tmp_path, options, message):
    result = tagger_cli("--model", str(model), "-", "--output", "-", *options, input="Aspirin works.", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"tagger annotate: error: {result.stderr.split('error: ')[1].strip()}"
    ]
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_bad_documents_are_recorded_and_the_good_ones_annotated(model, texts, tmp_path):
    folder = tmp_path / "in"
    (folder / "b" / "c").mkdir(parents=True)
    (folder / "a.txt").write_text(texts[0], encoding="utf-8")
    (folder / "b" / "c" / "crlf.txt").write_bytes(texts[1].replace("\n", "\r\n").encode())
    (folder / "b" / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (folder / "b" / "empty.txt").write_bytes(b"")
    (folder / "b" / "spaces.txt").write_text(" \n\t ", encoding="utf-8")
    (folder / "b" / "huge.txt").write_text("word " * 1000, encoding="utf-8")
    (folder / "b" / "notes.md").write_text("not a .txt file: not a document", encoding="utf-8")
    (folder / "broken.txt").symlink_to(tmp_path / "nowhere")
    more = tmp_path / "more.jsonl"
    lines = [
        json.dumps({"id": "ok", "text": texts[2]}),
        "{not json",
        json.dumps({"id": "no-text"}),
        json.dumps({"id": "number", "text": 42}),
        json.dumps(["a", "list"]),
        "",
        '{"id": "surrogate", "text": "bad \\ud800 text"}',
        json.dumps({"id": "long", "text": "x" * 1500}),
        json.dumps({"text": texts[3]}),
    ]
    more.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = tmp_path / "out.jsonl"
    arguments = ["--model", str(model), str(folder), str(more), "-", "--output", str(output), "--max-chars", "1000"]
    result = tagger_cli(*arguments, input=texts[4])
    assert result.returncode == 1, result.stderr
    assert f"11 failed documents: see {output}.errors.jsonl" in result.stderr
    records = read_jsonl(output)
    assert [r["id"] for r in records] == ["a.txt", "b/c/crlf.txt", "ok", f"{more}:9", "<stdin>"]
    assert records[1]["text"] == texts[1].replace("\n", "\r\n") and records[-1]["text"] == texts[4]
    assert all(r["text"][s["start"] : s["end"]] == s["text"] for r in records for s in r["spans"])
    errors = read_jsonl(tmp_path / "out.jsonl.errors.jsonl")
    assert {e["id"] if e["id"] is not None else e["path"]: e["reason"] for e in errors} == {
        "broken.txt": "cannot read file: No such file or directory",
        "b/empty.txt": "empty document",
        "b/huge.txt": "5000 bytes, over the limit of 1000 characters",
        "b/latin1.txt": "not UTF-8: invalid continuation byte at byte 3",
        "b/spaces.txt": "document holds only whitespace",
        f"{more}:2": "not a JSON line: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        "no-text": "expected a string in field 'text', found no such field",
        "number": "expected a string in field 'text', found int",
        f"{more}:5": "expected a JSON object, found list",
        "surrogate": "lone surrogate '\\ud800' at character 4 (not valid Unicode)",
        "long": "1500 characters, over the limit of 1000",
    }
    assert errors[0] == {"id": "b/empty.txt", "path": str(folder / "b" / "empty.txt"), "reason": "empty document"}


def test_two_processes_give_the_same_records_in_the_same_order(model, texts, tmp_path):
    write_jsonl(tmp_path / "docs.jsonl", [{"id": i, "text": t} for i, t in enumerate(texts)])
    inputs, two = [str(tmp_path / "docs.jsonl")], tmp_path / "two.jsonl"
    annotate(Job(model, inputs, tmp_path / "one.jsonl", window=3))
    summary = annotate(Job(model, inputs, two, window=3, n_process=2, threads=1))  # spawns two worker processes
    assert summary.total.annotated == len(texts)
    assert [r["id"] for r in read_jsonl(two)] == list(range(len(texts)))
    for a, b in zip(read_jsonl(tmp_path / "one.jsonl"), read_jsonl(two)):
        assert_same_spans(b["spans"], a["spans"])


def test_resume_after_a_killed_run_gives_the_uninterrupted_output(model, texts, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(400):  # every 50th document is empty, so errors are resumed too
        (folder / f"{i:03d}.txt").write_text(texts[i % len(texts)] if i % 50 else "", encoding="utf-8")
    annotate(Job(model, [str(folder)], tmp_path / "whole.jsonl", window=5))
    output, progress = tmp_path / "out.jsonl", tmp_path / "out.jsonl.progress.json"
    arguments = ["--model", str(model), str(folder), "--output", str(output), "--window", "5"]
    command = [sys.executable, "-m", "tagger.cli.main", "annotate", "--no-progress", "--threads", "1", *arguments]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if progress.exists() and json.loads(progress.read_text())["counts"]["documents"] >= 50:
            break
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    done = json.loads(progress.read_text())["counts"]["documents"]
    assert 50 <= done < 400
    with open(output, "a", encoding="utf-8") as out:  # as if the kill had torn a record in half
        out.write('{"id": "999.txt", "te')

    assert main(["annotate", "--no-progress", "--threads", "1", *arguments, "--resume"]) == 1  # 8 empty documents
    assert f"this run resumed after {done}" in capsys.readouterr().err
    assert output.read_bytes() == (tmp_path / "whole.jsonl").read_bytes()
    assert (tmp_path / "out.jsonl.errors.jsonl").read_bytes() == (tmp_path / "whole.jsonl.errors.jsonl").read_bytes()
    assert len(read_jsonl(output)) == 392
    again = annotate(Job(model, [str(folder)], output, window=5), resume=True)  # a finished run: nothing left to do
    assert (again.new.documents, again.total.documents) == (0, 400)
    assert output.read_bytes() == (tmp_path / "whole.jsonl").read_bytes()


@pytest.mark.parametrize("kind", ["brat", "spacy", "conll"])
def test_an_interrupted_run_in_any_format_resumes_to_the_uninterrupted_files(model, texts, tmp_path, kind):
    write_jsonl(tmp_path / "docs.jsonl", [{"id": f"d{i:02d}", "text": t} for i, t in enumerate(texts[:20])])
    inputs = [str(tmp_path / "docs.jsonl")]
    annotate(Job(model, inputs, tmp_path / "whole", format=kind, window=3))

    def interrupt(summary):
        if summary.new.documents >= 9:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        annotate(Job(model, inputs, tmp_path / "resumed", format=kind, window=3), on_window=interrupt)
    summary = annotate(Job(model, inputs, tmp_path / "resumed", format=kind, window=3), resume=True)
    assert (summary.total.documents, summary.new.documents) == (20, 11)
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    if kind == "conll":
        assert resumed.read_bytes() == whole.read_bytes()
        return
    files = sorted(p.relative_to(whole) for p in whole.rglob("*"))
    assert files == sorted(p.relative_to(resumed) for p in resumed.rglob("*"))
    assert all((whole / f).read_bytes() == (resumed / f).read_bytes() for f in files if (whole / f).is_file())


def test_resume_refuses_other_settings_and_changed_inputs(model, texts, tmp_path):
    write_jsonl(tmp_path / "docs.jsonl", [{"id": i, "text": t} for i, t in enumerate(texts[:6])])
    job = Job(model, [str(tmp_path / "docs.jsonl")], tmp_path / "out.jsonl", window=2)
    annotate(job)
    with pytest.raises(AnnotateError, match="format='jsonl' then, 'conll' now"):
        annotate(Job(model, job.inputs, job.output, format="conll"), resume=True)
    write_jsonl(tmp_path / "docs.jsonl", [{"id": i + 1, "text": t} for i, t in enumerate(texts[:6])])
    with pytest.raises(AnnotateError, match="documents 1 to 2 of the inputs \\(ids 1 to 2\\) are not as they were"):
        annotate(job, resume=True)
    edited = [{"id": i, "text": t if i != 3 else t + " Edited."} for i, t in enumerate(texts[:6])]
    write_jsonl(tmp_path / "docs.jsonl", edited)  # the same ids and count: only the text of document 4 changed
    with pytest.raises(AnnotateError, match="documents 3 to 4 of the inputs \\(ids 2 to 3\\) are not as they were"):
        annotate(job, resume=True)
    write_jsonl(tmp_path / "docs.jsonl", [{"id": i, "text": t} for i, t in enumerate(texts[:5])])
    with pytest.raises(AnnotateError, match="the inputs now hold 5 documents, fewer than the 6 annotated"):
        annotate(job, resume=True)
    write_jsonl(tmp_path / "docs.jsonl", [{"id": i, "text": t} for i, t in enumerate(texts[:6])])
    assert annotate(job, resume=True).new.documents == 0  # as they were: nothing left to do


def test_resume_refuses_a_changed_model_but_not_a_moved_one(model, texts, tmp_path):
    write_jsonl(tmp_path / "docs.jsonl", [{"id": i, "text": t} for i, t in enumerate(texts[:6])])
    copy = shutil.copytree(model, tmp_path / "model")
    job = Job(copy, [str(tmp_path / "docs.jsonl")], tmp_path / "out.jsonl", window=2)

    def interrupt(summary):
        if summary.new.documents >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        annotate(job, on_window=interrupt)
    moved = shutil.copytree(copy, tmp_path / "moved")
    changed = Tagger.load(copy)
    with torch.no_grad():
        changed.model.heads[0].project.bias[0] += 1.0
    changed.save(copy)
    message = f"the model changed since the interrupted run \\(config.json, weights.safetensors of {copy} differ"
    with pytest.raises(AnnotateError, match=message):
        annotate(job, resume=True)
    summary = annotate(Job(moved, job.inputs, job.output, window=2), resume=True)
    assert (summary.total.documents, summary.new.documents) == (6, 4)


def test_the_first_windows_grow_to_the_window_and_a_run_resumes_within_them(model, texts, tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "FIRST_WINDOW", 1)
    write_jsonl(tmp_path / "docs.jsonl", [{"id": i, "text": t} for i, t in enumerate(texts[:9])])
    inputs, done = [str(tmp_path / "docs.jsonl")], []
    annotate(Job(model, inputs, tmp_path / "whole.jsonl", window=4), on_window=lambda s: done.append(s.total.documents))
    assert done == [1, 3, 7, 9]  # windows of 1, 2 (2.5 times 1), 4 (not 5: the window) and the 2 left
    job = Job(model, inputs, tmp_path / "out.jsonl", window=4)

    def interrupt(summary):
        if summary.total.documents >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        annotate(job, on_window=interrupt)
    assert annotate(job, resume=True).new.documents == 6
    assert job.output.read_bytes() == (tmp_path / "whole.jsonl").read_bytes()


def test_a_progress_file_from_before_digests_resumes_and_resumes_again(model, texts, tmp_path):
    write_jsonl(tmp_path / "docs.jsonl", [{"id": i, "text": t} for i, t in enumerate(texts[:8])])
    inputs = [str(tmp_path / "docs.jsonl")]
    annotate(Job(model, inputs, tmp_path / "whole.jsonl", window=2))
    job = Job(model, inputs, tmp_path / "out.jsonl", window=2)

    def stop_after(count):
        def interrupt(summary):
            if summary.total.documents >= count:
                raise KeyboardInterrupt

        return interrupt

    with pytest.raises(KeyboardInterrupt):
        annotate(job, on_window=stop_after(2))
    state = json.loads(job.progress_path.read_text())
    del state["windows"], state["model_sha256"]  # as an earlier version wrote it
    job.progress_path.write_text(json.dumps(state))
    with pytest.raises(KeyboardInterrupt):
        annotate(job, resume=True, on_window=stop_after(4))
    assert annotate(job, resume=True).new.documents == 4
    assert job.output.read_bytes() == (tmp_path / "whole.jsonl").read_bytes()


def test_conll_brat_and_spacy_outputs_hold_the_same_entities(model, tagger, texts, tmp_path):
    documents = texts[:5] + ["Breast\ncancer\tand type 2\r\ndiabetes in mice.\n"]
    write_jsonl(tmp_path / "docs.jsonl", [{"id": f"dir/../d{i}", "text": t} for i, t in enumerate(documents)])
    inputs = [str(tmp_path / "docs.jsonl")]
    annotate(Job(model, inputs, tmp_path / "reference.jsonl"))
    expected = read_jsonl(tmp_path / "reference.jsonl")

    annotate(Job(model, inputs, tmp_path / "out.conll", format="conll"))
    lines = (tmp_path / "out.conll").read_text(encoding="utf-8").splitlines()
    assert lines[0] == '-DOCSTART- "dir/../d0"' and sum(line.startswith("-DOCSTART-") for line in lines) == 6
    tagged = conll.read(tmp_path / "out.conll")
    assert sum(len(s.spans) for s in tagged) == sum(len(r["spans"]) for r in expected)

    annotate(Job(model, inputs, tmp_path / "brat", format="brat"))
    assert (tmp_path / "brat" / "annotation.conf").read_text().startswith("[entities]\n" + "\n".join(tagger.labels))
    for i, record in enumerate(expected):
        text = (tmp_path / "brat" / "dir" / f"d{i}.txt").read_bytes().decode("utf-8")
        assert text == record["text"]
        lines = [line.split("\t") for line in (tmp_path / "brat" / "dir" / f"d{i}.ann").read_text().splitlines()]
        entities = [fields for fields in lines if fields[0].startswith("T")]
        assert len(entities) == len(record["spans"])
        for (_, kind, covered), span in zip(entities, record["spans"]):
            label, fragments = kind.split(" ", 1)
            pieces = [text[int(start) : int(end)] for start, end in (f.split() for f in fragments.split(";"))]
            assert label == span["label"] and " ".join(pieces) == covered
            assert not any(c.isspace() and c != " " for piece in pieces for c in piece)
    with pytest.raises(AnnotateError, match="must be a new or empty folder"):
        annotate(Job(model, inputs, tmp_path / "brat", format="brat"))

    annotate(Job(model, inputs, tmp_path / "spacy", format="spacy", window=4))
    parts = sorted((tmp_path / "spacy").glob("*.spacy"))
    assert [p.name for p in parts] == ["part-000000.spacy", "part-000001.spacy"]
    vocab = spacy.blank("en").vocab
    docs = [doc for part in parts for doc in DocBin().from_disk(part).get_docs(vocab)]
    assert [doc.user_data["id"] for doc in docs] == [f"dir/../d{i}" for i in range(6)]
    for doc, record in zip(docs, expected):
        assert doc.text == record["text"]
        ents = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
        assert ents == [(s["start"], s["end"], s["label"]) for s in record["spans"]]


def test_brat_entities_across_line_breaks_and_tabs_become_fragments(tmp_path):
    text = "Breast\r\ncancer and  type 2\tdiabetes."
    spans = [
        {"start": 0, "end": 14, "label": "Disease", "text": "Breast\r\ncancer", "score": 0.5},
        {"start": 20, "end": 35, "label": "Disease", "text": "type 2\tdiabetes", "score": 0.25},
    ]
    write_brat([Document("x.txt", "x.txt", text, spans=spans)], tmp_path, 0)
    assert (tmp_path / "x.ann").read_text() == (
        "T1\tDisease 0 6;8 14\tBreast cancer\n#1\tAnnotatorNotes T1\tscore=0.5000\n"
        "T2\tDisease 20 26;27 35\ttype 2 diabetes\n#2\tAnnotatorNotes T2\tscore=0.2500\n"
    )
    assert (tmp_path / "x.txt").read_bytes() == text.encode()
    other = Document("x", "elsewhere", "Another text.")
    write_brat([other], tmp_path, 1)
    assert other.error == "x.txt already holds another document (ids must give distinct file names)"


def test_jsonl_from_standard_input_without_text(model, tagger, texts, tmp_path, monkeypatch, capsys):
    write_jsonl(tmp_path / "docs.jsonl", [{"id": i, "text": t} for i, t in enumerate(texts[:3])])
    monkeypatch.setattr(sys, "stdin", open(tmp_path / "docs.jsonl", encoding="utf-8"))
    output = tmp_path / "out.jsonl"
    arguments = ["--model", str(model), "-", "--input-format", "jsonl", "--no-text", "--output", str(output)]
    assert main(["annotate", "--no-progress", *arguments]) == 0
    assert "annotated 3 documents" in capsys.readouterr().err
    records = read_jsonl(output)
    assert [sorted(r) for r in records] == [["id", "spans"]] * 3 and [r["id"] for r in records] == [0, 1, 2]
    for record, text in zip(records, texts):
        assert_same_spans(record["spans"], tagger.tag_text(text))


def test_a_document_that_breaks_tagging_fails_alone(tagger, texts):
    documents = [Document(0, "a", texts[0]), Document(1, "b", None), Document(2, "c", texts[1])]
    tag_documents(tagger, documents)
    assert [d.error is None for d in documents] == [True, False, True]
    assert documents[1].error.startswith("tagging failed: ")
    assert_same_spans(documents[0].spans, tagger.tag_text(texts[0]))


def test_brat_names_too_long_for_the_file_system_are_shortened_and_the_id_kept(model, texts, tmp_path):
    ids = ["x" * 300, "x" * 300 + "y", "dir/" + "é" * 200 + "/doc", "a/" * 800 + "end", "short"]
    write_jsonl(tmp_path / "docs.jsonl", [{"id": id, "text": texts[i]} for i, id in enumerate(ids)])
    job = Job(model, [str(tmp_path / "docs.jsonl")], tmp_path / "brat", format="brat")
    summary = annotate(job)
    assert summary.total.failed == 0 and summary.total.annotated == len(ids)
    written = sorted(p for p in (tmp_path / "brat").rglob("*.ann"))
    assert len(written) == len(ids)
    assert all(len(part.encode()) <= 255 for p in written for part in p.relative_to(tmp_path / "brat").parts)
    found = {}
    for ann in written:
        first = ann.read_text(encoding="utf-8").splitlines()[0] if ann.read_text(encoding="utf-8") else ""
        if first.startswith("#0\tAnnotatorNotes T1\tdocument id: "):
            found[json.loads(first.split("document id: ", 1)[1])] = ann.with_suffix(".txt").read_bytes().decode()
        else:
            assert ann.stem == "short"
    assert found == {id: texts[i] for i, id in enumerate(ids[:4])}
    again = Job(model, job.inputs, tmp_path / "brat2", format="brat")
    annotate(again)  # the same names from the same ids
    assert sorted(p.relative_to(tmp_path / "brat2") for p in (tmp_path / "brat2").rglob("*")) == sorted(
        p.relative_to(tmp_path / "brat") for p in (tmp_path / "brat").rglob("*")
    )


def test_a_brat_file_that_cannot_be_written_fails_its_document_alone(tmp_path):
    (tmp_path / "taken").write_text("a file where a folder should be")
    documents = [Document("taken/x", "p", "Some text."), Document("fine", "p", "Other text.")]
    write_brat(documents, tmp_path, 0)
    assert documents[0].error.startswith("cannot write taken/x.txt and .ann: ")
    assert documents[1].error is None and (tmp_path / "fine.txt").read_text() == "Other text."


def test_an_id_with_a_lone_surrogate_fails_its_document(model, texts, tmp_path):
    lines = ['{"id": "bad \\ud800", "text": "Some text."}', json.dumps({"id": "ok", "text": texts[0]})]
    (tmp_path / "docs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = annotate(Job(model, [str(tmp_path / "docs.jsonl")], tmp_path / "out.jsonl"))
    assert (summary.total.annotated, summary.total.failed) == (1, 1)
    [error] = read_jsonl(tmp_path / "out.jsonl.errors.jsonl")
    assert error["reason"] == "the id in field 'id' holds a lone surrogate (not valid Unicode)"
    assert [r["id"] for r in read_jsonl(tmp_path / "out.jsonl")] == ["ok"]


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads the process tree from /proc")
def test_workers_and_the_forkserver_exit_when_the_main_process_is_killed(model, texts, tmp_path):
    write_jsonl(tmp_path / "docs.jsonl", [{"id": i, "text": texts[i % len(texts)] * 3} for i in range(3000)])
    output, progress = tmp_path / "out.jsonl", tmp_path / "out.jsonl.progress.json"
    arguments = ["--model", str(model), str(tmp_path / "docs.jsonl"), "--output", str(output), "--window", "4"]
    command = [sys.executable, "-m", "tagger.cli.main", "annotate", "--no-progress", "--threads", "1"]
    process = subprocess.Popen([*command, *arguments, "--n-process", "2"], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if progress.exists() and json.loads(progress.read_text())["counts"]["documents"] >= 8:
                break
            time.sleep(0.05)
        tree = _descendants(process.pid)
        assert len(tree) >= 3  # the forkserver and two workers (and perhaps a resource tracker)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_running(pid) for pid in tree):
        time.sleep(0.1)
    left = [pid for pid in tree if _running(pid)]
    for pid in left:  # do not leave them behind on failure
        os.kill(pid, signal.SIGKILL)
    assert not left


def test_engine_settings_are_checked_before_anything_is_written(model, tmp_path, monkeypatch, capsys):
    (tmp_path / "a.txt").write_text("Some text.", encoding="utf-8")
    arguments = ["annotate", "--model", str(model), "--output", str(tmp_path / "out.jsonl"), "--no-progress"]
    cases = [
        ([str(tmp_path / "a.txt"), "--workers", "2"], "--workers and --ray-address are for --engine ray"),
        ([str(tmp_path / "a.txt"), "--engine", "ray", "--n-process", "2"], "--n-process is for --engine local"),
        (["-", "--engine", "ray"], "standard input needs --engine local"),
    ]
    for extra, message in cases:
        assert main([*arguments, *extra]) == 2
        assert message in capsys.readouterr().err
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)  # as without the ray extra
    assert main([*arguments, str(tmp_path / "a.txt"), "--engine", "ray"]) == 2
    assert "--engine ray needs Ray: pip install 'tagger[ray]'" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_a_run_collects_garbage_less_often_and_restores_the_collector():
    before = gc.get_threshold()
    with collecting_less():
        assert gc.get_threshold() == (GC_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before

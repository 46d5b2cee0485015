"""Every command on hostile files: empty, binary, Latin-1, byte-order-marked, truncated model weights, an output
that is an input. Each answers with exit status 2 and one line naming the file (annotate: status 1 and the
documents in its errors file), never a traceback, and no input file changes."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tagger import Tagger, TaggerConfig
from tagger.cli.main import main
from tagger.formats import read_corpus
from tagger.text import sentences
from tagger.training import Trainer

TINY = TaggerConfig(word_dim=16, char_dim=8, char_hidden=8, hidden=16, epochs=1, batch_size=8, dropout=0.0)
QUICK = ["--epochs", "1", "--no-progress", *(f"--set={key}={getattr(TINY, key)}" for key in ("word_dim", "hidden"))]
CONLL = "Aspirin\tB-Chemical\ncauses\tO\nnaus\xe9e\tB-Disease\n.\tO\n\nMice\tB-Species\nrecovered\tO\n"
TEXT = "Aspirin causes naus\xe9e in mice. Tamoxifen reduced breast cancer risk.\n"


@pytest.fixture(scope="module")
def files(sample, tmp_path_factory) -> dict[str, Path]:
    """The hostile inputs, a good model and two broken ones, all in one folder."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("hostile")
    train = read_corpus(sample / "train.tsv")
    Trainer(Tagger.build(TINY, train), train, train, root / "run").fit()
    model = root / "run" / "model"
    paths = {"model": model}
    for suffix in (".tsv", ".txt", ".jsonl"):
        content = CONLL if suffix == ".tsv" else TEXT
        if suffix == ".jsonl":
            content = json.dumps({"id": "d1", "text": TEXT}) + "\n"
        for kind, data in {
            "empty": b"",
            "binary": bytes(range(256)) * 8,
            "latin1": content.encode("latin-1"),
            "bom": b"\xef\xbb\xbf" + (f"-DOCSTART- -X- O O\n\n{content}" if suffix == ".tsv" else content).encode(),
            "blank": b"-DOCSTART- -X- O O\n\n\n" if suffix == ".tsv" else b" \n\t \n",
        }.items():
            paths[f"{kind}{suffix}"] = root / f"{kind}{suffix}"
            paths[f"{kind}{suffix}"].write_bytes(data)
    truncated = shutil.copytree(model, root / "truncated")
    weights = (truncated / "weights.safetensors").read_bytes()
    (truncated / "weights.safetensors").write_bytes(weights[: len(weights) // 2])
    old = shutil.copytree(truncated, root / "old-truncated")  # saved before checksums: no SHA-256 to check
    meta = json.loads((old / "config.json").read_text())
    del meta["weights_sha256"]
    (old / "config.json").write_text(json.dumps(meta))
    typed = shutil.copytree(model, root / "mistyped")  # config.json with a value of the wrong type
    meta = json.loads((typed / "config.json").read_text())
    (typed / "config.json").write_text(json.dumps({**meta, "heads": [{**meta["heads"][0], "output_scheme": 5}]}))
    unpadded = shutil.copytree(model, root / "unpadded")  # a vocabulary without its special entries
    vocab = json.loads((unpadded / "vocab.json").read_text())
    (unpadded / "vocab.json").write_text(json.dumps({**vocab, "words": vocab["words"][2:]}))
    paths["file"] = root / "file"  # where an output's folder should be
    paths["file"].write_text("a file, not a folder\n")
    paths |= {"truncated": truncated, "old-truncated": old, "mistyped": typed, "unpadded": unpadded, "root": root}
    return paths


def digests(root: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def expand(files, arguments) -> list[str]:
    """``arguments`` with each ``{name}`` replaced by the path of ``files[name]``."""
    return [re.sub(r"\{([^{}]+)\}", lambda match: str(files[match.group(1)]), argument) for argument in arguments]


def run(files, capsys, *arguments: str) -> tuple[int, str]:
    """``tagger ARGUMENTS`` in this process (see ``expand``); (status, stderr)."""
    capsys.readouterr()
    before = digests(files["root"])
    code = main(expand(files, arguments))
    error = capsys.readouterr().err
    assert digests(files["root"]) == before, "an input file changed"
    assert "Traceback" not in error
    return code, error


def assert_one_line_error(command: str, error: str, *expected: str) -> None:
    lines = error.strip().splitlines()
    errors = [line for line in lines if line.startswith(f"tagger {command}: error: ")]
    assert len(errors) == 1 and errors[0] == lines[-1], error
    for text in expected:
        assert text in errors[0], errors[0]


OUT = "{root}/out"  # a new path beside the inputs
CASES = [
    # train
    (["train", "--train", "{empty.tsv}", "--output", OUT], ["empty.tsv: no sentences to train on"]),
    (["train", "--train", "{blank.tsv}", "--output", OUT], ["blank.tsv: no sentences to train on"]),
    (["train", "--train", "{binary.tsv}", "--output", OUT], ["binary.tsv:2: not utf-8 text: byte 0x80 at offset 128"]),
    (["train", "--train", "{latin1.tsv}", "--output", OUT], ["latin1.tsv:3: not utf-8 text: byte 0xe9 at offset 32"]),
    (["train", "--train", "{bom.tsv}", "--dev", "{empty.tsv}", "--output", OUT], ["empty.tsv: no sentences to score"]),
    (["train", "--train", "{bom.tsv}", "--test", "{binary.tsv}", "--output", OUT], ["binary.tsv:2: not utf-8"]),
    (["train", "--train", "{bom.tsv}", "--output", OUT, "--init-from", "{truncated}"], ["SHA-256", "truncated"]),
    (["train", "--train", "{bom.tsv}", "--output", OUT, "--init-from", "{old-truncated}"], ["cannot read weights"]),
    (["train", "--train", "{bom.tsv}", "--output", "{bom.tsv}"], ["is the input"]),
    (["train", "--train", "{bom.tsv}", "--output", OUT, "--config", "{binary.txt}"], ["cannot read config"]),
    (["train", "--train", "{bom.tsv}", "--output", OUT, "--config", "{empty.txt}"], ["the file is empty"]),
    (["train", "--train", "{bom.tsv}", "--output", OUT, "--config", "{bom.tsv}"], ["not JSON"]),
    (["train", "--train", "{bom.tsv}", "--output", OUT, "--init-from", "{unpadded}"], ["unpadded/vocab.json"]),
    (["train", "--train", "{bom.tsv}", "--output", OUT, "--vectors", "{binary.txt}"], ["binary.txt"]),
    (["train", "--train", "{bom.tsv}", "--output", OUT, "--vectors", "{empty.txt}"], ["empty.txt"]),
    (
        ["train", "--train", "{bom.tsv}", "--output", OUT, "--set", "batch_size=-1"],
        ["batch_size must be an integer >= 1"],
    ),
    (["train", "--train", "{bom.tsv}", "--output", OUT, "--set", "dropout=nan"], ["dropout must be a finite number"]),
    # tune
    (["tune", "--train", "{empty.tsv}", "--output", OUT], ["empty.tsv: no sentences to train on"]),
    (["tune", "--train", "{binary.tsv}", "--output", OUT], ["binary.tsv:2: not utf-8"]),
    (["tune", "--train", "{latin1.tsv}", "--output", OUT], ["latin1.tsv:3: not utf-8"]),
    (["tune", "--train", "{bom.tsv}", "--output", OUT, "--space", "{binary.txt}"], ["cannot read search space"]),
    # evaluate
    (["evaluate", "--model", "{model}", "--data", "{empty.tsv}"], ["empty.tsv: no sentences to evaluate on"]),
    (["evaluate", "--model", "{model}", "--data", "{blank.tsv}"], ["blank.tsv: no sentences to evaluate on"]),
    (["evaluate", "--model", "{model}", "--data", "{binary.tsv}"], ["binary.tsv:2: not utf-8"]),
    (["evaluate", "--model", "{model}", "--data", "{latin1.tsv}"], ["latin1.tsv:3: not utf-8 text: byte 0xe9"]),
    (["evaluate", "--model", "{truncated}", "--data", "{bom.tsv}"], ["truncated/weights.safetensors: SHA-256"]),
    (["evaluate", "--model", "{old-truncated}", "--data", "{bom.tsv}"], ["cannot read weights"]),
    (["evaluate", "--model", "{empty.txt}", "--data", "{bom.tsv}"], ["is not a tagger model"]),
    (["evaluate", "--model", "{mistyped}", "--data", "{bom.tsv}"], ["mistyped/config.json: output_scheme of head"]),
    (["evaluate", "--model", "{unpadded}", "--data", "{bom.tsv}"], ["unpadded/vocab.json: 'words' must begin with"]),
    (["evaluate", "--model", "{model}", "--data", "{bom.tsv}", "--predictions", "{bom.tsv}"], ["is the input"]),
    (["evaluate", "--model", "{model}", "--data", "{empty.jsonl}"], ["empty.jsonl: no sentences"]),
    (["evaluate", "--model", "{model}", "--data", "{binary.jsonl}"], ["binary.jsonl:2: not utf-8"]),
    (["evaluate", "--model", "{model}", "--data", "{binary.tsv}", "--format", "semeval"], ["binary.tsv:2: not utf-8"]),
    (["evaluate", "--model", "{model}", "--data", "{latin1.txt}", "--format", "pubtator"], ["latin1.txt:1: not utf-8"]),
    # predict
    (["predict", "--model", "{model}", "{empty.txt}"], ["empty.txt: no text to tag: empty"]),
    (["predict", "--model", "{model}", "{blank.txt}"], ["blank.txt: no text to tag: only whitespace"]),
    (["predict", "--model", "{model}", "{binary.txt}"], ["binary.txt:2: not utf-8 text: byte 0x80 at offset 128"]),
    (["predict", "--model", "{model}", "{latin1.txt}"], ["latin1.txt:1: not utf-8 text: byte 0xe9 at offset 19"]),
    (["predict", "--model", "{truncated}", "{bom.txt}"], ["SHA-256"]),
    (["predict", "--model", "{old-truncated}", "{bom.txt}"], ["cannot read weights"]),
    (["predict", "--model", "{model}", "{root}/missing.txt"], ["input text not found"]),
    (["predict", "--model", "{mistyped}", "{bom.txt}"], ["mistyped/config.json: output_scheme of head"]),
    # annotate: a bad model or output stops the run; bad documents do not (below)
    (["annotate", "--model", "{truncated}", "{bom.txt}", "--output", OUT], ["SHA-256"]),
    (["annotate", "--model", "{old-truncated}", "{bom.txt}", "--output", OUT], ["cannot read weights"]),
    (["annotate", "--model", "{unpadded}", "{bom.txt}", "--output", OUT], ["unpadded/vocab.json"]),
    (["annotate", "--model", "{model}", "{bom.jsonl}", "--output", "{bom.jsonl}"], ["is the input"]),
    (["annotate", "--model", "{model}", "{bom.txt}", "--output", "{model}/out.jsonl"], ["inside the input folder"]),
    # corpora
    (["corpora", "stats", "{empty.tsv}"], ["empty.tsv: no sentences to report on"]),
    (["corpora", "stats", "{binary.tsv}"], ["binary.tsv:2: not utf-8"]),
    (["corpora", "stats", "{latin1.tsv}"], ["latin1.tsv:3: not utf-8 text: byte 0xe9 at offset 32"]),
    (["corpora", "stats", "{bom.tsv}", "{binary.jsonl}"], ["binary.jsonl:2: not utf-8"]),
    (["corpora", "stats", "{binary.txt}", "--format", "pubtator"], ["binary.txt:2: not utf-8"]),
    (["corpora", "stats", "{latin1.tsv}", "--encoding", "klingon"], None),  # argparse's own usage error
    (["corpora", "convert", "{empty.tsv}", "--output", "{root}/out.jsonl"], ["empty.tsv: no sentences to convert"]),
    (["corpora", "convert", "{binary.tsv}", "--output", "{root}/out.jsonl"], ["binary.tsv:2: not utf-8"]),
    (["corpora", "convert", "{latin1.tsv}", "--output", "{root}/out.jsonl"], ["latin1.tsv:3: not utf-8"]),
    (["corpora", "convert", "{bom.tsv}", "--output", "{bom.tsv}"], ["is the input"]),
    # embeddings
    (
        ["embeddings", "train", "--input", "{empty.txt}", "--algorithm", "word2vec", "--output", "{root}/v.txt"],
        ["empty.txt"],
    ),
    (
        ["embeddings", "train", "--input", "{blank.txt}", "--algorithm", "word2vec", "--output", "{root}/v.txt"],
        ["blank"],
    ),
    (
        ["embeddings", "train", "--input", "{binary.txt}", "--algorithm", "word2vec", "--output", "{root}/v.txt"],
        ["0x80"],
    ),
    (
        ["embeddings", "train", "--input", "{latin1.txt}", "--algorithm", "word2vec", "--output", "{root}/v.txt"],
        ["0xe9"],
    ),
    (
        ["embeddings", "train", "--input", "{bom.txt}", "--algorithm", "word2vec", "--output", "{bom.txt}"],
        ["is the input"],
    ),
    (
        ["embeddings", "train", "--input", "{root}/missing.txt", "--algorithm", "word2vec", "--output", "{root}/v.txt"],
        [],
    ),
    # outputs that cannot be written, settings beyond what the machine can do
    (["train", "--train", "{bom.tsv}", "--output", "{file}/run"], ["cannot write", "file is a file, not a folder"]),
    (["train", "--train", "{bom.tsv}", "--output", OUT, "--set", "hidden=100000000"], ["does not fit in memory"]),
    (["train", "--train", "{bom.tsv}", "--output", OUT, "--set", "threads=100000"], ["threads must be an integer"]),
    (["tune", "--train", "{bom.tsv}", "--output", "{file}/run"], ["file is a file, not a folder"]),
    (["tune", "--train", "{bom.tsv}", "--output", OUT, "--timeout", "-5"], None),
    (["evaluate", "--model", "{model}", "--data", "{bom.tsv}", "--predictions", "{file}/p.tsv"], ["not a folder"]),
    (["annotate", "--model", "{model}", "{bom.txt}", "--output", "{file}/out.jsonl"], ["file is a file, not a folder"]),
    (["annotate", "--model", "{model}", "{bom.txt}", "--output", "{file}/brat", "--format", "brat"], ["not a folder"]),
    (["annotate", "--model", "{model}", "{bom.txt}", "--output", OUT, "--threads", "100000"], ["threads must be"]),
    (["corpora", "convert", "{bom.tsv}", "--output", "{file}/out.jsonl"], ["file is a file, not a folder"]),
    (
        [
            "embeddings",
            "train",
            "--input",
            "{bom.txt}",
            "--algorithm",
            "word2vec",
            "--output",
            "{file}/v.txt",
            "--min-count",
            "1",
        ],
        ["not a folder"],
    ),
    (["export-spacy", "--model", "{model}", "--output", "{file}/pipeline"], ["file is a file, not a folder"]),
    (
        ["export-spacy", "--model", "{model}", "--output", OUT, "--lang", "klingon"],
        ["--lang klingon: spaCy has no such language"],
    ),
    # export-spacy
    (["export-spacy", "--model", "{truncated}", "--output", "{root}/pipeline"], ["SHA-256"]),
    (["export-spacy", "--model", "{old-truncated}", "--output", "{root}/pipeline"], ["cannot read weights"]),
    (["export-spacy", "--model", "{empty.txt}", "--output", "{root}/pipeline"], ["is not a tagger model"]),
    (
        ["export-spacy", "--model", "{mistyped}", "--output", "{root}/pipeline"],
        ["mistyped/config.json: output_scheme of head"],
    ),
    (["export-spacy", "--model", "{model}", "--output", "{model}"], ["is the input"]),
    (["export-spacy", "--model", "{model}", "--output", "{root}"], ["holds the input"]),
]


@pytest.mark.parametrize("arguments, expected", CASES, ids=[" ".join(case[0][:4]) for case in CASES])
def test_a_hostile_input_is_one_line_and_exit_status_2(files, capsys, arguments, expected):
    extra = QUICK if arguments[0] in ("train", "tune") else ["--no-progress"] if arguments[0] == "annotate" else []
    if expected is None:  # errors argparse finds: its usage line and one error line, status 2
        with pytest.raises(SystemExit) as exit_info:
            run(files, capsys, *arguments)
        assert exit_info.value.code == 2
        return
    code, error = run(files, capsys, arguments[0], *extra, *arguments[1:])  # the case's --set after QUICK's
    assert code == 2, error
    assert_one_line_error(arguments[0], error, *expected)
    assert not (files["root"] / "out").exists()


def test_annotate_records_each_unreadable_document_and_goes_on(files, capsys, tmp_path):
    inputs = [
        f"{{{name}}}" for name in ("empty.txt", "binary.txt", "latin1.txt", "blank.txt", "bom.txt", "binary.jsonl")
    ]
    output = tmp_path / "out.jsonl"
    code, error = run(
        files, capsys, "annotate", "--model", "{model}", *inputs, "--output", str(output), "--no-progress"
    )
    assert code == 1
    errors = [json.loads(line) for line in open(f"{output}.errors.jsonl", encoding="utf-8")]
    assert error.strip().splitlines()[-1].endswith(f"{len(errors)} failed documents: see {output}.errors.jsonl")
    reasons = {Path(e["path"]).name: e["reason"] for e in errors if e["path"].endswith(".txt")}
    assert reasons == {
        "empty.txt": "empty document",
        "binary.txt": "not UTF-8: invalid start byte at byte 128",
        "latin1.txt": "not UTF-8: invalid continuation byte at byte 19",
        "blank.txt": "document holds only whitespace",
    }
    lines = [e for e in errors if not e["path"].endswith(".txt")]
    assert lines and all(e["path"].startswith(f"{files['binary.jsonl']}:") for e in lines)
    assert all(e["reason"].startswith(("not a JSON line", "expected a JSON object")) for e in lines)
    [record] = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert record["id"] == str(files["bom.txt"]) and record["text"] == "\ufeff" + TEXT  # offsets index the file
    assert all(record["text"][s["start"] : s["end"]] == s["text"] for s in record["spans"])
    assert sentences(record["text"])[0].tokens[0] == "Aspirin"  # the mark is in no token


def test_a_byte_order_mark_or_a_named_encoding_is_read(files, capsys):
    code, error = run(files, capsys, "corpora", "stats", "{bom.tsv}", "--json")
    assert code == 0, error
    code, _ = run(files, capsys, "corpora", "stats", "{latin1.tsv}", "--encoding", "latin-1", "--json")
    assert code == 0
    for name, options in (("bom.tsv", []), ("latin1.tsv", ["--encoding", "latin-1"])):
        code, error = run(files, capsys, "evaluate", "--model", "{model}", "--data", f"{{{name}}}", "--json", *options)
        assert code == 0, error
    code, error = run(files, capsys, "predict", "--model", "{model}", "{latin1.txt}", "--encoding", "latin-1", "--json")
    assert code == 0, error
    code, error = run(files, capsys, "predict", "--model", "{model}", "{bom.txt}", "--json")
    assert code == 0, error


def test_the_byte_order_mark_is_not_in_predicted_text(files, capsys):
    capsys.readouterr()
    assert main(["predict", "--model", str(files["model"]), str(files["bom.txt"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["text"] == TEXT


def test_training_on_a_byte_order_marked_corpus_works(files, capsys, tmp_path):
    code, error = run(
        files, capsys, "train", "--train", "{bom.tsv}", "--dev", "{bom.tsv}", "--output", str(tmp_path), *QUICK
    )
    assert code == 0, error
    words = json.loads((tmp_path / "model" / "vocab.json").read_text())["words"]
    assert "aspirin" in words and not any("\ufeff" in word or word.startswith("-docstart-") for word in words)


SUBPROCESS = [
    ["train", "--train", "{binary.tsv}", "--output", OUT],
    ["predict", "--model", "{model}", "{latin1.txt}"],
    ["evaluate", "--model", "{truncated}", "--data", "{bom.tsv}"],
    ["corpora", "stats", "{empty.tsv}"],
    ["embeddings", "train", "--input", "{binary.txt}", "--algorithm", "word2vec", "--output", "{root}/v.txt"],
    ["export-spacy", "--model", "{old-truncated}", "--output", "{root}/pipeline"],
]


@pytest.mark.parametrize("arguments", SUBPROCESS, ids=[" ".join(a[:2]) for a in SUBPROCESS])
def test_as_a_program_the_error_is_one_line_without_a_traceback(files, arguments):
    before = digests(files["root"])
    command = [sys.executable, "-m", "tagger.cli.main", *expand(files, arguments)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"tagger {arguments[0]}: error: ") and sum("error:" in line for line in lines) == 1
    assert digests(files["root"]) == before


def test_predict_refuses_a_lone_surrogate_from_python_and_a_stdin_of_bad_bytes(files, monkeypatch, capsys, tmp_path):
    tagger = Tagger.load(files["model"])
    with pytest.raises(ValueError, match="lone surrogate"):
        tagger.tag_text("text \udc80 here")
    (tmp_path / "stdin").write_bytes(b"caf\xe9 au lait")
    monkeypatch.setattr(sys, "stdin", open(tmp_path / "stdin", encoding="utf-8"))
    assert main(["predict", "--model", str(files["model"])]) == 2
    assert_one_line_error("predict", capsys.readouterr().err, "standard input:1: not utf-8 text: byte 0xe9 at offset 3")

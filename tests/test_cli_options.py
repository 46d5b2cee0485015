"""One naming of options across commands: ``--model``, ``--output``, ``--format`` (read) and ``--output-format``
(written); the old spellings still parse to the same settings."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest

from tagger.cli import options
from tagger.cli.main import main, parser

OLD_SPELLINGS = {"--out", "--to", "--out-dir", "--model-dir", "--output-dir"}


def parsed(*argv: str) -> argparse.Namespace:
    args = parser().parse_args(argv)
    options.resolve(args)
    return args


def every_parser(root: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [root]
    for action in root._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += every_parser(sub)
    return found


def test_no_command_takes_a_model_or_an_output_otherwise_than_by_option():
    for command in every_parser(parser()):
        for action in command._actions:
            named = [s for s in action.option_strings if s.startswith("--")]
            if named:
                assert named[0] not in OLD_SPELLINGS, f"{command.prog}: {named[0]} is an old spelling"
            elif action.help is not argparse.SUPPRESS:
                assert action.dest not in ("model", "output"), f"{command.prog}: positional {action.dest}"


def test_export_spacy_takes_model_and_output_or_the_old_positionals(caplog):
    new = parsed("export-spacy", "--model", "m", "--output", "out")
    with caplog.at_level(logging.WARNING, logger="tagger"):
        old = parsed("export-spacy", "m", "out")
    assert (new.model, new.output) == (old.model, old.output) == (Path("m"), Path("out"))
    assert not hasattr(old, "model_positional")
    assert "the positional MODEL is deprecated: give --model m" in caplog.text
    assert "the positional OUTPUT is deprecated" in caplog.text


def test_corpora_convert_takes_output_or_the_old_positional():
    new = parsed("corpora", "convert", "in.tsv", "--output", "out.jsonl", "--output-format", "jsonl")
    old = parsed("corpora", "convert", "in.tsv", "out.jsonl", "--to", "jsonl")
    assert (new.input, new.output, new.output_format) == (old.input, old.output, old.output_format)
    assert new.output == Path("out.jsonl") and new.output_format == "jsonl"


def test_old_option_spellings_parse_as_the_new_ones():
    assert parsed("embeddings", "train", "--input", "t", "--algorithm", "word2vec", "--out", "v.bin").output == Path(
        "v.bin"
    )
    assert parsed("annotate", "--model", "m", "x.txt", "--output", "o", "--format", "brat").output_format == "brat"
    assert parsed("annotate", "--model", "m", "x.txt", "--output", "o", "--output-format", "conll").output_format == (
        "conll"
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["export-spacy", "--output", "out"], "the following arguments are required: --model"),
        (["export-spacy", "--model", "m"], "the following arguments are required: --output"),
        (["export-spacy", "m", "out", "--model", "other"], "--model other and the positional m: give only --model"),
        (["corpora", "convert", "in.tsv"], "the following arguments are required: --output"),
    ],
)
def test_a_missing_or_doubly_given_path_is_a_one_line_error(argv, message, capsys):
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.strip() == f"tagger {argv[0]}: error: {message}"


def test_an_exported_pipeline_by_the_old_positionals_and_by_the_options(tiny_model, tmp_path):
    assert main(["export-spacy", str(tiny_model), str(tmp_path / "old")]) == 0
    assert main(["export-spacy", "--model", str(tiny_model), "--output", str(tmp_path / "new")]) == 0
    old, new = tmp_path / "old", tmp_path / "new"
    assert sorted(p.relative_to(old) for p in old.rglob("*")) == sorted(p.relative_to(new) for p in new.rglob("*"))

"""The command line's help is quick: building the parsers imports neither torch nor spaCy (nor the other heavy
libraries); a command imports them when it runs."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from tagger.cli.main import parser

HEAVY = ("torch", "spacy", "optuna", "gensim", "seqeval", "matplotlib", "ray")


def command_paths(root: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and subcommand of ``root``, as the words that reach it (the root itself is ``()``)."""
    paths = [path]
    for action in root._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths += command_paths(sub, (*path, name))
    return paths


def test_the_parsers_reach_every_command():
    some = {("train",), ("predict",), ("serve",), ("export-spacy",), ("corpora", "convert"), ("lm", "train")}
    assert some <= set(command_paths(parser()))


def test_tagger_help_imports_no_heavy_library():
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tagger.cli.main", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "usage: tagger" in done.stdout
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "tagger.cli.train" in imported
    assert not imported & set(HEAVY)


def test_every_commands_help_imports_no_heavy_library():
    script = f"""
import contextlib, io, json, sys
from tagger.cli.main import main
for path in {command_paths(parser())!r}:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        main([*path, "--help"])
print(json.dumps(sorted(name for name in {HEAVY!r} if name in sys.modules)))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_a_command_that_runs_imports_what_it_needs(tiny_model, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("Aspirin helps.\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "tagger.cli.main", "predict", "--model", str(tiny_model), str(text)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "entities in" in done.stderr


def test_the_packages_import_light_and_give_their_names_on_first_use():
    script = f"""
import json, sys
import tagger, tagger.annotate
light = sorted(name for name in {HEAVY!r} if name in sys.modules)
names = [tagger.Tagger.__module__, tagger.TaggerConfig.__module__, tagger.annotate.annotate.__module__]
try:
    tagger.nothing
except AttributeError as error:
    missing = str(error)
print(json.dumps([light, names, "Tagger" in dir(tagger), missing]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        [],
        ["tagger.tagger", "tagger.config", "tagger.annotate.run"],
        True,
        "module 'tagger' has no attribute 'nothing'",
    ]

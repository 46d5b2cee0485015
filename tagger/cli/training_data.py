"""The corpora a command trains on: one (``tune``, ``lr-find``) or several, each named (``train``).

``tagger train`` takes ``--train`` files (repeated, with as many ``--dev`` and ``--test`` files
in the same order, or none), a ``--corpora`` JSON file, or catalogue names (``--corpus``,
repeated). Each corpus is named by its ``--corpora`` entry, its catalogue name, or the folder
its training file is in; a corpus without a dev split gives ``dev_fraction`` of its training
sentences, by the seed.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from ..config import TaggerConfig, read_json
from ..corpus import Corpus
from ..heads import DEFAULT_HEAD, check_names
from .sources import PURPOSES, catalogue_splits, read, read_splits, refuse_split_files

SPLITS = ("train", "dev", "test")
ENTRY_KEYS = ("name", "train", "dev", "test")
logger = logging.getLogger("tagger")


class CorporaError(ValueError):
    """Training corpora that the command line does not pair up or name: ``--dev`` or ``--test`` counts other than
    ``--train``'s, names that clash, a ``--corpora`` file of the wrong shape."""


@dataclass
class Source:
    """Where one training corpus comes from: its files, or the catalogue corpus ``corpus`` (which gives them)."""

    name: str
    train: Path | None = None
    dev: Path | None = None
    test: Path | None = None
    corpus: str | None = None

    @property
    def paths(self) -> list[Path]:
        return [path for path in (self.train, self.dev, self.test) if path is not None]


def sources(args: argparse.Namespace) -> list[Source]:
    """The training corpora ``--train`` (with ``--dev`` and ``--test``), ``--corpora`` or ``--corpus`` give, named;
    ``CorporaError`` (or ``CatalogueError`` for split files beside ``--corpus``) when they do not pair up."""
    if args.corpus:
        refuse_split_files(args, args.corpus, SPLITS)
        found = [Source(name, corpus=name) for name in args.corpus]
    elif args.corpora:
        if args.dev or args.test:
            raise CorporaError(f"--corpora {args.corpora} gives each corpus' files; leave out --dev and --test")
        found = _listed(args.corpora)
    else:
        count = len(args.train)
        for split in ("dev", "test"):
            given = getattr(args, split) or []
            if given and len(given) != count:
                held = " (each dev is then held out of its train)" if split == "dev" else ""
                raise CorporaError(
                    f"--{split} is given {_times(len(given))} and --train {_times(count)}: give one --{split} per "
                    f"--train, in the same order, or none{held}"
                )
        pairs = zip(args.train, args.dev or [None] * count, args.test or [None] * count)
        found = [Source(_folder_name(train), train, dev, test) for train, dev, test in pairs]
    _check_names(found)
    return found


def read_training_corpora(
    args: argparse.Namespace, found: list[Source], config: TaggerConfig
) -> tuple[dict[str, Corpus], dict[str, Corpus], dict[str, Corpus]]:
    """The train, dev and test corpora of ``found`` by name (test: of those that have one), raw text cut by the
    rules ``config.tokenizer``; a corpus without a dev split holds out ``dev_fraction`` of its training sentences,
    by the seed."""
    train, dev, test = {}, {}, {}
    for source in found:
        if source.corpus:
            splits = catalogue_splits(args, source.corpus, SPLITS, config.tokenizer)
            why = f"{source.corpus} has no dev split"
        else:
            files = {split: getattr(source, split) for split in SPLITS}
            splits = {
                split: path and read(args, path, None, PURPOSES[split], config.tokenizer)
                for split, path in files.items()
            }
            why = f"no dev in {args.corpora}" if args.corpora else "no --dev given"
        if len(found) > 1:
            why = f"{source.name}: {why}"
        train[source.name], dev[source.name] = _with_dev(splits["train"], splits["dev"], config, why)
        if splits["test"] is not None:
            test[source.name] = splits["test"]
    return train, dev, test


def read_train_dev_test(args: argparse.Namespace, config: TaggerConfig) -> tuple[Corpus, Corpus, Corpus | None]:
    """``--train``, ``--dev`` and ``--test`` (where the command has it), or those splits of ``--corpus``, for
    commands of one corpus; raw text cut by the rules ``config.tokenizer``.

    Without a dev split, ``dev_fraction`` of train is held out by the seed; test is ``None`` without one.
    """
    names = ("train", "dev", "test") if "test" in args else ("train", "dev")
    splits = read_splits(args, *names, tokenizer=config.tokenizer)
    why = f"{args.corpus} has no dev split" if args.corpus else "no --dev given"
    return (*_with_dev(splits["train"], splits["dev"], config, why), splits.get("test"))


def _with_dev(train: Corpus, dev: Corpus | None, config: TaggerConfig, why: str) -> tuple[Corpus, Corpus]:
    """``recipes.with_dev``, imported when a command runs: it needs torch, the help does not."""
    from ..recipes import with_dev

    return with_dev(train, dev, config, why)


def _listed(path: Path) -> list[Source]:
    """The sources of a ``--corpora`` file: a JSON list of ``{"name", "train", "dev", "test"}``, only ``train``
    required, paths relative to the file's folder."""
    entries = read_json(path, "corpora file")
    shape = 'a JSON list of objects {"name", "train", "dev", "test"}, "train" required'
    if not isinstance(entries, list) or not entries:
        raise CorporaError(f"{path}: expected {shape}, found {_kind(entries)}")
    found = []
    for number, entry in enumerate(entries, 1):
        where = f"{path}: entry {number}"
        if not isinstance(entry, dict):
            raise CorporaError(f"{where}: expected an object of {', '.join(ENTRY_KEYS)}, found {_kind(entry)}")
        unknown = sorted(set(entry) - set(ENTRY_KEYS))
        if unknown or "train" not in entry:
            problem = f"unknown keys {', '.join(unknown)}" if unknown else "no train"
            raise CorporaError(f"{where}: {problem}; expected {shape}")
        for key, value in entry.items():
            if not isinstance(value, str) or not value.strip():
                raise CorporaError(f"{where}: {key} must be a non-blank string, not {_kind(value)}")
        files = {split: path.parent / entry[split] if split in entry else None for split in SPLITS}
        found.append(Source(entry.get("name") or _folder_name(files["train"]), **files))
    return found


def _check_names(found: list[Source]) -> None:
    """``CorporaError`` naming the corpora whose names clash, else ``check_names``'s verdict."""
    names = [source.name for source in found]
    for source in found:
        clashing = [other for other in found if other.name == source.name]
        if len(clashing) > 1:
            whence = " and ".join(str(other.train or other.corpus) for other in clashing)
            raise CorporaError(
                f"two training corpora are named {source.name!r} ({whence}): each needs a name of its own; "
                "name them in a --corpora file"
            )
    check_names(names)


def _folder_name(train: Path) -> str:
    """The name of the folder a training file is in (``DEFAULT_HEAD`` at the root)."""
    return train.resolve().parent.name or DEFAULT_HEAD


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def _kind(value) -> str:
    """A JSON value as an error message names it."""
    return "null" if value is None else f"{type(value).__name__} {json.dumps(value)[:40]}"

"""Where commands read corpora from: files in a format, or the splits of a corpus of the catalogue."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import catalogue
from ..catalogue import CatalogueError
from ..corpus import Corpus
from ..files import refuse_overwrite
from ..formats import EXTENSIONS, FORMATS, read_corpus


def add_reading_options(parser: argparse.ArgumentParser, files: str) -> None:
    """``--format``, ``--lenient`` and ``--columns`` for commands that read corpus files."""
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help=f"format of {files}; default: by extension ({', '.join(f'{e} {n}' for e, n in EXTENSIONS.items())})",
    )
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="skip and count bad sentences or documents of SemEval XML, PubTator and JSONL files instead of stopping",
    )
    parser.add_argument(
        "--columns",
        type=columns,
        metavar="TOKEN,TAG",
        help="the token's and the tag's column in CoNLL files, counted from 0 (negative: from the end); "
        "default 0,-1, the first and the last, or what the catalogue says for a named corpus",
    )


def add_corpus_options(parser: argparse.ArgumentParser, group: argparse._MutuallyExclusiveGroup, splits: str) -> None:
    """``--corpus NAME`` in ``group`` (exclusive with the file options there) and ``--data-dir``."""
    group.add_argument(
        "--corpus",
        metavar="NAME",
        help=f"read {splits} of this corpus of the catalogue (tagger corpora list), from --data-dir, "
        f"${catalogue.DATA_DIR_VARIABLE} or the cache, downloading what is missing",
    )
    add_data_dir_option(parser)


def add_data_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help=f"a local copy of catalogue corpora as DIR/NAME/FILE, looked in before ${catalogue.DATA_DIR_VARIABLE} "
        "and the download cache",
    )


def columns(text: str) -> tuple[int, int]:
    """``TOKEN,TAG`` as a pair of column indices."""
    try:
        token, tag = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two column numbers TOKEN,TAG such as 0,3, got {text!r}") from None
    return token, tag


def read(args: argparse.Namespace, path: Path, entry: catalogue.Entry | None = None) -> Corpus:
    """``path`` read with ``--format``, ``--lenient`` and ``--columns``, or in the format of the catalogue ``entry``."""
    if entry is None:
        return read_corpus(path, args.format, args.lenient, args.columns)
    return read_corpus(path, entry.format, args.lenient, args.columns or entry.columns)


def locate(args: argparse.Namespace, entry: catalogue.Entry, splits: tuple[str, ...]) -> dict[str, Path]:
    """The files of ``splits`` of ``entry``, as ``--data-dir`` and ``--no-progress`` say."""
    return catalogue.locate(entry, splits, args.data_dir, progress=not getattr(args, "no_progress", False))


def read_split(args: argparse.Namespace, split: str) -> Corpus:
    """``split`` of ``--corpus``; an error if the corpus has none."""
    entry = catalogue.entry(args.corpus)
    return read(args, locate(args, entry, (split,))[split], entry)


def read_splits(args: argparse.Namespace, *splits: str) -> dict[str, Corpus | None]:
    """``splits`` of ``--corpus``, or else the files of the options named after them (``--train``, ``--dev``, ...).

    A split the corpus lacks, or whose option is not given, is ``None``. With ``--corpus``,
    those options are an error: the catalogue gives the splits.
    """
    if args.corpus is None:
        return {split: read(args, getattr(args, split)) if getattr(args, split) else None for split in splits}
    given = [f"--{split}" for split in splits if getattr(args, split)]
    if given:
        raise CatalogueError(
            f"--corpus {args.corpus} gives the splits; leave out {' and '.join(given)}, or name every file with "
            f"{', '.join(f'--{split}' for split in splits)} instead of --corpus"
        )
    entry = catalogue.entry(args.corpus)
    paths = locate(args, entry, tuple(split for split in splits if split in entry.splits))
    return {split: read(args, paths[split], entry) if split in paths else None for split in splits}


INPUT_OPTIONS = ("train", "dev", "test", "data", "config", "vectors", "init_from", "space", "input", "model")


def refuse_overwriting_inputs(args: argparse.Namespace, outputs: dict[str, Path | None]) -> None:
    """``OverwriteError`` when one of ``outputs`` is, holds or lies inside a file or folder the command reads."""
    refuse_overwrite(outputs, [getattr(args, name) for name in INPUT_OPTIONS if isinstance(getattr(args, name, None), Path)])

"""Where commands read corpora from: files in a format, or the splits of a corpus of the catalogue."""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Iterator, Sequence
from itertools import product
from pathlib import Path

from .. import catalogue, presets
from ..catalogue import CatalogueError
from ..corpus import Corpus, CorpusFormatError, EmptyCorpusError
from ..files import OutputError, refuse_overwrite
from ..formats import EXTENSIONS, FORMATS, RAW_TEXT, format_of, jsonl, read_corpus
from ..reading import EncodingError, codec
from ..text import DEFAULT_TOKENIZER

logger = logging.getLogger(__name__)
PURPOSES = {"train": "train on", "dev": "score as dev", "test": "test on", "data": "evaluate on"}


def add_reading_options(parser: argparse.ArgumentParser, files: str) -> None:
    """``--format``, ``--lenient``, ``--columns`` and ``--encoding`` for commands that read corpus files."""
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help=f"format of {files}; default: by extension ({', '.join(f'{e} {n}' for e, n in EXTENSIONS.items())})",
    )
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="skip and count bad sentences, documents or files of SemEval XML, PubTator, JSONL, BRAT and DocBin "
        "instead of stopping",
    )
    parser.add_argument(
        "--columns",
        type=columns,
        metavar="TOKEN,TAG",
        help="the token's and the tag's column in CoNLL files, counted from 0 (negative: from the end); "
        "default 0,-1, the first and the last, or what the catalogue says for a named corpus",
    )
    add_encoding_option(parser, files)


def add_encoding_option(parser: argparse.ArgumentParser, files: str, default: str | None = None) -> None:
    """``--encoding NAME``: the text encoding of ``files`` (any Python codec name)."""
    parser.add_argument(
        "--encoding",
        type=encoding,
        default=default,
        metavar="NAME",
        help=f"text encoding of {files}, such as latin-1 or cp1252; default: UTF-8"
        + ("" if default else " (XML: as the file declares)")
        + ". A byte-order mark is dropped",
    )


def encoding(text: str) -> str:
    """An encoding name that Python knows, canonical."""
    try:
        return codec(text)
    except EncodingError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_corpus_options(
    parser: argparse.ArgumentParser, group: argparse._MutuallyExclusiveGroup, splits: str, repeatable: bool = False
) -> None:
    """``--corpus NAME`` in ``group`` (exclusive with the file options there; ``repeatable``: a list of names)
    and ``--data-dir``."""
    group.add_argument(
        "--corpus",
        metavar="NAME",
        action="append" if repeatable else "store",
        help=f"read {splits} of this corpus of the catalogue (tagger corpora list), from --data-dir, "
        f"${catalogue.DATA_DIR_VARIABLE} or the cache, downloading what is missing"
        + ("; repeat to train on several, a head each" if repeatable else ""),
    )
    add_data_dir_option(parser)


def add_preset_options(parser: argparse.ArgumentParser) -> None:
    """``--preset NAME`` (the shipped presets, each described) and ``--domain``."""
    shipped = "; ".join(f"{name}: {presets.describe(name)}" for name in presets.names())
    parser.add_argument(
        "--preset",
        choices=presets.names(),
        help=f"start from a shipped config, which --config, --set and the options then override ({shipped})",
    )
    parser.add_argument(
        "--domain",
        choices=presets.DOMAINS,
        help="the text's domain, for a --preset's tokenizer, character LM and vectors; default: the --corpus's "
        "(that of every --corpus given, which must agree)",
    )


def preset_values(args: argparse.Namespace) -> dict:
    """The config values of ``--preset`` for ``--domain`` (or the domain of ``--corpus``), and for the one
    ``--corpus`` trained; none without a preset."""
    if not getattr(args, "preset", None):
        if getattr(args, "domain", None):
            raise presets.PresetError("--domain chooses the resources of a --preset; give one")
        return {}
    return presets.values(args.preset, args.domain or _corpus_domain(args), _one_corpus(args))


def preset_lessons(args: argparse.Namespace) -> Path | None:
    """The lessons ``--preset`` trains the one ``--corpus`` beside (``presets.lessons``); none without a preset."""
    return presets.lessons(args.preset, _one_corpus(args)) if getattr(args, "preset", None) else None


def _one_corpus(args: argparse.Namespace) -> str | None:
    """The name of the one ``--corpus`` given; ``None`` without ``--corpus`` or with several."""
    names = getattr(args, "corpus", None) or []
    return names if isinstance(names, str) else names[0] if len(names) == 1 else None


def _corpus_domain(args: argparse.Namespace) -> str | None:
    """The domain of ``--corpus`` (one name, or a list that must share one); ``None`` without ``--corpus``."""
    names = getattr(args, "corpus", None) or []
    domains = {name: catalogue.entry(name).domain for name in ([names] if isinstance(names, str) else names)}
    if len(set(domains.values())) > 1:
        raise presets.PresetError(
            f"--preset {args.preset} takes the resources of one domain, and the corpora are of several "
            f"({', '.join(f'{name}: {domain}' for name, domain in domains.items())}); choose one with --domain"
        )
    return next(iter(domains.values()), None)


def add_data_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help=f"a local copy of catalogue corpora as DIR/NAME/FILE, looked in before ${catalogue.DATA_DIR_VARIABLE} "
        "and the download cache",
    )


def at_least(low: int):
    """An argparse type: an integer ``low`` or more."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


positive = at_least(1)
non_negative = at_least(0)


MODEL_HELP = "model directory, a run directory holding model/, or a named model (tagger models list)"


def positive_number(text: str) -> float:
    """An argparse type: a finite number above 0."""
    value = _number(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def probability(text: str) -> float:
    """An argparse type: a number from 0 to 1."""
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a probability from 0 to 1, got {text}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def columns(text: str) -> tuple[int, int]:
    """``TOKEN,TAG`` as a pair of column indices."""
    try:
        token, tag = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two column numbers TOKEN,TAG such as 0,3, got {text!r}") from None
    return token, tag


def read(
    args: argparse.Namespace,
    path: Path,
    entry: catalogue.Entry | None = None,
    purpose: str = "read",
    tokenizer: str = DEFAULT_TOKENIZER,
) -> Corpus:
    """``path`` read with ``--format``, ``--lenient``, ``--columns`` and ``--encoding``, or in the format of the
    catalogue ``entry``, raw text cut by the rules ``tokenizer``; a corpus without a sentence to ``purpose`` is an
    ``EmptyCorpusError`` naming the file. A corpus without an entity is an error to train on and a warning else."""
    format = args.format if entry is None else entry.format
    columns = args.columns if entry is None else args.columns or entry.columns
    with txt_as_conll(path, format):
        corpus = read_corpus(path, format, args.lenient, columns, args.encoding, tokenizer)
    corpus = corpus.require_sentences(purpose)
    if not any(sentence.spans for sentence in corpus):
        problem = no_entities(path, format_of(path, format), purpose)
        if purpose == PURPOSES["train"]:
            raise CorpusFormatError(f"{problem}: a model of it would tag nothing; is it an export of annotations?")
        logger.warning("%s", problem)
    return corpus


def no_entities(path: Path, format: str, purpose: str) -> str:
    """What is wrong with ``path``, in ``format``, which has no entity to ``purpose``."""
    if format == "jsonl":
        keys = ", ".join(repr(key) for key in jsonl.SPAN_KEYS)
        return f"{path}: no record has spans to {purpose} (looked for the keys {keys})"
    return f"{path}: no sentence has an entity to {purpose}"


@contextlib.contextmanager
def txt_as_conll(path: Path, format: str | None) -> Iterator[None]:
    """A ``CorpusFormatError`` from reading ``path``, a ``.txt`` file read as CoNLL for want of ``--format``, with
    the reason and what to do: the same extension is raw text to ``tagger annotate``."""
    try:
        yield
    except (EncodingError, EmptyCorpusError):
        raise
    except CorpusFormatError as error:
        if format is not None or Path(path).suffix.lower() != ".txt":
            raise
        raise CorpusFormatError(
            f"{error}. A .txt file is read here as CoNLL (a token and its tag a line, blank lines between sentences); "
            f"if {path} is raw text with annotations, name its format with --format ({', '.join(RAW_TEXT)}), and to "
            "tag raw text without labels use tagger annotate or tagger predict, which read .txt files as raw text"
        ) from None


def locate(args: argparse.Namespace, entry: catalogue.Entry, splits: tuple[str, ...]) -> dict[str, Path]:
    """The files of ``splits`` of ``entry``, as ``--data-dir`` and ``--no-progress`` say."""
    return catalogue.locate(entry, splits, args.data_dir, progress=not getattr(args, "no_progress", False))


def read_split(args: argparse.Namespace, split: str, tokenizer: str = DEFAULT_TOKENIZER) -> Corpus:
    """``split`` of ``--corpus``, raw text cut by the rules ``tokenizer``; an error if the corpus has none."""
    entry = catalogue.entry(args.corpus)
    return read(args, locate(args, entry, (split,))[split], entry, PURPOSES.get(split, "read"), tokenizer)


def read_splits(args: argparse.Namespace, *splits: str, tokenizer: str = DEFAULT_TOKENIZER) -> dict[str, Corpus | None]:
    """``splits`` of ``--corpus``, or else the files of the options named after them (``--train``, ``--dev``, ...).

    A split the corpus lacks, or whose option is not given, is ``None``. With ``--corpus``,
    those options are an error: the catalogue gives the splits. Raw text is cut by the rules ``tokenizer``.
    """
    if args.corpus is None:
        return {
            split: read(args, getattr(args, split), None, PURPOSES[split], tokenizer) if getattr(args, split) else None
            for split in splits
        }
    refuse_split_files(args, [args.corpus], splits)
    return catalogue_splits(args, args.corpus, splits, tokenizer)


def refuse_split_files(args: argparse.Namespace, names: list[str], splits: tuple[str, ...]) -> None:
    """``CatalogueError`` when an option of ``splits`` (``--dev``, ...) is given beside ``--corpus`` ``names``."""
    given = [f"--{split}" for split in splits if getattr(args, split)]
    if given:
        raise CatalogueError(
            f"--corpus {' --corpus '.join(names)} gives the splits; leave out {' and '.join(given)}, or name every "
            f"file with {', '.join(f'--{split}' for split in splits)} instead of --corpus"
        )


def catalogue_splits(
    args: argparse.Namespace, name: str, splits: tuple[str, ...], tokenizer: str
) -> dict[str, Corpus | None]:
    """``splits`` of the catalogue corpus ``name``, raw text cut by the rules ``tokenizer``; those it lacks are
    ``None``."""
    entry = catalogue.entry(name)
    paths = locate(args, entry, tuple(split for split in splits if split in entry.splits))
    return {
        split: read(args, paths[split], entry, PURPOSES[split], tokenizer) if split in paths else None
        for split in splits
    }


INPUT_OPTIONS = (
    *("train", "dev", "test", "silver", "lessons", "data", "corpora", "config", "vectors", "char_lm", "init_from"),
    *("space", "input", "model"),
)


def refuse_overwriting_inputs(
    args: argparse.Namespace,
    outputs: dict[str, Path | None],
    writes: tuple[str, ...] | None = None,
    also: Sequence[Path] = (),
) -> None:
    """``OverwriteError`` when one of ``outputs`` is, holds or lies inside a file or folder the command reads:
    those of ``INPUT_OPTIONS`` (one path each, or a list of them) and ``also``.

    ``writes`` names what the command writes inside an output folder: then only those may not hold an input.
    """
    given = [getattr(args, name, None) for name in INPUT_OPTIONS]
    paths = [path for value in given for path in (value if isinstance(value, list) else [value])]
    inputs = [path for path in [*paths, *also] if isinstance(path, Path)]
    refuse_overwrite(outputs, inputs, holds=writes is None)
    if writes is not None:
        for (option, folder), name in product(outputs.items(), writes):
            refuse_overwrite({option: folder / name}, inputs)


def refuse_filled_output(option: str, folder: Path) -> None:
    """``OutputError`` unless ``folder`` (an output directory to create) is new or empty."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise OutputError(f"{option} {folder} exists and is not an empty directory")

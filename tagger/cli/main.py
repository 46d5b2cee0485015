"""``tagger``: the entry point that dispatches to the subcommands."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .. import __version__
from . import (
    annotate,
    corpora,
    embeddings,
    ensemble,
    evaluate,
    lm,
    lr_find,
    models,
    options,
    predict,
    quantize,
    serve,
    silver,
    spacy_export,
    teach,
    train,
    tune,
)

# oneDNN keeps a compiled LSTM, with its own copy of the weights, for every batch shape it meets: up to 1,024 of
# them by default, so tagging a stream of documents (annotate, serve) grew memory with the number of documents.
# 256 keeps it flat for about 3% of speed (measured on 12,000 documents). oneDNN reads it when torch first runs an
# LSTM; a value the user set wins.
ONEDNN_CACHE = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "256")
COMMANDS = (
    train,
    tune,
    lr_find,
    evaluate,
    predict,
    annotate,
    serve,
    corpora,
    models,
    spacy_export,
    quantize,
    ensemble,
    embeddings,
    lm,
    silver,
    teach,
)


def user_errors() -> tuple[type[Exception], ...]:
    """The errors a command reports in one line, without a traceback.

    Imported when an error is raised, not before: their modules need torch, and the help and
    the light commands do not.
    """
    from ..cards import CardError
    from ..catalogue import CatalogueError
    from ..config import ConfigError
    from ..corpus import CorpusFormatError
    from ..distillation import LessonsError
    from ..files import OutputError, OverwriteError
    from ..heads import HeadError
    from ..label_maps import LabelMapError
    from ..lm_store import LMError
    from ..presets import PresetError
    from ..schemes import SchemeError
    from ..tagger import ModelError
    from ..training import DivergedError
    from ..vectors import VectorsError
    from .options import OptionError
    from .serve import ServeError
    from .training_data import CorporaError

    return (
        CardError,
        CatalogueError,
        ConfigError,
        CorporaError,
        CorpusFormatError,
        DivergedError,
        HeadError,
        LabelMapError,
        LessonsError,
        LMError,
        ModelError,
        OptionError,
        OutputError,
        OverwriteError,
        PresetError,
        SchemeError,
        ServeError,
        VectorsError,
        FileNotFoundError,
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="tagger", description="BiLSTM-CRF sequence tagging.")
    root.add_argument("--version", action="version", version=f"tagger {__version__}")
    root.add_argument("-v", "--verbose", action="store_true", help="log debugging detail")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault(*ONEDNN_CACHE)  # before any command imports torch; worker processes inherit it
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s" if args.verbose else "%(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        logging.getLogger("gensim").setLevel(logging.WARNING)  # it logs every step of reading and training
    try:
        options.resolve(args)
        return args.run(args) or 0
    except KeyboardInterrupt:
        print(f"tagger {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of standard output went away (tagger ... | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the exit's flush cannot fail again
        return 141
    except Exception as error:
        if not isinstance(error, user_errors()):
            raise
        print(f"tagger {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

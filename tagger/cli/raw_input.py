"""What ``tagger silver`` and ``tagger teach`` share: a model read from --model, and the raw text of --input (one text
a line) that it reads, with a progress bar."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .heads import add_head_option
from .sources import MODEL_HELP, add_encoding_option, positive, refuse_overwriting_inputs


def add_options(parser: argparse.ArgumentParser, output_help: str, max_sentences_help: str) -> None:
    """The options both commands take: --model, --input, --output, --max-sentences, --batch-size, --head, --encoding
    and --no-progress."""
    parser.add_argument("--model", required=True, type=Path, help=MODEL_HELP)
    parser.add_argument("--input", type=Path, required=True, help="raw text file, one text (paragraph) a line")
    parser.add_argument("--output", type=Path, required=True, help=output_help)
    parser.add_argument("--max-sentences", type=positive, help=max_sentences_help)
    parser.add_argument("--batch-size", type=positive, default=256, help="sentences per forward pass")
    add_head_option(parser)
    add_encoding_option(parser, "--input", default="utf-8")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def model_for_input(args: argparse.Namespace, command: str):
    """The ``Tagger`` of --model, once --input is a file and --output is none of the inputs; ``None``, after saying
    why, when --input is no file."""
    from ..named_models import resolve
    from ..tagger import Tagger

    if not args.input.is_file():
        print(f"tagger {command}: error: --input {args.input} is not a file", file=sys.stderr)
        return None
    source = resolve(args.model)
    refuse_overwriting_inputs(args, {"--output": args.output}, also=[source])
    return Tagger.load(source)


@contextmanager
def input_texts(args: argparse.Namespace, made: str) -> Iterator[tuple[Iterator[str], Callable[[int, int], None]]]:
    """--input's texts, stripped, and a callback that moves a progress bar over them: called with the texts read and
    the ``made`` (what the command makes of them: "sentences kept") so far."""
    from tqdm import tqdm

    from ..reading import text_lines

    with tqdm(unit="text", disable=args.no_progress, dynamic_ncols=True, delay=0.5) as bar:

        def show(texts: int, count: int) -> None:
            bar.set_postfix_str(f"{count:,} {made}", refresh=False)
            bar.update(texts)

        yield (line.strip() for line in text_lines(args.input, args.encoding)), show

"""``tagger predict``: tag raw text and show the entities with their character offsets."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..config import PREDICT_BATCH_SIZE
from ..corpus import EmptyCorpusError
from ..reading import decode, read_text
from .heads import add_head_option
from .sources import MODEL_HELP, add_encoding_option, positive


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "predict",
        help="tag raw text",
        description="Cut raw text into sentences and tokens (by the model's tokenizer rules), tag it, and print "
        "each entity with its character offsets.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", required=True, type=Path, help=MODEL_HELP)
    parser.add_argument("input", nargs="?", default="-", help="a text file, or - for standard input")
    parser.add_argument("--json", action="store_true", help="print one JSON object with the text and its spans")
    parser.add_argument("--batch-size", type=positive, default=PREDICT_BATCH_SIZE, help="sentences per forward pass")
    add_head_option(parser)
    add_encoding_option(parser, "the input", default="utf-8")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..tagger import Tagger

    if args.input != "-" and not Path(args.input).exists():
        raise FileNotFoundError(f"input text not found: {args.input}")
    where = "standard input" if args.input == "-" else args.input
    if args.input == "-":
        stdin = getattr(sys.stdin, "buffer", None)
        text = sys.stdin.read() if stdin is None else decode(stdin.read(), where, args.encoding)
    else:
        text = read_text(args.input, args.encoding)
    if not text.strip():
        raise EmptyCorpusError(f"{where}: no text to tag: {'empty' if not text else 'only whitespace'}")
    tagger = Tagger.load(args.model)
    spans = tagger.tag_text(text, args.batch_size, args.head)
    if args.json:
        print(json.dumps({"text": text, "spans": spans}, ensure_ascii=False))
        return 0
    for span in spans:
        head = f"  [{span['head']}]" if "head" in span else ""
        print(f"{span['start']:>6} {span['end']:>6}  {span['label']:<12} {span['score']:.3f}  {span['text']}{head}")
    print(f"{len(spans)} entities in {len(text)} characters", file=sys.stderr)
    return 0

"""``tagger evaluate``: score a model on a labelled corpus with seqeval."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..corpus import Corpus
from ..evaluation import MODES, evaluate
from ..formats import conll, format_of, read_corpus, write_corpus
from ..schemes import to_spans
from ..tagger import Tagger
from .corpora import add_reading_options
from .report import print_scores


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="score a model on a labelled corpus",
        description="Entity-level precision, recall and F1 (seqeval), micro-averaged and per type.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", required=True, type=Path, help="model directory")
    parser.add_argument("--data", required=True, type=Path, help="labelled corpus")
    parser.add_argument("--mode", choices=MODES, default="default", help="seqeval mode")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument(
        "--predictions",
        type=Path,
        help="write token, gold and predicted tag per line here (.tsv, .conll, ...), or the predicted spans "
        "in the format of another extension (.xml: SemEval XML for the official scorer)",
    )
    parser.add_argument("--batch-size", type=int, default=256, help="sentences per forward pass")
    add_reading_options(parser, "--data")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    predictions_format = format_of(args.predictions) if args.predictions else None
    tagger = Tagger.load(args.model)
    corpus = read_corpus(args.data, args.format, args.lenient)
    scores, predicted = evaluate(tagger, corpus, args.mode, args.batch_size)
    if predictions_format == "conll":
        conll.write(corpus, args.predictions, columns=(predicted,))
    elif predictions_format:
        spans = [sentence.with_spans(to_spans(tags), corpus.scheme) for sentence, tags in zip(corpus, predicted)]
        write_corpus(Corpus(spans, corpus.scheme, corpus.source), args.predictions)
    if args.json:
        print(json.dumps(scores, indent=2))
    else:
        print_scores(scores)
    return 0

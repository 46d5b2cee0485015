"""``tagger evaluate``: score a model on a labelled corpus with seqeval."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..catalogue import SPLITS, CatalogueError
from ..corpus import Corpus
from ..evaluation import MODES, evaluate
from ..formats import conll, format_of, write_corpus
from ..schemes import to_spans
from ..tagger import Tagger
from .heads import add_head_option
from .report import print_scores
from .sources import (
    add_corpus_options,
    add_reading_options,
    positive,
    read,
    read_split,
    refuse_overwriting_inputs,
)


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="score a model on a labelled corpus",
        description="Entity-level precision, recall and F1 (seqeval), micro-averaged and per type.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", required=True, type=Path, help="model directory")
    corpus = parser.add_mutually_exclusive_group(required=True)
    corpus.add_argument("--data", type=Path, help="labelled corpus")
    add_corpus_options(parser, corpus, "the --split")
    parser.add_argument("--split", choices=SPLITS, help="with --corpus: the split to score; test when not given")
    parser.add_argument("--mode", choices=MODES, default="default", help="seqeval mode")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument(
        "--predictions",
        type=Path,
        help="write token, gold and predicted tag per line here (.tsv, .conll, ...), or the predicted spans "
        "in the format of another extension (.xml: SemEval XML for the official scorer)",
    )
    parser.add_argument("--batch-size", type=positive, default=256, help="sentences per forward pass")
    add_head_option(parser)
    add_reading_options(parser, "--data")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    refuse_overwriting_inputs(args, {"--predictions": args.predictions})
    predictions_format = format_of(args.predictions) if args.predictions else None
    if args.split and not args.corpus:
        raise CatalogueError("--split chooses a split of --corpus; with --data, the file is the split")
    tagger = Tagger.load(args.model)
    tagger.chosen_heads(args.head)  # an unknown head fails before the corpus is read
    corpus = read_split(args, args.split or "test") if args.corpus else read(args, args.data, purpose="evaluate on")
    scores, predicted = evaluate(tagger, corpus, args.mode, args.batch_size, args.head)
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

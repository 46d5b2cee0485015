"""``tagger evaluate``: score a model on a labelled corpus with seqeval."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..evaluation import MODES, evaluate
from ..formats import conll, read_corpus
from ..tagger import Tagger
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
    parser.add_argument("--predictions", type=Path, help="write token, gold and predicted tag per line here")
    parser.add_argument("--batch-size", type=int, default=256, help="sentences per forward pass")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    tagger = Tagger.load(args.model)
    corpus = read_corpus(args.data)
    scores, predicted = evaluate(tagger, corpus, args.mode, args.batch_size)
    if args.predictions:
        conll.write(corpus, args.predictions, columns=(predicted,))
    if args.json:
        print(json.dumps(scores, indent=2))
    else:
        print_scores(scores)
    return 0

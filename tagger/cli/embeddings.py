"""``tagger embeddings``: train in-domain word vectors that ``tagger train --vectors`` reads."""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

from ..text import DEFAULT_TOKENIZER, TOKENIZERS
from .sources import add_encoding_option, non_negative, positive, refuse_overwriting_inputs

logger = logging.getLogger("tagger")


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "embeddings",
        help="train in-domain word vectors",
        description="Train word vectors on unlabelled in-domain text, for tagger train --vectors.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    train = actions.add_parser(
        "train",
        help="train word2vec or fastText vectors with gensim",
        description="Train skip-gram word2vec or fastText vectors on INPUT with gensim. INPUT is tokenised with "
        "tagger's tokenizer (each line split into sentences) unless it already reads as one sentence per line "
        "of space-separated tokens (detected, or forced by --pretokenized). OUT is replaced atomically: a .bin "
        "fastText model keeps its subword vectors (for words outside the vocabulary), a .bin word2vec one is "
        "word2vec's binary format, and any other name (.txt, .vec) gets word2vec's text format.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    train.add_argument("--input", required=True, type=Path, help="raw UTF-8 text, or tokenised one sentence a line")
    train.add_argument("--algorithm", required=True, choices=("word2vec", "fasttext"), help="what to train")
    train.add_argument("--dim", type=positive, default=100, help="vector dimension")
    train.add_argument(
        "--output",
        "--out",
        required=True,
        type=Path,
        help="vectors file to write (.bin, .txt or .vec); --out is its old name",
    )
    train.add_argument("--epochs", type=positive, default=5, help="passes over INPUT")
    train.add_argument("--min-count", type=positive, default=5, help="words rarer than this get no vector")
    train.add_argument("--window", type=positive, default=5, help="context words on each side")
    train.add_argument("--threads", type=non_negative, default=0, help="worker threads; 0: one per CPU core")
    train.add_argument("--seed", type=int, default=13, help="random seed (exact repeats also need --threads 1)")
    train.add_argument("--buckets", type=positive, default=500_000, help="fastText: hash rows for character n-grams")
    train.add_argument("--pretokenized", action="store_true", help="INPUT is tokenised: do not detect it")
    train.add_argument(
        "--tokenizer",
        choices=TOKENIZERS,
        default=DEFAULT_TOKENIZER,
        help="rules to tokenise raw INPUT with: those of the models that will read the vectors",
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_encoding_option(train, "INPUT", default="utf-8")
    train.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    from .. import vector_training

    if not args.input.is_file():
        raise FileNotFoundError(f"input text not found: {args.input}")
    refuse_overwriting_inputs(args, {"--output": args.output})
    pretokenized = args.pretokenized or vector_training.is_pretokenized(args.input, encoding=args.encoding)
    logger.info("%s: %s", args.input, "pretokenized" if pretokenized else f"tokenising by the {args.tokenizer} rules")
    started = time.perf_counter()
    with vector_training.tokenized(args.input, pretokenized, args.encoding, args.tokenizer) as corpus_file:
        model = vector_training.train_vectors(
            corpus_file,
            args.algorithm,
            args.dim,
            epochs=args.epochs,
            min_count=args.min_count,
            window=args.window,
            threads=args.threads or os.cpu_count() or 1,
            seed=args.seed,
            buckets=args.buckets,
            callbacks=(vector_training.EpochProgress(args.epochs, bar=not args.no_progress),),
            source=args.input,
        )
    vector_training.save_vectors(model, args.output)
    print(
        f"wrote {len(model.wv)} {args.dim}-dimensional {args.algorithm} vectors to {args.output} "
        f"({time.perf_counter() - started:.1f}s)"
    )
    return 0

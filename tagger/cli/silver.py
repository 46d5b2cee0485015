"""``tagger silver``: the sentences of raw text that a model tags confidently, as a training corpus
(self-training: ``tagger.self_training``)."""

from __future__ import annotations

import argparse
import sys

from .raw_input import add_options, input_texts, model_for_input
from .sources import probability


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "silver",
        help="tag raw text and write its confidently tagged sentences as a training corpus (self-training)",
        description="Self-training: tag raw in-domain text (one text a line; blank lines are skipped) with a model "
        "and write the sentences it tags confidently, with its tags, as a corpus to train the next model on beside "
        "the gold one. A sentence is kept when the CRF gives each token's tag a probability of at least "
        "--min-confidence, and, unless --all-sentences, when it holds an entity. Train on both with tagger train "
        "--silver OUTPUT, which joins them to the training corpus (dev and test stay gold).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_options(
        parser,
        "corpus file to write, its format by extension (.conll, .tsv, .jsonl, ...), replaced atomically",
        "stop after keeping this many (default: read all)",
    )
    parser.add_argument(
        "--min-confidence", type=probability, default=0.95, help="lowest tag probability a kept sentence may have"
    )
    parser.add_argument("--all-sentences", action="store_true", help="also keep confident sentences without an entity")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..formats import format_of, write_corpus
    from ..self_training import silver

    format_of(args.output)  # an unknown extension is an error now, not after the tagging
    tagger = model_for_input(args, "silver")
    if tagger is None:
        return 2
    with input_texts(args, "sentences kept") as (texts, show):
        corpus = silver(
            tagger,
            texts,
            args.min_confidence,
            not args.all_sentences,
            args.max_sentences,
            args.batch_size,
            args.head,
            show,
        )
    if not len(corpus):
        print(f"tagger silver: error: no sentence of {args.input} passed; nothing written", file=sys.stderr)
        return 1
    write_corpus(corpus, args.output)
    entities = sum(len(sentence.spans) for sentence in corpus)
    print(f"wrote {args.output}: {len(corpus)} sentences, {entities} entities ({corpus.scheme})", file=sys.stderr)
    return 0

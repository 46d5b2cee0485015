"""``tagger silver``: the sentences of raw text that a model tags confidently, as a training corpus
(self-training: ``tagger.self_training``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .heads import add_head_option
from .sources import MODEL_HELP, add_encoding_option, positive, probability, refuse_overwriting_inputs


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
    parser.add_argument("--model", required=True, type=Path, help=MODEL_HELP)
    parser.add_argument("--input", type=Path, required=True, help="raw text file, one text (paragraph) a line")
    parser.add_argument(
        "--output",
        type=Path,
        required=True,
        help="corpus file to write, its format by extension (.conll, .tsv, .jsonl, ...), replaced atomically",
    )
    parser.add_argument(
        "--min-confidence", type=probability, default=0.95, help="lowest tag probability a kept sentence may have"
    )
    parser.add_argument("--max-sentences", type=positive, help="stop after keeping this many (default: read all)")
    parser.add_argument("--all-sentences", action="store_true", help="also keep confident sentences without an entity")
    parser.add_argument("--batch-size", type=positive, default=256, help="sentences per forward pass")
    add_head_option(parser)
    add_encoding_option(parser, "--input", default="utf-8")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..formats import format_of, write_corpus
    from ..named_models import resolve
    from ..reading import text_lines
    from ..self_training import silver
    from ..tagger import Tagger

    if not args.input.is_file():
        print(f"tagger silver: error: --input {args.input} is not a file", file=sys.stderr)
        return 2
    format_of(args.output)  # an unknown extension is an error now, not after the tagging
    source = resolve(args.model)
    refuse_overwriting_inputs(args, {"--output": args.output}, also=[source])
    tagger = Tagger.load(source)
    with tqdm(unit="text", disable=args.no_progress, dynamic_ncols=True, delay=0.5) as bar:

        def show(texts: int, kept: int) -> None:
            bar.set_postfix_str(f"{kept:,} sentences kept", refresh=False)
            bar.update(texts)

        corpus = silver(
            tagger,
            (line.strip() for line in text_lines(args.input, args.encoding)),
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

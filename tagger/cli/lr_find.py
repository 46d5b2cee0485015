"""``tagger lr-find``: the learning-rate range test; suggests a learning rate for ``tagger train``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..lr_finder import END, JSON_FILE, PNG_FILE, START, STEPS
from .sources import add_corpus_options, add_preset_options, add_reading_options, refuse_overwriting_inputs
from .train import read_config
from .training_data import read_train_dev_test

logger = logging.getLogger("tagger")


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "lr-find",
        help="suggest a learning rate (learning-rate range test)",
        description="Learning-rate range test (Smith 2017): a fresh model of the config trains for --steps batches "
        "while the learning rate grows exponentially from --start to --end, stopping early when the smoothed loss "
        "diverges. The suggested rate, where the smoothed loss falls fastest, is printed and written with the whole "
        f"curve to OUTPUT/{JSON_FILE}; OUTPUT/{PNG_FILE} plots it. tagger train --set lr=auto runs this first.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    corpus = parser.add_mutually_exclusive_group(required=True)
    corpus.add_argument("--train", type=Path, help="training corpus (format: see --format)")
    add_corpus_options(parser, corpus, "train and dev")
    parser.add_argument(
        "--dev",
        type=Path,
        help="the dev corpus tagger train would be given; without it, dev_fraction of train is held out by the seed, "
        "as tagger train does, so that the test trains on the same sentences",
    )
    parser.add_argument("--output", required=True, type=Path, help=f"output directory ({JSON_FILE}, {PNG_FILE})")
    parser.add_argument("--config", type=Path, help="JSON config file (a model's config.json works too)")
    add_preset_options(parser)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    parser.add_argument("--start", type=float, default=START, help="first learning rate")
    parser.add_argument("--end", type=float, default=END, help="last learning rate")
    parser.add_argument("--steps", type=int, default=STEPS, help="batches, one learning rate each")
    add_reading_options(parser, "--train and --dev")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..lr_finder import range_test

    refuse_overwriting_inputs(args, {"--output": args.output}, (JSON_FILE, PNG_FILE))
    config = read_config(args, [])
    train, dev, _ = read_train_dev_test(args, config)
    test = range_test(config, train, [s.tokens for s in dev], args.start, args.end, args.steps)
    test.save(args.output / JSON_FILE, args.output / PNG_FILE)
    logger.info("%s; curve in %s", test.describe(), args.output / PNG_FILE)
    print(f"{test.suggested_lr:.4g}")
    return 0

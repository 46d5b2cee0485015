"""``tagger ensemble``: one model from several trained apart, tagging with the mean of theirs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .sources import refuse_filled_output, refuse_overwriting_inputs


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "ensemble",
        help="combine models trained apart into one",
        description="Write one model that tags with the mean of the emissions and CRF scores of models of one config "
        "trained on the same data with other seeds (tagger train --set seed=N), each with its own early stopping: "
        "more accurate than each of them, at the sum of their prediction times. An ensemble given joins with each "
        "of its members. Score it with tagger evaluate --model OUTPUT --data FILE (or --corpus NAME) --update-card.",
        epilog="example: tagger ensemble --model runs/s1 --model runs/s2 --model runs/s3 --output runs/ensemble",
    )
    parser.add_argument(
        "--model",
        action="append",
        required=True,
        help="model directory, run directory or named model (tagger models list); two or more",
    )
    parser.add_argument(
        "--output", type=Path, required=True, help="model directory to create (must not exist, or be empty)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import cards
    from ..ensembles import combined
    from ..named_models import resolve
    from ..tagger import Tagger

    sources = [resolve(model) for model in args.model]
    refuse_overwriting_inputs(args, {"--output": args.output}, also=sources)
    refuse_filled_output("--output", args.output)
    tagger = combined([Tagger.load(source) for source in sources], [str(source) for source in sources])
    tagger.save(args.output)
    try:
        cards.write(args.output, cards.ensembled([cards.read(source) for source in sources], tagger))
    except cards.CardError:
        pass  # models saved without a card make an ensemble without one
    print(
        f"wrote {args.output}: an ensemble of {tagger.config.ensemble} models; score it with tagger evaluate "
        f"--model {args.output} --data FILE (or --corpus NAME) --update-card",
        file=sys.stderr,
    )
    return 0

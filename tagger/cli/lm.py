"""``tagger lm train``: a forward and a backward character language model from raw text."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..lm_settings import LMSettings
from .sources import refuse_overwriting_inputs

logger = logging.getLogger("tagger")


def add_parser(commands) -> None:
    defaults = LMSettings()
    group = commands.add_parser("lm", help="character language models for tagger train --char-lm")
    subcommands = group.add_subparsers(dest="lm_command", required=True, metavar="SUBCOMMAND")
    train = subcommands.add_parser(
        "train",
        help="train a forward and a backward character LSTM LM on raw text",
        description="Train character LSTM language models (Akbik et al. 2018) on raw text with truncated "
        "backpropagation through time and SGD. Held-out documents are scored in bits per character at every "
        "checkpoint; the best LM of each direction is kept in OUTPUT (safetensors + JSON). Give OUTPUT to "
        "tagger train --char-lm.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    train.add_argument("--input", required=True, type=Path, help="UTF-8 text; blank lines separate documents")
    train.add_argument("--output", required=True, type=Path, help="LM directory to write")
    train.add_argument(
        "--direction",
        choices=("both", "forward", "backward"),
        default="both",
        help="which LMs to train (two processes may train one each into the same OUTPUT)",
    )
    train.add_argument(
        "--max-chars",
        type=int,
        help="use at most this many characters: whole documents, spread evenly over the file; None: all of it",
    )
    for name, help_text in (
        ("hidden", "LSTM units"),
        ("layers", "LSTM layers"),
        ("char-dim", "character embedding size"),
        ("bptt", "characters per backpropagation window"),
        ("batch-size", "parallel streams of text"),
        ("epochs", "passes over the text (may be raised on --resume)"),
        ("heldout-chars", "characters of whole documents held out for bits per character"),
        ("checkpoint-every", "steps between held-out scoring and checkpoints"),
        ("seed", "random seed"),
    ):
        key = name.replace("-", "_")
        train.add_argument(f"--{name}", type=int, default=getattr(defaults, key), help=help_text)
    for name, help_text in (("lr", "SGD learning rate"), ("clip", "gradient norm clipping"), ("dropout", "dropout")):
        train.add_argument(f"--{name}", type=float, default=getattr(defaults, name), help=help_text)
    train.add_argument("--threads", type=int, default=0, help="torch threads; 0 keeps torch's default")
    train.add_argument("--resume", action="store_true", help="continue the checkpoints in OUTPUT")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from ..lm_store import DIRECTIONS, LMError
    from ..lm_training import LMTrainer, read_text

    refuse_overwriting_inputs(args, {"--output": args.output})
    keys = (
        "hidden",
        "layers",
        "char_dim",
        "bptt",
        "batch_size",
        "epochs",
        "heldout_chars",
        "checkpoint_every",
        "seed",
        "lr",
        "clip",
        "dropout",
    )
    settings = LMSettings(**{key: getattr(args, key) for key in keys})
    directions = DIRECTIONS if args.direction == "both" else (args.direction,)
    if not args.resume:
        existing = [d for d in directions if (args.output / f"checkpoint-{d}.json").exists()]
        if existing:
            raise LMError(
                f"{args.output} already holds a {existing[0]} LM: add --resume to continue it, or choose "
                "another --output"
            )
    if args.threads:
        torch.set_num_threads(args.threads)
    text = read_text(args.input, args.max_chars)
    logger.info("%s: %s characters", args.input, f"{len(text):,}")
    for direction in directions:
        resumable = args.resume and (args.output / f"checkpoint-{direction}.json").exists()
        if resumable:
            trainer = LMTrainer.resume(text, direction, settings, args.output)
        else:
            trainer = LMTrainer(text, direction, settings, args.output)
        chars_per_step = settings.batch_size * settings.bptt
        total = trainer.steps_per_epoch * settings.epochs * chars_per_step
        done = (trainer.progress["epoch"] * trainer.steps_per_epoch + trainer.progress["step"]) * chars_per_step
        with tqdm(
            total=total,
            initial=done,
            unit="char",
            unit_scale=True,
            desc=direction,
            disable=args.no_progress,
            dynamic_ncols=True,
        ) as bar:
            facts = trainer.fit(on_step=bar.update)
        logger.info(
            "%s LM: held-out %.4f bits/char after %s training characters, %.0f s; saved in %s",
            direction,
            facts["heldout_bpc"],
            f"{facts['training_chars'] * settings.epochs:,}",
            facts["seconds"],
            args.output,
        )
    return 0

"""How commands take a trained model: ``--model DIR`` and ``--bf16``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..tagger import Tagger

BF16_HELP = (
    "compute the network in bfloat16 (the CRF in float32): faster on CPUs with bfloat16 instructions "
    "(AVX512-BF16, AMX), slower on others; tags rarely change"
)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, type=Path, help="model directory")
    parser.add_argument("--bf16", action="store_true", help=BF16_HELP)


def load_model(args: argparse.Namespace) -> Tagger:
    """The model of ``--model``, in bfloat16 with ``--bf16``."""
    tagger = Tagger.load(args.model)
    return tagger.bfloat16() if args.bf16 else tagger

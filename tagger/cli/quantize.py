"""``tagger quantize``: a copy of a model whose LSTMs and linear layers run in int8 or bfloat16."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..quantization import QUANTIZATIONS
from .sources import refuse_filled_output, refuse_overwriting_inputs


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "quantize",
        help="write an int8 or bfloat16 copy of a model",
        description="Write a copy of a model whose LSTMs and linear layers run in lower precision for prediction "
        "on the CPU: int8 (dynamic quantisation: int8 weights, inputs quantised batch by batch) or bf16 (bfloat16 "
        "weights and inputs, outputs in float32; fast only where the CPU has bfloat16 arithmetic, AMX or AVX-512 "
        "BF16: see lscpu's flags amx_bf16 and avx512_bf16, slower than float elsewhere). The copy stores "
        "the float weights and the scheme, and is quantised again, the same way, each time it loads; it predicts "
        "wherever a model does but cannot be trained further. Its card keeps the float model's test scores apart: "
        "score the copy with tagger evaluate --model OUTPUT --data FILE (or --corpus NAME) --update-card.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", required=True, help="model directory, or a named model (tagger models list)")
    parser.add_argument(
        "--output", type=Path, required=True, help="model directory to create (must not exist, or be empty)"
    )
    parser.add_argument("--scheme", choices=QUANTIZATIONS, default=QUANTIZATIONS[0], help="quantisation scheme")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import cards
    from ..named_models import resolve
    from ..tagger import Tagger

    source = resolve(args.model)
    refuse_overwriting_inputs(args, {"--output": args.output}, also=[source])
    refuse_filled_output("--output", args.output)
    tagger = Tagger.load(source)
    if tagger.quantization is not None:
        print(f"tagger quantize: error: {source} is already quantised ({tagger.quantization})", file=sys.stderr)
        return 2
    tagger.quantize(args.scheme).save(args.output)
    try:
        cards.write(args.output, cards.quantized(cards.read(source), args.scheme))
    except cards.CardError:
        pass  # a model saved without a card gets none
    print(
        f"wrote {args.output}: {args.scheme} copy of {source}; score it with tagger evaluate --model {args.output} "
        "--data FILE (or --corpus NAME) --update-card",
        file=sys.stderr,
    )
    return 0

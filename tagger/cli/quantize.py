"""``tagger quantize``: a copy of a model whose LSTMs and linear layers run in int8 or bfloat16, or whose weights
are stored in bfloat16."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from ..quantization import QUANTIZATIONS, STORED_DTYPES
from .sources import refuse_filled_output, refuse_overwriting_inputs


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "quantize",
        help="write an int8 or bfloat16 copy of a model, or one stored in half the space",
        description="Write a copy of a model whose LSTMs and linear layers run in lower precision for prediction "
        "on the CPU: int8 (dynamic quantisation: int8 weights, inputs quantised batch by batch) or bf16 (bfloat16 "
        "weights and inputs, outputs in float32; fast only where the CPU has bfloat16 arithmetic, AMX or AVX-512 "
        "BF16: see lscpu's flags amx_bf16 and avx512_bf16, slower than float elsewhere). The copy stores "
        "the float weights and the scheme, and is quantised again, the same way, each time it loads; it predicts "
        "wherever a model does but cannot be trained further. Its card keeps the float model's test scores apart: "
        "score the copy with tagger evaluate --model OUTPUT --data FILE (or --corpus NAME) --update-card. With "
        "--weights-dtype bfloat16 instead, nothing is quantised: the weights are rounded to bfloat16 and stored so "
        "(half the file) and computed in float32 once loaded, on every CPU, at the float model's speed.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", required=True, help="model directory, or a named model (tagger models list)")
    parser.add_argument(
        "--output", type=Path, required=True, help="model directory to create (must not exist, or be empty)"
    )
    lowering = parser.add_mutually_exclusive_group()
    lowering.add_argument(
        "--scheme",
        choices=QUANTIZATIONS,
        help=f"quantisation scheme (default: {QUANTIZATIONS[0]}, unless --weights-dtype)",
    )
    lowering.add_argument(
        "--weights-dtype",
        choices=STORED_DTYPES[1:],
        help="store the weights in this type instead of quantising (Tagger.store_weights_in)",
    )
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
    if args.weights_dtype is not None:
        if tagger.weights_dtype == args.weights_dtype:
            print(f"tagger quantize: error: {source} is already stored in {args.weights_dtype}", file=sys.stderr)
            return 2
        tagger.store_weights_in(args.weights_dtype)
        what, card_of = f"copy with {args.weights_dtype} weights", partial(cards.rounded, dtype=args.weights_dtype)
    else:
        scheme = args.scheme or QUANTIZATIONS[0]
        tagger.quantize(scheme)
        what, card_of = f"{scheme} copy", partial(cards.quantized, scheme=scheme)
    tagger.save(args.output)
    try:
        cards.write(args.output, card_of(cards.read(source)))
    except cards.CardError:
        pass  # a model saved without a card gets none
    print(
        f"wrote {args.output}: {what} of {source}; score it with tagger evaluate --model {args.output} "
        "--data FILE (or --corpus NAME) --update-card",
        file=sys.stderr,
    )
    return 0

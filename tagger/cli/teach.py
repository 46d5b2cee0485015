"""``tagger teach``: a model's CRF posteriors on raw text, as lessons a student trains on (knowledge distillation:
``tagger.distillation``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .heads import add_head_option
from .sources import MODEL_HELP, add_encoding_option, positive, refuse_overwriting_inputs


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "teach",
        help="tag raw text with a teacher (an ensemble, say) and write its posteriors as lessons (distillation)",
        description="Knowledge distillation: a teacher model, typically an ensemble, reads raw in-domain text (one "
        "text a line; blank lines are skipped) and writes each sentence's CRF posteriors (every token's tag "
        "probabilities and the expected transitions) as lessons. tagger train --lessons OUTPUT trains a student on "
        "them beside the gold corpus: on each lesson its loss is the cross-entropy of its tag sequences against the "
        "teacher's, so it learns what the teacher is unsure of too, where tagger silver keeps only confident tags.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", required=True, type=Path, help=MODEL_HELP)
    parser.add_argument("--input", type=Path, required=True, help="raw text file, one text (paragraph) a line")
    parser.add_argument(
        "--output", type=Path, required=True, help="lessons file to write (safetensors), replaced atomically"
    )
    parser.add_argument("--max-sentences", type=positive, help="stop after this many (default: read all)")
    parser.add_argument("--batch-size", type=positive, default=256, help="sentences per forward pass")
    add_head_option(parser)
    add_encoding_option(parser, "--input", default="utf-8")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..distillation import teach
    from ..named_models import resolve
    from ..reading import text_lines
    from ..tagger import Tagger

    if not args.input.is_file():
        print(f"tagger teach: error: --input {args.input} is not a file", file=sys.stderr)
        return 2
    source = resolve(args.model)
    refuse_overwriting_inputs(args, {"--output": args.output}, also=[source])
    teacher = Tagger.load(source)
    with tqdm(unit="text", disable=args.no_progress, dynamic_ncols=True, delay=0.5) as bar:

        def show(texts: int, taught: int) -> None:
            bar.set_postfix_str(f"{taught:,} sentences", refresh=False)
            bar.update(texts)

        lessons = teach(
            teacher,
            (line.strip() for line in text_lines(args.input, args.encoding)),
            args.max_sentences,
            args.batch_size,
            args.head,
            show,
        )
    if not len(lessons):
        print(f"tagger teach: error: {args.input} holds no text; nothing written", file=sys.stderr)
        return 1
    lessons.save(args.output)
    tokens = sum(len(lesson.sentence.tokens) for lesson in lessons)
    print(
        f"wrote {args.output}: {len(lessons)} sentences, {tokens} tokens, tags {' '.join(lessons.tags)}",
        file=sys.stderr,
    )
    return 0

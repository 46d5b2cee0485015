"""``tagger teach``: a model's CRF posteriors on raw text, as lessons a student trains on (knowledge distillation:
``tagger.distillation``)."""

from __future__ import annotations

import argparse
import sys

from .raw_input import add_options, input_texts, model_for_input


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
    add_options(
        parser,
        "lessons file to write (safetensors), replaced atomically",
        "stop after this many (default: read all)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..distillation import teach

    teacher = model_for_input(args, "teach")
    if teacher is None:
        return 2
    with input_texts(args, "sentences") as (texts, show):
        lessons = teach(teacher, texts, args.max_sentences, args.batch_size, args.head, show)
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

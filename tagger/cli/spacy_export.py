"""``tagger export-spacy``: a model as a complete spaCy pipeline directory that ``spacy.load`` opens."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import uuid
from pathlib import Path

from ..config import PREDICT_BATCH_SIZE
from ..files import output_error
from .options import add_path_option
from .sources import positive, refuse_filled_output, refuse_overwriting_inputs


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "export-spacy",
        help="write a model as a spaCy pipeline",
        description="Write a spaCy pipeline directory: a tokenizer with the model's rules (its config key "
        "tokenizer; the language's own for english), our sentence splitter (tagger_sentences, as tagger annotate cuts "
        "text) and the bilstm_crf component holding a copy of the model. Open it with spacy.load(OUTPUT). The "
        "positionals MODEL OUTPUT of earlier versions still work (deprecated).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_path_option(parser, "model", "model directory")
    add_path_option(parser, "output", "pipeline directory to create (must not exist, or be empty)")
    parser.add_argument(
        "--lang", default="en", help="spaCy language code of the pipeline, and of its tokenizer for english models"
    )
    parser.add_argument("--spans-key", help="write doc.spans[KEY] instead of doc.ents")
    parser.add_argument("--batch-size", type=positive, default=PREDICT_BATCH_SIZE, help="sentences per forward pass")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import spacy

    from ..spacy_component import FACTORY, pipeline

    output: Path = args.output
    refuse_overwriting_inputs(args, {"--output": output})
    refuse_filled_output("--output", output)
    try:
        spacy.util.get_lang_class(args.lang)
    except ImportError:
        print(
            f"tagger export-spacy: error: --lang {args.lang}: spaCy has no such language (en, de, fr, ...)",
            file=sys.stderr,
        )
        return 2
    nlp = pipeline(args.model, args.lang, args.spans_key, args.batch_size)
    staging = output.parent / f".{output.name}.{uuid.uuid4().hex}.tmp"
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        nlp.to_disk(staging)
        os.replace(staging, output)  # all or nothing: a crash leaves no half-written pipeline
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise output_error(output, error) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    labels = ", ".join(nlp.get_pipe(FACTORY).labels)
    print(f"wrote {output}: tokenizer, {', '.join(nlp.pipe_names)} (labels {labels})", file=sys.stderr)
    return 0

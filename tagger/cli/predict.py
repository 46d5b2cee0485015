"""``tagger predict``: tag raw text and show the entities with their character offsets."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..tagger import Tagger


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "predict",
        help="tag raw text",
        description="Tokenise raw text with spaCy, tag it, and print each entity with its character offsets.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", required=True, type=Path, help="model directory")
    parser.add_argument("input", nargs="?", default="-", help="a UTF-8 text file, or - for standard input")
    parser.add_argument("--json", action="store_true", help="print one JSON object with the text and its spans")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    tagger = Tagger.load(args.model)
    text = sys.stdin.read() if args.input == "-" else Path(args.input).read_text(encoding="utf-8")
    spans = tagger.tag_text(text)
    if args.json:
        print(json.dumps({"text": text, "spans": spans}, ensure_ascii=False))
        return 0
    for span in spans:
        print(f"{span['start']:>6} {span['end']:>6}  {span['label']:<12} {span['score']:.3f}  {span['text']}")
    print(f"{len(spans)} entities in {len(text)} characters", file=sys.stderr)
    return 0

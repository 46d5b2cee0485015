"""``tagger corpora``: inspect corpus files and convert them between formats."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..formats import EXTENSIONS, FORMATS, format_of, read_corpus, write_corpus
from ..stats import corpus_stats, oov_rate


def add_reading_options(parser: argparse.ArgumentParser, files: str) -> None:
    """``--format`` and ``--lenient`` for commands that read corpus files."""
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help=f"format of {files}; default: by extension ({', '.join(f'{e} {n}' for e, n in EXTENSIONS.items())})",
    )
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="skip and count bad sentences or documents of SemEval XML, PubTator and JSONL files instead of stopping",
    )


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "corpora",
        help="inspect and convert corpus files",
        description="Inspect corpus files and convert them between CoNLL, SemEval XML, span JSONL and PubTator.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    stats = actions.add_parser(
        "stats",
        help="sizes, entities, alignment and OOV rates of corpus files",
        description="Sentences, tokens, entities (per type and per length in tokens) and how character spans "
        "aligned to tokens (exact, expanded, dropped). Given several files, the out-of-vocabulary rate of each "
        "later one against the first (train). With --json: one object, or a list of them for several files.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    stats.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="corpus files, train first")
    add_reading_options(stats, "every PATH")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.set_defaults(run=run_stats)
    convert = actions.add_parser(
        "convert",
        help="convert a corpus file to another format",
        description="Read INPUT and write OUTPUT, each in the format its extension names. Spans read with "
        "character offsets are written back as read; --verbose lists the spans expanded to token boundaries.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    convert.add_argument("input", type=Path, help="corpus file to read")
    convert.add_argument("output", type=Path, help="corpus file to write")
    add_reading_options(convert, "INPUT")
    convert.add_argument("--to", choices=FORMATS, help="format of OUTPUT; default: by extension")
    convert.set_defaults(run=run_convert)


def run_stats(args: argparse.Namespace) -> int:
    corpora = [read_corpus(path, args.format, args.lenient) for path in args.paths]
    rows = []
    for index, (path, corpus) in enumerate(zip(args.paths, corpora)):
        row = {"path": str(path), "format": format_of(path, args.format), **corpus_stats(corpus)}
        if index:
            row["oov_rate"] = oov_rate(corpus, corpora[0])
        rows.append(row)
    if args.json:
        print(json.dumps(rows if len(rows) > 1 else rows[0], indent=2))
        return 0
    for row in rows:
        print_stats(row, reference=args.paths[0])
    return 0


def print_stats(row: dict, reference: Path) -> None:
    """One file's statistics as a short table."""
    types = ", ".join(f"{label} {count}" for label, count in row["entities_per_type"].items())
    alignment = ", ".join(f"{count} {key}" for key, count in row["alignment"].items())
    print(f"{row['path']} ({row['format']})")
    print(f"  {'sentences':<14}{row['sentences']}")
    print(f"  {'tokens':<14}{row['tokens']}")
    print(f"  {'entities':<14}{row['entities']}" + (f" ({types})" if types else ""))
    print(f"  {'alignment':<14}{alignment}")
    print(f"  {'span lengths':<14}" + ", ".join(f"{length}: {n}" for length, n in row["span_lengths"].items()))
    if "oov_rate" in row:
        print(f"  {'OOV rate':<14}{row['oov_rate']:.2%} of tokens unseen in {reference}")
    if row["notes"]:
        print(f"  {'notes':<14}" + ", ".join(f"{key} {count}" for key, count in row["notes"].items()))


def run_convert(args: argparse.Namespace) -> int:
    output_format = format_of(args.output, args.to)
    corpus = read_corpus(args.input, args.format, args.lenient)
    write_corpus(corpus, args.output, output_format)
    entities = sum(len(sentence.spans) for sentence in corpus)
    print(f"wrote {len(corpus)} sentences, {entities} entities to {args.output} ({output_format})")
    return 0

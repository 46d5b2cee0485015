"""``tagger corpora``: the catalogue of named corpora, fetching them, and inspecting and converting corpus files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .. import catalogue
from ..formats import FORMATS, format_of, write_corpus
from ..stats import corpus_stats, oov_rate
from .options import add_path_option
from .sources import add_data_dir_option, add_reading_options, read, refuse_overwriting_inputs

HISTOGRAM_WIDTH = 40  # characters of the longest bar
LONGEST_LENGTH = 10  # span lengths from this one on share the last bar


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "corpora",
        help="list, fetch, inspect and convert corpora",
        description="The catalogue of named public corpora and their download; statistics of corpus files; "
        "conversion between CoNLL, SemEval XML, span JSONL, PubTator, BRAT standoff and spaCy DocBin.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list",
        help="the named corpora of the catalogue",
        description="The corpora that --corpus NAME, tagger corpora fetch and tagger corpora stats NAME know: "
        "task, text domain, format, splits and licence; with --json also each file's URL and checksum, the citation "
        "and where the files come from.",
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(run=run_list)
    fetch = actions.add_parser(
        "fetch",
        help="download named corpora to the cache",
        description=f"Make every split of each NAME available: files already in --data-dir or "
        f"${catalogue.DATA_DIR_VARIABLE} (as NAME/FILE) are used as they are, files in the cache "
        f"({catalogue.cache_dir()}) when their checksum is good; the others are downloaded into the cache and "
        "checked. Prints where each file is.",
    )
    fetch.add_argument("names", nargs="+", metavar="NAME", help="corpora of the catalogue (tagger corpora list)")
    add_data_dir_option(fetch)
    fetch.add_argument("--no-progress", action="store_true", help="no progress bars")
    fetch.set_defaults(run=run_fetch)
    stats = actions.add_parser(
        "stats",
        help="sizes, entities, alignment and OOV rates of corpus files or named corpora",
        description="Sentences, tokens, entities (per type and per length in tokens) and how character spans "
        "aligned to tokens (exact, expanded, dropped). A NAME of the catalogue stands for its splits, train "
        "first. Given several files, the out-of-vocabulary rate of each later one against the first (train). "
        "With --json: one object, or a list of them for several files.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    stats.add_argument(
        "paths", nargs="+", metavar="NAME|PATH", help="corpus files or names of the catalogue, train first"
    )
    add_reading_options(stats, "every PATH")
    add_data_dir_option(stats)
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.set_defaults(run=run_stats)
    convert = actions.add_parser(
        "convert",
        help="convert a corpus file to another format",
        description="Read INPUT and write --output, each in the format its extension names (or --format and "
        "--output-format say). Spans read with character offsets are written back as read; --verbose lists the "
        "spans expanded to token boundaries.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    convert.add_argument("input", type=Path, help="corpus file (or folder of BRAT or DocBin files) to read")
    add_path_option(convert, "output", "corpus file to write (BRAT: a folder, with --output-format brat)")
    add_reading_options(convert, "INPUT")
    convert.add_argument(
        "--output-format", "--to", choices=FORMATS, help="format of --output; default: by extension (--to: old name)"
    )
    convert.set_defaults(run=run_convert)


def run_list(args: argparse.Namespace) -> int:
    entries = catalogue.entries().values()
    if args.json:
        print(json.dumps([entry.to_dict() for entry in entries], indent=2, ensure_ascii=False))
        return 0
    rows = [("name", "task", "domain", "format", "splits", "licence")]
    rows += [(e.name, e.task, e.domain, e.format, " ".join(e.splits), e.licence) for e in entries]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print(
        "\nWithout a dev split, train and tune hold out dev_fraction of train, by the seed. "
        f"Files come from --data-dir, ${catalogue.DATA_DIR_VARIABLE} or {catalogue.cache_dir()}."
    )
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    for entry in [catalogue.entry(name) for name in args.names]:
        for split, path in catalogue.locate(entry, None, args.data_dir, not args.no_progress).items():
            print(f"{entry.name} {split}: {path}")
        print(f"{entry.name}: licence {entry.licence}; cite: {entry.citation}")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    rows, corpora = [], []
    for item in args.paths:
        path = Path(item)
        if not path.exists() and not path.suffix:
            catalogue.entry(item)  # neither a file, a folder nor a corpus name: an error listing the names
        if path.exists() or item not in catalogue.entries():
            rows.append({"path": str(path), "format": format_of(path, args.format)})
            corpora.append(read(args, path, purpose="report on"))
            continue
        entry = catalogue.entry(item)
        for split, split_path in catalogue.locate(entry, None, args.data_dir).items():
            rows.append({"corpus": entry.name, "split": split, "path": str(split_path), "format": entry.format})
            corpora.append(read(args, split_path, entry, "report on"))
    for index, (row, corpus) in enumerate(zip(rows, corpora)):
        row.update(corpus_stats(corpus))
        if index:
            row["oov_rate"] = oov_rate(corpus, corpora[0])
    if args.json:
        print(json.dumps(rows if len(rows) > 1 else rows[0], indent=2))
        return 0
    for row in rows:
        print_stats(row, reference=rows[0]["path"])
    return 0


def print_stats(row: dict, reference: str) -> None:
    """One file's statistics as a short table."""
    types = ", ".join(f"{label} {count}" for label, count in row["entities_per_type"].items())
    alignment = ", ".join(f"{count} {key}" for key, count in row["alignment"].items())
    name = f"{row['corpus']} {row['split']}: " if "corpus" in row else ""
    print(f"{name}{row['path']} ({row['format']})")
    print(f"  {'sentences':<14}{row['sentences']}")
    print(f"  {'tokens':<14}{row['tokens']}")
    print(f"  {'entities':<14}{row['entities']}" + (f" ({types})" if types else ""))
    print(f"  {'alignment':<14}{alignment}")
    print(f"  {'span lengths':<14}" + ("entities by length in tokens" if row["span_lengths"] else "no entities"))
    for line in histogram(row["span_lengths"]):
        print(f"    {line}")
    if "oov_rate" in row:
        print(f"  {'OOV rate':<14}{row['oov_rate']:.2%} of tokens unseen in {reference}")
    if row["notes"]:
        print(f"  {'notes':<14}" + ", ".join(f"{key} {count}" for key, count in row["notes"].items()))


def histogram(lengths: dict[int, int]) -> list[str]:
    """Text bars of the entities per span length in tokens; lengths from ``LONGEST_LENGTH`` on share one bar."""
    counts: dict[int, int] = {}
    for length, count in lengths.items():
        counts[min(length, LONGEST_LENGTH)] = counts.get(min(length, LONGEST_LENGTH), 0) + count
    total, top = sum(counts.values()), max(counts.values(), default=0)
    lines = []
    for length, count in sorted(counts.items()):
        label = f"{length}+" if length == LONGEST_LENGTH and max(lengths) > LONGEST_LENGTH else str(length)
        bar = "#" * max(1, round(HISTOGRAM_WIDTH * count / top))
        lines.append(f"{label:>3} {bar:<{HISTOGRAM_WIDTH}} {count:>7,} {count / total:6.1%}")
    return lines


def run_convert(args: argparse.Namespace) -> int:
    refuse_overwriting_inputs(args, {"--output": args.output})
    output_format = format_of(args.output, args.output_format)
    corpus = read(args, args.input, purpose="convert")
    write_corpus(corpus, args.output, output_format)
    entities = sum(len(sentence.spans) for sentence in corpus)
    print(f"wrote {len(corpus)} sentences, {entities} entities to {args.output} ({output_format})")
    return 0

"""``tagger models``: the ready-trained models by name: list them, show one's card, download one."""

from __future__ import annotations

import argparse
import json
import sys

from .. import named_models


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "models",
        help="ready-trained models by name",
        description="The named models that --model NAME, Tagger.load(NAME) and the spaCy component's model setting "
        "take: CORPUS is trained with the accurate preset, CORPUS-fast with the fast one. Stored models come with "
        "the package; downloadable ones go to the cache ($XDG_CACHE_HOME/tagger/models) with tagger models "
        "download NAME, or at their first use.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every named model: labels, test F1, size, licence, installed or not")
    listing.set_defaults(run=run_list)
    info = actions.add_parser("info", help="one model's facts and card")
    info.add_argument("name", help="a named model (tagger models list)")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(run=run_info)
    download = actions.add_parser("download", help="fetch a downloadable model into the cache; say where it is")
    download.add_argument("name", help="a named model (tagger models list)")
    download.add_argument("--no-progress", action="store_true", help="no progress bar")
    download.set_defaults(run=run_download)


def status(model: named_models.ModelEntry) -> str:
    if model.installed:
        return "installed"
    return "not installed" if model.url is None or not model.files else "downloadable"


def run_list(args: argparse.Namespace) -> int:
    rows = [("name", "labels", "test F1", "size", "licence", "status")]
    for model in named_models.entries().values():
        f1 = f"{model.test['f1']:.4f}" if model.test else "-"
        size = f"{model.size / 1e6:.1f} MB" if model.size else "-"
        rows.append((model.name, ", ".join(model.labels), f1, size, model.licence, status(model)))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def run_info(args: argparse.Namespace) -> int:
    facts = named_models.facts(named_models.entry(args.name))
    if args.json:
        print(json.dumps(facts, indent=2, ensure_ascii=False))
        return 0
    test = facts["test"]
    scores = "-"
    if test:
        scores = f"P {test['precision']:.4f} R {test['recall']:.4f} F1 {test['f1']:.4f} on {test['corpus']}"
    shown = {
        "name": facts["name"],
        "description": facts["description"],
        "corpus": f"{facts['corpus']} ({facts['domain']})",
        "preset": facts["preset"],
        "labels": ", ".join(facts["labels"]),
        "licence": facts["licence"],
        "test": scores,
        "size": f"{facts['size'] / 1e6:.1f} MB" if facts["size"] else "-",
        "status": status(named_models.entry(args.name)),
        "path": facts["path"],
    }
    for key, value in shown.items():
        print(f"{key + ':':<13}{value}")
    if "card" in facts:
        print(f"{'card:':<13}{facts['path']}/README.md")
    return 0


def run_download(args: argparse.Namespace) -> int:
    model = named_models.entry(args.name)
    directory = named_models.download(model, progress=not args.no_progress)
    how = "stored in the package" if model.url is None else "downloaded"
    print(f"{model.name}: {how}, {directory}", file=sys.stderr)
    return 0

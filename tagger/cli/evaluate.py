"""``tagger evaluate``: score a model on a labelled corpus with seqeval."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from .. import cards, catalogue, html_report
from ..catalogue import SPLITS, CatalogueError
from ..corpus import Corpus
from ..error_analysis import analyse
from ..evaluation import MODES, raw_text_evaluation, scored_predictions, sentence_examples, warn_of_unpredicted
from ..files import OverwriteError, refuse_overwrite
from ..formats import RAW_TEXT, conll, format_of, write_corpus
from ..label_maps import LabelMap, read_label_map, relabel
from ..named_models import resolve
from ..schemes import to_spans
from .heads import add_head_option
from .report import print_scores
from .sources import (
    MODEL_HELP,
    add_corpus_options,
    add_reading_options,
    locate,
    positive,
    read,
    read_split,
    refuse_overwriting_inputs,
    txt_as_conll,
)

if TYPE_CHECKING:
    from ..tagger import Tagger


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="score a model on a labelled corpus",
        description="Entity-level precision, recall and F1 (seqeval), micro-averaged and per type.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", required=True, type=Path, help=MODEL_HELP)
    corpus = parser.add_mutually_exclusive_group(required=True)
    corpus.add_argument("--data", type=Path, help="labelled corpus")
    add_corpus_options(parser, corpus, "the --split")
    parser.add_argument("--split", choices=SPLITS, help="with --corpus: the split to score; test when not given")
    parser.add_argument("--mode", choices=MODES, default="default", help="seqeval mode (not for --raw-text)")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object instead of a table: the scores, and the error analysis of --report (errors, "
        "confusion, calibration)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="HTML",
        help="also write the error analysis as one self-contained HTML page here: scores per type, errors by "
        "category (correct, missed, spurious, wrong type, wrong boundary, both) overall and per type, a confusion "
        "table of types, the sentences with the most errors, and the calibration of entity confidences",
    )
    parser.add_argument(
        "--label-map",
        metavar="MAP",
        help="rename gold entity types to the model's labels first: TYPE=LABEL pairs separated by commas "
        "(SpecificDisease=Disease,Modifier=Disease) or a JSON file of them; a type mapped to O or to nothing "
        "(Modifier=) is left out of the gold",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--raw-text",
        action="store_true",
        help=f"tag each document's raw text as tagger predict does (our sentence splitter, the model's tokenizer) "
        f"and score exact character spans against the gold mentions; for files of raw text ({', '.join(RAW_TEXT)})",
    )
    output.add_argument(
        "--predictions",
        type=Path,
        help="write token, gold and predicted tag per line here (.tsv, .conll, ...), or the predicted spans "
        "in the format of another extension (.xml: SemEval XML for the official scorer)",
    )
    parser.add_argument("--batch-size", type=positive, default=256, help="sentences per forward pass")
    parser.add_argument(
        "--update-card",
        action="store_true",
        help="add the scores (the data's source, scores per type, how they were counted, the date) to the model's "
        "card, meta.json and README.md, replacing earlier scores of the same data, heads and counting; a model "
        "without a card (saved before cards) is refused. The weights and config are not touched",
    )
    add_head_option(parser)
    add_reading_options(parser, "--data")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..tagger import Tagger

    refuse_overwriting_inputs(args, _outputs(args))
    if args.report is not None and args.predictions is not None and args.report.resolve() == args.predictions.resolve():
        raise OverwriteError(f"--report and --predictions are both {args.report}: choose two files")
    predictions_format = format_of(args.predictions) if args.predictions else None
    if args.split and not args.corpus:
        raise CatalogueError("--split chooses a split of --corpus; with --data, the file is the split")
    label_map = read_label_map(args.label_map) if args.label_map is not None else {}
    args.model = resolve(args.model)  # the directory whose card --update-card updates
    tagger = Tagger.load(args.model)
    tagger.chosen_heads(args.head)  # an unknown head fails before the corpus is read
    card = cards.read(args.model) if args.update_card else None  # so is a model without a card
    if args.raw_text:
        return _raw_text(args, tagger, label_map, card)
    tokenizer = tagger.config.tokenizer
    if args.corpus:
        corpus = read_split(args, args.split or "test", tokenizer)
        refuse_overwrite(_outputs(args), [Path(corpus.source)])  # the file --corpus found
    else:
        corpus = read(args, args.data, None, "evaluate on", tokenizer)
    corpus = relabel(corpus, label_map) if label_map else corpus
    warn_of_unpredicted(corpus.labels(), tagger, corpus.source, args.head)
    options = {"head": args.head, "confidences": _analysing(args)}  # confidences cost a forward-backward pass
    scores, predictions = scored_predictions(tagger, corpus, args.mode, args.batch_size, **options)
    predicted = [prediction.tags for prediction in predictions]
    if predictions_format == "conll":
        conll.write(corpus, args.predictions, columns=(predicted,))
    elif predictions_format:
        spans = [sentence.with_spans(to_spans(tags), corpus.scheme) for sentence, tags in zip(corpus, predicted)]
        write_corpus(Corpus(spans, corpus.scheme, corpus.source), args.predictions)
    return _report(args, scores, tagger, card, corpus.source, sentence_examples(corpus, predictions))


def _raw_text(args: argparse.Namespace, tagger: Tagger, label_map: LabelMap, card: dict | None) -> int:
    """``--raw-text``: exact character spans in the raw text of ``--data`` or the ``--split`` of ``--corpus``."""
    if args.corpus:
        entry, split = catalogue.entry(args.corpus), args.split or "test"
        path, format = locate(args, entry, (split,))[split], entry.format
        refuse_overwrite(_outputs(args), [path])
    else:
        path, format = args.data, args.format
    options = (args.batch_size, format, args.encoding, args.lenient, args.head)
    with txt_as_conll(path, format):
        scores, examples = raw_text_evaluation(tagger, path, label_map, *options)
    return _report(args, scores, tagger, card, str(path), examples)


def _report(
    args: argparse.Namespace, scores: dict, tagger: Tagger, card: dict | None, source: str | None, examples: list
) -> int:
    """Print ``scores``, with ``--json`` and the error analysis of ``examples``; write it with ``--report``; with a
    ``card`` (``--update-card``), add the scores to it as those of ``source``."""
    if card is not None:
        heads = ",".join(tagger.head_names if args.head is None else [h.name for h in tagger.chosen_heads(args.head)])
        cards.write(args.model, cards.with_test(card, cards.test_facts(heads, source, scores)))
    analysis = analyse(examples) if _analysing(args) else {}
    if args.report is not None:
        html_report.write(args.report, scores, analysis, examples, f"{args.model} on {source or 'the corpus'}")
    if args.json:
        print(json.dumps({**scores, **analysis}, indent=2))
    else:
        print_scores(scores)
    return 0


def _outputs(args: argparse.Namespace) -> dict[str, Path | None]:
    """The files the command writes, by option."""
    return {"--predictions": args.predictions, "--report": args.report}


def _analysing(args: argparse.Namespace) -> bool:
    """Whether the command prints or writes the error analysis (``--json``, ``--report``)."""
    return args.json or args.report is not None

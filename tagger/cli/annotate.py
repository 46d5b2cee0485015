"""``tagger annotate``: tag many documents, streaming, into JSONL, CoNLL, BRAT or spaCy files."""

from __future__ import annotations

import argparse
import logging
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from ..annotate import cutting
from ..annotate.job import ENGINES, FORMATS, INPUT_FORMATS, STDIN, STDOUT_ERRORS, AnnotateError, Job
from ..annotate.sources import JSONL_SUFFIXES
from ..config import ConfigError, TaggerConfig
from ..formats import conll
from ..named_models import resolve
from ..text import MAX_TOKENS
from .heads import add_head_option
from .sources import MODEL_HELP

if TYPE_CHECKING:
    from ..annotate.run import Summary

logger = logging.getLogger("tagger")


def add_parser(commands) -> None:
    defaults = Job(Path(), [], Path())
    parser = commands.add_parser(
        "annotate",
        help="tag many documents into entity spans with character offsets",
        description="Tag raw documents in streaming windows and write their entities with exact character "
        "offsets (--output - writes JSONL to standard output). Documents that cannot be read or tagged are "
        "written to the errors file with the reason, a file created only when one fails; the exit status is 1 "
        "when any failed.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", required=True, type=Path, help=MODEL_HELP)
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help=".txt files, folders (every .txt file under them, sorted), JSONL files, or - for standard input",
    )
    parser.add_argument(
        "--output",
        required=True,
        type=Path,
        help="a file for jsonl and conll, a folder otherwise; - for JSONL on standard output (no --resume)",
    )
    parser.add_argument(
        "--output-format",
        "--format",
        choices=FORMATS,
        default=defaults.format,
        help="output format (--format: its old name)",
    )
    parser.add_argument(
        "--errors",
        type=Path,
        help=f"failed documents, one JSON line each; unset: OUTPUT.errors.jsonl ({STDOUT_ERRORS} for --output -)",
    )
    parser.add_argument(
        "--input-format",
        choices=INPUT_FORMATS,
        default=defaults.input_format,
        help="auto: JSONL for .jsonl/.ndjson files, plain text otherwise (standard input included)",
    )
    parser.add_argument("--id-field", default=defaults.id_field, help="JSONL field holding the document id")
    parser.add_argument("--text-field", default=defaults.text_field, help="JSONL field holding the document text")
    parser.add_argument("--no-text", action="store_true", help="leave the text out of JSONL records")
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=defaults.engine,
        help="local: this machine, --n-process processes; ray: actors on a Ray cluster (pip install 'tagger[ray]')",
    )
    parser.add_argument("--n-process", type=int, default=defaults.n_process, help="tagging processes (local)")
    parser.add_argument(
        "--workers", type=int, default=defaults.workers, help="tagging actors (ray); 0: as many as the CPUs hold"
    )
    parser.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="the Ray cluster to join (ray), such as ray://head:10001 or auto; unset: start a local Ray here",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=defaults.threads,
        help="torch threads per process or actor; 0: cores / processes (local), 1 (ray: the CPUs an actor reserves)",
    )
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="sentences per batch")
    parser.add_argument(
        "--window", type=int, default=defaults.window, help="documents tagged together (the first windows hold fewer)"
    )
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS, help="longer sentences are cut into chunks")
    parser.add_argument("--max-chars", type=int, default=defaults.max_chars, help="longer documents fail")
    add_head_option(parser)
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run into the same output")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    job = Job(
        resolve(args.model),
        args.inputs,
        args.output,
        format=args.output_format,
        errors=args.errors,
        input_format=args.input_format,
        id_field=args.id_field,
        text_field=args.text_field,
        with_text=not args.no_text,
        engine=args.engine,
        n_process=args.n_process,
        workers=args.workers,
        ray_address=args.ray_address,
        threads=args.threads,
        batch_size=args.batch_size,
        window=args.window,
        max_tokens=args.max_tokens,
        max_chars=args.max_chars,
        heads=args.head,
    )
    try:
        job.check()  # before the bar: a refused command line prints its error alone
    except AnnotateError as error:
        print(f"tagger annotate: error: {error}", file=sys.stderr)
        return 2
    tokenizer = _saved_tokenizer(job.model) if job.engine == "local" and job.n_process == 1 else None
    with cutting.started_early(tokenizer, job.max_tokens) if tokenizer else nullcontext():
        return _annotate(args, job)


def _annotate(args: argparse.Namespace, job: Job) -> int:
    from tqdm import tqdm

    from ..annotate.run import annotate  # imports torch: seconds, in which the cutting process can start

    if args.input_format != "jsonl":
        warn_of_conll(args.inputs)
    if job.engine == "ray" and not args.verbose:
        import ray.data  # noqa: F401 (importing it sets up its logging, which the next line quiets)

        logging.getLogger("ray.data").setLevel(logging.ERROR)  # execution plans and notes on every run
    with tqdm(unit="doc", disable=args.no_progress, dynamic_ncols=True, delay=0.5) as bar:

        def show(summary: Summary) -> None:
            bar.set_postfix_str(f"{summary.new.tokens / max(summary.seconds, 1e-9):,.0f} tokens/s", refresh=False)
            bar.update(summary.new.documents - bar.n)

        try:
            summary = annotate(job, resume=args.resume, on_window=show)
        except AnnotateError as error:
            print(f"tagger annotate: error: {error}", file=sys.stderr)
            return 2
    print(describe(summary, job), file=sys.stderr)
    return 1 if summary.total.failed else 0


def _saved_tokenizer(model: Path) -> str | None:
    """The tokenizer of the model saved in ``model``, read without loading it; ``None`` where that fails (loading
    the model will say why)."""
    try:
        return TaggerConfig.from_file(model / "config.json").tokenizer
    except (ConfigError, OSError, ValueError):
        return None


def warn_of_conll(inputs: list[str], head: int = 4096) -> None:
    """Warn of each input file (not folder, JSONL file or standard input) whose first ``head`` bytes read like a
    CoNLL file: annotate tags a file as raw text, tokens and tags alike, where evaluate would score it."""
    for source in inputs:
        path = Path(source)
        if source == STDIN or source.lower().endswith(JSONL_SUFFIXES) or not path.is_file():
            continue
        with open(path, "rb") as stream:
            start = stream.read(head + 1)
        text = start[:head].decode("utf-8", errors="replace")
        if conll.looks_like(text if len(start) <= head else text.rpartition("\n")[0]):  # whole lines only
            logger.warning(
                "%s reads like a CoNLL file (a token and its tag a line); annotate tags it as raw text, tags "
                "included. To score a labelled corpus, use tagger evaluate --data %s",
                path,
                path,
            )


def describe(summary: Summary, job: Job) -> str:
    """The end-of-run summary line."""
    total, new, seconds = summary.total, summary.new, max(summary.seconds, 1e-9)
    line = (
        f"annotated {new.annotated:,} documents ({new.tokens:,} tokens, {new.spans:,} entities) in {seconds:.1f} s: "
        f"{new.documents / seconds:,.1f} documents/s, {new.tokens / seconds:,.0f} tokens/s"
    )
    if total.documents > new.documents:
        line += f"; {total.annotated:,} annotated in all, this run resumed after {total.documents - new.documents:,}"
    line += f". Output: {'standard output' if job.to_stdout else job.output}"
    if total.failed:
        line += f". {total.failed:,} failed documents: see {job.errors_path}"
    return line

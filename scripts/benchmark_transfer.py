"""Does a model trained on BC5CDR help NCBI-disease when little of it is labelled?

    python scripts/benchmark_transfer.py                                  # trains the BC5CDR model first
    python scripts/benchmark_transfer.py --source runs/bc5cdr/model       # or starts from a trained one
    python scripts/benchmark_transfer.py --transfer-set freeze=embeddings,chars,encoder --transfer-set unfreeze_after=3
    python scripts/benchmark_transfer.py --fractions 0.02 --seeds 1 --epochs 1 --set hidden=16 \\
        --results /tmp/transfer                                           # a quick check of the script

For each fraction of the target corpus' training sentences and each seed (1..SEEDS), a
seeded subsample is trained twice, with early stopping on the full dev split and scored on
the test split: from scratch, and from the source model (``tagger train --init-from``;
``--transfer-set`` adds transfer keys such as ``freeze``). Both start from the same config,
with the source model's architecture. One JSON file per run goes to
``benchmarks/results/transfer/``: every training's test P/R/F1, dev F1, epochs and seconds,
the mean and standard deviation of test F1 per fraction, the source model and its test
scores on its own corpus, and the machine, versions and command.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchmark import CORPORA, DATA_DIR, provenance, read_splits, test_scores, train_and_test, write_result
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from tagger import Tagger, TaggerConfig
from tagger.transfer import ARCHITECTURE

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = (
    "seeded subsample of the target train split; early stopping on the full target dev split; test split scored once"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, help="trained source model; default: train one on --source-corpus")
    parser.add_argument("--source-corpus", choices=CORPORA, metavar="NAME", default="bc5cdr")
    parser.add_argument("--target-corpus", choices=CORPORA, metavar="NAME", default="ncbi-disease")
    parser.add_argument(
        "--fractions", type=float, nargs="+", default=[0.1, 0.25], help="fractions of the target train split"
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..SEEDS, each a subsample and a model seed")
    parser.add_argument("--epochs", type=int, help="maximum epochs of every training (config: epochs)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value of every training"
    )
    parser.add_argument(
        "--transfer-set", action="append", default=[], metavar="KEY=VALUE", help="a config value of transfers only"
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="local mirror of the catalogue's corpora")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "transfer")
    parser.add_argument("--work", type=Path, help="keep the models here; default: a temporary directory")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = TaggerConfig().with_overrides(args.set + ([f"epochs={args.epochs}"] if args.epochs else []))
    with tempfile.TemporaryDirectory() as temporary, logging_redirect_tqdm():
        result = run(args, config, args.work or Path(temporary))
    print(f"wrote {write_result(result, args.results, f'{args.source_corpus}-to-{args.target_corpus}')}")


def run(args: argparse.Namespace, config: TaggerConfig, work: Path) -> dict:
    """Train the source model if none was given, then every fraction, seed and start; return the record."""
    started = time.perf_counter()
    if args.source is None:
        source_dir = work / "source" / "model"
        source = {"model": "trained here"}
        source |= train_and_test(config, *read_splits(args.source_corpus, args.data_dir, config), work / "source")
    else:
        source_dir = args.source
        source = {"model": str(args.source)}
        source |= test_scores(Tagger.load(source_dir), read_splits(args.source_corpus, args.data_dir, config)[2])
    source_config = Tagger.load(source_dir).config
    source["config"] = source_config.to_dict()
    scratch = replace(config, **{key: getattr(source_config, key) for key in ARCHITECTURE})
    transfer = config.with_overrides([f"init_from={source_dir.resolve()}", *args.transfer_set])
    train, dev, test = read_splits(args.target_corpus, args.data_dir, config)
    seeds = range(1, args.seeds + 1)
    plan = [(fraction, seed, start) for fraction in args.fractions for seed in seeds for start in ("scratch", "source")]
    runs = []
    for fraction, seed, start in tqdm(plan, desc="trainings", unit="model"):
        subset = train.split(fraction, seed)[1]
        base = scratch if start == "scratch" else transfer
        output = work / f"{fraction}-{seed}-{start}"
        record = train_and_test(replace(base, seed=seed), subset, dev, test, output)
        runs.append({"fraction": fraction, "seed": seed, "start": start, **record})
    return {
        "source_corpus": args.source_corpus,
        "target_corpus": args.target_corpus,
        **provenance(),
        "protocol": PROTOCOL,
        "config": config.to_dict(),
        "transfer_set": args.transfer_set,
        "source": source,
        "summary": summarise(runs),
        "runs": runs,
        "seconds_total": round(time.perf_counter() - started, 1),
    }


def summarise(runs: list[dict]) -> dict:
    """Per fraction and start: mean and standard deviation of test F1 over the seeds; the mean gain of transfer."""
    summary = {}
    for fraction in dict.fromkeys(r["fraction"] for r in runs):
        by_start = {}
        for start in ("scratch", "source"):
            f1s = [r["test"]["f1"] for r in runs if r["fraction"] == fraction and r["start"] == start]
            by_start[start] = {
                "test_f1_mean": statistics.mean(f1s),
                "test_f1_std": statistics.stdev(f1s) if len(f1s) > 1 else 0.0,
                "seeds": len(f1s),
            }
        by_start["gain"] = by_start["source"]["test_f1_mean"] - by_start["scratch"]["test_f1_mean"]
        summary[str(fraction)] = by_start
    return summary


if __name__ == "__main__":
    main()

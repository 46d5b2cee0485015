"""Which optimiser, at its lr-find suggestion, and does a Gaussian-process search beat TPE?

    python scripts/benchmark_optimisers.py                     # NCBI-disease: every optimiser, seeds 1-3; gp and tpe
    python scripts/benchmark_optimisers.py --part optimisers --optimiser adam sgd --seeds 1
    python scripts/benchmark_optimisers.py --part search --trials 20 --trial-epochs 15
    python scripts/benchmark_optimisers.py --splits corpora/sample/{train,dev,test}.tsv --name sample --seeds 1 \\
        --optimiser adam sgd --trials 3 --trial-epochs 1 --set epochs=1 --set hidden=16 --set word_dim=16 \\
        --results /tmp/optimisers                              # a quick check of the script

``optimisers``: for each optimiser and seed, the default config (or ``--preset``) with that optimiser (and
``--set``) runs ``tagger lr-find`` on the training split, then trains at the suggested rate
with early stopping on dev and is scored once on test. ``search``: a ``tagger tune`` study of
``--trials`` trials (the default search space, ``--trial-epochs`` epochs each) per sampler,
``gp`` and ``tpe`` (or ``--sampler``); the record keeps the best dev F1 of the completed trials
after each trial. Every run writes one JSON file to ``benchmarks/results/optimisers/`` (or
``--results``); a run whose config already has a result there is skipped, and a study continues
from its SQLite file in ``--work``. The tables are printed; with the default ``--results``,
``benchmarks/README.md`` is re-rendered.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import optuna
import torch
from benchmark import (
    CORPORA,
    DATA_DIR,
    RESULTS,
    optimiser_tables,
    provenance,
    read_splits,
    render,
    train_and_test,
    write_result,
)
from optuna.trial import TrialState

from tagger import TaggerConfig, catalogue, presets
from tagger.config import OPTIMIZERS
from tagger.formats import read_corpus
from tagger.lr_finder import range_test
from tagger.search_space import DEFAULT_SPACE, SearchSpace
from tagger.tuning import open_study, tune

ROOT = Path(__file__).resolve().parents[1]
SAMPLERS = ("gp", "tpe")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=CORPORA, metavar="NAME", default="ncbi-disease")
    parser.add_argument("--splits", nargs=3, type=Path, metavar=("TRAIN", "DEV", "TEST"), help="files, not --corpus")
    parser.add_argument("--name", help="what to call --splits in the results")
    parser.add_argument("--part", nargs="+", choices=("optimisers", "search"), default=["optimisers", "search"])
    parser.add_argument("--optimiser", nargs="+", choices=OPTIMIZERS, default=list(OPTIMIZERS))
    parser.add_argument("--sampler", nargs="+", choices=SAMPLERS, default=list(SAMPLERS), help="the studies to run")
    parser.add_argument("--preset", choices=presets.names(), help="start from this preset (the corpus' domain)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..SEEDS")
    parser.add_argument("--trials", type=int, default=20, help="trials per study")
    parser.add_argument("--trial-epochs", type=int, default=15, help="maximum epochs of a trial")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="local mirror of the catalogue's corpora")
    parser.add_argument("--results", type=Path, default=RESULTS / "optimisers")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "benchmark-search", help="the studies' SQLite")
    args = parser.parse_args()
    if args.splits and not args.name:
        parser.error("--splits needs --name")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    corpus = args.name or args.corpus
    values = presets.values(args.preset, catalogue.entry(args.corpus).domain) if args.preset else {}
    base = TaggerConfig.from_dict(values).with_overrides(args.set)
    if base.threads:
        torch.set_num_threads(base.threads)
    train, dev, test = splits(args, base)
    if "optimisers" in args.part:
        for seed in range(1, args.seeds + 1):  # every optimiser's first seed first: a partial run covers them all
            for optimiser in args.optimiser:
                config = base.with_overrides([f"optimizer={optimiser}", f"seed={seed}"])
                if recorded(args.results, corpus, "optimiser", config):
                    logging.info("%s %s seed %d: already recorded, skipped", corpus, optimiser, seed)
                    continue
                result = optimiser_run(corpus, args.preset, config, train, dev, test)
                print(f"wrote {write_result(result, args.results, f'{corpus}-{optimiser}-seed{seed}')}")
    if "search" in args.part:
        config = base.with_overrides([f"epochs={args.trial_epochs}"])
        for sampler in args.sampler:
            if recorded(args.results, corpus, f"search-{sampler}", config, args.trials):
                logging.info("%s %s search: already recorded, skipped", corpus, sampler)
                continue
            result = search_run(corpus, sampler, config, train, dev, args.trials, args.work)
            print(f"wrote {write_result(result, args.results, f'{corpus}-search-{sampler}')}")
    print("\n".join(optimiser_tables(args.results)))
    if args.results == RESULTS / "optimisers":
        render()


def splits(args: argparse.Namespace, config: TaggerConfig):
    """Train, dev and test of ``--corpus`` (as ``scripts/benchmark.py`` reads them) or of ``--splits``."""
    if args.splits:
        return tuple(read_corpus(path) for path in args.splits)
    return read_splits(args.corpus, args.data_dir, config)


def optimiser_run(corpus: str, preset: str | None, config: TaggerConfig, train, dev, test) -> dict:
    """lr-find for ``config`` on ``train``, then train at its suggestion and test; the result record."""
    started = time.perf_counter()
    found = range_test(config, train, [s.tokens for s in dev] + [s.tokens for s in test])
    seconds = round(time.perf_counter() - started, 1)
    logging.info("%s seed %d: %s", config.optimizer, config.seed, found.describe())
    with tempfile.TemporaryDirectory() as output:
        record = train_and_test(replace(config, lr=found.suggested_lr), train, dev, test, Path(output))
    return {
        "kind": "optimiser",
        "corpus": corpus,
        "optimizer": config.optimizer,
        "preset": preset,
        "seed": config.seed,
        **provenance(),
        "requested_config": config.to_dict(),
        "lr_find": {
            "suggested_lr": found.suggested_lr,
            "steps": len(found.lrs),
            "stopped_because": found.stopped_because,
            "seconds": seconds,
        },
        **record,
    }


def search_run(corpus: str, sampler: str, config: TaggerConfig, train, dev, trials: int, work: Path) -> dict:
    """A ``trials``-trial study with ``sampler`` over the default space; the best dev F1 after each trial."""
    space = SearchSpace.from_dict(DEFAULT_SPACE, "default search space")
    folder = work / f"{corpus}-{sampler}"
    folder.mkdir(parents=True, exist_ok=True)
    study = open_study(f"sqlite:///{(folder / 'study.db').resolve()}", "benchmark", sampler, space, config)
    started = time.perf_counter()
    tune(study, space, config, train, dev, folder, trials)
    best, best_so_far = -1.0, []  # over completed trials, as study.best_value
    for trial in study.trials:
        best = max(best, trial.value) if trial.state == TrialState.COMPLETE else best
        best_so_far.append(best)
    return {
        "kind": f"search-{sampler}",
        "corpus": corpus,
        "sampler": sampler,
        "trials": trials,
        **provenance(),
        "requested_config": config.to_dict(),
        "space": DEFAULT_SPACE,
        "best_dev_f1": study.best_value,
        "best_params": study.best_params,
        "best_so_far": best_so_far,
        "states": [trial.state.name for trial in study.trials],
        "seconds_this_run": round(time.perf_counter() - started, 1),
    }


def recorded(results: Path, corpus: str, kind: str, config: TaggerConfig, trials: int | None = None) -> bool:
    """Whether ``results`` has a ``kind`` result of ``corpus`` with exactly ``config`` (and ``trials``)."""
    for path in results.glob(f"{corpus}-*.json"):
        result = json.loads(path.read_text())
        if result.get("kind") == kind and result["requested_config"] == config.to_dict():
            if trials is None or result.get("trials") == trials:
                return True
    return False


if __name__ == "__main__":
    main()

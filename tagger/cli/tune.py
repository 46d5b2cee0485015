"""``tagger tune``: search hyperparameters with Optuna for the best dev entity F1."""

from __future__ import annotations

import argparse
import json
import logging
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from ..callbacks import ProgressBar
from ..files import output_error
from ..search_space import DEFAULT_SPACE, SAMPLERS, SearchSpace
from .sources import (
    add_corpus_options,
    add_preset_options,
    add_reading_options,
    positive,
    positive_number,
    refuse_overwriting_inputs,
)
from .train import read_config
from .training_data import read_train_dev_test

if TYPE_CHECKING:
    import optuna

TUNING_OUTPUTS = ("study.db", "trials", "trials.csv", "tuning.png", "best-config.json")

DEFAULT_TRIALS = 20  # when neither --trials nor --timeout is given
logger = logging.getLogger("tagger")


DESCRIPTION = (
    "Search hyperparameters with Optuna: each trial trains a model with early stopping on dev entity F1, and a "
    "trial whose dev F1 after an epoch falls below the median of earlier trials at that epoch is pruned. The study "
    "is kept in --storage, so rerunning the same command continues it. OUTPUT receives best-config.json (for "
    "tagger train --config), trials.csv, tuning.png and trials/NNNN/ (each trial's model, log and learning curve)."
)
EPILOG = (
    "The default search space. --space takes a JSON file of this form: any config key, with a range "
    '{"low", "high"} (optionally "log": true, or a "step") or a list of "choices".'
)


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "tune",
        help="search hyperparameters for the best dev F1 (Optuna)",
        description=textwrap.fill(DESCRIPTION, 100),
        epilog=textwrap.fill(EPILOG, 100)
        + "\n\n{\n"
        + ",\n".join(f"  {json.dumps(key)}: {json.dumps(spec)}" for key, spec in DEFAULT_SPACE.items())
        + "\n}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    corpus = parser.add_mutually_exclusive_group(required=True)
    corpus.add_argument("--train", type=Path, help="training corpus (format: see --format)")
    add_corpus_options(parser, corpus, "train and dev")
    parser.add_argument("--dev", type=Path, help="dev corpus to score trials on; default: 10%% of train, by the seed")
    parser.add_argument("--output", required=True, type=Path, help="output directory")
    parser.add_argument("--space", type=Path, help="JSON search space; default: the one below")
    parser.add_argument(
        "--trials",
        type=positive,
        help=f"trials the study should have finished, those of earlier runs included (default: {DEFAULT_TRIALS} "
        "unless --timeout is given)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_number,
        metavar="SECONDS",
        help="start no new trial after SECONDS (the running one finishes)",
    )
    parser.add_argument(
        "--storage", metavar="URL", help="Optuna storage URL of the study (default: sqlite:///OUTPUT/study.db)"
    )
    parser.add_argument(
        "--study-name", default="tagger", help="name of the study in the storage (default: %(default)s)"
    )
    parser.add_argument(
        "--sampler",
        choices=SAMPLERS,
        default="tpe",
        help="how trials choose their values: Optuna's TPE, a Gaussian process with expected improvement (gp; "
        "Optuna's GPSampler), at random, or every combination of a grid (default: %(default)s)",
    )
    parser.add_argument(
        "--enqueue",
        action="append",
        default=[],
        type=Path,
        metavar="CONFIG",
        help="a JSON config (a hand-tuned one, or a model's config.json) whose searched keys the study tries "
        "first, before the sampler's; may repeat. A rerun does not queue it again",
    )
    parser.add_argument("--config", type=Path, help="JSON config file the trials start from (a model's config.json)")
    add_preset_options(parser)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    parser.add_argument("--epochs", type=int, help="maximum epochs per trial (config: epochs)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_reading_options(parser, "--train and --dev")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import optuna
    from tqdm.contrib.logging import logging_redirect_tqdm

    from ..tuning import describe, enqueue, finished, importances, open_study, tune, write_results

    if not args.verbose:
        optuna.logging.set_verbosity(optuna.logging.ERROR)  # we log each trial; a failure reaches us raised
    refuse_overwriting_inputs(args, {"--output": args.output}, TUNING_OUTPUTS)
    config = read_config(args, [f"epochs={args.epochs}"] if args.epochs is not None else [])
    if args.space:
        space = SearchSpace.from_file(args.space)
    else:
        space = SearchSpace.from_dict(DEFAULT_SPACE, "default search space")
    space.check(config)
    train, dev, _ = read_train_dev_test(args, config)
    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise output_error(args.output, error) from None
    storage = args.storage or f"sqlite:///{(args.output / 'study.db').resolve()}"
    study = open_study(storage, args.study_name, args.sampler, space, config)
    for path in args.enqueue:
        logger.info("queued %s: %s", path, enqueue(study, space, config, path))
    trials = DEFAULT_TRIALS if args.trials is None and args.timeout is None else args.trials
    logger.info(
        "study %r in %s: %d trials finished so far; train %d sentences, dev %d",
        args.study_name,
        storage,
        finished(study),
        len(train),
        len(dev),
    )
    bar = TrialBar(None if trials is None else max(0, trials - finished(study)), disable=args.no_progress)
    try:
        with logging_redirect_tqdm():  # log lines above the bars
            tune(study, space, config, train, dev, args.output, trials, args.timeout, bar.epoch_bars, [bar])
    finally:
        bar.close()
        best = write_results(study, config, args.output)
    if best is None:
        logger.warning("no trial completed; %s lists them", args.output / "trials.csv")
        return 1
    ranked = ", ".join(f"{name} {value:.2f}" for name, value in importances(study).items() if value is not None)
    logger.info("best: %s", describe(best))
    logger.info("parameter importances: %s", ranked or "not estimated (too few completed trials)")
    folder = best.user_attrs.get("folder", args.output / "trials" / f"{best.number:04d}")  # HOST:PATH, where it ran
    logger.info(
        "config: %s; its model: %s/model; every trial: %s, %s",
        args.output / "best-config.json",
        folder,
        args.output / "trials.csv",
        args.output / "tuning.png",
    )
    return 0


class TrialBar:
    """A bar over the trials with the best dev F1, a log line per trial, and the epoch bars of each trial."""

    def __init__(self, total: int | None, disable: bool):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc="trials", unit="trial", disable=disable)
        self.epoch_bars = [] if disable else [ProgressBar()]

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        from optuna.trial import TrialState

        from ..tuning import describe

        logger.info(describe(trial))
        self.bar.update(1)
        if any(t.state == TrialState.COMPLETE for t in study.trials):
            self.bar.set_postfix(best_f1=f"{study.best_value:.4f}")

    def close(self) -> None:
        self.bar.close()

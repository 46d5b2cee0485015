"""Hyperparameter search with Optuna: trials train with ``Trainer``, weak ones are pruned on their dev F1.

A search space (``search_space``) maps config keys to a range (``{"low", "high"}``, optionally ``"log"`` or
``"step"``; integer or float by the key's type) or to ``{"choices": [...]}``. A study lives
in an Optuna storage (SQLite by default) so that a rerun continues it; on a database server
(PostgreSQL) several processes, on one machine or many, can run trials of one study at once.
The output directory holds ``trials/NNNN/`` (each trial's ``model/``, log and learning curve),
``trials.csv``, ``best-config.json`` and ``tuning.png``.
"""

from __future__ import annotations

import csv
import json
import logging
import socket
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import urlparse

import optuna
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy.exc import IntegrityError, ProgrammingError, SQLAlchemyError

from .callbacks import Callback, EarlyStopping, EpochRecord, JsonLog, LearningCurve
from .config import ConfigError, TaggerConfig, file_values
from .corpus import Corpus
from .files import atomic_write
from .plots import png_figure
from .search_space import SAMPLERS, SearchSpace
from .training import DivergedError, Trainer
from .transfer import build

logger = logging.getLogger(__name__)

PRUNE_AFTER_TRIALS, PRUNE_FROM_EPOCH = 5, 2  # the median pruner's warm-up
STARTUP_TRIALS = 10  # random trials before TPE or the Gaussian process model the results (Optuna's default)
MIN_TRIALS_FOR_IMPORTANCE = 4  # completed trials before importances are estimated
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)  # the trials that count toward a budget


def open_study(storage: str, name: str, sampler: str, space: SearchSpace, base: TaggerConfig) -> optuna.Study:
    """Create the study in ``storage`` (an Optuna storage URL), or load it to continue.

    A study continues only with the base config it began with (``threads`` aside). The
    sampler's seed is the config's seed plus the trials already run, so a continued random
    search does not repeat itself; on a database server, where processes started together
    share the study, each process seeds its sampler at random instead, so that they do not
    all draw the same values (their trials interleave, so no seed could replay them anyway).
    """
    if sampler not in SAMPLERS:
        raise ConfigError(f"sampler must be one of {', '.join(SAMPLERS)}, not {sampler!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats are experimental
            rdb = _rdb_storage(_with_driver(storage))
        study = optuna.create_study(
            storage=rdb,
            study_name=name,
            direction="maximize",
            load_if_exists=True,
            pruner=optuna.pruners.MedianPruner(PRUNE_AFTER_TRIALS, n_warmup_steps=PRUNE_FROM_EPOCH),
        )
    except (ImportError, ValueError, RuntimeError, SQLAlchemyError) as error:
        reason = str(error).splitlines()[0]  # SQLAlchemy adds a line with a link
        if isinstance(error, ImportError) and storage.startswith("postgresql"):
            reason += "; PostgreSQL needs the postgres extra: pip install 'tagger[postgres]'"
        raise ConfigError(f"cannot open study {name!r} in {storage}: {reason}") from None
    recorded, comparable = study.user_attrs.get("base_config"), _comparable(base)
    if recorded is None:
        study.set_user_attr("base_config", comparable)
    elif recorded != comparable:
        changed = sorted(key for key in comparable if recorded.get(key) != comparable[key])
        raise ConfigError(
            f"study {name!r} in {storage} began with another config (differing: {', '.join(changed)}); "
            "rerun with the same --config, --set and --epochs, or give another --study-name or --storage"
        )
    seed = base.seed + len(study.trials)
    if sampler == "grid":
        study.sampler = optuna.samplers.GridSampler(space.grid(), seed=seed)
    elif sampler == "random":
        study.sampler = optuna.samplers.RandomSampler(seed=seed)
    elif sampler == "gp":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # a Gaussian process; the next trial maximises its expected improvement
            study.sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=STARTUP_TRIALS)
    else:
        study.sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=STARTUP_TRIALS)
    if urlparse(storage).scheme.split("+")[0] != "sqlite":
        study.sampler.reseed_rng()
    return study


def _rdb_storage(url: str, attempts: int = 3) -> optuna.storages.RDBStorage:
    """Optuna's storage at ``url``, with heartbeats; tried again when another process was creating its tables in the
    same database at the same moment (PostgreSQL then refuses one of them)."""
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=180)
        except (IntegrityError, ProgrammingError):  # a unique type name or a table the other one just created
            if attempt == attempts - 1:
                raise
            time.sleep(1)


def _with_driver(storage: str) -> str:
    """``storage`` with psycopg2, the postgres extra's driver, named in a plain ``postgresql://`` URL (SQLAlchemy 2.1
    would look for psycopg 3 there)."""
    scheme, _, rest = storage.partition("://")
    return f"postgresql+psycopg2://{rest}" if scheme == "postgresql" else storage


def enqueue(study: optuna.Study, space: SearchSpace, base: TaggerConfig, path: str | Path) -> dict[str, Any]:
    """Queue the config in ``path`` as the study's next trial (once: a rerun does not queue it again); its values.

    Only the searched keys the file sets are queued (the sampler draws the others); each must lie
    in its range or choices. Other keys of the file that differ from ``base`` are logged and ignored.
    """
    values = file_values(path)
    config = TaggerConfig.from_dict(values, str(path))
    searched = {dimension.name: dimension for dimension in space.dimensions}
    params = {name: getattr(config, name) for name in values if name in searched}
    for name, value in params.items():
        dimension = searched[name]
        if dimension.choices is not None:
            inside = value in dimension.choices
        else:
            inside = dimension.low <= value <= dimension.high
        if not inside:
            span = dimension.choices if dimension.choices is not None else f"{dimension.low} to {dimension.high}"
            raise ConfigError(f"{path}: {name}={value!r} lies outside the search space ({span})")
    ignored = sorted(name for name in values if name not in searched and getattr(config, name) != getattr(base, name))
    if ignored:
        logger.warning("%s: %s not searched; the study's base config holds them", path, ", ".join(ignored))
    study.enqueue_trial(params, skip_if_exists=True)
    return params


def _comparable(config: TaggerConfig) -> dict:
    return {key: value for key, value in config.to_dict().items() if key != "threads"}


def finished(study: optuna.Study) -> int:
    """Trials that completed or were pruned: those that count toward a budget."""
    return sum(trial.state in FINISHED for trial in study.trials)


class PruneWeakTrials(Callback):
    """Reports each epoch's dev F1 to the trial; stops the trial when Optuna's pruner says so."""

    def __init__(self, trial: optuna.Trial):
        self.trial = trial

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord, improved: bool) -> None:
        self.trial.report(record.dev_f1, record.epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"dev F1 {record.dev_f1:.4f} after epoch {record.epoch}")


def tune(
    study: optuna.Study,
    space: SearchSpace,
    base: TaggerConfig,
    train: Corpus,
    dev: Corpus,
    output: str | Path,
    trials: int | None = None,
    timeout: float | None = None,
    callbacks: Sequence[Callback] = (),
    on_trial: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
) -> None:
    """Run trials until the study has ``trials`` finished ones or ``timeout`` seconds pass.

    The finished trials are counted over the whole study: those of earlier runs, and those
    that other processes sharing the study finish meanwhile (a trial running elsewhere when
    the budget is reached still finishes, so the study may end a few trials over it). Each
    trial trains ``base`` with the values it draws, on ``train`` with early stopping on
    ``dev``, in ``output/trials/NNNN`` (its model, ``log.jsonl`` and ``learning-curve.png``; no
    checkpoint, as trials are not resumed one by one), recorded in the study as the trial's
    ``folder`` (``HOST:PATH``); its value is the best dev entity F1. A trial whose loss
    diverges is pruned. ``callbacks`` join each trial's trainer; ``on_trial`` are called after
    each trial.
    """
    space.check(base)
    output = Path(output)
    remaining = None if trials is None else trials - finished(study)
    if remaining is not None and remaining <= 0:
        logger.info("the study already has %d finished trials (budget %d)", finished(study), trials)
        return
    texts = [s.tokens for s in dev]

    def objective(trial: optuna.Trial) -> float:
        config = TaggerConfig.from_dict(base.to_dict() | space.suggest(trial))
        folder = output / "trials" / f"{trial.number:04d}"
        trial.set_user_attr("folder", f"{socket.gethostname()}:{folder.resolve()}")
        chosen = [EarlyStopping(), JsonLog(folder / "log.jsonl"), LearningCurve(folder / "learning-curve.png")]
        chosen += [*callbacks, PruneWeakTrials(trial)]
        trainer = Trainer(build(config, train, texts), train, dev, folder, chosen)
        try:
            return trainer.fit().best_dev_f1
        except DivergedError as error:
            raise optuna.TrialPruned(str(error)) from None

    budget = [] if trials is None else [optuna.study.MaxTrialsCallback(trials, states=FINISHED)]
    study.optimize(objective, n_trials=remaining, timeout=timeout, callbacks=[*on_trial, *budget], gc_after_trial=True)


def dev_f1(trial: FrozenTrial) -> float | None:
    """A trial's best dev F1: its value, or for a pruned or failed one the best epoch it reported."""
    if trial.value is not None:
        return trial.value
    return max(trial.intermediate_values.values(), default=None)


def describe(trial: FrozenTrial) -> str:
    """One line: a trial's state, dev F1 and parameters."""
    f1 = dev_f1(trial)
    score = "no dev F1" if f1 is None else f"dev F1 {f1:.4f}"
    params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items())
    epochs = len(trial.intermediate_values)
    return f"trial {trial.number} {trial.state.name.lower()} ({score}, {epochs} epochs): {params}"


def write_results(study: optuna.Study, base: TaggerConfig, output: str | Path) -> FrozenTrial | None:
    """Write ``trials.csv``, ``tuning.png`` and, once a trial completed, ``best-config.json``; return the best trial."""
    output = Path(output)
    trials = study.trials
    write_trials_csv(trials, output / "trials.csv")
    if any(dev_f1(trial) is not None for trial in trials):
        plot_study(study, output / "tuning.png")
    if not any(trial.state == TrialState.COMPLETE for trial in trials):
        return None
    best = study.best_trial
    with atomic_write(output / "best-config.json") as out:
        json.dump(TaggerConfig.from_dict(base.to_dict() | best.params).to_dict(), out, indent=2)
    return best


def write_trials_csv(trials: list[FrozenTrial], path: Path) -> None:
    """One row per trial: number, state, dev F1, best epoch, epochs, seconds, then each parameter."""
    names = list(dict.fromkeys(name for trial in trials for name in trial.params))
    with atomic_write(path) as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["number", "state", "dev_f1", "best_epoch", "epochs", "seconds", *names])
        for trial in trials:
            epochs = trial.intermediate_values
            best_epoch = max(epochs, key=epochs.get) if epochs else ""
            seconds = round(trial.duration.total_seconds(), 1) if trial.duration else ""
            f1 = dev_f1(trial)
            writer.writerow(
                [trial.number, trial.state.name, "" if f1 is None else f1, best_epoch, len(epochs), seconds]
                + [trial.params.get(name, "") for name in names]
            )


def importances(study: optuna.Study) -> dict[str, float | None]:
    """Parameters by Optuna's importance estimate, highest first; unranked (``None``) with few completed trials."""
    names = list(dict.fromkeys(name for trial in study.trials for name in trial.params))
    if sum(trial.state == TrialState.COMPLETE for trial in study.trials) < MIN_TRIALS_FOR_IMPORTANCE:
        return dict.fromkeys(names)
    try:
        return dict(optuna.importance.get_param_importances(study))
    except (RuntimeError, ValueError) as error:  # e.g. no parameter varied among the completed trials
        logger.info("no parameter importances: %s", error)
        return dict.fromkeys(names)


def plot_study(study: optuna.Study, path: Path, shown: int = 3) -> None:
    """Dev F1 against trial number, and against the ``shown`` most important parameters, to a PNG."""
    scored = [trial for trial in study.trials if dev_f1(trial) is not None]
    ranked = list(importances(study).items())[:shown]
    size = {"figsize": (4 * (1 + len(ranked)), 3.5), "dpi": 100, "squeeze": False, "sharey": True}
    with png_figure(path, 1, 1 + len(ranked), **size) as (_, axes):
        _plot_trials(scored, ranked, axes[0])


def _plot_trials(scored: list, ranked: list, axes) -> None:
    """Dev F1 against trial number on the first of ``axes``, against each ``ranked`` parameter on the others."""
    axis = axes[0]
    for state, marker, colour in ((TrialState.COMPLETE, "o", "tab:blue"), (TrialState.PRUNED, "x", "grey")):
        chosen = [trial for trial in scored if trial.state == state]
        if chosen:
            xs, ys = [t.number for t in chosen], [dev_f1(t) for t in chosen]
            axis.scatter(xs, ys, marker=marker, color=colour, label=state.name.lower())
    complete = [trial for trial in scored if trial.state == TrialState.COMPLETE]
    if complete:
        best = [max(dev_f1(t) for t in complete[: i + 1]) for i in range(len(complete))]
        axis.step([t.number for t in complete], best, where="post", color="tab:red", label="best so far")
    axis.set_xlabel("trial")
    axis.set_ylabel("dev entity F1 (pruned: best epoch)")
    axis.legend(fontsize="small")
    for axis, (name, importance) in zip(axes[1:], ranked):
        having = [trial for trial in scored if name in trial.params]
        distribution = having[0].distributions[name]
        categorical = isinstance(distribution, optuna.distributions.CategoricalDistribution)
        xs = [str(t.params[name]) if categorical else t.params[name] for t in having]
        colours = ["tab:blue" if t.state == TrialState.COMPLETE else "grey" for t in having]
        axis.scatter(xs, [dev_f1(t) for t in having], c=colours)
        if getattr(distribution, "log", False):
            axis.set_xscale("log")
        axis.set_xlabel(name)
        axis.set_title("importance not estimated" if importance is None else f"importance {importance:.2f}")

"""The training recipe of ``tagger train``, the benchmarks and the model release, written once: train with early
stopping on dev into ``OUTPUT/model``; optionally refit a fresh model on train + dev for the best epoch count into
``OUTPUT/refit/model`` (with ``refit_epochs``, that model alone, for a count set beforehand); score each model on
test; write ``test-scores.json`` beside it and its card into it.

Train, dev and test come as one corpus or as dicts of head names to corpora (``several`` heads: one per corpus,
each scored by its own head). A corpus without a dev split holds one out of train first (``with_dev``). An
ensemble trained apart (``ensemble_apart``) runs the recipe for each member in ``OUTPUT/members/K``, then combines
them (``run``).
"""

from __future__ import annotations

import json
import logging
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from . import cards
from .callbacks import Callback, standard
from .config import TaggerConfig
from .corpus import Corpus
from .distillation import Lessons
from .ensembles import combined
from .evaluation import evaluate
from .files import atomic_write
from .tagger import Tagger
from .training import CHECKPOINT_FILE, SCORES, Corpora, Trainer, TrainingResult, refit
from .transfer import build

logger = logging.getLogger(__name__)
MEMBER_SEED_STEP = 1000  # member K (from 1) of an ensemble trained apart takes seed + (K - 1) * MEMBER_SEED_STEP


@dataclass
class Trained:
    """A finished recipe: the early-stopped ``trainer`` and its ``result``, and the refit's trainer if asked."""

    trainer: Trainer
    result: TrainingResult
    refitted: Trainer | None = None

    @property
    def at_once(self) -> bool:
        """Whether the refit ran alone, for the set ``refit_epochs``: then it is the early model too."""
        return self.trainer is self.refitted

    @property
    def models(self) -> dict[Path, dict]:
        """Each model directory, with how it was trained (a card's ``training`` facts)."""
        result = self.result
        if self.at_once:
            return {self.final: {"best_epoch": result.best_epoch, "refit": True, "set_epochs": True}}
        training = {"best_epoch": result.best_epoch, "best_dev_f1": result.best_dev_f1}
        training["stopped_because"] = result.stopped_because
        models = {self.trainer.model_dir: {**training, "refit": False}}
        if self.refitted is not None:
            models[self.refitted.model_dir] = {**training, "refit": True}
        return models

    @property
    def early(self) -> Path:
        """The directory of the early-stopped model."""
        return self.trainer.model_dir

    @property
    def final(self) -> Path:
        """The directory of the model to use: the refit's when there is one."""
        return (self.refitted or self.trainer).model_dir


@dataclass
class TrainedApart:
    """A finished ensemble trained apart: each member's recipe, and the run directory of their combination."""

    members: list[Trained]
    output: Path

    @property
    def models(self) -> dict[Path, dict]:
        """Each combined model's directory, with how its members were trained (as ``cards.ensembled`` has it)."""
        at_once = self.members[0].at_once
        models = {self.early: {"refit": at_once, "members": [member.models[member.early] for member in self.members]}}
        if self.final != self.early:
            models[self.final] = {"refit": True, "members": [member.models[member.final] for member in self.members]}
        return models

    @property
    def early(self) -> Path:
        """The directory of the early-stopped members combined (of members refitted at once: ``final``)."""
        return self.final if self.members[0].at_once else self.output / "model"

    @property
    def final(self) -> Path:
        """The directory of the ensemble to use: the refitted members' when they were refitted."""
        return self.output / "refit" / "model" if self.members[0].refitted is not None else self.early


def with_dev(train: Corpus, dev: Corpus | None, config: TaggerConfig, why: str) -> tuple[Corpus, Corpus]:
    """``train`` and ``dev``; without ``dev``, ``dev_fraction`` of train held out by the seed, and ``why`` logged."""
    if dev is not None:
        return train, dev
    train, dev = train.split(config.dev_fraction, config.seed)
    logger.info(
        "%s: holding out %d of %d training sentences (%.0f%%, seed %d) as dev",
        why,
        len(dev),
        len(train) + len(dev),
        100 * config.dev_fraction,
        config.seed,
    )
    return train, dev


def start(
    config: TaggerConfig,
    train: Corpora,
    dev: Corpora,
    output: str | Path,
    callbacks: Sequence[Callback] = (),
    texts: Sequence[Sequence[str]] = (),
    resume: dict | None = None,
    lessons: Lessons | None = None,
) -> Trainer:
    """A trainer into ``output`` with the standard callbacks and then ``callbacks``: a fresh model built from
    ``config`` for ``train`` and ``texts`` (as ``Tagger.build`` takes them: dev and test tokens) and ``lessons``'
    tokens, or, given ``resume`` (the settings the resumed run must share), the one of ``output``'s checkpoint."""
    every = [*standard(output), *callbacks]
    if resume is not None:
        return Trainer.resume(output, train, dev, every, resume, lessons)
    return Trainer(build(config, train, student_texts(texts, lessons)), train, dev, output, every, lessons)


def student_texts(texts: Sequence[Sequence[str]], lessons: Lessons | None) -> Sequence[Sequence[str]]:
    """What a fresh model's vocabulary is built for (``Tagger.build``'s texts): ``texts`` and ``lessons``'
    tokens, whose words with a vector it reads as it reads dev's and test's."""
    return [*texts, *lessons.texts()] if lessons else texts


def fit(
    trainer: Trainer,
    train: Corpora,
    dev: Corpora,
    refitting: bool = False,
    callbacks: Sequence[Callback] = (),
    resume: bool = False,
    texts: Sequence[Sequence[str]] = (),
    lessons: Lessons | None = None,
) -> Trained:
    """Train ``trainer`` to early stopping; with ``refitting``, then a fresh model on train + dev for the best epoch
    count into ``OUTPUT/refit`` (standard callbacks and ``callbacks``; ``resume`` continues its checkpoint;
    ``texts``: test tokens, for ``Tagger.build``)."""
    result = trainer.fit()
    corpora = len(train) if isinstance(train, Mapping) else 1
    logger.info(
        "stopped: %s. Best %s %.4f at epoch %d. Model: %s",
        result.stopped_because,
        "dev F1" if corpora == 1 else f"mean dev F1 of the {corpora} corpora",
        result.best_dev_f1,
        result.best_epoch,
        trainer.model_dir,
    )
    if not refitting:
        return Trained(trainer, result)
    sentences = sentence_count(train) + sentence_count(dev)
    logger.info("refitting on train + dev (%d sentences) for %d epochs", sentences, result.best_epoch)
    epochs = result.best_epoch
    refitted, _ = refit_into(trainer.output, trainer.config, train, dev, epochs, callbacks, resume, texts, lessons)
    return Trained(trainer, result, refitted)


def refit_at_once(
    config: TaggerConfig,
    train: Corpora,
    dev: Corpora,
    output: str | Path,
    callbacks: Sequence[Callback] = (),
    resume: bool = False,
    texts: Sequence[Sequence[str]] = (),
    lessons: Lessons | None = None,
) -> Trained:
    """The refit alone, for the set ``config.refit_epochs``, without the early-stopping run that would choose the
    count: a model trained on train + dev into ``OUTPUT/refit``, which is the recipe's early model too."""
    logger.info("training on train + dev for the set %d epochs (refit_epochs): no early stopping", config.refit_epochs)
    refitted, result = refit_into(output, config, train, dev, config.refit_epochs, callbacks, resume, texts, lessons)
    return Trained(refitted, result, refitted)


def refit_into(
    output: str | Path,
    config: TaggerConfig,
    train: Corpora,
    dev: Corpora,
    epochs: int,
    callbacks: Sequence[Callback],
    resume: bool,
    texts: Sequence[Sequence[str]],
    lessons: Lessons | None,
) -> tuple[Trainer, TrainingResult]:
    """``training.refit`` into ``output/refit``, with the standard callbacks and ``callbacks``."""
    output = Path(output) / "refit"
    every = [*standard(output), *callbacks]
    refitted, result = refit(config, train, dev, epochs, output, every, resume, texts, lessons)
    logger.info("refitted model: %s", refitted.model_dir)
    return refitted, result


def run(
    config: TaggerConfig,
    train: Corpora,
    dev: Corpora,
    output: str | Path,
    refitting: bool = False,
    callbacks: Sequence[Callback] = (),
    texts: Sequence[Sequence[str]] = (),
    test_texts: Sequence[Sequence[str]] = (),
    resume: dict | None = None,
    lessons: Lessons | None = None,
) -> Trained | TrainedApart:
    """The whole recipe into ``output``: ``start``, then ``fit`` (``texts``: dev and test tokens, ``test_texts``:
    test tokens, for ``Tagger.build``; ``resume``: as ``start`` takes it).

    An ensemble trained apart (``ensemble_apart``) runs it for each member alone, one after another, in
    ``output/members/K`` (K from 1) with the seed ``seed + (K - 1) * MEMBER_SEED_STEP``, its own early stopping
    and refit; then combines them into ``output/model`` (and ``output/refit/model``). Given ``resume``, the first
    member and any other with a checkpoint continue it (a finished one stops at once); the others start.
    """
    if config.ensemble == 1 or not config.ensemble_apart:
        if refitting and config.refit_epochs:
            return refit_at_once(config, train, dev, output, callbacks, resume is not None, test_texts, lessons)
        trainer = start(config, train, dev, output, callbacks, texts, resume, lessons)
        return fit(trainer, train, dev, refitting, callbacks, resume is not None, test_texts, lessons)
    output, members = Path(output), []
    for number in range(1, config.ensemble + 1):
        alone = {"seed": config.seed + (number - 1) * MEMBER_SEED_STEP, "ensemble": 1, "ensemble_apart": False}
        where = output / "members" / str(number)
        logger.info("ensemble member %d of %d (seed %d) in %s", number, config.ensemble, alone["seed"], where)
        resumed = resume is not None and (number == 1 or (where / CHECKPOINT_FILE).is_file())
        settings = resume | alone if resumed else None
        trained = run(
            replace(config, **alone), train, dev, where, refitting, callbacks, texts, test_texts, settings, lessons
        )
        members.append(trained)
    ensemble = TrainedApart(members, output)
    combining = {ensemble.early: [m.early for m in members], ensemble.final: [m.final for m in members]}  # one, unrefit
    for directory, sources in combining.items():
        combined([Tagger.load(source) for source in sources], [str(source) for source in sources]).save(directory)
    logger.info("the %d members combined: %s", config.ensemble, ", ".join(map(str, ensemble.models)))
    return ensemble


def sentence_count(corpora: Corpora) -> int:
    return sum(map(len, corpora.values())) if isinstance(corpora, Mapping) else len(corpora)


def test_scores(tagger: Tagger, test: Mapping[str, Corpus], several: bool) -> dict[str, dict]:
    """The scores (seqeval, default mode) of ``tagger`` on each test corpus by name; with ``several`` heads, each
    scored by the head of its name."""
    return {name: evaluate(tagger, corpus, head=name if several else None)[0] for name, corpus in test.items()}


def scores_file(scored: dict[str, dict], several: bool) -> dict:
    """What ``test-scores.json`` holds: the one corpus' scores, or with ``several`` each corpus' and their mean."""
    if not several:
        return next(iter(scored.values()))
    mean = {key: statistics.fmean(scores[key] for scores in scored.values()) for key in SCORES}
    return {"mean": mean, "corpora": scored}


def record(
    model_dir: Path,
    tagger: Tagger,
    data: Mapping[str, dict],
    how: dict,
    test: Mapping[str, Corpus],
    scored: dict[str, dict],
    several: bool,
) -> None:
    """Write ``test-scores.json`` beside ``model_dir`` (when ``scored`` has scores) and the card into it.

    ``data``: each head's ``cards.data_facts``; ``how``: as ``Trained.models`` gives; ``scored``: as ``test_scores``.
    """
    tests = []
    if scored:
        with atomic_write(model_dir.parent / cards.TEST_SCORES) as out:
            json.dump(scores_file(scored, several), out, indent=2)
        corpora = {name: facts.get("corpus", {}).get("name") for name, facts in data.items()}
        tests = [
            cards.test_facts(name, test[name].source, scores, corpora.get(name)) for name, scores in scored.items()
        ]
    cards.write(model_dir, cards.facts(tagger, data, how, tests))

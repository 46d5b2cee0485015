"""The training loop, apart from the model, composed of callbacks (``callbacks.py``).

With the ``standard`` callbacks an output directory holds ``model/`` (the best model so
far), ``checkpoint.pt`` (the last completed epoch, for ``resume``), ``log.jsonl`` (one
record per epoch) and ``learning-curve.png``; ``model/`` is written whatever the callbacks.

Several corpora train one tagger with a head each (multi-task learning, as Crichton et al.
2017 and Wang et al. 2019): every epoch takes every batch of every corpus once, each batch
from one corpus and scored by its head, in an order the seed shuffles; the best model and
early stopping go by the mean of the corpora's dev F1.
"""

from __future__ import annotations

import logging
import math
import random
import statistics
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch
from torch.nn.utils.rnn import pad_sequence

from . import checkpoints
from .averaging import WeightAverage
from .batching import Encoder, mixed_batches
from .callbacks import Callback, EpochRecord, ProgressBar, standard
from .config import TRANSFERRED_PARTS, TaggerConfig
from .corpus import Corpus, Sentence
from .distillation import Lesson, Lessons
from .evaluation import evaluate
from .heads import HeadError
from .model import BiLSTMCRF
from .optimisers import optimiser
from .tagger import CONFIG_FILE, LM_SHAPE, VOCAB_FILE, WEIGHTS_FILE, ModelError, Tagger
from .transfer import ARCHITECTURE, build
from .vocab import normalize_word

# Callback, EpochRecord and ProgressBar are re-exported: they lived here before callbacks.py
__all__ = ["Callback", "DivergedError", "EpochRecord", "ProgressBar", "Step", "Trainer", "TrainingResult", "refit"]
logger = logging.getLogger(__name__)
Corpora = Corpus | Mapping[str, Corpus]  # one corpus, or head names to corpora
SCORES = ("precision", "recall", "f1")
CHECKPOINT_FILE = "checkpoint.pt"  # in a run directory: the last completed epoch


class DivergedError(ValueError):
    """The loss or the gradient norm became NaN or infinite: training cannot go on."""


@dataclass
class TrainingResult:
    best_epoch: int
    best_dev_f1: float
    stopped_because: str
    history: list[EpochRecord] = field(default_factory=list)


@dataclass
class Step:
    """One optimiser step: the batch's summed loss, and the gradient norm before clipping."""

    loss: float
    grad_norm: float
    clipped: bool


class Trainer:
    """Trains a ``Tagger`` on ``train``, keeping the model of the best dev entity F1 in ``output/model``.

    ``train`` and ``dev`` are a ``Corpus`` each for a tagger of one head, or dicts of the tagger's head
    names to corpora (a dict of one corpus trains a lone head whatever its name); then the best model
    is that of the best mean dev F1 over the corpora. With ``dev=None`` every epoch counts as the
    best (see ``refit``). ``callbacks``: by default ``callbacks.standard(output)``; a list replaces them.
    ``lessons`` (a teacher's posteriors on raw text: ``distillation``), for a tagger of one head, are learnt beside
    ``train``, in batches of their own, by ``ConstrainedCRF.soft_nll``.
    """

    def __init__(
        self,
        tagger: Tagger,
        train: Corpora,
        dev: Corpora | None,
        output: str | Path,
        callbacks: Sequence[Callback] | None = None,
        lessons: Lessons | None = None,
    ):
        if tagger.quantization is not None:
            raise ModelError(
                f"a quantised tagger ({tagger.quantization}) only predicts: train the float model it was made from"
            )
        self.tagger, self.output = tagger, Path(output)
        self.config = tagger.config
        self.callbacks = standard(self.output) if callbacks is None else list(callbacks)
        corpora = _by_head(tagger, train, "train")
        self.dev = None if dev is None else _by_head(tagger, dev, "dev")
        self.fingerprints = {"train": checkpoints.fingerprint(corpora), "dev": checkpoints.fingerprint(self.dev)}
        if lessons:
            self.fingerprints["lessons"] = lessons.fingerprint()
        self.train, self.head_of, self.sizes = [], [], []  # encoded sentences, each one's head, sentences per head
        for number, (name, corpus) in enumerate(corpora.items()):
            self.train += [tagger.encode(s, s.tags, name) for s in corpus.in_scheme(self.config.scheme)]
            self.head_of += [number] * len(corpus)
            self.sizes.append(len(corpus))
        self.gold_count = len(self.train)  # lessons, if any, come after the gold sentences
        self.lessons = self._lessons(lessons, corpora) if lessons else []
        self.singletons = _singletons([s for corpus in corpora.values() for s in corpus], tagger)
        self.optimizer = optimiser(_parameter_groups(tagger.model, self.config), self.config)
        decay = self.config.lr_decay
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda epoch: 1.0 / (1.0 + decay * epoch))
        average = self.config.weight_average
        self.average = WeightAverage(tagger.model, average) if average else None
        self.best_f1, self.best_epoch = -1.0, 0
        self.stopped_because: str | None = None
        self.history: list[EpochRecord] = []
        self.rng = random.Random(self.config.seed)
        # an ensemble's other members each draw their own batches: independent models, not one model's copies
        self.member_rngs = [random.Random(f"{self.config.seed} member {k}") for k in range(1, self.config.ensemble)]
        self.epoch = 0
        self.torch_rng: torch.Tensor | None = None  # set when resuming
        if len(corpora) > 1:
            logger.info(
                "%d corpora, a head each (%s): %s",
                len(corpora),
                ", ".join(f"{name} {len(corpus)} sentences" for name, corpus in corpora.items()),
                "early stopping and the best model go by the mean of their dev F1" if dev is not None else "no dev",
            )

    @property
    def model_dir(self) -> Path:
        return self.output / "model"

    @property
    def checkpoint_path(self) -> Path:
        return self.output / CHECKPOINT_FILE

    @classmethod
    def resume(
        cls,
        output: str | Path,
        train: Corpora,
        dev: Corpora | None,
        callbacks: Sequence[Callback] | None = None,
        settings: dict[str, Any] | None = None,
        lessons: Lessons | None = None,
    ) -> "Trainer":
        """A trainer that continues from the last completed epoch in ``output/checkpoint.pt``.

        The model, its config and vocabularies come from the checkpoint; loading it runs no
        pickled code. ``train`` and ``dev`` must be the data it was trained on, and
        ``settings`` (config keys the caller sets) must agree with its config except for
        ``checkpoints.RESUMABLE`` keys, which take effect; a mismatch is a ``CheckpointError``.
        """
        path = Path(output) / CHECKPOINT_FILE
        checkpoints.clean(path)
        state = checkpoints.read(path)
        checkpoints.check_data(path, state, train, dev, lessons and lessons.fingerprint())
        meta = dict(state["meta"])
        recorded = meta["config"]
        derived = ["word_dim"] if recorded.get("vectors") else []  # set by the vectors
        derived += list(LM_SHAPE) if recorded.get("char_lm") else []  # set by the character LM
        derived += list(ARCHITECTURE) if recorded.get("init_from") else []  # taken from the source model
        meta["config"] = checkpoints.resumed_config(path, recorded, settings or {}, derived)
        tagger = Tagger.from_parts(meta, state["vocab"], state["model"], str(path))
        trainer = cls(tagger, train, dev, output, callbacks, lessons)
        trainer.optimizer.load_state_dict(state["optimizer"])
        trainer.scheduler.load_state_dict(state["scheduler"])
        if trainer.average is not None:
            trainer.average.load_state_dict(state["average"])
        trainer.best_f1, trainer.best_epoch = state["best"]["f1"], state["best"]["epoch"]
        trainer.history = [EpochRecord(**r) for r in state["history"]]
        trainer.rng.setstate(_as_tuples(state["python_rng"]))
        for rng, member_state in zip(trainer.member_rngs, state.get("member_rngs", ()), strict=True):
            rng.setstate(_as_tuples(member_state))
        trainer.epoch = state["epoch"]
        trainer.torch_rng = state["torch_rng"]
        logger.info("resuming from %s after epoch %d", path, trainer.epoch)
        return trainer

    def stop(self, reason: str) -> None:
        """Stop after this epoch; ``reason`` becomes the result's ``stopped_because``."""
        self.stopped_because = reason

    def fit(self) -> TrainingResult:
        """Train until ``epochs`` or a callback stops it; the best model is left in ``model/``.

        Temporary files that an interrupted run left in ``output`` are removed first. A NaN or
        infinite loss or gradient raises ``DivergedError``; the files of the last completed epoch
        stay as they were.
        """
        if self.torch_rng is None:
            torch.manual_seed(self.config.seed)
        else:
            torch.set_rng_state(self.torch_rng)
        self.stopped_because = None
        model_files = [self.model_dir / name for name in (CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE)]
        for path in (self.checkpoint_path, *model_files):
            checkpoints.clean(path)
        for callback in self.callbacks:
            callback.on_train_begin(self)
        while self.epoch < self.config.epochs and self.stopped_because is None:
            self.epoch += 1
            try:
                record = self._train_epoch()
            except DivergedError as error:
                raise DivergedError(f"{error}; training stopped. {self._kept()}") from None
            improved = record.dev_f1 is None or record.dev_f1 > self.best_f1
            self.history.append(record)
            if improved:
                self.best_epoch = record.epoch
                self.best_f1 = self.best_f1 if record.dev_f1 is None else record.dev_f1
                with self.averaged():
                    self.tagger.save(self.model_dir)
            for callback in self.callbacks:
                callback.on_epoch_end(self, record, improved)
        stopped = self.stopped_because or f"reached the last epoch ({self.config.epochs})"
        result = TrainingResult(self.best_epoch, self.best_f1, stopped, self.history)
        logger.info("training stopped: %s", stopped)
        for callback in self.callbacks:
            callback.on_train_end(self, result)
        return result

    def batches(self, rng: random.Random | None = None) -> list[list[int]]:
        """One epoch's batches of sentence indices into ``train``: every sentence once, each batch of one corpus
        (``batching.mixed_batches``, drawn from ``rng``, by default the trainer's)."""
        lengths, start = [], 0
        for size in self.sizes:
            lengths.append([len(s.words) for s in self.train[start : start + size]])
            start += size
        return mixed_batches(lengths, self.config.batch_size, rng or self.rng)

    def step(self, indices: Sequence[int], others: Sequence[Sequence[int]] = ()) -> Step:
        """One optimiser step on the training sentences ``indices`` (of one corpus), by their head's loss, the
        gradient clipped to ``clip_grad_norm``; an ensemble's first member takes it on ``indices`` and each other
        member on its own batch of ``others``, as it would alone.

        Raises ``DivergedError`` before changing any weight when the loss or the gradient norm is not finite.
        """
        loss, value = 0.0, 0.0
        for member, own in zip(self.tagger.model.members, [indices, *others], strict=True):
            head = self.head_of[own[0]]
            assert all(self.head_of[i] == head for i in own), "a batch mixes corpora"
            batch = Encoder.collate([self.train[i] for i in own])
            batch.words = self._replace_singletons(batch.words)
            if own[0] < self.gold_count:
                summed = member.loss(batch, head)  # over the batch
            else:
                taught = [self.lessons[i - self.gold_count] for i in own]
                marginals = pad_sequence([lesson.marginals for lesson in taught], batch_first=True)
                summed = member.soft_loss(batch, marginals, torch.stack([lesson.moves for lesson in taught]), head)
            value += summed.item()
            loss = loss + summed / len(own)
        if not math.isfinite(value):
            raise DivergedError(f"the loss is {value}")
        self.optimizer.zero_grad()
        loss.backward()
        limit = self.config.clip_grad_norm
        norms = [  # an ensemble's members each clipped as they would be alone
            torch.nn.utils.clip_grad_norm_(group, limit if limit > 0 else math.inf).item()
            for group in self.tagger.model.parameter_groups()
        ]
        norm = math.hypot(*norms)  # the whole gradient's
        if not math.isfinite(norm):
            raise DivergedError(f"the gradient norm is {norm}")
        self.optimizer.step()
        if self.average is not None:
            self.average.update()
        return Step(value, norm, 0 < limit < max(norms))

    def _train_epoch(self) -> EpochRecord:
        batches = self.batches()
        others = [self.batches(rng) for rng in self.member_rngs]  # an ensemble's other members' own orders
        for callback in self.callbacks:
            callback.on_epoch_begin(self, self.epoch, len(batches))
        self._freeze()
        self.tagger.model.train()
        total_loss, norms, clipped, started = 0.0, [], 0, time.perf_counter()
        for number, indices in enumerate(batches, 1):
            try:
                step = self.step(indices, [own[number - 1] for own in others])
            except DivergedError as error:
                raise DivergedError(f"epoch {self.epoch}, step {number} of {len(batches)}: {error}") from None
            total_loss += step.loss
            norms.append(step.grad_norm)
            clipped += step.clipped
            for callback in self.callbacks:
                callback.on_batch_end(self, step.loss / len(indices), len(indices))
        seconds = time.perf_counter() - started
        lr = self.optimizer.param_groups[0]["lr"]
        self.scheduler.step()
        with self.averaged():
            scores, corpora = self._dev_scores()
        return EpochRecord(
            self.epoch,
            total_loss / len(self.train),
            scores["precision"],
            scores["recall"],
            scores["f1"],
            seconds,
            len(self.train) / seconds,
            lr,
            sum(norms) / len(norms),
            max(norms),
            len(norms),
            clipped,
            corpora,
        )

    def _lessons(self, lessons: Lessons, corpora: Mapping[str, Corpus]) -> list[Lesson]:
        """A teacher's ``lessons`` in this tagger's tags, their sentences appended to ``train`` as a corpus of
        their own (so a batch is all gold or all lessons)."""
        if len(corpora) > 1:
            raise HeadError(f"lessons teach a tagger of one head; this one has {len(corpora)}: {list(corpora)}")
        lessons = lessons.in_tags(self.tagger.heads[0].tags.items)
        self.train += [self.tagger.encode(lesson.sentence) for lesson in lessons.lessons]
        self.head_of += [0] * len(lessons)
        self.sizes.append(len(lessons))
        return lessons.lessons

    def averaged(self) -> AbstractContextManager:
        """A block in which the model holds its averaged weights (``weight_average``), or its own without it."""
        return nullcontext() if self.average is None else self.average.applied()

    def _dev_scores(self) -> tuple[dict[str, float | None], dict[str, dict[str, float]] | None]:
        """Dev precision, recall and F1: of the one corpus, or their means over several with each one's own."""
        if self.dev is None:
            return dict.fromkeys(SCORES), None
        each = {name: evaluate(self.tagger, corpus, head=name)[0] for name, corpus in self.dev.items()}
        if len(each) == 1:
            return next(iter(each.values())), None
        corpora = {name: {key: scores[key] for key in SCORES} for name, scores in each.items()}
        return {key: statistics.fmean(scores[key] for scores in corpora.values()) for key in SCORES}, corpora

    def _kept(self) -> str:
        """What a diverged run leaves, for its error message."""
        kept = []
        if self.checkpoint_path.is_file():
            kept.append(f"the checkpoint of epoch {self.epoch - 1} ({self.checkpoint_path})")
        if self.best_epoch and (self.model_dir / CONFIG_FILE).is_file():
            kept.append(f"the best model, of epoch {self.best_epoch} ({self.model_dir})")
        if not kept:
            return "Nothing was saved (no epoch completed); lower lr (tagger lr-find suggests one)."
        return f"Kept: {' and '.join(kept)}. Lower lr (tagger lr-find suggests one) or clip_grad_norm."

    def _freeze(self) -> None:
        """Keep the parts named in ``freeze`` fixed up to epoch ``unfreeze_after`` (0: in every epoch)."""
        parts = self.config.frozen_parts
        if not parts:
            return
        frozen = not self.config.unfreeze_after or self.epoch <= self.config.unfreeze_after
        if not frozen and self.epoch == self.config.unfreeze_after + 1:
            logger.info("epoch %d: %s no longer frozen", self.epoch, ", ".join(parts))
        for parameter in self.tagger.model.part_parameters(parts):
            parameter.requires_grad_(not frozen)

    def _replace_singletons(self, words: torch.Tensor) -> torch.Tensor:
        """Read training singletons as ``<unk>`` with chance ``unk_replace`` (shape kept)."""
        if self.config.unk_replace <= 0:
            return words
        chosen = self.singletons[words] & (torch.rand(words.shape) < self.config.unk_replace)
        return words.masked_fill(chosen, self.tagger.encoder.word_vocab.unk)

    def save_checkpoint(self) -> None:
        """Write ``checkpoint.pt``: model, optimiser, scheduler, history, random states and data fingerprints."""
        meta, vocab, weights = self.tagger.to_parts()
        state = {
            "epoch": self.epoch,
            "meta": meta,
            "vocab": vocab,
            "model": weights,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            **({} if self.average is None else {"average": self.average.state_dict()}),
            "best": {"f1": self.best_f1, "epoch": self.best_epoch},
            "history": [asdict(r) for r in self.history],
            "torch_rng": torch.get_rng_state(),
            "python_rng": self.rng.getstate(),
            "member_rngs": [rng.getstate() for rng in self.member_rngs],
            "fingerprints": self.fingerprints,
        }
        checkpoints.write(self.checkpoint_path, state)


def refit(
    config: TaggerConfig,
    train: Corpora,
    dev: Corpora,
    epochs: int,
    output: str | Path,
    callbacks: Sequence[Callback] | None = None,
    resume: bool = False,
    texts: Iterable[Sequence[str]] = (),
    lessons: Lessons | None = None,
) -> tuple[Trainer, TrainingResult]:
    """Train a fresh model on ``train`` + ``dev`` (and ``lessons``) for ``epochs`` (the count early stopping chose
    on dev, or a count set beforehand); the trainer and its result.

    Nothing is held out, so the last epoch's model is kept: the protocol of papers that
    report test scores of models trained on train and dev together. ``train`` and ``dev``:
    a corpus each, or dicts of head names to corpora (each corpus joined with its own dev);
    ``callbacks``: as for ``Trainer``; ``texts``: as for ``Tagger.build``, without the lessons' words (which
    the early-stopping run takes): with them, BC5CDR's fast preset scored lower (benchmarks/README.md).
    """
    combined = train + dev if isinstance(train, Corpus) else {name: train[name] + dev[name] for name in train}
    config = replace(config, epochs=epochs, patience=epochs)
    if resume and (Path(output) / CHECKPOINT_FILE).is_file():
        trainer = Trainer.resume(output, combined, None, callbacks, config.to_dict(), lessons)
    else:
        trainer = Trainer(build(config, combined, texts), combined, None, output, callbacks, lessons)
    return trainer, trainer.fit()


def _parameter_groups(model: BiLSTMCRF, config: TaggerConfig) -> list[dict]:
    """The optimiser's groups: the parts taken from ``init_from`` apart, at ``lr * finetune_lr_scale``.

    Frozen parameters stay in their group; without gradients the optimiser leaves them as they are.
    """
    transferred = model.part_parameters(TRANSFERRED_PARTS) if config.init_from else []
    ids = {id(parameter) for parameter in transferred}
    groups = [{"params": [parameter for parameter in model.parameters() if id(parameter) not in ids]}]
    if transferred:
        groups.append({"params": transferred, "lr": config.lr * config.finetune_lr_scale})
    return groups


def _by_head(tagger: Tagger, corpora: Corpora, split: str) -> dict[str, Corpus]:
    """``corpora`` by the name of the head each is for; ``HeadError`` unless they match the tagger's heads."""
    names = tagger.head_names
    if isinstance(corpora, Corpus) or len(corpora) == 1:
        if len(names) > 1:
            raise HeadError(
                f"a tagger of heads {names} takes its {split} data as a dict of those names to corpora, not one corpus"
            )
        return {names[0]: corpora if isinstance(corpora, Corpus) else next(iter(corpora.values()))}
    if sorted(corpora) != sorted(names):
        raise HeadError(f"the {split} corpora are named {list(corpora)}, but the tagger's heads are {names}")
    return {name: corpora[name] for name in names}


def _singletons(train: Sequence[Sentence], tagger: Tagger) -> torch.Tensor:
    """Boolean over the word vocabulary: words seen exactly once in training and without a pretrained vector."""
    encoder = tagger.encoder
    ids = [
        encoder.word_vocab.id(normalize_word(token, encoder.lowercase, encoder.normalize_digits))
        for sentence in train
        for token in sentence.tokens
    ]
    counts = torch.bincount(torch.tensor(ids, dtype=torch.long), minlength=len(encoder.word_vocab))
    singletons = counts == 1
    singletons[encoder.word_vocab.unk] = False
    singletons[len(counts) - tagger.pretrained :] = False  # as Lample et al.: words with a vector are kept
    return singletons


def _as_tuples(value):
    """``random.setstate`` wants tuples where a round trip may give lists."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value

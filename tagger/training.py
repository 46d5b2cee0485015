"""The training loop, apart from the model, extended by callbacks.

An output directory holds ``model/`` (the best model so far), ``checkpoint.pt`` (the last
completed epoch, for ``resume``), ``log.jsonl`` (one record per epoch) and
``learning-curve.png``.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence

import torch

from .batching import Encoder, length_batches
from .config import TRANSFERRED_PARTS, TaggerConfig
from .corpus import Corpus
from .evaluation import evaluate
from .files import atomic_write
from .model import BiLSTMCRF
from .plots import png_figure
from .tagger import ModelError, Tagger
from .vocab import normalize_word

CHECKPOINT_FORMAT = 1
logger = logging.getLogger(__name__)


@dataclass
class EpochRecord:
    """What one epoch did."""

    epoch: int
    loss: float  # mean negative log-likelihood per sentence
    dev_precision: float | None  # None when training holds out no dev set
    dev_recall: float | None
    dev_f1: float | None
    seconds: float  # training time of the epoch, dev evaluation excluded
    sentences_per_second: float
    lr: float


@dataclass
class EarlyStopping:
    """Counts epochs without a better dev F1; says why training stopped."""

    patience: int
    best_f1: float = -1.0
    best_epoch: int = 0
    waited: int = 0

    def update(self, record: EpochRecord) -> bool:
        """Take an epoch's record; return whether it is the best so far (without dev: the latest)."""
        if record.dev_f1 is None:
            self.best_epoch = record.epoch
            return True
        if record.dev_f1 > self.best_f1:
            self.best_f1, self.best_epoch, self.waited = record.dev_f1, record.epoch, 0
            return True
        self.waited += 1
        return False

    @property
    def exhausted(self) -> bool:
        return self.waited >= self.patience

    def reason(self) -> str:
        return f"no better dev F1 for {self.waited} epochs (patience {self.patience}); best was epoch {self.best_epoch}"


@dataclass
class TrainingResult:
    best_epoch: int
    best_dev_f1: float
    stopped_because: str
    history: list[EpochRecord] = field(default_factory=list)


class Callback:
    """Hooks into training; every method is optional."""

    def on_epoch_begin(self, trainer: "Trainer", epoch: int, batches: int) -> None: ...

    def on_batch_end(self, trainer: "Trainer", loss: float, sentences: int) -> None: ...

    def on_epoch_end(self, trainer: "Trainer", record: EpochRecord, improved: bool) -> None: ...

    def on_train_end(self, trainer: "Trainer", result: TrainingResult) -> None: ...


class Trainer:
    """Trains a ``Tagger`` on ``train``, early-stopping on the entity F1 of ``dev``.

    With ``dev=None`` it trains for ``epochs`` and keeps the last model (see ``refit``).
    """

    def __init__(
        self,
        tagger: Tagger,
        train: Corpus,
        dev: Corpus | None,
        output: str | Path,
        callbacks: Sequence[Callback] = (),
    ):
        self.tagger, self.dev, self.output = tagger, dev, Path(output)
        self.config = tagger.config
        self.callbacks = [
            JsonLog(self.output / "log.jsonl"),
            LearningCurve(self.output / "learning-curve.png"),
            *callbacks,
        ]
        model_scheme = train.in_scheme(self.config.scheme)
        self.train = [tagger.encode(s, s.tags) for s in model_scheme]
        self.singletons = _singletons(train, tagger)
        groups = _parameter_groups(tagger.model, self.config)
        if self.config.optimizer == "sgd":
            self.optimizer = torch.optim.SGD(
                groups, lr=self.config.lr, momentum=self.config.momentum, weight_decay=self.config.weight_decay
            )
        else:
            self.optimizer = torch.optim.Adam(groups, lr=self.config.lr, weight_decay=self.config.weight_decay)
        decay = self.config.lr_decay
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda epoch: 1.0 / (1.0 + decay * epoch))
        self.stopper = EarlyStopping(self.config.patience)
        self.history: list[EpochRecord] = []
        self.rng = random.Random(self.config.seed)
        self.epoch = 0
        self.torch_rng: torch.Tensor | None = None  # set when resuming

    @property
    def model_dir(self) -> Path:
        return self.output / "model"

    @property
    def checkpoint_path(self) -> Path:
        return self.output / "checkpoint.pt"

    @classmethod
    def resume(
        cls, output: str | Path, train: Corpus, dev: Corpus | None, callbacks: Sequence[Callback] = ()
    ) -> "Trainer":
        """A trainer that continues from the last completed epoch in ``output/checkpoint.pt``.

        The model, its config and vocabularies come from the checkpoint; loading it runs
        no pickled code.
        """
        path = Path(output) / "checkpoint.pt"
        if not path.is_file():
            raise FileNotFoundError(f"cannot resume: no checkpoint at {path}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ModelError(f"{path}: checkpoint format {state.get('format')!r} is not {CHECKPOINT_FORMAT}")
        trainer = cls(
            Tagger.from_parts(state["meta"], state["vocab"], state["model"], str(path)), train, dev, output, callbacks
        )
        trainer.optimizer.load_state_dict(state["optimizer"])
        trainer.scheduler.load_state_dict(state["scheduler"])
        trainer.stopper = EarlyStopping(**state["stopper"])
        trainer.history = [EpochRecord(**r) for r in state["history"]]
        trainer.rng.setstate(_as_tuples(state["python_rng"]))
        trainer.epoch = state["epoch"]
        trainer.torch_rng = state["torch_rng"]
        logger.info("resuming from %s after epoch %d", path, trainer.epoch)
        return trainer

    def fit(self) -> TrainingResult:
        """Train until ``epochs`` or patience runs out; the best model is left in ``model/``."""
        if self.torch_rng is None:
            torch.manual_seed(self.config.seed)
        else:
            torch.set_rng_state(self.torch_rng)
        while self.epoch < self.config.epochs and not self.stopper.exhausted:
            self.epoch += 1
            record = self._train_epoch()
            improved = self.stopper.update(record)
            self.history.append(record)
            if improved:
                self.tagger.save(self.model_dir)
            self._checkpoint()
            for callback in self.callbacks:
                callback.on_epoch_end(self, record, improved)
        stopped = self.stopper.reason() if self.stopper.exhausted else f"reached the last epoch ({self.config.epochs})"
        result = TrainingResult(self.stopper.best_epoch, self.stopper.best_f1, stopped, self.history)
        logger.info("training stopped: %s", stopped)
        for callback in self.callbacks:
            callback.on_train_end(self, result)
        return result

    def _train_epoch(self) -> EpochRecord:
        model = self.tagger.model
        batches = list(length_batches([len(s.words) for s in self.train], self.config.batch_size, self.rng))
        for callback in self.callbacks:
            callback.on_epoch_begin(self, self.epoch, len(batches))
        self._freeze()
        model.train()
        total_loss, started = 0.0, time.perf_counter()
        for indices in batches:
            batch = Encoder.collate([self.train[i] for i in indices])
            batch.words = self._replace_singletons(batch.words)
            loss = model.loss(batch)
            self.optimizer.zero_grad()
            (loss / len(indices)).backward()
            if self.config.clip_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), self.config.clip_grad_norm)
            self.optimizer.step()
            total_loss += loss.item()
            for callback in self.callbacks:
                callback.on_batch_end(self, loss.item() / len(indices), len(indices))
        seconds = time.perf_counter() - started
        lr = self.optimizer.param_groups[0]["lr"]
        self.scheduler.step()
        scores = (
            evaluate(self.tagger, self.dev)[0] if self.dev is not None else dict.fromkeys(("precision", "recall", "f1"))
        )
        return EpochRecord(
            self.epoch,
            total_loss / len(self.train),
            scores["precision"],
            scores["recall"],
            scores["f1"],
            seconds,
            len(self.train) / seconds,
            lr,
        )

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

    def _checkpoint(self) -> None:
        meta, vocab, weights = self.tagger.to_parts()
        state = {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "meta": meta,
            "vocab": vocab,
            "model": weights,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "stopper": asdict(self.stopper),
            "history": [asdict(r) for r in self.history],
            "torch_rng": torch.get_rng_state(),
            "python_rng": self.rng.getstate(),
        }
        with atomic_write(self.checkpoint_path, "wb") as out:
            torch.save(state, out)


def refit(
    config: TaggerConfig,
    train: Corpus,
    dev: Corpus,
    epochs: int,
    output: str | Path,
    callbacks: Sequence[Callback] = (),
    resume: bool = False,
    texts: Iterable[Sequence[str]] = (),
) -> Trainer:
    """Train a fresh model on ``train`` + ``dev`` for ``epochs`` (the count early stopping chose on dev).

    Nothing is held out, so the last epoch's model is kept: the protocol of papers that
    report test scores of models trained on train and dev together. ``texts``: as for
    ``Tagger.build``.
    """
    combined = train + dev
    if resume and (Path(output) / "checkpoint.pt").is_file():
        trainer = Trainer.resume(output, combined, None, callbacks)
    else:
        config = replace(config, epochs=epochs, patience=epochs)
        trainer = Trainer(Tagger.build(config, combined, texts), combined, None, output, callbacks)
    trainer.fit()
    return trainer


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


def _singletons(train: Corpus, tagger: Tagger) -> torch.Tensor:
    """Boolean over the word vocabulary: words seen exactly once in training and without a pretrained vector."""
    encoder = tagger.encoder
    counts = torch.zeros(len(encoder.word_vocab), dtype=torch.long)
    for sentence in train:
        for token in sentence.tokens:
            counts[encoder.word_vocab.id(normalize_word(token, encoder.lowercase, encoder.normalize_digits))] += 1
    singletons = counts == 1
    singletons[encoder.word_vocab.unk] = False
    singletons[len(counts) - tagger.pretrained :] = False  # as Lample et al.: words with a vector are kept
    return singletons


def _as_tuples(value):
    """``random.setstate`` wants tuples where a round trip may give lists."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


class JsonLog(Callback):
    """Appends one JSON line per epoch; rewritten whole so a resumed run has no duplicates."""

    def __init__(self, path: Path):
        self.path = path

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord, improved: bool) -> None:
        with atomic_write(self.path) as out:
            for past in trainer.history:
                out.write(json.dumps(asdict(past)) + "\n")


class LearningCurve(Callback):
    """Plots training loss and dev F1 per epoch to a PNG."""

    def __init__(self, path: Path):
        self.path = path

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord, improved: bool) -> None:
        epochs = [r.epoch for r in trainer.history]
        with png_figure(self.path, figsize=(6, 3.5), dpi=100) as (_, loss_axis):
            loss_axis.plot(epochs, [r.loss for r in trainer.history], color="tab:blue", marker=".")
            loss_axis.set_xlabel("epoch")
            loss_axis.set_ylabel("training loss per sentence", color="tab:blue")
            if trainer.dev is not None:
                f1_axis = loss_axis.twinx()
                f1_axis.plot(epochs, [r.dev_f1 for r in trainer.history], color="tab:red", marker=".")
                f1_axis.set_ylabel("dev entity F1", color="tab:red")
                f1_axis.axvline(trainer.stopper.best_epoch, color="grey", linestyle=":", linewidth=1)


class ProgressBar(Callback):
    """A tqdm bar per epoch with the running loss and sentences per second."""

    def on_epoch_begin(self, trainer: Trainer, epoch: int, batches: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=len(trainer.train), desc=f"epoch {epoch}", unit="sent", leave=False)

    def on_batch_end(self, trainer: Trainer, loss: float, sentences: int) -> None:
        self.bar.update(sentences)
        self.bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord, improved: bool) -> None:
        self.bar.close()

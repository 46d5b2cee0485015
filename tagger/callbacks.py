"""What runs around each epoch of training: the callbacks a ``Trainer`` is composed of.

``standard`` gives those of ``tagger train``: checkpointing, early stopping, the JSON log and
the learning curve; ``ProgressBar`` and ``EpochReport`` show progress. A tuning trial or a
library user picks their own; they run in order.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .files import atomic_write
from .plots import png_figure

if TYPE_CHECKING:
    from .training import Trainer, TrainingResult

logger = logging.getLogger(__name__)


@dataclass
class EpochRecord:
    """What one epoch did; with several corpora, the dev scores are the means of their own (``corpora``)."""

    epoch: int
    loss: float  # mean negative log-likelihood per sentence
    dev_precision: float | None  # None when training holds out no dev set
    dev_recall: float | None
    dev_f1: float | None  # what the best model and early stopping go by
    seconds: float  # training time of the epoch, dev evaluation excluded
    sentences_per_second: float
    lr: float
    grad_norm_mean: float | None = None  # L2 norm of all gradients before clipping, over the epoch's steps
    grad_norm_max: float | None = None
    steps: int | None = None
    clipped_steps: int | None = None  # steps whose gradient norm exceeded clip_grad_norm
    corpora: dict[str, dict[str, float]] | None = None  # with several corpora: dev precision, recall, f1 of each

    def to_dict(self) -> dict:
        """The record as plain data, ``corpora`` left out when there is one corpus."""
        record = asdict(self)
        if self.corpora is None:
            del record["corpora"]
        return record


class Callback:
    """Hooks into training; every method is optional."""

    def on_train_begin(self, trainer: "Trainer") -> None: ...

    def on_epoch_begin(self, trainer: "Trainer", epoch: int, batches: int) -> None: ...

    def on_batch_end(self, trainer: "Trainer", loss: float, sentences: int) -> None: ...

    def on_epoch_end(self, trainer: "Trainer", record: EpochRecord, improved: bool) -> None: ...

    def on_train_end(self, trainer: "Trainer", result: "TrainingResult") -> None: ...


def standard(output: str | Path) -> list[Callback]:
    """``tagger train``'s callbacks: checkpoint, early stopping, ``log.jsonl`` and ``learning-curve.png`` in output."""
    output = Path(output)
    return [Checkpoint(), EarlyStopping(), JsonLog(output / "log.jsonl"), LearningCurve(output / "learning-curve.png")]


class Checkpoint(Callback):
    """Writes ``checkpoint.pt`` after each epoch, for ``Trainer.resume``."""

    def on_epoch_end(self, trainer: "Trainer", record: EpochRecord, improved: bool) -> None:
        trainer.save_checkpoint()


class EarlyStopping(Callback):
    """Stops training after ``patience`` epochs (the config's, as it is now) without a better dev F1."""

    def on_train_begin(self, trainer: "Trainer") -> None:
        self._check(trainer)  # a resumed run whose patience was raised goes on

    def on_epoch_end(self, trainer: "Trainer", record: EpochRecord, improved: bool) -> None:
        self._check(trainer)

    @staticmethod
    def _check(trainer: "Trainer") -> None:
        waited, patience = trainer.epoch - trainer.best_epoch, trainer.config.patience
        if trainer.dev is not None and trainer.epoch and waited >= patience:
            what = "dev F1" if len(trainer.dev) == 1 else f"mean dev F1 of the {len(trainer.dev)} corpora"
            trainer.stop(
                f"no better {what} for {waited} epochs (patience {patience}); best was epoch {trainer.best_epoch}"
            )


class JsonLog(Callback):
    """Appends one JSON line per epoch; rewritten whole so a resumed run has no duplicates."""

    def __init__(self, path: Path):
        self.path = path

    def on_epoch_end(self, trainer: "Trainer", record: EpochRecord, improved: bool) -> None:
        with atomic_write(self.path) as out:
            for past in trainer.history:
                out.write(json.dumps(past.to_dict()) + "\n")


class LearningCurve(Callback):
    """Plots training loss and dev F1 per epoch (with several corpora, their mean and each one's), and below them
    the gradient norm before clipping, to a PNG."""

    def __init__(self, path: Path):
        self.path = path

    def on_epoch_end(self, trainer: "Trainer", record: EpochRecord, improved: bool) -> None:
        history = trainer.history
        epochs = [r.epoch for r in history]
        with png_figure(self.path, 2, 1, figsize=(6, 6), dpi=100, sharex=True) as (_, (loss_axis, norm_axis)):
            loss_axis.plot(epochs, [r.loss for r in history], color="tab:blue", marker=".")
            loss_axis.set_ylabel("training loss per sentence", color="tab:blue")
            if trainer.dev is not None:
                f1_axis = loss_axis.twinx()
                f1_axis.plot(epochs, [r.dev_f1 for r in history], color="tab:red", marker=".")
                for name in history[-1].corpora or ():
                    scores = [r.corpora[name]["f1"] for r in history]
                    f1_axis.plot(epochs, scores, color="tab:red", alpha=0.4, linewidth=1, label=name)
                if history[-1].corpora:
                    f1_axis.legend(fontsize="small", title="dev F1: mean and", loc="lower right")
                f1_axis.set_ylabel("dev entity F1", color="tab:red")
                f1_axis.axvline(trainer.best_epoch, color="grey", linestyle=":", linewidth=1)
            measured = [r for r in history if r.grad_norm_mean is not None]
            xs = [r.epoch for r in measured]
            norm_axis.plot(xs, [r.grad_norm_mean for r in measured], color="tab:green", marker=".", label="mean")
            norm_axis.plot(xs, [r.grad_norm_max for r in measured], color="tab:olive", linestyle="--", label="max")
            if trainer.config.clip_grad_norm > 0:
                norm_axis.axhline(trainer.config.clip_grad_norm, color="grey", linewidth=1, label="clipped above")
            if measured:
                norm_axis.set_yscale("log")
                clipped = [r for r in measured if r.steps]
                share = ", ".join(f"{100 * r.clipped_steps / r.steps:.0f}%" for r in clipped[-5:])
                norm_axis.set_title(f"steps clipped, last epochs: {share}", fontsize="small")
            norm_axis.set_xlabel("epoch")
            norm_axis.set_ylabel("gradient norm before clipping")
            norm_axis.legend(fontsize="small")


class ProgressBar(Callback):
    """A tqdm bar per epoch with the running loss and sentences per second."""

    def on_epoch_begin(self, trainer: "Trainer", epoch: int, batches: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=len(trainer.train), desc=f"epoch {epoch}", unit="sent", leave=False)

    def on_batch_end(self, trainer: "Trainer", loss: float, sentences: int) -> None:
        self.bar.update(sentences)
        self.bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

    def on_epoch_end(self, trainer: "Trainer", record: EpochRecord, improved: bool) -> None:
        self.bar.close()


class EpochReport(Callback):
    """One log line per epoch."""

    def on_epoch_end(self, trainer: "Trainer", record: EpochRecord, improved: bool) -> None:
        dev = "no dev"
        if record.dev_f1 is not None:
            dev = f"dev P {record.dev_precision:.4f} R {record.dev_recall:.4f} F1 {record.dev_f1:.4f}"
            if record.corpora:
                each = ", ".join(f"{name} {scores['f1']:.4f}" for name, scores in record.corpora.items())
                dev = f"{dev.replace('dev', 'dev mean', 1)} ({each})"
            dev += " *" if improved else ""
        logger.info(
            "epoch %3d  loss %.4f  %s  %.1fs (%.0f sent/s)  gradient norm %.3g (max %.3g), clipped %d of %d steps",
            record.epoch,
            record.loss,
            dev,
            record.seconds,
            record.sentences_per_second,
            record.grad_norm_mean,
            record.grad_norm_max,
            record.clipped_steps,
            record.steps,
        )

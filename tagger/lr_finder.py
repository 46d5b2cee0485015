"""The learning-rate range test (Smith 2017): a fresh model trained while its learning rate grows exponentially.

The loss per token (sentences of a batch have about the same length, so per sentence it would
vary with the batch) is smoothed by an exponential moving average (bias-corrected); the test
stops when the smoothed loss exceeds ``DIVERGED`` times its lowest value, or the loss is no
longer finite. The suggested rate is where the smoothed loss falls fastest against log(lr),
before its lowest point.

torch, numpy and the trainer are imported by the functions that use them: the command line's
options read the defaults and file names here without them.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .config import ConfigError, TaggerConfig
from .corpus import Corpus
from .files import atomic_write
from .plots import png_figure

START, END, STEPS = 1e-6, 1.0, 200
JSON_FILE, PNG_FILE = "lr-find.json", "lr-find.png"  # the names tagger lr-find and tagger train --set lr=auto give
SMOOTHING = 0.9  # weight of the past in the moving average
DIVERGED = 4.0


@dataclass
class RangeTest:
    """The rates tried, the training loss per token at each (raw and smoothed), and the suggestion."""

    start: float
    end: float
    steps: int
    suggested_lr: float
    stopped_because: str
    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"lr-find: {len(self.lrs)} steps from lr {self.start:.3g} ({self.stopped_because}); "
            f"suggested lr {self.suggested_lr:.4g}, where the smoothed loss fell fastest"
        )

    def save(self, json_path: str | Path, png_path: str | Path) -> None:
        """The test as JSON, and the smoothed loss against the rate (log scale) as a PNG."""
        with atomic_write(json_path) as out:
            json.dump(asdict(self), out, indent=2)
        with png_figure(png_path, figsize=(6, 4), dpi=100) as (_, axis):
            axis.plot(self.lrs, self.losses, color="tab:blue", alpha=0.3, linewidth=1, label="loss")
            axis.plot(self.lrs, self.smoothed, color="tab:blue", label="smoothed loss")
            axis.axvline(self.suggested_lr, color="tab:red", linestyle="--", label=f"suggested {self.suggested_lr:.3g}")
            axis.set_xscale("log")
            axis.set_ylim(top=min(max(self.smoothed), DIVERGED * min(self.smoothed)))
            axis.set_xlabel("learning rate")
            axis.set_ylabel("training loss per token")
            axis.legend(fontsize="small")


def range_test(
    config: TaggerConfig,
    train: Corpus | Mapping[str, Corpus],
    texts: Iterable[Sequence[str]] = (),
    start: float = START,
    end: float = END,
    steps: int = STEPS,
) -> RangeTest:
    """Train a fresh model for ``config`` (``transfer.build``) on ``train`` (a corpus, or head names to corpora,
    as ``Trainer`` takes them) for up to ``steps`` batches at rates from ``start`` to ``end``, growing
    exponentially; the global random state is left as it was."""
    import torch

    from .training import DivergedError, Trainer
    from .transfer import build

    if not 0 < start < end or steps < 3:
        raise ConfigError(f"lr-find needs 0 < start < end and at least 3 steps, not {start}, {end} and {steps}")
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        trainer = Trainer(build(config, train, texts), train, None, ".", [])  # never fitted: it writes nothing
        trainer.tagger.model.train()
        ratios = [group["lr"] / config.lr for group in trainer.optimizer.param_groups]  # transferred parts scaled
        lengths = [len(s.words) for s in trainer.train]
        batches = itertools.chain.from_iterable(trainer.batches() for _ in itertools.count())
        test = RangeTest(start, end, steps, math.nan, f"reached the last step ({steps})")
        average, lowest = 0.0, math.inf
        for step, indices in enumerate(itertools.islice(batches, steps)):
            lr = start * (end / start) ** (step / (steps - 1))
            for group, ratio in zip(trainer.optimizer.param_groups, ratios):
                group["lr"] = lr * ratio
            try:
                loss = trainer.step(indices).loss / sum(lengths[i] for i in indices)
            except DivergedError as error:
                test.stopped_because = f"{error} at lr {lr:.3g}"
                break
            average = SMOOTHING * average + (1 - SMOOTHING) * loss
            smoothed = average / (1 - SMOOTHING ** (step + 1))
            test.lrs.append(lr)
            test.losses.append(loss)
            test.smoothed.append(smoothed)
            if smoothed > DIVERGED * lowest:
                test.stopped_because = f"the smoothed loss passed {DIVERGED:g} times its lowest at lr {lr:.3g}"
                break
            lowest = min(lowest, smoothed)
    test.suggested_lr = steepest(test.lrs, test.smoothed)
    return test


def steepest(lrs: list[float], smoothed: list[float]) -> float:
    """The rate where ``smoothed`` falls fastest against log(rate), up to its lowest point; the first tenth,
    where the average has seen few batches, is skipped."""
    import numpy as np

    if len(lrs) < 3:
        raise ConfigError(f"lr-find: only {len(lrs)} steps ran; start the range lower (--start)")
    lowest = int(np.argmin(smoothed))
    skip = min(len(lrs) // 10, max(lowest - 2, 0))
    window = slice(skip, max(lowest, skip + 2) + 1)
    slopes = np.gradient(np.asarray(smoothed[window]), np.log(np.asarray(lrs[window])))
    return float(lrs[window][int(np.argmin(slopes))])

"""Weight averaging (Polyak & Juditsky 1992): a moving average of the weights over the optimiser's steps.

Scoring dev and saving the model with the averaged weights in place of the last step's smooths out the
step-to-step noise of the optimiser, which matters most where no dev score picks the epoch (a refit). The
average is exponential, its decay ramping up over the first steps as in TensorFlow's
``ExponentialMovingAverage``, so the random initial weights are soon forgotten.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn


class WeightAverage:
    """The exponential moving average, of decay ``decay``, of every parameter of ``model``."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.parameters = list(model.parameters())
        self.averages = [parameter.detach().clone() for parameter in self.parameters]
        self.updates = 0

    @torch.no_grad()
    def update(self) -> None:
        """Move the average towards the current weights (after each optimiser step)."""
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for average, parameter in zip(self.averages, self.parameters, strict=True):
            average.lerp_(parameter, 1.0 - decay)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """The model holds the averaged weights inside the block, its own again after it."""
        with torch.no_grad():
            own = [parameter.detach().clone() for parameter in self.parameters]
            for parameter, average in zip(self.parameters, self.averages, strict=True):
                parameter.copy_(average)
        try:
            yield
        finally:
            with torch.no_grad():
                for parameter, weights in zip(self.parameters, own, strict=True):
                    parameter.copy_(weights)

    def state_dict(self) -> dict[str, Any]:
        """The averages and the step count, for a checkpoint."""
        return {"updates": self.updates, "averages": self.averages}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state_dict()``'s values."""
        averages = state["averages"]
        if len(averages) != len(self.parameters):
            raise ValueError(f"{len(averages)} averaged tensors for a model of {len(self.parameters)} parameters")
        with torch.no_grad():
            for average, saved in zip(self.averages, averages, strict=True):
                average.copy_(saved)
        self.updates = int(state["updates"])

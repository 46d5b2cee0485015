"""How a character LM is trained, and the error of a bad LM or LM setting: apart from ``lm_training`` so that the
command line's options take their defaults from here without torch."""

from __future__ import annotations

import math
from dataclasses import dataclass


class LMError(ValueError):
    """A directory or file that is not a character LM of this format, or text it cannot be trained on."""


@dataclass
class LMSettings:
    """How one direction of a character LM is trained (Akbik et al. 2018 train with SGD at lr 20, clip 0.25)."""

    char_dim: int = 32
    hidden: int = 256
    layers: int = 1
    dropout: float = 0.1
    bptt: int = 250  # characters per truncated backpropagation window
    batch_size: int = 32  # parallel streams the text is cut into
    lr: float = 20.0
    anneal: float = 4.0  # lr is divided by this when held-out bits per character stop improving
    clip: float = 0.25
    epochs: int = 1
    heldout_chars: int = 200_000  # taken from the end of the text (at most a tenth of it)
    checkpoint_every: int = 500  # steps; held-out text is scored and a checkpoint written at each
    seed: int = 13

    def __post_init__(self) -> None:
        positive = ("char_dim", "hidden", "layers", "bptt", "batch_size", "epochs", "heldout_chars", "checkpoint_every")
        for name in positive:
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise LMError(f"{name} must be a whole number of at least 1, not {getattr(self, name)!r}")
        if not 0 <= self.dropout < 1 or not math.isfinite(self.lr) or self.lr <= 0 or self.clip <= 0 or self.anneal < 1:
            raise LMError(
                f"need 0 <= dropout < 1, lr > 0, clip > 0 and anneal >= 1; got {self.dropout}, {self.lr}, {self.clip}, "
                f"{self.anneal}"
            )

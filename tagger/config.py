"""The one typed config of a model and its training, saved with the model as JSON."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

CHAR_ENCODERS = ("lstm", "cnn", "none")
OPTIMIZERS = ("sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamw", "adamax", "nadam")  # torch's
INITIALISATIONS = (
    "default",  # torch's own
    "uniform",
    "normal",
    "lecun_uniform",
    "lecun_normal",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "orthogonal",  # orthogonal recurrent matrices, glorot_uniform for the rest
)
REFUSED_INITIALISATIONS = ("zeros", "zero", "constant")  # every unit would stay identical
LEGACY_VALUES = {"init": {"xavier": "glorot_uniform"}}  # values of older config files, and what they mean now
VECTOR_FORMATS = ("auto", "word2vec", "word2vec-binary", "glove", "fasttext", "spacy")
TRANSFERRED_PARTS = ("embeddings", "chars", "encoder")  # what a model takes from init_from, and may freeze


class ConfigError(ValueError):
    """An unknown key or a value of the wrong kind in a config."""


@dataclass
class TaggerConfig:
    """Every hyperparameter of the tagger; defaults are the benchmarked default model."""

    # words
    lowercase: bool = True  # word embeddings keyed by lowercased forms (characters keep case)
    normalize_digits: bool = True  # every digit read as 0 for word lookup
    min_word_count: int = 1  # rarer training words map to <unk>
    unk_replace: float = 0.5  # chance that a training singleton is read as <unk> (Lample et al.)
    word_dim: int = 100  # set to the dimension of the vectors when there are any
    vectors: str = ""  # pretrained vectors file, read only to build a model (a saved one does not need it)
    vectors_format: str = "auto"  # auto, word2vec, word2vec-binary, glove, fasttext or spacy
    freeze_vectors: bool = False  # pretrained rows stay fixed; other words' rows are still trained
    vectors_keep: int = 0  # also keep the table's first N words (most frequent), for words no corpus text has
    # characters
    char_encoder: str = "lstm"  # lstm (Lample et al. 2016), cnn (Ma & Hovy 2016) or none
    char_dim: int = 30
    char_hidden: int = 50  # per direction for lstm, filters for cnn
    char_kernel: int = 3  # cnn window
    casing_dim: int = 8  # 0 turns the casing feature off
    # character language model (Akbik et al. 2018), trained by `tagger lm train`
    char_lm: str = ""  # LM directory, read only to build a model: the model keeps the LM's weights
    char_lm_finetune: bool = False  # train the LM's weights with the tagger; else they stay as the LM had them
    char_lm_dim: int = 0  # the LM's character embedding size, set from it when a model is built
    char_lm_hidden: int = 0  # the LM's LSTM units per direction, set from it (0: no LM)
    char_lm_layers: int = 1  # the LM's layers, set from it
    # encoder
    hidden: int = 200  # per direction
    layers: int = 1
    dropout: float = 0.5
    init: str = "default"  # of weight matrices (the CRF's aside): default (torch's) or one of INITIALISATIONS
    init_scale: float = 0.05  # uniform: U(-scale, scale); normal: N(0, scale²)
    forget_bias: float = 0.0  # LSTM forget-gate bias at the start (1.0: Jozefowicz et al. 2015); 0 keeps torch's
    scheme: str = "IOBES"  # scheme the model is trained in
    # training
    optimizer: str = "adam"  # one of OPTIMIZERS
    lr: float = 0.002  # tagger train --set lr=auto runs tagger lr-find first and takes its suggestion
    momentum: float = 0.9  # sgd, rmsprop
    nesterov: bool = False  # sgd: Nesterov momentum
    beta1: float = 0.9  # adam, adamw, adamax, nadam: decay of the gradient's running mean
    beta2: float = 0.999  # adam, adamw, adamax, nadam: decay of the squared gradient's running mean
    amsgrad: bool = False  # adam, adamw
    rho: float = 0.9  # adadelta: decay of the running averages
    rmsprop_alpha: float = 0.99  # rmsprop: decay of the squared gradient's running mean
    eps: float = 0.0  # added to denominators; 0 keeps torch's default for the optimiser
    lr_decay: float = 0.0  # lr / (1 + lr_decay * epoch), as in Ma & Hovy
    weight_decay: float = 0.0  # L2 penalty; adamw's is decoupled from the gradient (Loshchilov & Hutter)
    clip_grad_norm: float = 5.0  # 0 turns clipping off
    batch_size: int = 32
    epochs: int = 50
    patience: int = 8  # epochs without a better dev F1 before stopping
    seed: int = 13
    dev_fraction: float = 0.1  # carved from train when no dev set is given
    threads: int = 0  # torch threads; 0 keeps torch's default
    # transfer learning
    init_from: str = ""  # trained model directory to start from, read only to build a model
    freeze: str = ""  # comma-separated parts of init_from kept fixed: embeddings, chars, encoder
    unfreeze_after: int = 0  # epochs after which the frozen parts are trained too; 0: never
    finetune_lr_scale: float = 1.0  # learning rate of the parts from init_from, as a fraction of lr

    def __post_init__(self) -> None:
        choices = {
            "char_encoder": CHAR_ENCODERS,
            "optimizer": OPTIMIZERS,
            "init": INITIALISATIONS,
            "vectors_format": VECTOR_FORMATS,
        }
        if self.init in REFUSED_INITIALISATIONS or (self.init in ("uniform", "normal") and self.init_scale == 0):
            raise ConfigError(
                f"init {self.init} (init_scale {self.init_scale}) is refused: with all-zero weights every unit of a "
                "layer gets the same gradient and stays identical to the others"
            )
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        from .schemes import SchemeError, check_scheme

        try:
            self.scheme = check_scheme(self.scheme)
        except SchemeError as error:
            raise ConfigError(str(error)) from None
        if self.vectors_keep < 0 or (self.vectors_keep and not self.vectors):
            raise ConfigError(f"vectors_keep must be >= 0, and needs vectors; got {self.vectors_keep}")
        self._check_transfer()

    @property
    def frozen_parts(self) -> list[str]:
        """The parts named in ``freeze``."""
        return [part.strip() for part in self.freeze.split(",") if part.strip()]

    def _check_transfer(self) -> None:
        unknown = [part for part in self.frozen_parts if part not in TRANSFERRED_PARTS]
        if unknown:
            raise ConfigError(f"freeze: unknown part {unknown[0]!r}; parts are {', '.join(TRANSFERRED_PARTS)}")
        self.freeze = ",".join(self.frozen_parts)
        if self.unfreeze_after < 0 or self.finetune_lr_scale <= 0:
            raise ConfigError(
                f"unfreeze_after must be >= 0 and finetune_lr_scale > 0, not {self.unfreeze_after} "
                f"and {self.finetune_lr_scale}"
            )
        if self.unfreeze_after and not self.freeze:
            raise ConfigError("unfreeze_after needs parts to unfreeze: set freeze")
        if not self.init_from and (self.freeze or self.finetune_lr_scale != 1.0):
            raise ConfigError("freeze and finetune_lr_scale apply to the parts taken from init_from, which is not set")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TaggerConfig":
        """A config from ``values``; missing keys take defaults, unknown keys are an error."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"unknown config keys: {', '.join(unknown)}; known keys: {', '.join(known)}")
        values = {name: LEGACY_VALUES.get(name, {}).get(value, value) for name, value in values.items()}
        return cls(**{name: _coerce(known[name], value) for name, value in values.items()})

    @classmethod
    def from_file(cls, path: str | Path) -> "TaggerConfig":
        """Read a JSON config file (a saved model's ``config.json`` works too)."""
        try:
            values = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise ConfigError(f"cannot read config {path}: {error}") from None
        return cls.from_dict(values.get("config", values))

    def with_overrides(self, assignments: list[str]) -> "TaggerConfig":
        """Apply ``key=value`` strings, as given to ``--set``."""
        values = self.to_dict()
        for assignment in assignments:
            key, sep, value = assignment.partition("=")
            if not sep:
                raise ConfigError(f"expected key=value, got {assignment!r}")
            values[key.strip()] = value.strip()
        return self.from_dict(values)


def _coerce(field: dataclasses.Field, value: Any) -> Any:
    """Turn strings from the command line (and JSON numbers) into the field's type."""
    kind = {"bool": bool, "int": int, "float": float, "str": str}[str(field.type)]
    if kind is bool and isinstance(value, str):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"{field.name} must be true or false, not {value!r}")
        return value.lower() in ("true", "1", "yes")
    if kind is int and isinstance(value, float) and not value.is_integer():
        raise ConfigError(f"{field.name} must be an integer, not {value!r}")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{field.name} must be {kind.__name__}, not {value!r}") from None

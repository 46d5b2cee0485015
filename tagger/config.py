"""The one typed config of a model and its training, saved with the model as JSON."""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .schemes import SCHEMES, SchemeError, check_scheme
from .text import DEFAULT_TOKENIZER, TOKENIZERS

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
MAX_THREADS = 1024  # torch threads; far more fail to start (out of memory)
PREDICT_BATCH_SIZE = 256  # sentences per forward pass when tagging (predict on CPU: a tenth faster than 128)
MAX_ENSEMBLE = 32  # members of an ensemble; each one costs a model's time and memory


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
    tokenizer: str = DEFAULT_TOKENIZER  # cuts raw text into tokens (annotate, tag_text, spaCy): text.TOKENIZERS
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
    char_lm_projection: int = 0  # the LM's features mapped by a learned linear layer to this many (0: fed whole)
    # encoder
    hidden: int = 200  # per direction
    layers: int = 1
    dropout: float = 0.5
    locked_dropout: bool = False  # one dropout mask per sentence, the same at every token (variational dropout)
    word_dropout: float = 0.0  # chance that a token's whole input to the encoder is zeroed in training (flair's)
    init: str = "default"  # of weight matrices (the CRF's aside): default (torch's) or one of INITIALISATIONS
    init_scale: float = 0.05  # uniform: U(-scale, scale); normal: N(0, scale²)
    forget_bias: float = 0.0  # LSTM forget-gate bias at the start (1.0: Jozefowicz et al. 2015); 0 keeps torch's
    scheme: str = "IOBES"  # scheme the model is trained in
    ensemble: int = 1  # models of this config, each from its own initial weights, tagging as one
    ensemble_apart: bool = False  # members trained one after another, each alone (recipes.run); else side by side
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
    weight_average: float = 0.0  # decay of a moving average of the weights, which dev and the saved model use; 0: off
    batch_size: int = 32
    epochs: int = 50
    patience: int = 8  # epochs without a better dev F1 before stopping
    refit_epochs: int = 0  # with a refit: train + dev for this many epochs at once, no early-stopping run; 0: it runs
    seed: int = 13
    dev_fraction: float = 0.1  # carved from train when no dev set is given
    threads: int = 0  # torch threads; 0 keeps torch's default
    # transfer learning
    init_from: str = ""  # trained model directory to start from, read only to build a model
    freeze: str = ""  # comma-separated parts of init_from kept fixed: embeddings, chars, encoder
    unfreeze_after: int = 0  # epochs after which the frozen parts are trained too; 0: never
    finetune_lr_scale: float = 1.0  # learning rate of the parts from init_from, as a fraction of lr

    def __post_init__(self) -> None:
        """Check every key against its type and ``ALLOWED``; ``ConfigError`` names the first bad one."""
        known = {f.name: f for f in fields(self)}
        unchecked = sorted(set(known) - set(ALLOWED))
        if unchecked:  # a key added to the dataclass but not to ALLOWED
            raise ConfigError(f"no allowed values declared for config keys: {', '.join(unchecked)}")
        if self.init in REFUSED_INITIALISATIONS or (self.init in ("uniform", "normal") and self.init_scale == 0):
            raise ConfigError(
                f"init {self.init} (init_scale {self.init_scale}) is refused: with all-zero weights every unit of a "
                "layer gets the same gradient and stays identical to the others"
            )
        for name, spec in known.items():
            value = _typed(name, str(spec.type), getattr(self, name))
            if name == "scheme":
                try:
                    value = check_scheme(value)  # BIOES, iob2, ... as the canonical name
                except SchemeError:
                    pass  # ALLOWED says what is
            problem = ALLOWED[name].problem(value)
            if problem:
                raise ConfigError(f"{name} must be {problem}, not {value!r}")
            setattr(self, name, value)
        if self.vectors_keep and not self.vectors:
            raise ConfigError(f"vectors_keep must be >= 0, and needs vectors; got {self.vectors_keep}")
        self._check_transfer()
        if self.char_lm_projection and not (self.char_lm or self.char_lm_hidden):
            raise ConfigError("char_lm_projection maps a character LM's features: it needs char_lm")
        if self.ensemble > 1 and (self.char_lm_finetune or (self.init_from and not self.ensemble_apart)):
            if self.char_lm_finetune:
                how = "a fine-tuned character LM (char_lm_finetune): train a single model for it"
            else:
                how = "init_from (transfer) with its members trained side by side: set ensemble_apart"
            raise ConfigError(f"an ensemble (ensemble {self.ensemble}) cannot take {how}")

    @property
    def frozen_parts(self) -> list[str]:
        """The parts named in ``freeze``."""
        return [part.strip() for part in self.freeze.split(",") if part.strip()]

    def _check_transfer(self) -> None:
        unknown = [part for part in self.frozen_parts if part not in TRANSFERRED_PARTS]
        if unknown:
            raise ConfigError(f"freeze: unknown part {unknown[0]!r}; parts are {', '.join(TRANSFERRED_PARTS)}")
        self.freeze = ",".join(self.frozen_parts)
        if self.unfreeze_after and not self.freeze:
            raise ConfigError("unfreeze_after needs parts to unfreeze: set freeze")
        if not self.init_from and (self.freeze or self.finetune_lr_scale != 1.0):
            raise ConfigError("freeze and finetune_lr_scale apply to the parts taken from init_from, which is not set")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str | None = None) -> "TaggerConfig":
        """A config from typed ``values`` (JSON); missing keys take defaults, unknown keys are an error.

        Values must have their key's type (a bool is not a number, a number is not a bool, a
        string is not a number); ``source`` names the file in errors.
        """
        where = f"{source}: " if source else ""
        if not isinstance(values, dict):
            raise ConfigError(f"{where}expected a JSON object of config keys, found {type(values).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{where}unknown config keys: {', '.join(unknown)}; known keys: {', '.join(known)}")
        values = {name: _legacy(name, value) for name, value in values.items()}
        try:
            return cls(**values)
        except ConfigError as error:
            raise ConfigError(f"{where}{error}") from None

    @classmethod
    def from_file(cls, path: str | Path) -> "TaggerConfig":
        """Read a JSON config file (a saved model's ``config.json`` works too)."""
        return cls.from_dict(file_values(path), str(path))

    def with_overrides(self, assignments: list[str]) -> "TaggerConfig":
        """Apply ``key=value`` strings, as given to ``--set``; each value is parsed as its key's type."""
        types = {f.name: str(f.type) for f in fields(self)}
        values = self.to_dict()
        for assignment in assignments:
            key, sep, value = assignment.partition("=")
            key = key.strip()
            if not sep:
                raise ConfigError(f"expected key=value, got {assignment!r}")
            if key not in types:
                raise ConfigError(f"unknown config keys: {key}; known keys: {', '.join(types)}")
            values[key] = _parse(key, types[key], value.strip())
        return self.from_dict(values)


def file_values(path: str | Path) -> dict[str, Any]:
    """The config values a JSON config file sets (a saved model's ``config.json`` holds them under ``config``)."""
    values = read_json(path, "config")
    if isinstance(values, dict) and isinstance(values.get("config"), dict):
        values = values["config"]
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a JSON object of config keys, found {type(values).__name__}")
    return values


def read_json(path: str | Path, what: str) -> Any:
    """The JSON value in the UTF-8 file ``path`` (a byte-order mark is fine); ``ConfigError`` naming ``what``."""
    from .corpus import CorpusFormatError
    from .reading import read_text

    try:
        text = read_text(path, hint=False)
    except (OSError, CorpusFormatError) as error:
        raise ConfigError(f"cannot read {what} {path}: {getattr(error, 'strerror', None) or error}") from None
    if not text.strip():
        raise ConfigError(f"cannot read {what} {path}: the file is empty; expected a JSON object")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"cannot read {what} {path}: not JSON ({error})") from None


@dataclass(frozen=True)
class Allowed:
    """The values a key allows: any of its type, one of ``choices``, or numbers within bounds.

    ``low`` and ``high`` are inclusive unless ``above``/``below`` make them strict; ``odd``
    allows odd integers only. Numbers are always finite.
    """

    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    above: bool = False
    below: bool = False
    odd: bool = False

    def problem(self, value: Any) -> str | None:
        """What ``value`` should be, when it is not allowed; else None."""
        if self.choices:
            return None if value in self.choices else f"one of {', '.join(map(str, self.choices))}"
        if isinstance(value, (bool, str)):
            return None
        bounds = []
        if self.low is not None:
            bounds.append(f"{'>' if self.above else '>='} {self.low}")
        if self.high is not None:
            bounds.append(f"{'<' if self.below else '<='} {self.high}")
        kind = "an odd integer" if self.odd else "an integer" if isinstance(value, int) else "a finite number"
        rule = " ".join([kind, " and ".join(bounds)]).strip()
        if isinstance(value, float) and not math.isfinite(value):
            return rule
        if self.odd and value % 2 == 0:
            return rule
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return rule
        if self.high is not None and (value >= self.high if self.below else value > self.high):
            return rule
        return None


ANY = Allowed()


def at_least(low: float) -> Allowed:
    return Allowed(low=low)


# What every key allows, checked whenever a config is made (``TaggerConfig.__post_init__``): from
# --config files, --set, saved models' config.json, checkpoints, search spaces. Each key needs an entry.
ALLOWED: dict[str, Allowed] = {
    "lowercase": ANY,
    "normalize_digits": ANY,
    "min_word_count": at_least(1),
    "unk_replace": Allowed(low=0, high=1),
    "word_dim": at_least(1),
    "vectors": ANY,
    "vectors_format": Allowed(VECTOR_FORMATS),
    "freeze_vectors": ANY,
    "vectors_keep": at_least(0),
    "tokenizer": Allowed(TOKENIZERS),
    "char_encoder": Allowed(CHAR_ENCODERS),
    "char_dim": at_least(1),
    "char_hidden": at_least(1),
    "char_kernel": Allowed(low=1, odd=True),
    "casing_dim": at_least(0),
    "char_lm": ANY,
    "char_lm_finetune": ANY,
    "char_lm_dim": at_least(0),  # 0: no LM
    "char_lm_hidden": at_least(0),
    "char_lm_layers": at_least(1),
    "char_lm_projection": at_least(0),
    "hidden": at_least(1),
    "layers": at_least(1),
    "dropout": Allowed(low=0, high=1, below=True),
    "locked_dropout": ANY,
    "word_dropout": Allowed(low=0, high=1, below=True),
    "init": Allowed(INITIALISATIONS),  # and neither zeros nor a scale of 0 (REFUSED_INITIALISATIONS)
    "init_scale": at_least(0),
    "forget_bias": ANY,
    "scheme": Allowed(SCHEMES),
    "ensemble": Allowed(low=1, high=MAX_ENSEMBLE),
    "ensemble_apart": ANY,
    "optimizer": Allowed(OPTIMIZERS),
    "lr": Allowed(low=0, above=True),
    "momentum": Allowed(low=0, high=1, below=True),
    "nesterov": ANY,
    "beta1": Allowed(low=0, high=1, below=True),
    "beta2": Allowed(low=0, high=1, below=True),
    "amsgrad": ANY,
    "rho": Allowed(low=0, high=1),
    "rmsprop_alpha": Allowed(low=0, high=1),
    "eps": at_least(0),  # 0: the optimiser's default
    "lr_decay": at_least(0),
    "weight_decay": at_least(0),
    "clip_grad_norm": at_least(0),
    "weight_average": Allowed(low=0, high=1, below=True),
    "batch_size": at_least(1),
    "epochs": at_least(1),
    "patience": at_least(1),
    "refit_epochs": at_least(0),
    "seed": Allowed(low=0, high=2**32 - 1),  # numpy's and so Optuna's samplers' range
    "dev_fraction": Allowed(low=0, high=1, above=True, below=True),
    "threads": Allowed(low=0, high=MAX_THREADS),
    "init_from": ANY,
    "freeze": ANY,  # parts of TRANSFERRED_PARTS, checked with the other transfer keys
    "unfreeze_after": at_least(0),
    "finetune_lr_scale": Allowed(low=0, above=True),
}
TYPES = {"bool": bool, "int": int, "float": float, "str": str}


def _typed(name: str, kind: str, value: Any) -> Any:
    """``value`` as type ``kind`` if it is one (any integer is a float too, an integral float an int, numpy's
    numbers Python's); else ``ConfigError``."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):  # numpy's scalars: as Python's
        value = value.item()
    if not isinstance(value, (bool, str)):
        if kind == "float" and isinstance(value, numbers.Real):
            return float(value)
        if kind == "int" and isinstance(value, numbers.Integral):
            return int(value)
        if kind == "int" and isinstance(value, numbers.Real) and float(value).is_integer():
            return int(value)
    if isinstance(value, TYPES[kind]) and not (kind != "bool" and isinstance(value, bool)):
        return value
    return _wrong(
        name, {"bool": "true or false", "int": "an integer", "float": "a number", "str": "a string"}[kind], value
    )


def _legacy(name: str, value: Any) -> Any:
    """What a value of an older config file means now (``LEGACY_VALUES``)."""
    try:
        return LEGACY_VALUES.get(name, {}).get(value, value)
    except TypeError:  # an unhashable value: no legacy one, and _typed says what is wrong
        return value


def _wrong(name: str, wanted: str, value: Any):
    kinds = {bool: "a bool", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object"}
    found = "null" if value is None else kinds.get(type(value), type(value).__name__)
    if isinstance(value, (bool, int, float, str)):
        found = f"{json.dumps(value)} ({found})"
    raise ConfigError(f"{name} must be {wanted}, not {found}")


def _parse(name: str, kind: str, text: str) -> Any:
    """A ``--set`` value: the string ``text`` read as type ``kind``."""
    if kind == "bool":
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"{name} must be true or false, not {text!r}")
        return text.lower() in ("true", "1", "yes")
    if kind == "str":
        return text
    try:
        return int(text) if kind == "int" else float(text)
    except ValueError:
        raise ConfigError(f"{name} must be {'an integer' if kind == 'int' else 'a number'}, not {text!r}") from None

"""A hyperparameter search space: config keys and the ranges or choices a study tries for them.

Apart from ``tuning`` so that the command line's help shows the default space without Optuna.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import OPTIMIZERS, ConfigError, TaggerConfig, read_json

if TYPE_CHECKING:
    import optuna

SAMPLERS = ("tpe", "gp", "random", "grid")
DEFAULT_SPACE = {
    "lr": {"low": 1e-4, "high": 0.05, "log": True},
    "optimizer": {"choices": list(OPTIMIZERS)},
    "init": {"choices": ["default", "glorot_uniform", "orthogonal", "he_normal"]},
    "dropout": {"low": 0.1, "high": 0.7},
    "hidden": {"low": 50, "high": 300, "step": 50},
    "word_dim": {"choices": [50, 100, 200]},
    "char_dim": {"low": 10, "high": 50, "step": 10},
    "char_hidden": {"low": 25, "high": 100, "step": 25},
    "batch_size": {"choices": [8, 16, 32, 64]},
    "clip_grad_norm": {"low": 1.0, "high": 10.0, "log": True},
}


@dataclass
class Dimension:
    """One config key's range, ``low`` to ``high`` (on a log scale or in steps), or its ``choices``."""

    name: str
    integer: bool = False
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list | None = None

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(self.name, self.choices)
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def values(self) -> list:
        """Every value, for the grid sampler: the choices, or the range in its steps."""
        if self.choices is not None:
            return list(self.choices)
        if self.step is None and not self.integer:
            raise ConfigError(f"{self.name}: the grid sampler needs choices or a step for a float range")
        step = self.step or 1
        count = math.floor((self.high - self.low) / step + 1e-9) + 1
        return [int(self.low + i * step) if self.integer else round(self.low + i * step, 12) for i in range(count)]


class SearchSpace:
    """The config keys a study searches and their ranges or choices."""

    def __init__(self, dimensions: list[Dimension]):
        self.dimensions = dimensions

    @classmethod
    def from_dict(cls, values: dict, source: str = "search space") -> "SearchSpace":
        """Read ``{key: {"low", "high", "log"?, "step"?} | {"choices"}}``; errors name ``source`` and the key."""
        if not isinstance(values, dict) or not values:
            raise ConfigError(f"{source}: expected a non-empty JSON object of config keys")
        types = {f.name: str(f.type) for f in fields(TaggerConfig)}
        dimensions = []
        for name, spec in values.items():
            if name not in types:
                raise ConfigError(f"{source}: {name!r} is not a config key; known keys: {', '.join(types)}")
            try:
                dimensions.append(_dimension(name, types[name], spec))
            except ConfigError as error:
                raise ConfigError(f"{source}: {name}: {error}") from None
        return cls(dimensions)

    @classmethod
    def from_file(cls, path: str | Path) -> "SearchSpace":
        return cls.from_dict(read_json(path, "search space"), str(path))

    def check(self, base: TaggerConfig) -> None:
        """Raise ``ConfigError`` unless every choice and range end makes a valid config with ``base``."""
        for dimension in self.dimensions:
            ends = dimension.choices if dimension.choices is not None else [dimension.low, dimension.high]
            for value in ends:
                try:
                    TaggerConfig.from_dict(base.to_dict() | {dimension.name: value})
                except ConfigError as error:
                    raise ConfigError(f"search space: {dimension.name}={value!r}: {error}") from None

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        return {dimension.name: dimension.suggest(trial) for dimension in self.dimensions}

    def grid(self) -> dict[str, list]:
        return {dimension.name: dimension.values() for dimension in self.dimensions}


def _dimension(name: str, kind: str, spec: Any) -> Dimension:
    """A ``Dimension`` from one key's JSON ``spec``; ``kind`` is the config field's type name."""
    if not isinstance(spec, dict):
        raise ConfigError(f"expected an object with low and high, or choices, not {spec!r}")
    unknown = sorted(set(spec) - {"low", "high", "log", "step", "choices"})
    if unknown:
        raise ConfigError(f"unknown settings {', '.join(unknown)} (low, high, log, step, choices)")
    if "choices" in spec:
        if set(spec) != {"choices"} or not isinstance(spec["choices"], list) or not spec["choices"]:
            raise ConfigError("choices must be a non-empty list, alone")
        return Dimension(name, choices=spec["choices"])
    if kind not in ("int", "float"):
        raise ConfigError(f"a {kind} key takes choices, not a range")
    if not {"low", "high"} <= set(spec):
        raise ConfigError("a range needs low and high")
    low, high, step, log = spec["low"], spec["high"], spec.get("step"), spec.get("log", False)
    numbers = [low, high] + ([step] if step is not None else [])
    if not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers) or not isinstance(log, bool):
        raise ConfigError("low, high and step must be numbers, log true or false")
    if kind == "int" and not all(float(n).is_integer() for n in numbers):
        raise ConfigError("an integer key needs integer low, high and step")
    if not low < high or (step is not None and step <= 0) or (log and low <= 0):
        raise ConfigError(f"expected low < high, step > 0 and low > 0 on a log scale: low {low}, high {high}")
    if log and step is not None:
        raise ConfigError("log and step cannot go together")
    return Dimension(name, kind == "int", low, high, log, step)

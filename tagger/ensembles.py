"""Ensembles of models trained apart: one tagger whose model is the ``Ensemble`` of theirs.

Models of one config trained with other seeds, each with its own early stopping (and refit), tag better
together than any of them alone, and than the members of one ``ensemble`` training, which stop together.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .config import ConfigError, TaggerConfig
from .tagger import FORMAT_VERSION, LM_SHAPE, ModelError, Tagger
from .transfer import ARCHITECTURE

# config keys members share: their weights' shapes, and how text is read
SHARED = (*ARCHITECTURE, *LM_SHAPE, "char_lm_projection", "tokenizer")


class EnsembleError(ModelError):
    """Models that cannot tag as one."""


def combined(taggers: Sequence[Tagger], names: Sequence[str]) -> Tagger:
    """One tagger that tags with the mean of ``taggers``' emissions and CRF scores (``model.Ensemble``); an
    ensemble among them joins with each of its members. ``names`` name the taggers in errors.

    They must share their vocabularies, heads and ``SHARED`` config (models of one preset and corpus trained with
    other seeds do), and be float models; with a character LM, the same LM, frozen, which they then read once. The
    ensemble's config is the first's, with ``ensemble`` its member count, trained apart (``ensemble_apart``).
    """
    if len(taggers) < 2:
        raise EnsembleError(f"an ensemble needs two models or more; got {len(taggers)}")
    first_meta, first_vocab, _ = taggers[0].to_parts()
    for tagger, name in zip(taggers, names, strict=True):
        meta, vocab, _ = tagger.to_parts()
        if tagger.quantization is not None:
            raise EnsembleError(f"{name} is quantised ({tagger.quantization}): combine the float models, then quantise")
        differing = [key for key in SHARED if meta["config"][key] != first_meta["config"][key]]
        if differing:
            shown = ", ".join(f"{key} {meta['config'][key]!r} (not {first_meta['config'][key]!r})" for key in differing)
            raise EnsembleError(f"{name} differs from {names[0]} in {shown}: only models of one config combine")
        if vocab != first_vocab or meta["heads"] != first_meta["heads"]:
            raise EnsembleError(
                f"{name} has other vocabularies or heads than {names[0]}: only models trained on the same data "
                "(and vectors) combine"
            )
        if not _same_lm(tagger, taggers[0]):
            raise EnsembleError(
                f"{name} reads another character LM than {names[0]} (or fine-tuned it): only models of one frozen "
                "LM combine"
            )
    members = [member.state_dict() for tagger in taggers for member in tagger.model.members]
    try:
        config = TaggerConfig.from_dict({**first_meta["config"], "ensemble": len(members), "ensemble_apart": True})
    except ConfigError as error:
        raise EnsembleError(f"{names[0]}: its config cannot be an ensemble's ({error})") from None
    weights = {f"members.{number}.{key}": value for number, state in enumerate(members) for key, value in state.items()}
    meta = {**first_meta, "format_version": FORMAT_VERSION, "config": config.to_dict()}
    return Tagger.from_parts(meta, first_vocab, weights, " + ".join(names))


def _same_lm(tagger: Tagger, other: Tagger) -> bool:
    """Whether both taggers read no character LM, or the same frozen one."""
    ours, theirs = tagger.model.char_lm, other.model.char_lm
    if ours is None or theirs is None:
        return ours is theirs
    if ours.finetune or theirs.finetune:
        return False
    mine, its = ours.state_dict(), theirs.state_dict()
    return mine.keys() == its.keys() and all(torch.equal(mine[key], its[key]) for key in mine)

"""A training run's checkpoint: written atomically, read without unpickling code, and checked before a resume.

A checkpoint records a fingerprint (SHA-256 of the tokens and tags) of the training and
dev data, so that a resume on other data is refused rather than silently continued.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import zipfile
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch

from .config import TaggerConfig
from .corpus import Sentence
from .files import atomic_write, remove_temporaries
from .tagger import ModelError

FORMAT = 2  # 2: data fingerprints, the best epoch as {"f1", "epoch"}; 1 is read without fingerprints
NEEDED = ("format", "epoch", "meta", "vocab", "model", "optimizer", "scheduler", "history", "torch_rng", "python_rng")
RESUMABLE = ("epochs", "patience", "threads")  # config keys a resume may change; they take effect
logger = logging.getLogger(__name__)
Data = Iterable[Sentence] | Mapping[str, Iterable[Sentence]]  # a corpus, or head names to corpora


class CheckpointError(ModelError):
    """A checkpoint that is truncated, empty, foreign, or from data or a config other than the resume's."""


def fingerprint(sentences: Data | None) -> str | None:
    """SHA-256 (hex) of the sentences' tokens and tags, in order; ``None`` for no corpus.

    Of several named corpora (head names to corpora), the SHA-256 of each name (sorted) and its corpus'
    fingerprint; a mapping of one corpus has that corpus' fingerprint.
    """
    if sentences is None:
        return None
    if isinstance(sentences, Mapping) and len(sentences) == 1:
        sentences = next(iter(sentences.values()))
    digest = hashlib.sha256()
    if isinstance(sentences, Mapping):
        for name in sorted(sentences):
            digest.update(f"{name}\x1f{fingerprint(sentences[name])}\x1e".encode("utf-8"))
        return digest.hexdigest()
    for sentence in sentences:
        digest.update("\x1f".join(sentence.tokens).encode("utf-8") + b"\x1e")
        digest.update("\x1f".join(sentence.tags).encode("utf-8") + b"\x1d")
    return digest.hexdigest()


def write(path: Path, state: dict[str, Any]) -> None:
    with atomic_write(path, "wb") as out:
        torch.save({"format": FORMAT, **state}, out)


def read(path: Path) -> dict[str, Any]:
    """The state in ``path``; ``CheckpointError`` naming the file when it is not a readable tagger checkpoint."""
    if not path.is_file():
        raise FileNotFoundError(f"cannot resume: no checkpoint at {path}")
    hint = "delete it to train afresh, or resume from another output directory"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as error:
        reason = str(error).strip().split(". ")[0].splitlines()[0] if str(error).strip() else type(error).__name__
        empty = "empty" if path.stat().st_size == 0 else "truncated or not a checkpoint"
        raise CheckpointError(f"{path}: cannot read the checkpoint ({empty}: {reason}); {hint}") from None
    if not isinstance(state, dict) or state.get("format") not in (1, FORMAT):
        found = f"format {state.get('format')!r}" if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{path}: not a tagger checkpoint of format 1 or {FORMAT} ({found}); {hint}")
    missing = [key for key in NEEDED if key not in state]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(missing)}; {hint}")
    if state["format"] == 1:
        logger.warning("%s predates data fingerprints: the data of this resume cannot be checked", path)
        stopper = state.pop("stopper")
        state["best"] = {"f1": stopper["best_f1"], "epoch": stopper["best_epoch"]}
    return state


def check_data(path: Path, state: dict[str, Any], train: Data, dev: Data | None, lessons: str | None = None) -> None:
    """Refuse a resume whose training or dev data (corpora, or names to corpora: ``fingerprint``) or a teacher's
    lessons (their ``Lessons.fingerprint``, ``None`` for none) differ from those the checkpoint was trained on."""
    recorded = state.get("fingerprints")
    if recorded is None:
        return
    then = recorded.get("lessons")
    if then != lessons:
        how = "without lessons" if then is None else "with lessons" if lessons is None else "with other lessons"
        raise CheckpointError(
            f"cannot resume from {path}: it was trained {how} (--lessons); resume with the same, or train afresh "
            "in another --output"
        )
    for split, corpus in (("training", train), ("dev", dev)):
        now, then = fingerprint(corpus), recorded["dev" if split == "dev" else "train"]
        if now != then:
            raise CheckpointError(
                f"cannot resume from {path}: the {split} data differ from the checkpoint's "
                f"(sha256 {_short(then)} then, {_short(now)} now); "
                "resume with the same --train, --dev and --seed, or train afresh in another --output"
            )


def _short(digest: str | None) -> str:
    return "none" if digest is None else digest[:12]


def resumed_config(path: Path, recorded: dict[str, Any], settings: dict[str, Any], derived: Iterable[str]) -> dict:
    """The checkpoint's config ``recorded`` with the ``RESUMABLE`` keys of ``settings`` applied.

    ``settings`` are the keys a resume command sets; any other that differs from the recorded
    value is refused, except ``derived`` keys (those the build takes from elsewhere, such as
    ``word_dim`` from the vectors), which had no effect in the first run either.
    """
    recorded = TaggerConfig.from_dict(recorded).to_dict()  # keys added since, and old values, as they read now
    ignored = set(derived)
    changed = {key: value for key, value in settings.items() if key not in ignored and recorded[key] != value}
    refused = {key: value for key, value in changed.items() if key not in RESUMABLE}
    if refused:
        listed = ", ".join(f"{key} {recorded[key]!r} → {value!r}" for key, value in sorted(refused.items()))
        raise CheckpointError(
            f"cannot resume from {path}: the config differs from the checkpoint's ({listed}); only "
            f"{', '.join(RESUMABLE)} may change on resume. Rerun with the first run's settings, or train afresh"
        )
    for key, value in changed.items():
        logger.info("resuming with %s %r (was %r)", key, value, recorded[key])
    return recorded | changed


def clean(path: Path) -> None:
    """Remove temporary files an interrupted write of ``path`` left, saying so."""
    for stale in remove_temporaries(path):
        logger.info("removed %s, left by an interrupted write", stale)

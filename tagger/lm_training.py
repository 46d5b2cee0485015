"""Training a character LM on raw text: truncated backpropagation through time, held-out bits per character,
atomic checkpoints that a resumed run continues bit for bit."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from safetensors.torch import load, save

from . import __version__
from .charlm import CharLM
from .files import atomic_write
from .lm_settings import LMError, LMSettings
from .lm_store import DIRECTIONS, CharVocab, save_lm

logger = logging.getLogger(__name__)
MIN_CHAR_COUNT, MAX_CHARS_KNOWN = 20, 500  # rarer characters are <unk>; at most this many distinct ones


def read_text(path: Path, max_chars: int | None = None) -> str:
    """The text of ``path`` (UTF-8); over ``max_chars``, whole documents (blank-line separated) spread evenly."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise LMError(f"{path}: cannot read ({error.strerror})") from None
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise LMError(f"{path}: not UTF-8 text (byte {error.start}: {error.reason})") from None
    if not text.strip():
        raise LMError(f"{path}: no text to train on")
    if max_chars is None or len(text) <= max_chars:
        return text
    chosen, _ = _spread(text.split("\n\n"), max_chars)
    return "\n\n".join(chosen)


def split_heldout(text: str, chars: int) -> tuple[str, str]:
    """``(train, heldout)``: about ``chars`` characters of whole paragraphs (lines) spread over ``text`` held out;
    the end of the text when it has too few lines for that."""
    heldout, rest = _spread(text.split("\n"), chars)
    if sum(len(line) for line in heldout) < chars // 2:
        return text[: len(text) - chars], text[len(text) - chars :]
    return "\n".join(rest), "\n".join(heldout)


def _spread(documents: list[str], chars: int) -> tuple[list[str], list[str]]:
    """About every k-th document, in order, up to ``chars`` characters in all; and the others."""
    share = chars / max(1, sum(len(d) + 2 for d in documents))
    credit, chosen, others, size = 0.0, [], [], 0
    for document in documents:
        credit += share
        if credit >= 1.0 and size + len(document) + 2 <= chars:
            credit -= 1.0
            chosen.append(document)
            size += len(document) + 2
        else:
            others.append(document)
    return chosen, others


class LMTrainer:
    """Trains one direction of a character LM on ``text`` into ``output``; ``resume`` continues its checkpoint."""

    def __init__(self, text: str, direction: str, settings: LMSettings, output: Path, vocab: CharVocab | None = None):
        if direction not in DIRECTIONS:
            raise LMError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
        self.direction, self.settings, self.output = direction, settings, Path(output)
        self.text_sha256 = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        self.vocab = vocab or CharVocab.from_text(text, MIN_CHAR_COUNT, MAX_CHARS_KNOWN)
        train_text, heldout_text = split_heldout(text, min(settings.heldout_chars, len(text) // 10))
        if len(train_text) < settings.batch_size * (settings.bptt + 1) or len(heldout_text) < 16:
            raise LMError(
                f"{len(text)} characters are too few to train on with batch_size {settings.batch_size} and bptt "
                f"{settings.bptt}, and to hold out text"
            )
        train, held = self.vocab.array(train_text), self.vocab.array(heldout_text)  # shape: (characters,)
        if direction == "backward":
            train, held = train.flip(0), held.flip(0)
        self.streams = _streams(train, settings.batch_size)  # shape: (batch_size, stream_len)
        self.heldout = _streams(held, min(8, len(held) // 2))
        torch.manual_seed(settings.seed)
        self.lm = CharLM(len(self.vocab), settings.char_dim, settings.hidden, settings.layers, settings.dropout)
        self.optimizer = torch.optim.SGD(self.lm.parameters(), lr=settings.lr)
        self.state: tuple[torch.Tensor, torch.Tensor] | None = None
        self.progress = {"epoch": 0, "step": 0, "lr": settings.lr, "best_bpc": None, "history": [], "seconds": 0.0}

    @property
    def steps_per_epoch(self) -> int:
        return (self.streams.shape[1] - 1) // self.settings.bptt

    @property
    def checkpoint_path(self) -> Path:
        return self.output / f"checkpoint-{self.direction}.json"

    def fit(
        self, on_step: Callable[[int], None] | None = None, on_checkpoint: Callable[[], None] | None = None
    ) -> dict:
        """Train ``epochs`` passes; ``on_step`` gets the characters of each step. Returns the LM's facts."""
        settings, progress = self.settings, self.progress
        started = time.perf_counter() - progress["seconds"]
        while progress["epoch"] < settings.epochs:
            self.lm.train()
            self._step(progress["step"])
            progress["step"] += 1
            if on_step:
                on_step(self.streams.shape[0] * settings.bptt)
            last = progress["step"] == self.steps_per_epoch
            if last or progress["step"] % settings.checkpoint_every == 0:
                progress["seconds"] = time.perf_counter() - started
                self._score_and_checkpoint(end_of_epoch=last)
                if on_checkpoint:
                    on_checkpoint()
        return self.facts()

    def _step(self, step: int) -> None:
        bptt = self.settings.bptt
        inputs = self.streams[:, step * bptt : (step + 1) * bptt]  # shape: (batch, bptt)
        targets = self.streams[:, step * bptt + 1 : (step + 1) * bptt + 1]
        state = None if self.state is None else tuple(s.detach() for s in self.state)
        outputs, self.state = self.lm(inputs, state)
        loss = F.cross_entropy(self.lm.logits(outputs).flatten(0, 1), targets.flatten())
        if not torch.isfinite(loss):
            raise LMError(f"the loss became {loss.item()} at epoch {self.progress['epoch'] + 1}, step {step + 1}")
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.lm.parameters(), self.settings.clip)
        self.optimizer.step()

    def bits_per_char(self) -> float:
        """Mean bits per character of the held-out text."""
        self.lm.eval()
        total, count, state = 0.0, 0, None
        with torch.inference_mode():
            for start in range(0, self.heldout.shape[1] - 1, self.settings.bptt):
                inputs = self.heldout[:, start : start + self.settings.bptt]
                targets = self.heldout[:, start + 1 : start + 1 + self.settings.bptt]
                inputs = inputs[:, : targets.shape[1]]
                outputs, state = self.lm(inputs, state)
                total += float(
                    F.cross_entropy(self.lm.logits(outputs).flatten(0, 1), targets.flatten(), reduction="sum")
                )
                count += targets.numel()
        self.lm.train()
        return total / count / math.log(2)

    def _score_and_checkpoint(self, end_of_epoch: bool) -> None:
        """Score held-out text; save the LM when it is the best so far, anneal lr when not; write the checkpoint."""
        progress = self.progress
        bpc = self.bits_per_char()
        chars = (
            (progress["epoch"] * self.steps_per_epoch + progress["step"]) * self.streams.shape[0] * self.settings.bptt
        )
        progress["history"].append(
            {"epoch": progress["epoch"] + 1, "step": progress["step"], "chars": chars, "bpc": bpc, "lr": progress["lr"]}
        )
        logger.info(
            "%s LM: epoch %d step %d, held-out %.4f bits/char",
            self.direction,
            progress["epoch"] + 1,
            progress["step"],
            bpc,
        )
        if progress["best_bpc"] is None or bpc < progress["best_bpc"]:
            progress["best_bpc"] = bpc
            save_lm(self.output, self.direction, self.lm, self.vocab, self.facts())
        else:
            progress["lr"] /= self.settings.anneal
            for group in self.optimizer.param_groups:
                group["lr"] = progress["lr"]
        if end_of_epoch:
            progress["epoch"], progress["step"], self.state = progress["epoch"] + 1, 0, None
        self._write_checkpoint()

    def facts(self) -> dict:
        """What the saved LM says of its training."""
        return {
            "training": asdict(self.settings),
            "text_sha256": self.text_sha256,
            "training_chars": int(self.streams.numel()),
            "heldout_chars": int(self.heldout.numel()),
            "heldout_bpc": self.progress["best_bpc"],
            "history": self.progress["history"],
            "seconds": round(self.progress["seconds"], 1),
            "tagger_version": __version__,
        }

    def _write_checkpoint(self) -> None:
        tensors = {f"model.{name}": t.detach().contiguous() for name, t in self.lm.state_dict().items()}
        tensors["rng"] = torch.get_rng_state()
        if self.state is not None:
            tensors["state.h"], tensors["state.c"] = (s.detach().contiguous() for s in self.state)
        data = save(tensors)
        with atomic_write(self.output / f"checkpoint-{self.direction}.safetensors", "wb") as out:
            out.write(data)
        record = {
            "settings": asdict(self.settings),
            "text_sha256": self.text_sha256,
            "chars": self.vocab.items,
            "progress": self.progress,
            "tensors_sha256": hashlib.sha256(data).hexdigest(),
        }
        with atomic_write(self.checkpoint_path) as out:  # last: the checkpoint counts once this is written
            json.dump(record, out)

    @classmethod
    def resume(cls, text: str, direction: str, settings: LMSettings, output: Path) -> "LMTrainer":
        """The trainer of ``direction`` as its last checkpoint in ``output`` left it.

        The text and every setting must be as then, except ``epochs``, which may be raised.
        """
        path = Path(output) / f"checkpoint-{direction}.json"
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            data = (Path(output) / f"checkpoint-{direction}.safetensors").read_bytes()
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise LMError(f"cannot --resume from {path}: {error}") from None
        if hashlib.sha256(data).hexdigest() != record.get("tensors_sha256"):
            raise LMError(f"cannot --resume: {path.with_suffix('.safetensors')} does not match {path.name}")
        changed = [
            f"{key} {before!r} then, {getattr(settings, key)!r} now"
            for key, before in record["settings"].items()
            if key != "epochs" and getattr(settings, key) != before
        ]
        if record["text_sha256"] != hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest():
            changed.append("the text differs")
        if changed:
            raise LMError(
                f"cannot --resume {direction} with other settings than the interrupted run: {'; '.join(changed)}"
            )
        trainer = cls(text, direction, settings, output, CharVocab(record["chars"]))
        tensors = load(data)
        trainer.lm.load_state_dict({name[6:]: t for name, t in tensors.items() if name.startswith("model.")})
        torch.set_rng_state(tensors["rng"])
        if "state.h" in tensors:
            trainer.state = (tensors["state.h"], tensors["state.c"])
        trainer.progress = record["progress"]
        for group in trainer.optimizer.param_groups:
            group["lr"] = trainer.progress["lr"]
        return trainer


def _streams(ids: torch.Tensor, count: int) -> torch.Tensor:
    """``ids`` cut into ``count`` equal consecutive streams, shape (count, len(ids) // count)."""
    length = len(ids) // count
    return ids[: count * length].view(count, length)

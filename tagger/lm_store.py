"""A character LM directory: per direction, weights as safetensors and a JSON description; never pickle."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from .charlm import UNK, CharLM
from .files import atomic_write
from .lm_settings import LMError

LM_FORMAT_VERSION = 1
DIRECTIONS = ("forward", "backward")


class CharVocab:
    """Characters to LM ids: ``<pad>`` and ``<unk>`` first, then the characters the LM knows."""

    def __init__(self, items: list[str]):
        if items[:2] != ["<pad>", "<unk>"] or any(len(c) != 1 for c in items[2:]):
            raise LMError("an LM vocabulary starts with <pad>, <unk> and then holds single characters")
        self.items = items
        self.index = {c: i for i, c in enumerate(items) if i > UNK}

    def __len__(self) -> int:
        return len(self.items)

    def ids(self, text: str) -> list[int]:
        return [self.index.get(c, UNK) for c in text]

    def array(self, text: str) -> torch.Tensor:
        """``text`` as ids, shape (len(text),): vectorised for texts of many millions of characters."""
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        table = np.full(0x110000, UNK, dtype=np.int64)
        for c, i in self.index.items():
            table[ord(c)] = i
        return torch.from_numpy(table[points])

    @classmethod
    def from_text(cls, text: str, min_count: int, limit: int) -> "CharVocab":
        """The at most ``limit`` most frequent characters of ``text`` seen at least ``min_count`` times."""
        points, counts = np.unique(
            np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32), return_counts=True
        )
        order = np.argsort(-counts, kind="stable")[:limit]
        return cls(["<pad>", "<unk>"] + [chr(points[i]) for i in order if counts[i] >= min_count])


def save_lm(directory: Path, direction: str, lm: CharLM, vocab: CharVocab, facts: dict) -> None:
    """Write ``DIRECTION.safetensors`` and then ``DIRECTION.json`` (architecture, vocabulary, ``facts``)."""
    weights = {name: tensor.detach().contiguous() for name, tensor in lm.state_dict().items()}
    data = save(weights)
    with atomic_write(directory / f"{direction}.safetensors", "wb") as out:
        out.write(data)
    meta = {
        "format_version": LM_FORMAT_VERSION,
        "direction": direction,
        **dict(zip(("char_dim", "hidden", "layers"), lm.architecture)),
        "chars": vocab.items,
        "weights_sha256": hashlib.sha256(data).hexdigest(),
        **facts,
    }
    with atomic_write(directory / f"{direction}.json") as out:
        json.dump(meta, out, indent=1, ensure_ascii=False)


def lm_meta(directory: Path, direction: str) -> dict:
    """The description of one direction of the LM in ``directory``."""
    path = Path(directory) / f"{direction}.json"
    if not path.is_file():
        raise LMError(
            f"{directory} is not a character LM: no {path.name} (train one with: tagger lm train --output {directory})"
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LMError(f"{path}: cannot read the LM description ({error})") from None
    if (
        not isinstance(meta, dict)
        or meta.get("format_version") != LM_FORMAT_VERSION
        or meta.get("direction") != direction
    ):
        raise LMError(f"{path}: not a {direction} character LM of format {LM_FORMAT_VERSION}")
    return meta


def load_lm(directory: Path, direction: str) -> tuple[CharLM, CharVocab, dict]:
    """One direction of the LM in ``directory``: the network (on CPU, evaluation mode), its vocabulary and facts."""
    meta = lm_meta(directory, direction)
    path = Path(directory) / f"{direction}.safetensors"
    try:
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != meta.get("weights_sha256"):
            raise LMError(f"{path}: the weights do not match the checksum in {direction}.json")
        vocab = CharVocab(meta["chars"])
        lm = CharLM(len(vocab), meta["char_dim"], meta["hidden"], meta["layers"])
        lm.load_state_dict(load(data))
    except (OSError, SafetensorError, KeyError, TypeError, RuntimeError) as error:
        raise LMError(f"{path}: cannot load the {direction} LM ({type(error).__name__}: {error})") from None
    return lm.eval(), vocab, meta

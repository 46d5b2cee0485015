"""Chunks of a batch of decoded tag ids, found with tensor ops: ``schemes.to_spans``'s reading, every row at once."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .schemes import continuations, split_tag


class ChunkReader:
    """Reads chunks off tag ids of one tag set (``tags``, by id)."""

    def __init__(self, tags: Sequence[str]):
        self.labels = [label for _, label in map(split_tag, tags)]
        self.label_ids = torch.tensor([-1 if label is None else i for i, label in enumerate(self.labels)])
        self.continues = torch.tensor(continuations(tags), dtype=torch.bool)  # shape: (num_tags, num_tags)

    def spans(self, ids: torch.Tensor, mask: torch.Tensor) -> list[list[tuple[int, int, str]]]:
        """Per row of ``ids`` (batch, seq_len), its chunks ``(start, end, label)`` within ``mask``, in order."""
        inside = (self.label_ids[ids] >= 0) & mask  # shape: (batch, seq_len): tokens of some chunk
        carried = self.continues[ids[:, :-1], ids[:, 1:]] & inside[:, 1:]  # token t + 1 continues t's chunk
        starts, ends = inside.clone(), inside.clone()
        starts[:, 1:] &= ~carried
        ends[:, :-1] &= ~carried
        rows, begins = starts.nonzero(as_tuple=True)  # row-major: the k-th start and end are one chunk's
        finishes = ends.nonzero(as_tuple=True)[1]
        found: list[list[tuple[int, int, str]]] = [[] for _ in range(ids.shape[0])]
        for row, begin, finish, tag in zip(rows.tolist(), begins.tolist(), finishes.tolist(), ids[starts].tolist()):
            found[row].append((begin, finish + 1, self.labels[tag]))
        return found

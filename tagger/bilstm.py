"""The sentence encoder: a stacked bidirectional LSTM over padded batches, without packing.

Each direction is a one-layer ``nn.LSTM`` over the whole padded batch; the right-to-left one
reads every sentence reversed within its own length, so padding comes after the words in both
directions and never reaches them. The backward pass of a bidirectional ``nn.LSTM`` over a
``PackedSequence`` fills a gradient the size of the whole input at every time step, which on
CPU made it the slowest part of training.
"""

from __future__ import annotations

import re
from dataclasses import replace

import torch
from torch import nn

from . import recurrence
from .dropout import Dropout

# Parameter names of format-1 models, whose encoder was one bidirectional nn.LSTM.
_PACKED_NAME = re.compile(r"^encoder\.((?:weight|bias)_(?:ih|hh))_l(\d+)(_reverse)?$")


class BidirectionalLayer(nn.Module):
    """One layer: a left-to-right and a right-to-left LSTM, their outputs concatenated."""

    def __init__(self, input_dim: int, hidden: int):
        super().__init__()
        self.left_to_right = nn.LSTM(input_dim, hidden, batch_first=True)
        self.right_to_left = nn.LSTM(input_dim, hidden, batch_first=True)

    def weights(self) -> recurrence.Weights:
        """Both directions' weights as ``recurrence`` reads them."""
        return recurrence.Weights.of(self.left_to_right, self.right_to_left)

    def forward(self, inputs: torch.Tensor, reverse: torch.Tensor) -> torch.Tensor:
        """inputs: (batch, seq_len, input_dim); reverse: (batch * seq_len,), the row of the flattened batch that
        each step reads right to left → (batch, seq_len, 2 * hidden)."""
        ahead, _ = self.left_to_right(inputs)
        behind, _ = self.right_to_left(_rows(inputs, reverse))  # each sentence reversed in place
        return torch.cat([ahead, _rows(behind, reverse)], dim=2)  # back in reading order


def reversed_within(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """For sequences of ``lengths`` (batch,) padded after them to ``width``: the step each step reads when each
    sequence is reversed within its own length, padding left in place → (batch, width)."""
    steps = torch.arange(width, device=lengths.device)
    return torch.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)


def _rows(steps: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``steps`` (batch, seq_len, dim) with its flattened rows taken in the order ``index``: a copy of whole rows,
    twice as fast on CPU as a ``gather`` along the steps."""
    return steps.reshape(-1, steps.shape[2]).index_select(0, index).view(steps.shape)


class BiLSTM(nn.Module):
    """``layers`` bidirectional layers, with dropout between them (``locked``: one mask per sequence)."""

    def __init__(self, input_dim: int, hidden: int, layers: int = 1, dropout: float = 0.0, locked: bool = False):
        super().__init__()
        dims = [input_dim] + [2 * hidden] * (layers - 1)
        self.layers = nn.ModuleList(BidirectionalLayer(dim, hidden) for dim in dims)
        self.dropout = Dropout(dropout, locked)
        self.output_dim = 2 * hidden

    def forward(self, inputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """inputs: (batch, seq_len, input_dim); mask: (batch, seq_len), true on each sentence's first
        tokens → (batch, seq_len, 2 * hidden), zero where ``mask`` is false."""
        reverse = reversed_within(mask.sum(dim=1), inputs.shape[1])  # shape: (batch, seq_len)
        reverse = (reverse + inputs.shape[1] * torch.arange(len(inputs), device=inputs.device)[:, None]).flatten()
        encoded = inputs
        for i, layer in enumerate(self.layers):
            encoded = layer(self.dropout(encoded) if i else encoded, reverse)
        return encoded.mul_(mask.unsqueeze(2))  # in place on the layer's own output: a sixth of masked_fill's time

    def reads_gates(self) -> bool:
        """Whether ``from_gates`` can run now: inference, float32 weights (``recurrence.readable``)."""
        return recurrence.readable(
            *(lstm for layer in self.layers for lstm in (layer.left_to_right, layer.right_to_left))
        )

    def row_gates(self, rows: torch.Tensor) -> torch.Tensor:
        """The first layer's input gates (``recurrence.input_gates``) of inputs ``rows`` (rows, dim), which may be
        the first ``dim`` of its input dimensions (the rest given per token to ``from_gates``)."""
        weights = self.layers[0].weights()
        return recurrence.input_gates(rows, replace(weights, input=weights.input[: rows.shape[1]]))

    def from_gates(
        self, gates: torch.Tensor, rows: torch.Tensor, mask: torch.Tensor, rest: torch.Tensor | None = None
    ) -> recurrence.Reading:
        """As ``forward`` (at inference, see ``reads_gates``), the last layer's states as read (``Reading.padded``
        lays them out as ``forward`` does), the first layer's input gates given per row as ``row_gates`` computed
        them, and ``rows`` (batch, seq_len) the row of each token; ``rest`` (batch, seq_len, dim), if given, the last
        input dimensions, per token."""
        plan = recurrence.Plan.of(mask.sum(dim=1), mask.shape[1])
        weights = self.layers[0].weights()
        # each token's inputs beyond its row's, projected as a step reads them
        own = None if rest is None else recurrence.StepInputs.of(rest, plan, weights.input[-rest.shape[2] :])
        reading = recurrence.run(gates, plan, plan.gate_rows(rows), weights.hidden, own)
        for layer in self.layers[1:]:
            weights = layer.weights()
            gates = recurrence.input_gates(reading.padded()[mask], weights)
            rows = torch.zeros_like(rows).masked_scatter_(mask, torch.arange(len(gates) // 2))
            reading = recurrence.run(gates, plan, plan.gate_rows(rows), weights.hidden)
        return reading


def upgrade_packed_names(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A format-1 state dict with its ``encoder.*_l{k}[_reverse]`` weights renamed for ``BiLSTM``."""
    upgraded = {}
    for name, tensor in weights.items():
        match = _PACKED_NAME.match(name)
        if match:
            kind, layer, reverse = match.groups()
            name = f"encoder.layers.{layer}.{'right_to_left' if reverse else 'left_to_right'}.{kind}_l0"
        upgraded[name] = tensor
    return upgraded

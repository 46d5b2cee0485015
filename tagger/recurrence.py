"""Both directions of a one-layer bidirectional LSTM for inference, from input gates computed beforehand.

``torch.lstm`` projects every step's input itself; where many steps share an input (a token's word and
characters recur through a text, a character through its words) the projection is computed once per distinct
input (``input_gates``) and each step looks its gates up. The sequences are read packed, longest first, each
step on the rows still running, so no step is spent on padding; the two directions run as one batched product
a step, and a tagger's heads project the states read (``Reading.through``), never padding's. A ``bf16`` copy's
input projections run in bfloat16 (``projected``), its recurrence in float32. Measured on the NCBI-disease test
split with the shipped fast model, one thread: ``predict`` went from 0.49 to 0.64 of a bare ``nn.LSTM`` of its
size with the packed reading, and to 0.80 with the heads' projection and in-place steps
(``scripts/benchmark_speed.py``). The results equal ``torch.lstm``'s to float32 rounding (tests/test_bilstm.py,
tests/test_tagger.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Weights:
    """A bidirectional layer's weights as the recurrence reads them: those of the candidate gate doubled, so that
    one sigmoid covers all four gates (tanh(x) = 2 sigmoid(2x) - 1; doubling is exact in floating point). The input
    weights keep the LSTM's precision (bfloat16 in a ``bf16`` copy: ``projected``); the rest is float32."""

    input: torch.Tensor  # shape: (input_dim, 2 * 4 * hidden), both directions side by side
    bias: torch.Tensor  # shape: (2 * 4 * hidden,), input and hidden biases summed
    hidden: torch.Tensor  # shape: (2, hidden, 4 * hidden), per direction

    @classmethod
    def of(cls, left_to_right: nn.LSTM, right_to_left: nn.LSTM | None = None) -> "Weights":
        """The weights of two one-direction LSTMs, or (``right_to_left`` omitted) of one bidirectional LSTM."""
        if right_to_left is None:
            directions = [
                [
                    getattr(left_to_right, f"{kind}_l0{suffix}")
                    for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                ]
                for suffix in ("", "_reverse")
            ]
        else:
            directions = [
                [lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0]
                for lstm in (left_to_right, right_to_left)
            ]
        hidden = directions[0][1].shape[1]
        doubled = torch.ones(4 * hidden)  # torch's gate order: input, forget, candidate, output
        doubled[2 * hidden : 3 * hidden] = 2.0
        return cls(
            torch.cat([w_ih * doubled.to(w_ih.dtype)[:, None] for w_ih, _, _, _ in directions]).t(),
            torch.cat([(b_ih.float() + b_hh.float()) * doubled for _, _, b_ih, b_hh in directions]),
            torch.stack([(w_hh.float() * doubled[:, None]).t() for _, w_hh, _, _ in directions]),
        )


def readable(*lstms: nn.Module) -> bool:
    """Whether the recurrence can read these modules' weights: ``nn.LSTM``s of one layer in float32 or bfloat16,
    with biases and no projection (not an int8 copy), and no gradients are asked for."""
    return not torch.is_grad_enabled() and all(
        type(lstm) is nn.LSTM
        and lstm.num_layers == 1
        and lstm.bias
        and not lstm.proj_size
        and lstm.weight_hh_l0.dtype in (torch.float32, torch.bfloat16)
        for lstm in lstms
    )


def input_gates(inputs: torch.Tensor, weights: Weights) -> torch.Tensor:
    """Both directions' input gates of ``inputs`` (rows, input_dim) → (2 * rows, 4 * hidden): row ``2r`` is
    input ``r``'s left-to-right gates, ``2r + 1`` its right-to-left ones."""
    if weights.input.dtype == inputs.dtype:  # the bias added within the product
        gates = torch.addmm(weights.bias, inputs, weights.input)
    else:
        gates = projected(inputs, weights.input).add_(weights.bias)
    return gates.view(-1, weights.hidden.shape[2])


def projected(inputs: torch.Tensor, weight: torch.Tensor, onto: torch.Tensor | None = None) -> torch.Tensor:
    """``inputs @ weight`` in float32, added in place to ``onto`` if given, the product in the weight's precision:
    for bfloat16 weights (a ``bf16`` copy) the inputs are rounded to bfloat16, several times faster on CPUs with
    bfloat16 arithmetic (AMX, AVX-512 BF16)."""
    if weight.dtype == inputs.dtype:
        return inputs @ weight if onto is None else onto.addmm_(inputs, weight)
    product = (inputs.to(weight.dtype) @ weight).float()
    return product if onto is None else onto.add_(product)


@dataclass
class Plan:
    """One packed reading of sequences of given lengths: their order (longest first), how many run at each step (a
    prefix of that order), and the step each right-to-left step reads (each sequence reversed within its length)."""

    order: torch.Tensor  # shape: (batch,), rows longest first
    running: list[int]  # per step, the sequences still running
    flipped: torch.Tensor  # shape: (batch, steps), in ``order``

    @classmethod
    def of(cls, lengths: torch.Tensor, steps: int) -> "Plan":
        """The plan of sequences of ``lengths`` (batch,), padded to ``steps``."""
        order = torch.argsort(lengths, descending=True, stable=True)
        ordered = lengths[order]
        positions = torch.arange(steps)
        running = (ordered[None, :] > positions[:, None]).sum(dim=1).tolist()
        flipped = torch.where(positions < ordered[:, None], ordered[:, None] - 1 - positions, positions)
        return cls(order, running, flipped)

    def gate_rows(self, rows: torch.Tensor) -> list[torch.Tensor]:
        """Per step, the ``input_gates`` rows of the running sequences, left-to-right's then right-to-left's, where
        ``rows`` (batch, steps) numbers each step's input among the inputs the gates were computed of."""
        rows = rows[self.order]
        return list(self.packed(2 * rows, 2 * rows.gather(1, self.flipped) + 1).split([2 * n for n in self.running]))

    def finals(self, outputs: list[torch.Tensor]) -> torch.Tensor:
        """Each sequence's last ``run`` states, both directions' side by side: (batch, 2 * hidden)."""
        ended = outputs[0].new_empty(2, len(self.order), outputs[0].shape[2])
        for step, (count, later) in enumerate(zip(self.running, self.running[1:] + [0])):
            if later < count:  # sequences of length step + 1
                ended[:, later:count] = outputs[step][:, later:count]
        found = torch.empty_like(ended)
        found[:, self.order] = ended
        return torch.cat([found[0], found[1]], dim=1)

    def packed(self, ahead: torch.Tensor, behind: torch.Tensor) -> torch.Tensor:
        """Values per (row in ``order``, step) of each direction, flat in the order ``run`` reads: by step, then
        direction, then row, the running rows only."""
        both = torch.stack([ahead, behind]).permute(2, 0, 1)  # shape: (steps, 2, batch)
        return both.masked_select(self.running_mask()[:, None, :])

    def running_mask(self) -> torch.Tensor:
        """Shape (steps, batch): whether the sequence in each place of ``order`` still runs at each step."""
        return torch.arange(len(self.order))[None, :] < torch.tensor(self.running)[:, None]


@dataclass
class Reading:
    """What ``run`` read of sequences by ``plan``: per step, both directions' states (2, running, hidden)."""

    plan: Plan
    outputs: list[torch.Tensor]

    def padded(self) -> torch.Tensor:
        """The states in the padded layout (batch, steps, 2 * hidden), zero past each length."""
        batch, steps = self.plan.flipped.shape
        size = self.outputs[0].shape[2]
        ahead, behind = self._places()
        places = self.plan.packed(2 * ahead, 2 * behind + 1)
        found = torch.cat([output.view(-1, size) for output in self.outputs])
        return found.new_zeros(batch * steps * 2, size).index_copy_(0, places, found).view(batch, steps, 2 * size)

    def through(self, linear: nn.Linear) -> torch.Tensor:
        """``linear(self.padded())`` (batch, steps, out), the bias alone past each length, projecting only the states
        read: each direction's half of the weights on that direction's states."""
        batch, steps = self.plan.flipped.shape
        size = self.outputs[0].shape[2]
        found = linear.bias.float().expand(batch * steps, -1).clone()
        running = self.plan.running_mask()
        for direction, places in enumerate(self._places()):
            states = torch.cat([output[direction] for output in self.outputs])
            weight = linear.weight[:, direction * size : (direction + 1) * size]
            found.index_add_(0, places.t()[running], projected(states, weight.t()))
        return found.view(batch, steps, -1)

    def _places(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per (row in ``order``, step), the place in the padded layout (batch * steps) of the token each direction
        reads."""
        steps = self.plan.flipped.shape[1]
        start = self.plan.order[:, None] * steps
        return start + torch.arange(steps), start + self.plan.flipped


def run(gates: torch.Tensor, plan: Plan, rows: list[torch.Tensor], hidden: torch.Tensor) -> list[torch.Tensor]:
    """Each step's hidden states (2, running sequences, hidden) in ``plan``'s order, both directions read together:
    a step's input gates are ``gates[rows[step]]`` (``Plan.gate_rows``), ``hidden`` the recurrent weights."""
    size = hidden.shape[1]
    state = gates.new_zeros(2, plan.running[0], size)
    cell = torch.zeros_like(state)
    outputs = []
    for step, count in enumerate(plan.running):
        summed = gates.index_select(0, rows[step]).view(2, count, 4 * size).baddbmm_(state[:, :count], hidden)
        opening, forgetting, candidate, showing = summed.sigmoid_().view(2, count, 4, size).unbind(2)
        # the cell: forgetting * cell + opening * tanh(g), where tanh(g) = 2 * candidate - 1 (doubled weights)
        cell = (forgetting * cell[:, :count]).sub_(opening).addcmul_(opening, candidate, value=2.0)
        state = cell.tanh().mul_(showing)
        outputs.append(state)
    return outputs

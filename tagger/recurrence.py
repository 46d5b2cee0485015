"""Both directions of a one-layer bidirectional LSTM for inference, from input gates computed beforehand.

``torch.lstm`` projects every step's input itself; where many steps share an input (a token's word and
characters recur through a text, a character through its words) the projection is computed once per distinct
input (``input_gates``) and each step looks its gates up. Inputs of a token's own (a character LM's features)
are projected by the step that reads them (``StepInputs``): laying out every token's gates first took a tenth
of predict's time in copies (BC5CDR's accurate recipe, on these CPUs, where a fresh tensor of that size costs
its page faults). The sequences are read packed, longest first, each step on the rows still running, so no
step is spent on padding; the two directions run as one batched product a step, writing into one tensor from
which states are picked in one lookup (``Reading.at``), and a tagger's heads project the states read
(``Reading.through``), never padding's. A ``bf16`` copy's input projections run in bfloat16 (``projected``),
its recurrence in float32. Measured on the NCBI-disease test split with the shipped fast model, one thread:
``predict`` went from 0.49 to 0.64 of a bare ``nn.LSTM`` of its size with the packed reading, and to 0.80 with
the heads' projection and in-place steps (``scripts/benchmark_speed.py``). The results equal ``torch.lstm``'s
to float32 rounding (tests/test_bilstm.py, tests/test_tagger.py).
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
    """``inputs @ weight`` (matrices, or batches of them) in float32, added in place to ``onto`` if given, the product
    in the weight's precision: for bfloat16 weights (a ``bf16`` copy) the inputs are rounded to bfloat16, several
    times faster on CPUs with bfloat16 arithmetic (AMX, AVX-512 BF16)."""
    if weight.dtype == inputs.dtype:
        if onto is None:
            return inputs @ weight
        return onto.baddbmm_(inputs, weight) if onto.dim() == 3 else onto.addmm_(inputs, weight)
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
        return self.reads(2 * rows, 2 * rows + 1)

    def reads(self, ahead: torch.Tensor, behind: torch.Tensor) -> list[torch.Tensor]:
        """Per step, what the running sequences read of ``ahead`` (batch, steps) left to right, then of ``behind``
        right to left."""
        flipped = behind[self.order].gather(1, self.flipped)
        return list(self.packed(ahead[self.order], flipped).split([2 * n for n in self.running]))

    def packed(self, ahead: torch.Tensor, behind: torch.Tensor) -> torch.Tensor:
        """Values per (row in ``order``, step) of each direction, flat in the order ``run`` reads: by step, then
        direction, then row, the running rows only."""
        both = torch.stack([ahead, behind]).permute(2, 0, 1)  # shape: (steps, 2, batch)
        return both.masked_select(self.running_mask()[:, None, :])

    def running_mask(self) -> torch.Tensor:
        """Shape (steps, batch): whether the sequence in each place of ``order`` still runs at each step."""
        return torch.arange(len(self.order))[None, :] < torch.tensor(self.running)[:, None]

    def offsets(self) -> torch.Tensor:
        """Per step, where its states start among all of a reading's (``Reading.states``)."""
        sizes = 2 * torch.tensor(self.running)
        return torch.cumsum(sizes, 0) - sizes

    def rank(self) -> torch.Tensor:
        """Per sequence, its place in ``order``."""
        found = torch.empty_like(self.order)
        found[self.order] = torch.arange(len(self.order))
        return found


@dataclass
class StepInputs:
    """Inputs of the first layer given per token rather than per distinct row, projected as each step reads them (a
    token's own LM features): no gates of every token are laid out beforehand."""

    values: torch.Tensor  # shape: (rows, dim)
    rows: list[torch.Tensor]  # per step, the row of ``values`` each running sequence reads, as ``Plan.reads`` gives
    weight: torch.Tensor  # shape: (2, dim, 4 * hidden), per direction

    @classmethod
    def of(cls, values: torch.Tensor, plan: Plan, weight: torch.Tensor) -> "StepInputs":
        """``values`` (batch, steps, dim) of the sequences of ``plan``; ``weight`` (dim, 2 * 4 * hidden) their input
        weights, both directions side by side (``Weights.input``'s last rows)."""
        batch, steps, dim = values.shape
        places = torch.arange(batch * steps).view(batch, steps)
        return cls(values.reshape(-1, dim), plan.reads(places, places), weight.view(dim, 2, -1).transpose(0, 1))

    def add_to(self, gates: torch.Tensor, step: int) -> None:
        """Add step ``step``'s projected inputs to its ``gates`` (2, running, 4 * hidden), in the weight's precision
        (``projected``)."""
        projected(self.values.index_select(0, self.rows[step]).view(2, gates.shape[1], -1), self.weight, onto=gates)


@dataclass
class Reading:
    """What ``run`` read of sequences by ``plan``: every step's states of both directions, one after another in a
    single tensor (rows by step, then direction, then running sequence in ``plan.order``), so that states are
    picked from it in one lookup."""

    plan: Plan
    states: torch.Tensor  # shape: (2 * steps read in all, hidden)

    def at(self, ahead: torch.Tensor, behind: torch.Tensor) -> torch.Tensor:
        """States (batch, k, 2 * hidden) of each sequence ``b``: the left-to-right one after it read place
        ``ahead[b, i]`` and the right-to-left one after it read place ``behind[b, i]`` (places within its length)."""
        running, offsets = torch.tensor(self.plan.running), self.plan.offsets()
        rank = self.plan.rank()[:, None]
        lengths = (self.plan.flipped[:, 0] + 1)[rank]  # a sequence's first right-to-left step reads its last place
        behind = lengths - 1 - behind  # the right-to-left step that read it
        rows = torch.stack([offsets[ahead] + rank, offsets[behind] + running[behind] + rank], dim=2)
        return self.states.index_select(0, rows.flatten()).view(*ahead.shape, -1)

    def finals(self) -> torch.Tensor:
        """Each sequence's state after its last step in both directions, side by side: (batch, 2 * hidden)."""
        last = (self.plan.flipped[:, 0])[self.plan.rank()][:, None]
        return self.at(last, torch.zeros_like(last)).squeeze(1)

    def padded(self) -> torch.Tensor:
        """The states in the padded layout (batch, steps, 2 * hidden), zero past each length."""
        batch, steps = self.plan.flipped.shape
        size = self.states.shape[1]
        places = self._places()
        return self.states.new_zeros(batch * steps * 2, size).index_copy_(0, places, self.states).view(batch, steps, -1)

    def through(self, linear: nn.Linear) -> torch.Tensor:
        """``linear(self.padded())`` (batch, steps, out), the bias alone past each length, projecting only the states
        read: each direction's half of the weights on that direction's states."""
        batch, steps = self.plan.flipped.shape
        out = linear.out_features
        halves = linear.weight.view(out, 2, -1).transpose(0, 1).reshape(2 * out, -1)  # each direction's weights
        both = projected(self.states, halves.t()).view(-1, 2, out)  # each state by both halves
        places = self._places()
        direction = places % 2  # where in the padded layout a state goes says its direction
        found = linear.bias.float().expand(batch * steps, -1).clone()
        return found.index_add_(0, places // 2, both[torch.arange(len(both)), direction]).view(batch, steps, out)

    def _places(self) -> torch.Tensor:
        """Per state, its place in the padded layout of both directions (batch * steps * 2)."""
        steps = self.plan.flipped.shape[1]
        start = self.plan.order[:, None] * steps
        return self.plan.packed(2 * (start + torch.arange(steps)), 2 * (start + self.plan.flipped) + 1)


def run(
    gates: torch.Tensor,
    plan: Plan,
    rows: list[torch.Tensor],
    hidden: torch.Tensor,
    step_inputs: StepInputs | None = None,
) -> Reading:
    """Every step's hidden states of both directions read together, in ``plan``'s order: a step's input gates are
    ``gates[rows[step]]`` (``Plan.gate_rows``), plus its ``step_inputs`` projected if given; ``hidden`` the recurrent
    weights."""
    size = hidden.shape[1]
    states = gates.new_empty(2 * sum(plan.running), size)
    state = gates.new_zeros(2, plan.running[0], size)
    doubled_cell = torch.zeros_like(state)  # twice the cell, so that tanh(cell) = 2 * sigmoid(doubled_cell) - 1
    start = 0
    for step, count in enumerate(plan.running):
        summed = gates.index_select(0, rows[step]).view(2, count, 4 * size)
        if step_inputs is not None:
            step_inputs.add_to(summed, step)
        summed.baddbmm_(state[:, :count], hidden)
        opening, forgetting, candidate, showing = summed.sigmoid_().view(2, count, 4, size).unbind(2)
        # the cell: forgetting * cell + opening * tanh(g), where tanh(g) = 2 * candidate - 1 (doubled weights);
        # tanh through sigmoid: a third of tanh's time on these CPUs
        doubled_cell = (forgetting * doubled_cell[:, :count]).sub_(opening, alpha=2.0)
        doubled_cell.addcmul_(opening, candidate, value=4.0)
        state = torch.sigmoid(doubled_cell, out=states[start : start + 2 * count].view(2, count, size))
        state.sub_(0.5).mul_(showing).mul_(2.0)
        start += 2 * count
    return Reading(plan, states)

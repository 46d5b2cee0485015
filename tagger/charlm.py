"""Character language models (Akbik et al. 2018) and the token features a tagger takes from them.

Layers only: character ids in, states and logits out. Files and training are in ``lm_store`` and
``lm_training``.
"""

from __future__ import annotations

import torch
from torch import nn

from . import recurrence
from .bilstm import reversed_within
from .dropout import Dropout

PAD, UNK = 0, 1  # character ids every LM vocabulary starts with
BOUNDARY = "\n"  # what a tagger's sentence is read between, as the LM saw paragraphs in its text


class CharLM(nn.Module):
    """A one-way LSTM over characters that predicts the next one; direction is the order of its input."""

    def __init__(
        self, num_chars: int, char_dim: int, hidden: int, layers: int = 1, dropout: float = 0.0, predicts: bool = True
    ):
        """``predicts=False`` leaves out the next-character decoder: the states are all a tagger needs."""
        super().__init__()
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=PAD)
        self.lstm = nn.LSTM(char_dim, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.dropout = Dropout(dropout)
        self.decoder = nn.Linear(hidden, num_chars) if predicts else None
        self.hidden = hidden

    @property
    def architecture(self) -> tuple[int, int, int]:
        """``(char_dim, hidden, layers)``."""
        return self.embed.embedding_dim, self.hidden, self.lstm.num_layers

    def forward(
        self, chars: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """chars: (batch, steps) ids → states (batch, steps, hidden) after each character, and the final state."""
        outputs, state = self.lstm(self.embed(chars), state)
        return outputs, state

    def logits(self, outputs: torch.Tensor) -> torch.Tensor:
        """States (..., hidden) → next-character scores (..., num_chars)."""
        return self.decoder(self.dropout(outputs))


class CharLMFeatures(nn.Module):
    """Per token: the forward LM's state after its last character and the backward LM's before its first.

    Each sentence is read as its own text between two ``BOUNDARY`` characters: the forward LM
    left to right, the backward LM right to left (the order it was trained in). A frozen LM's
    features of a sentence never change, so they are remembered (up to ``cache_tokens`` tokens'
    worth, in training and in inference apart) and each sentence is read once, not once an epoch.
    """

    cache_tokens = 1_000_000  # per cache; emptied when full

    def __init__(self, num_chars: int, char_dim: int, hidden: int, layers: int, finetune: bool = False):
        super().__init__()
        self.forward_lm = CharLM(num_chars, char_dim, hidden, layers, predicts=False)
        self.backward_lm = CharLM(num_chars, char_dim, hidden, layers, predicts=False)
        self.finetune = finetune
        self.output_dim = 2 * hidden
        self._caches: dict[bool, dict[tuple, torch.Tensor]] = {False: {}, True: {}}  # by inference mode
        self._cached_tokens = {False: 0, True: 0}
        if not finetune:
            self.requires_grad_(False)

    def use_trained(self, forward_lm: CharLM, backward_lm: CharLM) -> None:
        """Copy the weights of trained LMs of this architecture (their decoders aside)."""
        for mine, trained in ((self.forward_lm, forward_lm), (self.backward_lm, backward_lm)):
            mine.load_state_dict({k: v for k, v in trained.state_dict().items() if not k.startswith("decoder.")})

    def forget(self) -> None:
        """Empty the caches of features: the next sentences are read afresh (a speed benchmark's passes)."""
        for mode, cache in self._caches.items():
            cache.clear()
            self._cached_tokens[mode] = 0

    def train(self, mode: bool = True) -> "CharLMFeatures":
        """A frozen LM stays in evaluation mode (no dropout) while the tagger trains."""
        return super().train(mode and self.finetune)

    def forward(
        self, chars: torch.Tensor, lengths: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor
    ) -> torch.Tensor:
        """chars: (batch, text_len) ids of each sentence's text with its boundaries, padded after;
        lengths: (batch,) characters per row; starts, ends: (batch, seq_len) index in ``chars`` of each
        token's first and last character → (batch, seq_len, output_dim)."""
        if self.finetune:
            return self._features(chars, lengths, starts, ends)
        mode = torch.is_inference_mode_enabled()
        cache = self._caches[mode]
        tokens = (ends > 0).sum(dim=1).tolist()  # a real token ends after the leading boundary
        rows = chars.tolist()
        keys = [
            (tuple(row[:n]), tuple(first[:k]), tuple(last[:k]))
            for row, n, first, last, k in zip(rows, lengths.tolist(), starts.tolist(), ends.tolist(), tokens)
        ]
        missing = [i for i, key in enumerate(keys) if key not in cache]
        if missing:
            new_tokens = sum(tokens[i] for i in missing)
            if self._cached_tokens[mode] + new_tokens > self.cache_tokens:  # emptied: every sentence read afresh
                cache.clear()
                missing, new_tokens = list(range(len(keys))), sum(tokens)
                self._cached_tokens[mode] = 0
            self._cached_tokens[mode] += new_tokens
            index = torch.tensor(missing)
            width, depth = int(lengths[index].max()), max(tokens[i] for i in missing)
            with torch.no_grad():
                found = self._features(chars[index, :width], lengths[index], starts[index, :depth], ends[index, :depth])
            for row, i in enumerate(missing):
                cache[keys[i]] = found[row, : tokens[i]].clone()
        features = chars.new_zeros((*starts.shape, self.output_dim), dtype=torch.float)
        for i, key in enumerate(keys):
            features[i, : tokens[i]] = cache[key]
        return features  # shape: (batch, seq_len, output_dim)

    def _features(
        self, chars: torch.Tensor, lengths: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor
    ) -> torch.Tensor:
        with torch.set_grad_enabled(self.finetune and torch.is_grad_enabled()):
            if recurrence.readable(self.forward_lm.lstm, self.backward_lm.lstm):
                return self._read_packed(chars, lengths, starts, ends)
            ahead, _ = self.forward_lm(chars)  # shape: (batch, text_len, hidden)
            reverse = reversed_within(lengths, chars.shape[1])  # shape: (batch, text_len)
            behind, _ = self.backward_lm(chars.gather(1, reverse))  # read right to left
            first_read = reverse.gather(1, starts)  # the step at which the backward LM read each token's first char
            return torch.cat([_at(ahead, ends), _at(behind, first_read)], dim=2)  # shape: (batch, seq_len, output_dim)

    def _read_packed(
        self, chars: torch.Tensor, lengths: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor
    ) -> torch.Tensor:
        """``_features`` without gradients: both LMs read as one bidirectional LSTM by ``recurrence``, packed (no
        step on padding), both directions in one product a step, each character's input gates looked up from a
        table of the vocabulary's. Equal to reading them with ``nn.LSTM`` to float32 rounding."""
        weights = recurrence.Weights.of(self.forward_lm.lstm, self.backward_lm.lstm)
        size = weights.hidden.shape[2]
        by_direction = zip((self.forward_lm, self.backward_lm), weights.input.split(size, dim=1))
        per_char = torch.stack([recurrence.projected(lm.embed.weight, part) for lm, part in by_direction], dim=1)
        gates = per_char.add_(weights.bias.view(2, size)).view(-1, size)  # row 2c: forward's gates of char c
        plan = recurrence.Plan.of(lengths, chars.shape[1])
        return recurrence.run(gates, plan, plan.gate_rows(chars), weights.hidden).at(ends, starts)


def _at(states: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """states (batch, text_len, hidden) at ``steps`` (batch, seq_len) → (batch, seq_len, hidden)."""
    return states.gather(1, steps.unsqueeze(2).expand(-1, -1, states.shape[2]))

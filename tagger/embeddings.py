"""Word tables and character encoders: a word's id or characters in, one vector per word out."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import recurrence
from .bilstm import reversed_within

CNN_GROUP_SPREAD = 1.5  # the longest word of a group of CharCNN's at most this times its shortest
LSTM_GROUP_SPREAD = 2.0  # and of CharLSTM's when it computes gradients (without, groups of one length)


class FixedTailEmbedding(nn.Module):
    """A word table whose last ``fixed`` rows (frozen pretrained vectors) are a buffer; the rest are trained."""

    def __init__(self, num_words: int, dim: int, fixed: int):
        super().__init__()
        if not 0 < fixed <= num_words - 2:
            raise ValueError(f"fixed rows must leave <pad> and <unk> trainable: {fixed} of {num_words}")
        self.first_fixed = num_words - fixed
        self.learned = nn.Embedding(self.first_fixed, dim, padding_idx=0)
        self.register_buffer("fixed", torch.zeros(fixed, dim))

    def forward(self, words: torch.Tensor) -> torch.Tensor:
        """words: ids of any shape → vectors, shape (*words.shape, dim)."""
        learned = self.learned(words.clamp(max=self.first_fixed - 1))
        fixed = F.embedding((words - self.first_fixed).clamp(min=0), self.fixed)
        return torch.where((words < self.first_fixed).unsqueeze(-1), learned, fixed)


def word_embedding(num_words: int, dim: int, fixed: int) -> nn.Module:
    """A trained table, or one whose last ``fixed`` rows stay as set."""
    return FixedTailEmbedding(num_words, dim, fixed) if fixed else nn.Embedding(num_words, dim, padding_idx=0)


class CharLSTM(nn.Module):
    """Final states of a BiLSTM over each word's characters (Lample et al. 2016).

    With gradients, words are read in groups of similar length (``LSTM_GROUP_SPREAD``), each padded after its
    words: the left-to-right state is taken at a word's last character, and the right-to-left LSTM reads each word
    reversed within its length, so that padding comes after the words in both directions and never reaches them.
    Measured on NCBI-disease batches of 32 sentences, a training step's character encoding (forward and backward)
    took 45% less time than in groups of one length, for their fewer LSTM calls; one group for all words was
    slower, for its padding. Without gradients (inference), where the calls cost less than the padding (the
    distinct words of a test split: 38 ms in groups of one length, 51 ms within twice), and for a quantised LSTM
    (``quantization``), whose weights only the module can read, each group is of one length, read by one
    bidirectional call.
    """

    def __init__(self, num_chars: int, char_dim: int, hidden: int):
        super().__init__()
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.lstm = nn.LSTM(char_dim, hidden, batch_first=True, bidirectional=True)
        self.output_dim = 2 * hidden

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """chars: (words, max_chars) ids, lengths: (words,) → (words, 2 * hidden)."""
        if recurrence.readable(self.lstm):  # inference: one packed reading of all words, gates per character
            weights = recurrence.Weights.of(self.lstm)
            plan = recurrence.Plan.of(lengths, chars.shape[1])
            gates = recurrence.input_gates(self.embed.weight, weights)
            return recurrence.run(gates, plan, plan.gate_rows(chars), weights.hidden).finals()
        float_lstm = isinstance(self.lstm, nn.LSTM)
        back, groups = length_groups(lengths, LSTM_GROUP_SPREAD if float_lstm and torch.is_grad_enabled() else 1.0)
        finals = []
        for rows, longest in groups:
            embedded = self.embed(chars[rows, :longest])  # shape: (len(rows), longest, char_dim)
            own = lengths[rows]
            if not float_lstm or bool((own == longest).all()):
                _, (final, _) = self.lstm(embedded)  # final: (2, len(rows), hidden)
                finals.append(torch.cat([final[0], final[1]], dim=1))
            else:
                finals.append(self._padded_group(embedded, own))
        return torch.cat(finals)[back]

    def _padded_group(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Both directions' final states of words of ``lengths`` whose characters ``embedded`` (words, longest,
        char_dim) are padded after them → (words, 2 * hidden)."""
        reverse = reversed_within(lengths, embedded.shape[1])  # shape: (words, longest)
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, self.lstm.hidden_size)
        weights = self.lstm._flat_weights  # per direction: input, hidden weights and biases
        found = []
        for inputs, direction in (
            (embedded, weights[:4]),
            (embedded.gather(1, reverse.unsqueeze(2).expand_as(embedded)), weights[4:]),
        ):
            zeros = inputs.new_zeros(1, len(inputs), self.lstm.hidden_size)
            outputs = torch.lstm(inputs, (zeros, zeros), direction, True, 1, 0.0, self.training, False, True)[0]
            found.append(outputs.gather(1, last).squeeze(1))
        return torch.cat(found, dim=1)


class CharCNN(nn.Module):
    """Max-pooled convolution over each word's characters (Ma & Hovy 2016).

    Words are read in groups of similar length, each padded to its longest (``CNN_GROUP_SPREAD``): all padded to
    the longest word of a test split, the convolution took 18% of ``predict``; in groups of one length, a
    training epoch was slower than padded.
    """

    def __init__(self, num_chars: int, char_dim: int, filters: int, kernel: int):
        super().__init__()
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.conv = nn.Conv1d(char_dim, filters, kernel, padding=kernel // 2)
        self.output_dim = filters

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """chars: (words, max_chars) ids, lengths: (words,) → (words, filters)."""
        back, groups = length_groups(lengths, CNN_GROUP_SPREAD)
        pooled = []
        for rows, longest in groups:
            steps = torch.arange(longest, device=chars.device)
            padding = steps[None, :] >= lengths[rows, None]  # shape: (len(rows), longest)
            embedded = self.embed(chars[rows, :longest]).masked_fill(padding.unsqueeze(2), 0.0)
            features = self.conv(embedded.transpose(1, 2))  # shape: (len(rows), filters, longest)
            pooled.append(features.masked_fill(padding.unsqueeze(1), float("-inf")).max(dim=2).values)
        return torch.cat(pooled)[back]


def length_groups(lengths: torch.Tensor, spread: float = 1.0) -> tuple[torch.Tensor, list[tuple[torch.Tensor, int]]]:
    """The rows of ``lengths`` (words,) in groups, shortest first, each with its longest length: a group's longest
    at most ``spread`` times its shortest (1: one length a group); and the index that puts the groups' rows,
    concatenated, back in order."""
    order = torch.argsort(lengths, stable=True)
    group_lengths, counts = torch.unique_consecutive(lengths[order], return_counts=True)
    sizes, longest, shortest = [], [], 0
    for length, count in zip(group_lengths.tolist(), counts.tolist()):
        if length > spread * shortest:  # a new group
            sizes.append(0)
            longest.append(length)
            shortest = length
        sizes[-1] += count
        longest[-1] = length
    return torch.argsort(order), list(zip(order.split(sizes), longest))


def char_encoder(kind: str, num_chars: int, char_dim: int, hidden: int, kernel: int) -> nn.Module | None:
    """The character encoder a config names, or ``None`` for ``"none"``."""
    if kind == "lstm":
        return CharLSTM(num_chars, char_dim, hidden)
    if kind == "cnn":
        return CharCNN(num_chars, char_dim, hidden, kernel)
    return None

"""Character encoders: a word's characters in, one vector per word out."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence


class CharLSTM(nn.Module):
    """Final states of a BiLSTM over each word's characters (Lample et al. 2016)."""

    def __init__(self, num_chars: int, char_dim: int, hidden: int):
        super().__init__()
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.lstm = nn.LSTM(char_dim, hidden, batch_first=True, bidirectional=True)
        self.output_dim = 2 * hidden

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """chars: (words, max_chars) ids, lengths: (words,) → (words, 2 * hidden)."""
        packed = pack_padded_sequence(self.embed(chars), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (final, _) = self.lstm(packed)  # final: (2, words, hidden)
        return torch.cat([final[0], final[1]], dim=1)


class CharCNN(nn.Module):
    """Max-pooled convolution over each word's characters (Ma & Hovy 2016)."""

    def __init__(self, num_chars: int, char_dim: int, filters: int, kernel: int):
        super().__init__()
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.conv = nn.Conv1d(char_dim, filters, kernel, padding=kernel // 2)
        self.output_dim = filters

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """chars: (words, max_chars) ids, lengths: (words,) → (words, filters)."""
        steps = torch.arange(chars.shape[1], device=chars.device)
        padding = steps[None, :] >= lengths[:, None]  # shape: (words, max_chars)
        embedded = self.embed(chars).masked_fill(padding.unsqueeze(2), 0.0)  # shape: (words, max_chars, char_dim)
        features = self.conv(embedded.transpose(1, 2))  # shape: (words, filters, max_chars)
        return features.masked_fill(padding.unsqueeze(1), float("-inf")).max(dim=2).values


def char_encoder(kind: str, num_chars: int, char_dim: int, hidden: int, kernel: int) -> nn.Module | None:
    """The character encoder a config names, or ``None`` for ``"none"``."""
    if kind == "lstm":
        return CharLSTM(num_chars, char_dim, hidden)
    if kind == "cnn":
        return CharCNN(num_chars, char_dim, hidden, kernel)
    return None

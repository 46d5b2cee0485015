"""int8 dynamic quantisation of a model for inference: its LSTMs and linear layers hold int8 weights, and their
inputs are quantised batch by batch as they run (PyTorch's ``quantize_dynamic``, on CPU)."""

from __future__ import annotations

import warnings

QUANTIZATIONS = ("int8",)  # read by the command line's help, which imports no torch


def quantize(model, scheme: str = "int8"):
    """``model`` with its ``nn.LSTM`` and ``nn.Linear`` layers swapped for int8 dynamic ones, in place; it can
    only run forward after this (no gradients, no ``state_dict`` of plain tensors)."""
    import torch
    from torch import nn

    if scheme not in QUANTIZATIONS:
        raise ValueError(f"unknown quantisation {scheme!r}: expected one of {', '.join(QUANTIZATIONS)}")
    with warnings.catch_warnings():  # eager-mode quantisation is deprecated in favour of torchao, which has no LSTM
        warnings.filterwarnings("ignore", r"torch\.ao\.quantization is deprecated", DeprecationWarning)
        warnings.filterwarnings("ignore", r"torch\.quantize_per_tensor.* are deprecated", UserWarning)
        return torch.ao.quantization.quantize_dynamic(model, {nn.LSTM, nn.Linear}, dtype=torch.qint8, inplace=True)

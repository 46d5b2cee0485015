"""Lower precision of a model for inference on the CPU, in its LSTMs and linear layers: ``int8`` dynamic
quantisation (int8 weights, inputs quantised batch by batch as they run: PyTorch's ``quantize_dynamic``) or
``bf16`` (bfloat16 weights and inputs, outputs back in float32; at inference the BiLSTMs read packed
(``recurrence``) keep their recurrence in float32 and only their input projections and the heads' in bfloat16;
fast only on CPUs with bfloat16 arithmetic, AMX or AVX-512 BF16)."""

from __future__ import annotations

import warnings

# read by the command line's help, which imports no torch
QUANTIZATIONS = ("int8", "bf16")
STORED_DTYPES = ("float32", "bfloat16")  # what weights may be stored in, float32 (as trained) first


def quantize(model, scheme: str = "int8"):
    """``model`` with its ``nn.LSTM`` and ``nn.Linear`` layers in ``scheme``, in place; it is for inference only
    after this (int8: no gradients, no ``state_dict`` of plain tensors)."""
    import torch
    from torch import nn

    if scheme not in QUANTIZATIONS:
        raise ValueError(f"unknown quantisation {scheme!r}: expected one of {', '.join(QUANTIZATIONS)}")
    if scheme == "bf16":
        for module in model.modules():
            if type(module) in (nn.LSTM, nn.Linear):
                module.to(torch.bfloat16)
                module.register_forward_pre_hook(lambda _, inputs: _cast(inputs, torch.bfloat16))
                module.register_forward_hook(lambda _, inputs, outputs: _cast(outputs, torch.float32))
        return model
    with warnings.catch_warnings():  # eager-mode quantisation is deprecated in favour of torchao, which has no LSTM
        warnings.filterwarnings("ignore", r"torch\.ao\.quantization is deprecated", DeprecationWarning)
        warnings.filterwarnings("ignore", r"torch\.quantize_per_tensor.* are deprecated", UserWarning)
        return torch.ao.quantization.quantize_dynamic(model, {nn.LSTM, nn.Linear}, dtype=torch.qint8, inplace=True)


def _cast(values, dtype):
    """``values`` (a tensor, or tuples of them and ``None``) with each floating-point tensor in ``dtype``."""
    if isinstance(values, tuple):
        return tuple(_cast(value, dtype) for value in values)
    return values.to(dtype) if values is not None and values.is_floating_point() else values

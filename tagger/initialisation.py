"""Initial weights: the schemes a config's ``init`` names, and the LSTM forget-gate bias.

LeCun, Glorot and He scale by each matrix's fan-in (and fan-out for Glorot); the normal
variants draw from a plain (not truncated) normal distribution. Embedding tables keep a
zero padding row.
"""

from __future__ import annotations

from torch import nn

SCHEMES = {
    "uniform": lambda weight, scale: nn.init.uniform_(weight, -scale, scale),
    "normal": lambda weight, scale: nn.init.normal_(weight, 0.0, scale),
    "lecun_uniform": lambda weight, _: nn.init.kaiming_uniform_(weight, nonlinearity="linear"),
    "lecun_normal": lambda weight, _: nn.init.kaiming_normal_(weight, nonlinearity="linear"),
    "glorot_uniform": lambda weight, _: nn.init.xavier_uniform_(weight),
    "glorot_normal": lambda weight, _: nn.init.xavier_normal_(weight),
    "he_uniform": lambda weight, _: nn.init.kaiming_uniform_(weight, nonlinearity="relu"),
    "he_normal": lambda weight, _: nn.init.kaiming_normal_(weight, nonlinearity="relu"),
}


def initialise(
    model: nn.Module, scheme: str, scale: float = 0.05, forget_bias: float = 0.0, skip: str | tuple[str, ...] = ""
) -> None:
    """Redraw ``model``'s weight matrices by ``scheme`` (``default``: keep torch's), and set LSTM forget-gate biases.

    ``orthogonal``: orthogonal recurrent matrices, ``glorot_uniform`` for the rest. Parameters whose
    name starts with ``skip`` are left alone. ``forget_bias`` 0 keeps torch's biases.
    """
    if scheme != "default":
        draw = SCHEMES["glorot_uniform" if scheme == "orthogonal" else scheme]
        for name, parameter in model.named_parameters():
            if parameter.dim() < 2 or (skip and name.startswith(skip)):
                continue
            if scheme == "orthogonal" and ".weight_hh" in name:
                nn.init.orthogonal_(parameter)
            else:
                draw(parameter.data, scale)
        for module in model.modules():
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
    if forget_bias:
        for module in model.modules():
            if isinstance(module, nn.LSTM):
                for name, bias in module.named_parameters():
                    if name.startswith("bias_"):
                        hidden = bias.shape[0] // 4  # gates in torch's order: input, forget, cell, output
                        bias.data[hidden : 2 * hidden] = forget_bias if name.startswith("bias_ih") else 0.0

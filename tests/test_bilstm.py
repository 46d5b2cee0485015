"""The unpacked BiLSTM against torch's bidirectional LSTM over a PackedSequence, its oracle."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from tagger import recurrence
from tagger.bilstm import BiLSTM, upgrade_packed_names


@pytest.mark.parametrize("layers", [1, 2])
def test_outputs_and_gradients_match_a_packed_bidirectional_lstm(layers):
    torch.manual_seed(0)
    lengths = torch.tensor([7, 1, 4, 7, 2])
    mask = torch.arange(7)[None, :] < lengths[:, None]  # shape: (5, 7)
    inputs = torch.randn(5, 7, 6)
    packed_lstm = nn.LSTM(6, 3, num_layers=layers, batch_first=True, bidirectional=True)
    ours = BiLSTM(6, 3, layers)
    named = {f"encoder.{name}": tensor for name, tensor in packed_lstm.state_dict().items()}
    ours.load_state_dict({name.removeprefix("encoder."): t for name, t in upgrade_packed_names(named).items()})

    expected_inputs, our_inputs = inputs.clone().requires_grad_(), inputs.clone().requires_grad_()
    packed = pack_padded_sequence(expected_inputs, lengths, batch_first=True, enforce_sorted=False)
    expected, _ = pad_packed_sequence(packed_lstm(packed)[0], batch_first=True, total_length=7)
    got = ours(our_inputs, mask)
    assert got.shape == (5, 7, 6)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)  # padding: zero in both

    weights = torch.randn(5, 7, 6)
    (expected * weights).sum().backward()
    (got * weights).sum().backward()
    torch.testing.assert_close(our_inputs.grad, expected_inputs.grad, rtol=0, atol=1e-6)
    for name, parameter in packed_lstm.named_parameters():
        ours_name = upgrade_packed_names({f"encoder.{name}": None}).popitem()[0].removeprefix("encoder.")
        torch.testing.assert_close(ours.get_parameter(ours_name).grad, parameter.grad, rtol=0, atol=1e-5)


def test_other_weights_keep_their_names():
    weights = {"encoder.weight_ih_l1_reverse": torch.zeros(1), "project.weight": torch.ones(1)}
    assert list(upgrade_packed_names(weights)) == ["encoder.layers.1.right_to_left.weight_ih_l0", "project.weight"]


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("rest", [0, 3], ids=["rows only", "with per-token inputs"])
def test_reading_from_input_gates_matches_the_lstm(layers, rest):
    """At inference the encoder reads the first layer's input gates per distinct row of inputs, the sentences
    packed, both directions in one step (``recurrence``): its outputs are ``forward``'s, zero past each length, and
    a head projecting the states read gives what it gives on ``forward``'s."""
    torch.manual_seed(2)
    encoder = BiLSTM(5 + rest, 4, layers)
    lengths = torch.tensor([3, 7, 1, 7, 5])
    mask = torch.arange(7)[None, :] < lengths[:, None]
    table = torch.randn(6, 5)  # the distinct rows' inputs
    rows = torch.randint(0, 6, (5, 7)) * mask
    extra = torch.randn(5, 7, rest) if rest else None
    with torch.inference_mode():
        inputs = table[rows] if extra is None else torch.cat([table[rows], extra], dim=2)
        expected = encoder(inputs, mask)
        assert encoder.reads_gates()
        reading = encoder.from_gates(encoder.row_gates(table), rows, mask, extra)
        head = torch.nn.Linear(encoder.output_dim, 3)
        projected, expected_projected = reading.through(head), head(expected)
    torch.testing.assert_close(reading.padded(), expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(projected, expected_projected, rtol=0, atol=1e-6)  # the bias alone past each length
    with torch.enable_grad():
        assert not encoder.reads_gates()  # training reads torch's LSTM


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_inputs_given_per_token_are_projected_at_the_step_that_reads_them(dtype):
    """``StepInputs`` adds to a step's gates each running sequence's token inputs times its direction's weights: the
    token the step reads left to right, and the one it reads right to left, in the weights' precision."""
    torch.manual_seed(3)
    lengths, hidden = torch.tensor([2, 5, 3]), 2
    plan = recurrence.Plan.of(lengths, 5)
    values, weight = torch.randn(3, 5, 4), torch.randn(4, 2 * 4 * hidden).to(dtype)
    own = recurrence.StepInputs.of(values, plan, weight)
    for step, count in enumerate(plan.running):
        gates = torch.zeros(2, count, 4 * hidden)
        own.add_to(gates, step)
        for place, sequence in enumerate(plan.order[:count].tolist()):
            for direction, token in enumerate((step, int(lengths[sequence]) - 1 - step)):
                part = weight[:, direction * 4 * hidden : (direction + 1) * 4 * hidden]
                expected = recurrence.projected(values[sequence, token][None], part)[0]
                torch.testing.assert_close(gates[direction, place], expected, rtol=0, atol=1e-6)

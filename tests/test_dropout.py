"""Dropout's masks: element-wise as torch's, one per sentence (locked), whole tokens (word dropout)."""

from __future__ import annotations

import pytest
import torch

from tagger.dropout import Dropout, TokenDropout


def _inputs():
    return torch.rand(64, 30, 40) + 1.0  # no zero among them: a zero in the output is a dropped value


def test_element_dropout_keeps_its_mask_and_scale():
    inputs = _inputs()
    torch.manual_seed(3)
    dropped = Dropout(0.3).train()(inputs)
    torch.manual_seed(3)
    kept = torch.rand_like(inputs).ge(0.3)  # the same numbers drawn as torch's dropout would
    assert torch.equal(dropped != 0, kept)
    assert torch.allclose(dropped[kept], inputs[kept] / 0.7)


def test_locked_dropout_drops_the_same_features_at_every_token_of_a_sentence():
    inputs = _inputs()
    kept = Dropout(0.5, locked=True).train()(inputs) != 0
    assert torch.equal(kept, kept[:, :1].expand_as(kept))
    assert not torch.equal(kept[0], kept[1])  # sentences draw masks of their own
    assert abs(kept[:, 0].float().mean().item() - 0.5) < 0.05


def test_word_dropout_drops_whole_tokens_and_scales_the_rest():
    inputs = _inputs()
    dropped = TokenDropout(0.2).train()(inputs)
    zero = (dropped == 0).all(dim=2)
    assert torch.equal(zero, (dropped == 0).any(dim=2))
    assert abs(zero.float().mean().item() - 0.2) < 0.03
    assert torch.allclose(dropped[~zero], inputs[~zero] / 0.8)


@pytest.mark.parametrize("dropout", [Dropout(0.5), Dropout(0.5, locked=True), TokenDropout(0.5)])
def test_dropouts_pass_inputs_through_at_inference(dropout):
    inputs = _inputs()
    assert dropout.eval()(inputs) is inputs

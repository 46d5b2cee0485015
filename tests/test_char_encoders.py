"""The character encoders read words in groups of (similar) length: as if each word were read alone."""

from __future__ import annotations

import pytest
import torch

from tagger.embeddings import CharCNN, CharLSTM


@pytest.mark.parametrize("encoder", [CharLSTM(40, 5, 4), CharCNN(40, 5, 6, 3)], ids=["lstm", "cnn"])
def test_words_in_length_groups_get_the_features_each_has_alone(encoder):
    """Read in groups of (similar) length, padded or not, a word's features are those of the word read alone."""
    torch.manual_seed(0)
    lengths = torch.tensor([3, 1, 7, 3, 12, 2, 5, 30, 4, 8, 1])
    chars = torch.randint(1, 40, (len(lengths), int(lengths.max()))) * (torch.arange(30) < lengths[:, None])
    for gradients in (True, False):  # the character LSTM groups words by other rules with and without
        with torch.set_grad_enabled(gradients):
            together = encoder(chars, lengths)
            for row, length in enumerate(lengths.tolist()):
                alone = encoder(chars[row : row + 1, :length], lengths[row : row + 1])
                assert torch.allclose(together[row], alone[0], atol=1e-6)


def test_gradients_of_words_read_together_are_those_of_each_read_alone():
    """The padded groups' backward pass: the weights' gradient of the sum of all words' features is the sum of
    each word's alone (padding takes no part in it)."""
    torch.manual_seed(1)
    encoder = CharLSTM(40, 5, 4)
    lengths = torch.tensor([3, 1, 7, 3, 12, 2, 5, 9, 4, 8, 1, 6])
    chars = torch.randint(1, 40, (len(lengths), int(lengths.max()))) * (torch.arange(12) < lengths[:, None])
    encoder(chars, lengths).sum().backward()
    together = [parameter.grad.clone() for parameter in encoder.parameters()]
    encoder.zero_grad()
    for row, length in enumerate(lengths.tolist()):
        encoder(chars[row : row + 1, :length], lengths[row : row + 1]).sum().backward()
    for found, alone in zip(together, encoder.parameters()):
        assert torch.allclose(found, alone.grad, atol=1e-5)

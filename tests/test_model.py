"""The whole BiLSTM-CRF's gradients: the loss of a tiny batch against finite differences, in float64."""

from __future__ import annotations

import pytest
import torch

from tagger import Tagger, TaggerConfig
from tagger.corpus import Corpus, Sentence

SENTENCES = [
    (["Aspirin", "eased", "the", "migraine", "."], ["B-Drug", "O", "O", "B-Disease", "O"]),
    (["Severe", "migraine", "attacks"], ["B-Disease", "I-Disease", "I-Disease"]),
]


@pytest.mark.parametrize("char_encoder", ["lstm", "cnn"])
def test_the_model_loss_has_the_right_gradients(char_encoder):
    corpus = Corpus.of([Sentence(tokens, tags) for tokens, tags in SENTENCES])
    config = TaggerConfig(
        word_dim=3, char_dim=2, char_hidden=2, casing_dim=2, hidden=2, dropout=0.0, char_encoder=char_encoder
    )
    tagger = Tagger.build(config, corpus)
    model = tagger.model.double()
    batch = tagger.encoder.collate([tagger.encode(s.tokens, s.tags) for s in corpus.in_scheme("IOBES")])
    names = [name for name, _ in model.named_parameters()]
    model.forward = model.loss  # functional_call calls forward

    def loss(*parameters):
        return torch.func.functional_call(model, dict(zip(names, parameters)), (batch,))

    parameters = [p.detach().clone().requires_grad_() for p in model.parameters()]
    assert torch.autograd.gradcheck(loss, parameters, fast_mode=True)
    assert torch.autograd.gradcheck(loss, parameters)

"""Every optimiser and initialisation trains: two steps on the sample corpus lower the loss of their batch."""

from __future__ import annotations

import pytest
import torch

from tagger import Tagger, TaggerConfig
from tagger.config import INITIALISATIONS, OPTIMIZERS, ConfigError
from tagger.corpus import Corpus
from tagger.formats import read_corpus
from tagger.training import Trainer

TINY = dict(word_dim=16, char_dim=8, char_hidden=8, hidden=16, batch_size=8, dropout=0.0, unk_replace=0.0)
LR = {"adadelta": 1.0}  # torch's default for it; the others move well at 0.01


@pytest.fixture(scope="module")
def train(sample) -> Corpus:
    corpus = read_corpus(sample / "train.tsv")
    return Corpus(corpus.sentences[:24], corpus.scheme)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _loss_after_two_steps(config: TaggerConfig, train: Corpus, tmp_path) -> tuple[float, float]:
    trainer = Trainer(Tagger.build(config, train), train, None, tmp_path, [])
    batch = list(range(8))
    model, encoder = trainer.tagger.model, trainer.tagger.encoder

    def loss() -> float:
        with torch.no_grad():
            return model.loss(encoder.collate([trainer.train[i] for i in batch])).item()

    before = loss()
    for _ in range(2):
        trainer.step(batch)
    return before, loss()


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimiser_lowers_the_loss_in_two_steps(name, train, tmp_path):
    config = TaggerConfig(**TINY, optimizer=name, lr=LR.get(name, 0.01))
    before, after = _loss_after_two_steps(config, train, tmp_path)
    assert after < before


def test_optimiser_settings_reach_torch(train, tmp_path):
    config = TaggerConfig(**TINY, optimizer="sgd", momentum=0.5, nesterov=True)
    group = Trainer(Tagger.build(config, train), train, None, tmp_path, []).optimizer.param_groups[0]
    assert (group["momentum"], group["nesterov"]) == (0.5, True)
    config = TaggerConfig(**TINY, optimizer="adamw", beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.01)
    optimizer = Trainer(Tagger.build(config, train), train, None, tmp_path, []).optimizer
    assert isinstance(optimizer, torch.optim.AdamW)
    assert (optimizer.param_groups[0]["betas"], optimizer.param_groups[0]["eps"]) == ((0.8, 0.99), 1e-6)
    config = TaggerConfig(**TINY, nesterov=True, momentum=0.0, optimizer="sgd")
    with pytest.raises(ConfigError, match="nesterov needs momentum"):
        Trainer(Tagger.build(config, train), train, None, tmp_path, [])


@pytest.mark.parametrize("scheme", INITIALISATIONS)
def test_every_initialisation_trains(scheme, train, tmp_path):
    config = TaggerConfig(**TINY, init=scheme, forget_bias=1.0, lr=0.01)
    before, after = _loss_after_two_steps(config, train, tmp_path)
    assert after < before


def test_initialisations_draw_what_they_say(train):
    def weights(scheme: str, **settings) -> dict[str, torch.Tensor]:
        config = TaggerConfig(**TINY, init=scheme, **settings)
        return dict(Tagger.build(config, train).model.named_parameters())

    drawn = weights("uniform", init_scale=0.01)
    uniform = drawn["heads.0.project.weight"]
    assert uniform.abs().max() <= 0.01 and uniform.std() > 0.003
    assert drawn["heads.0.crf.crf.transitions"].abs().max() > 0.01  # the CRF keeps torchcrf's U(-0.1, 0.1)
    he = weights("he_uniform")["encoder.layers.0.left_to_right.weight_ih_l0"]  # shape: (4 * hidden, input)
    assert he.abs().max() <= (6 / he.shape[1]) ** 0.5
    orthogonal = weights("orthogonal")["encoder.layers.0.left_to_right.weight_hh_l0"]  # shape: (4 * hidden, hidden)
    assert torch.allclose(orthogonal.T @ orthogonal, torch.eye(orthogonal.shape[1]), atol=1e-5)
    built = weights("glorot_normal", forget_bias=1.0)
    hidden = TINY["hidden"]
    assert torch.all(built["encoder.layers.0.left_to_right.bias_ih_l0"][hidden : 2 * hidden] == 1.0)
    assert torch.all(built["encoder.layers.0.left_to_right.bias_hh_l0"][hidden : 2 * hidden] == 0.0)
    assert torch.all(built["words.weight"][0] == 0.0)  # the padding row


@pytest.mark.parametrize("settings", [{"init": "zeros"}, {"init": "uniform", "init_scale": 0.0}])
def test_all_zero_weights_are_refused_with_the_reason(settings):
    with pytest.raises(ConfigError, match="stays identical"):
        TaggerConfig(**settings)


def test_old_config_values_keep_loading():
    assert TaggerConfig.from_dict({"init": "xavier", "optimizer": "sgd"}).init == "glorot_uniform"
    assert TaggerConfig.from_dict({"init": "orthogonal"}).init == "orthogonal"

"""Transfer learning: carried-over rows, merged vocabularies, frozen parts, resume, the command line."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from tagger import Tagger, TaggerConfig
from tagger.callbacks import Callback, standard
from tagger.cli.main import main
from tagger.config import ConfigError
from tagger.corpus import Corpus, Sentence
from tagger.formats import read_corpus
from tagger.training import Trainer
from tagger.transfer import build
from tagger.vocab import Vocab

TINY = dict(word_dim=16, char_dim=8, char_hidden=8, hidden=16, casing_dim=4)
TARGET = [
    (["Qorvex", "eased", "the", "migraine", "."], ["B-Drug", "O", "O", "B-Disease", "O"]),
    (["Zyxolin", "treats", "severe", "migraine", "attacks", "."], ["B-Drug", "O", "O", "B-Disease", "I-Disease", "O"]),
    (["No", "drug", "helped", "."], ["O", "O", "O", "O"]),
]


@pytest.fixture(scope="module")
def source(sample, tmp_path_factory):
    """A model trained for one epoch on the sample corpus (Aspect, Chemical, Disease, Gene, Species)."""
    output = tmp_path_factory.mktemp("source")
    train = read_corpus(sample / "train.tsv")
    Trainer(Tagger.build(TaggerConfig(**TINY, epochs=1), train), train, None, output).fit()
    return output / "model"


@pytest.fixture
def target() -> Corpus:
    """A corpus with a label the source lacks (Drug), one it has (Disease) and words it never saw."""
    return Corpus.of([Sentence(tokens, tags) for tokens, tags in TARGET])


def _transferred(source, target, **settings) -> tuple[Tagger, Tagger]:
    config = TaggerConfig(init_from=str(source), **{"epochs": 1, **settings})
    return Tagger.load(source), build(config, target)


def _vocabs(tagger: Tagger) -> tuple[Vocab, Vocab, Vocab]:
    """Words, characters and the first head's tags."""
    return tagger.encoder.word_vocab, tagger.encoder.char_vocab, tagger.heads[0].tags


def _rows(tagger: Tagger, name: str) -> dict[str, torch.Tensor]:
    """Rows of weight ``name`` by the item of the vocabulary it runs over."""
    vocab = {"words": 0, "chars": 1}.get(name.split(".")[0], 2)
    weight = tagger.model.state_dict()[name]
    return {item: weight[i] for i, item in enumerate(_vocabs(tagger)[vocab].items)}


def test_architecture_comes_from_the_source_and_training_keys_from_the_config(source, target):
    old, new = _transferred(source, target, hidden=300, word_dim=50, dropout=0.25, lr=0.01)
    assert (new.config.hidden, new.config.word_dim) == (old.config.hidden, old.config.word_dim) == (16, 16)
    assert (new.config.dropout, new.config.lr) == (0.25, 0.01)


def test_merged_vocabularies_keep_the_source_rows_and_append_new_ones(source, target):
    old, new = _transferred(source, target)
    old_words, new_words = _vocabs(old)[0], _vocabs(new)[0]
    assert new_words.items[: len(old_words)] == old_words.items
    assert {"zyxolin", "qorvex"} <= set(new_words.items[len(old_words) :])
    for name in ("words.weight", "chars.embed.weight"):
        old_rows, new_rows = _rows(old, name), _rows(new, name)
        assert all(torch.equal(row, new_rows[item]) for item, row in old_rows.items())
    assert _vocabs(new)[1].items[: len(_vocabs(old)[1])] == _vocabs(old)[1].items
    old_state, new_state = old.model.state_dict(), new.model.state_dict()
    for name in old_state:
        if name.startswith(("encoder.", "casing.", "chars.lstm.")):
            assert torch.equal(old_state[name], new_state[name]), name


def test_a_new_label_set_keeps_the_rows_of_shared_tags(source, target):
    old, new = _transferred(source, target)
    tags = new.heads[0].tags.items
    assert set(tags) == {"O", *(f"{p}-{label}" for p in "BIES" for label in ("Disease", "Drug"))}
    shared = [tag for tag in tags if tag in old.heads[0].tags]
    assert shared == ["O", *(f"{p}-Disease" for p in "BIES")]
    for name in ("project.weight", "project.bias", "crf.crf.start_transitions", "crf.crf.end_transitions"):
        old_rows, new_rows = _rows(old, f"heads.0.{name}"), _rows(new, f"heads.0.{name}")
        assert all(torch.equal(old_rows[tag], new_rows[tag]) for tag in shared), name
    old_ids, new_ids = old.heads[0].tags.ids, new.heads[0].tags.ids
    old_transitions, new_transitions = (t.model.heads[0].crf.crf.transitions for t in (old, new))
    for a in shared:
        for b in shared:
            assert old_transitions[old_ids[a], old_ids[b]] == new_transitions[new_ids[a], new_ids[b]]
    drug, chemical = _rows(new, "heads.0.project.weight")["B-Drug"], _rows(old, "heads.0.project.weight")["B-Chemical"]
    assert not torch.equal(drug, chemical)


def test_frozen_vectors_keep_their_rows_at_the_end(tmp_path, target):
    words = ["the", "migraine", "eased", "drug"]
    vectors = tmp_path / "vectors.txt"
    vectors.write_text(f"{len(words)} 16\n" + "".join(f"{w} {' '.join(['0.5'] * 16)}\n" for w in words))
    config = TaggerConfig(**TINY, vectors=str(vectors), freeze_vectors=True)
    Tagger.build(config, target).save(tmp_path / "source")
    more = Corpus.of([Sentence(["Ibuprofen", "eased", "the", "pain"], ["B-Drug", "O", "O", "B-Disease"])])
    old, new = _transferred(tmp_path / "source", more)
    assert new.pretrained == old.pretrained > 0
    new_words, old_words = _vocabs(new)[0], _vocabs(old)[0]
    assert new_words.items[-new.pretrained :] == old_words.items[-old.pretrained :]
    assert "ibuprofen" in new_words and new_words.ids["ibuprofen"] < len(new_words) - new.pretrained
    assert torch.equal(new.model.words.fixed, old.model.words.fixed)
    learned = old.model.words.learned.weight
    for i, item in enumerate(old_words.items[: len(learned)]):
        assert torch.equal(new.model.words.learned.weight[new_words.ids[item]], learned[i])


def _parts(tagger: Tagger) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in tagger.model.named_parameters()}


def test_frozen_parts_stay_bit_for_bit_until_unfrozen(source, target, tmp_path):
    _, new = _transferred(source, target, freeze="embeddings,chars,encoder", unfreeze_after=1, epochs=2)
    before = _parts(new)
    after_each = []

    class Snapshot(Callback):
        def on_epoch_end(self, trainer, record, improved):
            after_each.append(_parts(trainer.tagger))

    Trainer(new, target, target, tmp_path, [Snapshot()]).fit()
    frozen = [name for name in before if name.startswith(("words.", "chars.", "casing.", "encoder."))]
    assert frozen and all(torch.equal(before[name], after_each[0][name]) for name in frozen)
    assert not torch.equal(before["heads.0.project.weight"], after_each[0]["heads.0.project.weight"])
    assert all(not torch.equal(after_each[0][name], after_each[1][name]) for name in frozen)


def test_transferred_parts_train_at_the_scaled_learning_rate(source, target, tmp_path):
    _, new = _transferred(source, target, finetune_lr_scale=0.1, lr=0.01)
    groups = Trainer(new, target, target, tmp_path).optimizer.param_groups
    assert [group["lr"] for group in groups] == [0.01, pytest.approx(0.001)]
    assert {id(p) for p in groups[1]["params"]} == {
        id(p) for p in new.model.part_parameters(["embeddings", "chars", "encoder"])
    }


class Interrupt(Callback):
    def on_epoch_end(self, trainer, record, improved):
        if record.epoch == 1:
            raise KeyboardInterrupt


def test_resume_keeps_freezing_and_unfreezing_in_step(source, target, tmp_path):
    settings = dict(freeze="encoder", unfreeze_after=1, epochs=3, finetune_lr_scale=0.5, patience=5)
    whole = Trainer(_transferred(source, target, **settings)[1], target, target, tmp_path / "whole")
    whole.fit()
    with pytest.raises(KeyboardInterrupt):
        cut = [*standard(tmp_path / "cut"), Interrupt()]
        Trainer(_transferred(source, target, **settings)[1], target, target, tmp_path / "cut", cut).fit()
    resumed = Trainer.resume(tmp_path / "cut", target, target)
    resumed.fit()
    assert [r.loss for r in resumed.history] == [r.loss for r in whole.history]
    assert all(torch.equal(v, _parts(resumed.tagger)[k]) for k, v in _parts(whole.tagger).items())


def test_freeze_without_a_source_model_is_a_config_error():
    with pytest.raises(ConfigError, match="init_from"):
        TaggerConfig(freeze="encoder")
    with pytest.raises(ConfigError, match="unknown part 'lstm'"):
        TaggerConfig(init_from="model", freeze="lstm")


def test_train_init_from_on_the_command_line(source, sample, tmp_path, capsys):
    corpus = tmp_path / "target.tsv"
    corpus.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(*pair)) for pair in TARGET) + "\n")
    common = ["train", "--train", str(corpus), "--dev", str(corpus), "--epochs", "2", "--no-progress"]
    transfer = ["--init-from", str(source), "--freeze", "embeddings,chars", "--unfreeze-after", "1"]
    assert main([*common, "--output", str(tmp_path / "run"), *transfer, "--set", "hidden=64"]) == 0
    config = json.loads((tmp_path / "run" / "model" / "config.json").read_text())["config"]
    assert config["init_from"] == str(source.resolve()) and config["freeze"] == "embeddings,chars"
    assert config["hidden"] == 16
    assert Tagger.load(tmp_path / "run" / "model").labels == ["Disease", "Drug"]
    assert main([*common, "--output", str(tmp_path / "bad"), "--freeze", "encoder"]) == 2
    assert "init_from" in capsys.readouterr().err
    missing = ["--init-from", str(tmp_path / "nothing")]
    assert main([*common, "--output", str(tmp_path / "bad"), *missing]) == 2
    assert "is not a tagger model" in capsys.readouterr().err


def test_a_transferred_config_rebuilds_from_its_own_config(source, target):
    _, new = _transferred(source, target, freeze="chars")
    again = build(replace(new.config), target)
    assert all(torch.equal(v, again.model.state_dict()[k]) for k, v in new.model.state_dict().items())


def test_a_deeper_model_takes_the_source_layers_and_starts_the_ones_above_fresh(source, target):
    old, new = _transferred(source, target, layers=2)
    assert (old.config.layers, new.config.layers) == (1, 2)
    old_state, new_state = old.model.state_dict(), new.model.state_dict()
    above = [name for name in new_state if name.startswith("encoder.layers.1.")]
    assert above and not any(name in old_state for name in above)
    for name in old_state:
        if name.startswith("encoder."):
            assert torch.equal(old_state[name], new_state[name]), name
    with pytest.raises(ConfigError, match="freeze encoder: the model has 2 BiLSTM layers"):
        _transferred(source, target, layers=2, freeze="encoder")
    assert _transferred(source, target, layers=2, freeze="embeddings")[1].config.layers == 2

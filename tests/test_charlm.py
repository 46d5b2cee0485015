"""Character language models: training lowers bits per character, resume is exact, token features are the LM's
states at the right characters, and a tagger carries its LM."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from tagger import Tagger, TaggerConfig, recurrence
from tagger.batching import Encoder
from tagger.charlm import BOUNDARY, CharLMFeatures
from tagger.cli.main import main
from tagger.config import ConfigError
from tagger.corpus import Corpus, Sentence
from tagger.ensembles import EnsembleError, combined
from tagger.formats import read_corpus
from tagger.lm_store import CharVocab, LMError, load_lm
from tagger.lm_training import LMSettings, LMTrainer, read_text
from tagger.text import sentences
from tagger.training import Trainer

SMALL = LMSettings(char_dim=8, hidden=24, bptt=20, batch_size=4, heldout_chars=800, checkpoint_every=25, epochs=2)
TINY = TaggerConfig(word_dim=16, char_dim=8, char_hidden=8, hidden=16, epochs=1, batch_size=8, dropout=0.0)


@pytest.fixture(scope="module")
def text(sample) -> str:
    """About 40,000 characters: the sample corpus' sentences as paragraphs, a blank line every ten."""
    tokens = [s.tokens for s in read_corpus(sample / "train.tsv")]
    lines = [" ".join(t) for t in tokens] * 3
    return "\n".join(line + ("\n" if i % 10 == 9 else "") for i, line in enumerate(lines))


@pytest.fixture(scope="module")
def lm_dir(text, tmp_path_factory):
    torch.set_num_threads(1)
    output = tmp_path_factory.mktemp("lm")
    for direction in ("forward", "backward"):
        LMTrainer(text, direction, SMALL, output).fit()
    return output


def test_training_lowers_held_out_bits_per_character(text, tmp_path):
    trainer = LMTrainer(text, "forward", SMALL, tmp_path)
    before = trainer.bits_per_char()
    facts = trainer.fit()
    assert facts["heldout_bpc"] < before - 1.0
    assert facts["heldout_bpc"] == min(h["bpc"] for h in facts["history"])
    lm, vocab, meta = load_lm(tmp_path, "forward")
    assert meta["heldout_bpc"] == facts["heldout_bpc"] and vocab.items[:2] == ["<pad>", "<unk>"]


def test_resume_after_an_interruption_reaches_the_same_weights(text, tmp_path):
    LMTrainer(text, "backward", SMALL, tmp_path / "whole").fit()
    checkpoints = []

    def interrupt():
        checkpoints.append(1)
        if len(checkpoints) == 3:  # mid-way through the second epoch
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        LMTrainer(text, "backward", SMALL, tmp_path / "cut").fit(on_checkpoint=interrupt)
    LMTrainer.resume(text, "backward", SMALL, tmp_path / "cut").fit()
    whole, cut = (load_file(tmp_path / run / "backward.safetensors") for run in ("whole", "cut"))
    assert whole.keys() == cut.keys()
    assert all(torch.equal(whole[name], cut[name]) for name in whole)


def test_resume_refuses_other_settings_or_text_but_takes_more_epochs(text, tmp_path):
    trainer = LMTrainer(text, "forward", SMALL, tmp_path)
    trainer.fit()
    with pytest.raises(LMError, match="hidden 24 then, 32 now"):
        LMTrainer.resume(text, "forward", LMSettings(**{**SMALL.__dict__, "hidden": 32}), tmp_path)
    with pytest.raises(LMError, match="the text differs"):
        LMTrainer.resume(text + "more", "forward", SMALL, tmp_path)
    more = LMTrainer.resume(text, "forward", LMSettings(**{**SMALL.__dict__, "epochs": 3}), tmp_path)
    assert more.fit()["history"][-1]["epoch"] == 3


def reader(lm_dir):
    """Features from the LMs in ``lm_dir``, an encoder of their text, their vocabulary and the LMs."""
    forward_lm, vocab, _ = load_lm(lm_dir, "forward")
    backward_lm, _, _ = load_lm(lm_dir, "backward")
    features = CharLMFeatures(len(vocab), 8, 24, 1)
    features.use_trained(forward_lm, backward_lm)
    encoder = Encoder(*(None,) * 2, lowercase=True, normalize_digits=True, lm_chars=vocab)
    return features, encoder, vocab, forward_lm, backward_lm


def test_a_token_feature_is_the_lm_state_at_its_last_and_first_character(lm_dir):
    features, encoder, vocab, forward_lm, backward_lm = reader(lm_dir)
    text = "Odd  whitespace:\tBRCA1\u00a0mutations\n(in mice)."
    sentence = sentences(text)[0]
    ids, starts, ends = encoder._encode_text(sentence.tokens, sentence.text, sentence.offsets)
    got = features(torch.tensor([ids]), torch.tensor([len(ids)]), torch.tensor([starts]), torch.tensor([ends]))[0]
    stretch = BOUNDARY + text[sentence.offsets[0][0] : sentence.offsets[-1][1]] + BOUNDARY
    for k, (start, end) in enumerate(sentence.offsets):
        ahead = torch.tensor([vocab.ids(BOUNDARY + text[:end])])  # the text up to the token's end
        behind = torch.tensor([vocab.ids((text[start:] + BOUNDARY)[::-1])])  # back from the end to its start
        with torch.no_grad():
            expected_ahead = forward_lm(ahead)[0][0, -1]
            expected_behind = backward_lm(behind)[0][0, -1]
        assert torch.allclose(got[k, :24], expected_ahead, atol=1e-5), sentence.tokens[k]
        assert torch.allclose(got[k, 24:], expected_behind, atol=1e-5), sentence.tokens[k]
    assert stretch[starts[0]] == text[sentence.offsets[0][0]] and stretch[ends[-1]] == text[sentence.offsets[-1][1] - 1]


def test_padding_in_a_batch_changes_no_feature(lm_dir):
    features, encoder, vocab, forward_lm, backward_lm = reader(lm_dir)
    texts = [encoder._encode_text(tokens, None, None) for tokens in (["a", "short", "one"], ["much"] * 9)]

    together = features(*Encoder.collate_texts(texts))
    assert torch.allclose(together[0, :3], features(*Encoder.collate_texts(texts[:1]))[0], atol=1e-6)
    assert torch.allclose(together[1], features(*Encoder.collate_texts(texts[1:]))[0], atol=1e-6)


def test_the_packed_reading_of_both_lms_equals_torchs_lstm(lm_dir, monkeypatch):
    features, encoder, _, _, _ = reader(lm_dir)
    texts = [
        encoder._encode_text(tokens, None, None)
        for tokens in (["a"], ["BRCA1", "mutations", "(", "in", "mice", ")"], ["much"] * 9, ["Ünïcode", "ß", "\u00a0"])
    ]
    batch = Encoder.collate_texts(texts)
    packed = features._features(*batch)
    monkeypatch.setattr(recurrence, "readable", lambda *lstms: False)
    assert torch.allclose(packed, features._features(*batch), atol=1e-6)


@pytest.fixture(scope="module")
def lm_model(lm_dir, sample, tmp_path_factory):
    """A tiny tagger trained with a copy of the LM, which is then deleted."""
    torch.set_num_threads(1)
    train = read_corpus(sample / "train.tsv")
    output = tmp_path_factory.mktemp("lm-run")
    shutil.copytree(lm_dir, output / "lm")
    config = TaggerConfig(**{**TINY.__dict__, "epochs": 3, "lr": 0.03, "char_lm": str(output / "lm")})
    Trainer(Tagger.build(config, train), train, train, output).fit()
    shutil.rmtree(output / "lm")
    return output / "model"


RAW = "Mutations in BRCA1 cause  breast cancer.\nAMPK activates SIRT1 in (mice)."


def test_a_tagger_with_an_lm_predicts_the_same_after_saving_without_the_lm(lm_model, lm_dir, sample):
    tagger = Tagger.load(lm_model)
    assert tagger.config.char_lm_hidden == 24
    test = [s.tokens for s in read_corpus(sample / "test.tsv")]
    expected = tagger.predict(test), tagger.tag_text(RAW)
    assert any(p.spans for p in expected[0])
    reloaded = Tagger.load(lm_model)
    assert reloaded.predict(test) == expected[0]
    assert reloaded.tag_text(RAW) == expected[1]
    trained = load_file(lm_model / "weights.safetensors")
    forward_lm, _, _ = load_lm(lm_dir, "forward")
    assert torch.equal(trained["char_lm.forward_lm.lstm.weight_hh_l0"], forward_lm.lstm.weight_hh_l0)  # frozen
    assert not any(name.startswith("char_lm.forward_lm.decoder") for name in trained)


def test_a_finished_run_with_an_lm_resumes_with_the_config_it_was_asked_for(lm_model, sample):
    """The LM's shape (``char_lm_hidden`` ...) is the build's, not the caller's: a resume that asks for the config
    the run was started with (``release_models.py --resume``) is not refused for it."""
    run = lm_model.parent
    train = read_corpus(sample / "train.tsv")
    asked = TaggerConfig(**{**TINY.__dict__, "epochs": 3, "lr": 0.03, "char_lm": Tagger.load(lm_model).config.char_lm})
    assert asked.char_lm_hidden == 0
    trainer = Trainer.resume(run, train, train, [], asked.to_dict())
    assert trainer.epoch == 3 and trainer.tagger.config.char_lm_hidden == 24


def test_predict_reads_the_texts_in_batches_of_their_own_and_each_gets_its_own_features(lm_model, sample):
    tagger = Tagger.load(lm_model)
    encoded = [tagger.encode(s.tokens) for s in read_corpus(sample / "test.tsv")]
    with torch.inference_mode():
        features = tagger._lm_features(encoded, 8)
        assert sorted(features) == list(range(len(encoded)))
        for number, sentence in enumerate(encoded):
            alone = tagger.model.char_lm(*Encoder.collate_texts([sentence.lm]))[0]
            assert torch.allclose(features[number], alone, atol=1e-6)


def test_two_heads_share_the_lm_and_keep_it_through_saving(lm_dir, sample, tmp_path):
    corpus = read_corpus(sample / "dev.tsv")
    parts = {"first": corpus.sentences[:20], "rest": corpus.sentences[20:]}
    train = {name: Corpus(sentences, corpus.scheme) for name, sentences in parts.items()}
    config = TaggerConfig(**{**TINY.__dict__, "char_lm": str(lm_dir)})
    trainer = Trainer(Tagger.build(config, train), train, None, tmp_path, [])
    trainer.fit()
    trainer.tagger.save(tmp_path / "saved")
    loaded = Tagger.load(tmp_path / "saved")
    assert loaded.head_names == ["first", "rest"] and loaded.config.char_lm_hidden == 24
    tokens = [s.tokens for s in corpus]
    for head in ("first", "rest", None):
        assert loaded.predict(tokens, head=head) == trainer.tagger.predict(tokens, head=head)
    forward_lm, _, _ = load_lm(lm_dir, "forward")
    assert torch.equal(loaded.model.char_lm.forward_lm.lstm.weight_hh_l0, forward_lm.lstm.weight_hh_l0)  # frozen


def test_an_ensemble_shares_one_frozen_lm_reads_it_once_and_saves_it_once(lm_dir, sample, tmp_path):
    train = read_corpus(sample / "train.tsv")
    config = TaggerConfig(**{**TINY.__dict__, "char_lm": str(lm_dir), "ensemble": 2})
    trainer = Trainer(Tagger.build(config, train), train, None, tmp_path, [])
    first, second = trainer.tagger.model.members
    assert first.char_lm is second.char_lm is trainer.tagger.model.char_lm
    trainer.fit()
    assert trainer.tagger.model.char_lm._cached_tokens[False] == sum(len(s) for s in train)  # each sentence once
    trainer.tagger.save(tmp_path / "saved")
    weights = load_file(tmp_path / "saved" / "weights.safetensors")
    assert any(name.startswith("members.0.char_lm.") for name in weights)
    assert not any(name.startswith("members.1.char_lm.") for name in weights)
    loaded = Tagger.load(tmp_path / "saved")
    tokens = [s.tokens for s in read_corpus(sample / "test.tsv")]
    assert loaded.predict(tokens) == trainer.tagger.predict(tokens)
    forward_lm, _, _ = load_lm(lm_dir, "forward")
    for member in loaded.model.members:
        assert torch.equal(member.char_lm.forward_lm.lstm.weight_hh_l0, forward_lm.lstm.weight_hh_l0)  # frozen


def test_projected_lm_features_train_save_and_tag_packed_as_torchs_lstm(lm_dir, sample, tmp_path, monkeypatch):
    train = read_corpus(sample / "train.tsv")
    config = TaggerConfig(**{**TINY.__dict__, "char_lm": str(lm_dir), "char_lm_projection": 6, "ensemble": 2})
    trainer = Trainer(Tagger.build(config, train), train, None, tmp_path, [])
    trainer.fit()
    trainer.tagger.save(tmp_path / "saved")
    loaded = Tagger.load(tmp_path / "saved")
    for member in loaded.model.members:  # the encoder reads 6 LM features, not the LM's 2 x 24
        assert member.encoder.layers[0].left_to_right.input_size == 16 + 2 * 8 + 8 + 6
    tokens = [s.tokens for s in read_corpus(sample / "test.tsv")]
    packed = loaded.predict(tokens)
    assert packed == trainer.tagger.predict(tokens)
    monkeypatch.setattr(recurrence, "readable", lambda *lstms: False)
    reference = Tagger.load(tmp_path / "saved").predict(tokens)
    for a, b in zip(packed, reference, strict=True):
        assert a.tags == b.tags
        assert a.token_scores == pytest.approx(b.token_scores, abs=1e-5)


def test_a_projection_of_lm_features_needs_an_lm():
    with pytest.raises(ConfigError, match="char_lm_projection maps a character LM's features: it needs char_lm"):
        TaggerConfig(char_lm_projection=64)


@pytest.mark.parametrize("scheme", ["int8", "bf16"])
def test_a_quantised_tagger_reads_its_lm_afresh_and_reloads_the_same(lm_model, sample, tmp_path, scheme):
    tokens = [s.tokens for s in read_corpus(sample / "test.tsv")]
    tagger = Tagger.load(lm_model)
    tagger.predict(tokens)  # the float LM's features, remembered
    quantised = tagger.quantize(scheme).predict(tokens)
    tagger.save(tmp_path / scheme)
    assert Tagger.load(tmp_path / scheme).predict(tokens) == quantised


def test_models_of_one_lm_combine_and_of_another_are_refused(lm_model, sample):
    tagger = Tagger.load(lm_model)
    twice = combined([tagger, Tagger.load(lm_model)], ["a", "b"])  # a model with itself tags as it alone
    tokens = [s.tokens for s in read_corpus(sample / "test.tsv")]
    for found, alone in zip(twice.predict(tokens), tagger.predict(tokens)):
        assert found.tags == alone.tags
        assert found.token_scores == pytest.approx(alone.token_scores, abs=1e-5)
    other = Tagger.load(lm_model)
    with torch.no_grad():
        other.model.char_lm.backward_lm.lstm.weight_hh_l0[0, 0] += 0.5
    with pytest.raises(EnsembleError, match="b reads another character LM than a"):
        combined([tagger, other], ["a", "b"])


def test_the_spacy_component_reads_the_raw_text_as_tag_text_does(lm_model):
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_crf", config={"model": str(lm_model)})
    tagger = Tagger.load(lm_model)
    seen = 0
    for text in ("Mutations in BRCA1 cause  breast cancer.", "AMPK\tactivates SIRT1 in (mice) ."):
        doc = nlp(text)
        found = [{"start": e.start_char, "end": e.end_char, "label": e.label_} for e in doc.ents]
        expected = [{k: span[k] for k in ("start", "end", "label")} for span in tagger.tag_text(text)]
        assert found == expected
        seen += len(found)
    assert seen


def test_raw_text_is_read_as_it_is_and_token_lists_joined_by_spaces(lm_dir):
    _, vocab, _ = load_lm(lm_dir, "forward")
    encoder = Encoder(*(None,) * 2, lowercase=True, normalize_digits=True, lm_chars=vocab)
    joined = encoder._encode_text(["GSK", "-", "3beta"], None, None)
    assert joined == (vocab.ids("\nGSK - 3beta\n"), [1, 5, 7], [3, 5, 11])
    text = "We saw GSK-3beta  here"
    raw = Sentence(["GSK-3beta", "here"], offsets=[(7, 16), (18, 22)], text=text)
    expected = (vocab.ids("\nGSK-3beta  here\n"), [1, 12], [9, 15])
    assert encoder._encode_text(raw.tokens, raw.text, raw.offsets) == expected


def test_lm_train_command_and_its_errors(text, tmp_path, capsys):
    source = tmp_path / "text.txt"
    source.write_text(text, encoding="utf-8")
    args = ["--hidden", "16", "--char-dim", "8", "--bptt", "20", "--batch-size", "4", "--heldout-chars", "500"]
    output = tmp_path / "lm"
    assert main(["lm", "train", "--input", str(source), "--output", str(output), *args, "--no-progress"]) == 0
    assert {"forward.json", "backward.json", "forward.safetensors", "backward.safetensors"} <= {
        p.name for p in output.iterdir()
    }
    assert json.loads((output / "forward.json").read_text())["heldout_bpc"] > 0
    assert main(["lm", "train", "--input", str(source), "--output", str(output), *args]) == 2
    assert "add --resume" in capsys.readouterr().err
    (tmp_path / "empty.txt").write_text("\n\n")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    for bad, message in (("empty.txt", "no text to train on"), ("latin1.txt", "not UTF-8 text (byte 3")):
        assert main(["lm", "train", "--input", str(tmp_path / bad), "--output", str(tmp_path / "x")]) == 2
        assert message in capsys.readouterr().err
    train = ["train", "--train", "corpora/sample/train.tsv", "--output", str(tmp_path / "run")]
    (tmp_path / "not-an-lm").mkdir()
    assert main([*train, "--char-lm", str(tmp_path / "not-an-lm")]) == 2
    assert "is not a character LM: no forward.json" in capsys.readouterr().err


def test_max_chars_takes_whole_documents_spread_over_the_file(tmp_path):
    documents = [f"document {i} " + "x" * 90 for i in range(100)]
    (tmp_path / "text.txt").write_text("\n\n".join(documents))
    chosen = read_text(tmp_path / "text.txt", 2_000).split("\n\n")
    assert 15 <= len(chosen) <= 20 and all(d in documents for d in chosen)
    numbers = [int(d.split()[1]) for d in chosen]
    assert numbers[0] < 10 and numbers[-1] > 90


def test_a_vocabulary_must_start_with_its_special_entries():
    with pytest.raises(LMError, match="starts with <pad>, <unk>"):
        CharVocab(["a", "b"])


def test_a_frozen_lm_reads_each_sentence_once_and_gives_what_it_computes(lm_dir):
    features, encoder, vocab, forward_lm, backward_lm = reader(lm_dir)
    sentences_ = [encoder._encode_text(tokens, None, None) for tokens in (["a", "b"], ["c"] * 5, ["a", "b"])]
    width = max(len(ids) for ids, _, _ in sentences_)
    chars = torch.tensor([ids + [0] * (width - len(ids)) for ids, _, _ in sentences_])
    starts = torch.tensor([s + [0] * (5 - len(s)) for _, s, _ in sentences_])
    ends = torch.tensor([e + [0] * (5 - len(e)) for _, _, e in sentences_])
    lengths = torch.tensor([len(ids) for ids, _, _ in sentences_])
    first = features(chars, lengths, starts, ends)
    assert len(features._caches[False]) == 2  # the repeated sentence once
    assert torch.equal(features(chars, lengths, starts, ends), first)
    computed = features._features(chars, lengths, starts, ends)
    assert torch.allclose(first, computed.masked_fill((ends == 0).unsqueeze(2), 0.0), atol=1e-6)
    with torch.inference_mode():
        assert torch.allclose(features(chars, lengths, starts, ends), first, atol=1e-6)
    assert len(features._caches[True]) == 2


def test_forgetting_empties_the_caches_and_the_features_stay_the_same(lm_dir):
    features, encoder, *_ = reader(lm_dir)
    ids, starts, ends = encoder._encode_text(["a", "b"], None, None)
    inputs = (torch.tensor([ids]), torch.tensor([len(ids)]), torch.tensor([starts]), torch.tensor([ends]))
    first = features(*inputs)
    with torch.inference_mode():
        features(*inputs)
    features.forget()
    assert features._caches == {False: {}, True: {}} and features._cached_tokens == {False: 0, True: 0}
    assert torch.equal(features(*inputs), first)


def test_a_full_cache_is_emptied_without_losing_the_sentences_of_the_batch_it_had(lm_dir, monkeypatch):
    features, encoder, *_ = reader(lm_dir)
    texts = [encoder._encode_text(tokens, None, None) for tokens in (["a", "b"], ["c", "d", "e"], ["f"] * 4)]
    expected = features(*Encoder.collate_texts(texts))
    features.forget()
    monkeypatch.setattr(features, "cache_tokens", 5)
    features(*Encoder.collate_texts(texts[:1]))  # 2 tokens remembered
    found = features(*Encoder.collate_texts(texts))  # the first again, and 7 new tokens: the cache overflows
    assert torch.allclose(found, expected, atol=1e-6)
    assert features._cached_tokens[False] == 9 and len(features._caches[False]) == 3

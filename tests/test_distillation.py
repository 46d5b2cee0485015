"""Knowledge distillation: a teacher's CRF posteriors on raw text (lessons) teach a student beside the gold corpus."""

from __future__ import annotations

import itertools
import json

import pytest
import torch
from safetensors.torch import save_file
from torch.nn.utils.rnn import pad_sequence

from tagger import Tagger, TaggerConfig, recipes
from tagger.batching import Encoder
from tagger.checkpoints import CheckpointError
from tagger.cli.main import main
from tagger.corpus import Corpus, Sentence
from tagger.crf import ConstrainedCRF
from tagger.distillation import Lessons, LessonsError, teach
from tagger.formats import read_corpus, write_corpus
from tagger.training import Trainer


@pytest.fixture(scope="module")
def disease_sample(sample, tmp_path_factory):
    """The bundled sample's train and dev files with their Disease entities only: the teacher's tags."""
    folder = tmp_path_factory.mktemp("disease")
    for split in ("train", "dev"):
        corpus = read_corpus(sample / f"{split}.tsv")
        kept = [Sentence(s.tokens, [t if t.endswith("-Disease") else "O" for t in s.tags]) for s in corpus]
        write_corpus(Corpus(kept, corpus.scheme), folder / f"{split}.tsv")
    return folder / "train.tsv", folder / "dev.tsv"


def random_crf(tags: int, seed: int = 0) -> ConstrainedCRF:
    torch.manual_seed(seed)
    crf = ConstrainedCRF(tags)
    for parameter in crf.parameters():
        torch.nn.init.normal_(parameter)
    return crf


def test_soft_nll_of_one_paths_marginals_and_moves_is_that_paths_nll():
    crf = random_crf(5)
    emissions = torch.randn(3, 6, 5)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2, [True] + [False] * 5])
    tags = torch.randint(0, 5, (3, 6))
    moves = torch.zeros(3, 5, 5)
    for row, length in enumerate(mask.sum(dim=1).tolist()):
        for t in range(length - 1):
            moves[row, tags[row, t], tags[row, t + 1]] += 1
    one_hot = torch.nn.functional.one_hot(tags, 5).float()
    assert crf.soft_nll(emissions, mask, one_hot, moves).item() == pytest.approx(crf.nll(emissions, tags, mask).item())


def test_soft_nll_is_flat_at_the_crfs_own_posteriors():
    """Cross-entropy against itself is least: no gradient to the emissions or the CRF's scores."""
    crf = random_crf(4, seed=1)
    emissions = torch.randn(2, 5, 4, requires_grad=True)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    with torch.no_grad():
        posteriors = crf.posteriors(emissions, mask)
        marginals, moves = posteriors.marginals().float(), posteriors.moves().float()
    crf.soft_nll(emissions, mask, marginals, moves).backward()
    for gradient in (emissions.grad, *(parameter.grad for parameter in crf.parameters())):
        assert gradient.abs().max().item() < 1e-4


def test_moves_are_the_expected_transition_counts_of_every_path():
    crf = random_crf(3, seed=2)
    emissions = torch.randn(2, 4, 3)
    mask = torch.tensor([[True] * 4, [True] * 3 + [False]])
    moves = crf.posteriors(emissions, mask).moves()
    start, transitions, end = (scores.detach().double() for scores in crf.scores())
    for row, length in enumerate(mask.sum(dim=1).tolist()):
        expected, total = torch.zeros(3, 3, dtype=torch.float64), 0.0
        for path in itertools.product(range(3), repeat=length):
            score = start[path[0]] + end[path[-1]] + sum(emissions[row, t, tag].double() for t, tag in enumerate(path))
            score = score + sum(transitions[a, b] for a, b in zip(path, path[1:]))
            weight = score.exp().item()
            total += weight
            for a, b in zip(path, path[1:]):
                expected[a, b] += weight
        assert torch.allclose(moves[row], expected / total, atol=1e-6)


def test_moves_of_forbidden_transitions_are_zero():
    allowed = [[True, True], [False, True]]  # never from tag 1 to tag 0
    crf = ConstrainedCRF(2, ([True, True], allowed, [True, True]))
    moves = crf.posteriors(torch.randn(1, 5, 2), torch.ones(1, 5, dtype=torch.bool)).moves()
    assert moves[0, 1, 0].item() == 0.0
    assert moves.sum().item() == pytest.approx(4.0)


def test_teach_gives_each_sentence_of_the_texts_the_teachers_posteriors(disease_model, disease_texts):
    lessons = teach(disease_model, disease_texts)
    cut = [sentence for group in disease_model.cut([text for text in disease_texts if text]) for sentence in group]
    assert [lesson.sentence.tokens for lesson in lessons] == [sentence.tokens for sentence in cut]
    assert lessons.tags == disease_model.heads[0].tags.items
    predicted = disease_model.predict(cut)
    for lesson, prediction in zip(lessons, predicted):
        assert torch.allclose(lesson.marginals.sum(dim=1), torch.ones(len(lesson.sentence.tokens)), atol=1e-5)
        assert lesson.moves.sum().item() == pytest.approx(len(lesson.sentence.tokens) - 1, abs=1e-4)
        assert not lesson.marginals.is_inference() and not lesson.moves.is_inference()  # a training can save them
        for probabilities, score in zip(lesson.marginals, prediction.token_scores):  # the decoded tag's is among them
            assert (probabilities - score).abs().min().item() < 1e-5
    assert len(teach(disease_model, disease_texts, max_sentences=2)) == 2


def test_lessons_are_saved_and_loaded_as_they_were_and_a_file_of_anything_else_is_refused(
    disease_model, tmp_path, disease_texts
):
    lessons = teach(disease_model, disease_texts)
    path = tmp_path / "lessons.safetensors"
    lessons.save(path)
    loaded = Lessons.load(path)
    assert loaded.tags == lessons.tags and loaded.fingerprint() == lessons.fingerprint()
    for ours, theirs in zip(loaded, lessons, strict=True):
        assert ours.sentence == theirs.sentence
        assert torch.equal(ours.marginals, theirs.marginals) and torch.equal(ours.moves, theirs.moves)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[:-100])
    text = tmp_path / "text.safetensors"
    text.write_text("not lessons\n", encoding="utf-8")
    other = tmp_path / "other.safetensors"  # safetensors, not lessons
    save_file({"marginals": torch.zeros(1, 1), "moves": torch.zeros(1, 1, 1)}, other)
    for bad in (truncated, text, other, tmp_path / "missing.safetensors"):
        with pytest.raises(LessonsError, match=f"{bad.name}: not a lessons file"):
            Lessons.load(bad)


def test_lessons_teach_only_a_student_of_the_teachers_tags(disease_model, disease_texts):
    lessons = teach(disease_model, disease_texts[:1])
    with pytest.raises(LessonsError, match="not the student's"):
        lessons.in_tags(["O", "B-Chemical", "I-Chemical", "E-Chemical", "S-Chemical"])
    reordered = lessons.in_tags(list(reversed(lessons.tags)))
    assert torch.equal(reordered.lessons[0].marginals, lessons.lessons[0].marginals.flip(1))


def test_a_student_learns_the_lessons_beside_the_gold_corpus_and_resumes_only_with_them(
    disease_model, disease_sample, tmp_path, disease_texts
):
    torch.set_num_threads(1)
    train, dev = (read_corpus(path) for path in disease_sample)
    lessons = teach(disease_model, disease_texts * 4)
    config = TaggerConfig(word_dim=16, char_dim=8, char_hidden=8, hidden=16, epochs=2, lr=0.02, batch_size=4)
    student = Tagger.build(config, train, lessons.texts())
    trainer = Trainer(student, train, dev, tmp_path / "run", lessons=lessons)
    assert len(trainer.train) == len(train) + len(lessons)
    batches = trainer.batches()
    assert all(max(batch) < len(train) or min(batch) >= len(train) for batch in batches)  # gold or lessons, not both

    def soft_loss() -> float:
        student.model.eval()
        with torch.no_grad():
            batch = Encoder.collate(trainer.train[len(train) :])
            marginals = pad_sequence([lesson.marginals for lesson in lessons], batch_first=True)
            moves = torch.stack([lesson.moves for lesson in lessons])
            return student.model.soft_loss(batch, marginals, moves).item()

    before = soft_loss()
    trainer.fit()
    assert soft_loss() < before
    with pytest.raises(CheckpointError, match="with lessons"):
        Trainer.resume(tmp_path / "run", train, dev)
    with pytest.raises(CheckpointError, match="with other lessons"):
        Trainer.resume(tmp_path / "run", train, dev, lessons=teach(disease_model, disease_texts[:1]))
    resumed = Trainer.resume(tmp_path / "run", train, dev, lessons=lessons)
    assert resumed.epoch == 2


def test_a_recipe_takes_the_lessons_words_with_a_vector_into_the_vocabulary(
    disease_model, disease_sample, tmp_path, disease_texts
):
    train, dev = (read_corpus(path) for path in disease_sample)
    lessons = teach(disease_model, disease_texts)
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("2 3\nreviewers 0.1 0.2 0.3\npatients 0.3 0.2 0.1\n", encoding="utf-8")
    config = TaggerConfig(word_dim=3, char_dim=8, char_hidden=8, hidden=8, vectors=str(vectors))
    assert "reviewers" not in {token.lower() for sentence in train for token in sentence.tokens}
    taught, untaught = (
        recipes.start(config, train, dev, tmp_path / name, lessons=given).tagger.encoder.word_vocab
        for name, given in (("taught", lessons), ("untaught", None))
    )
    assert "reviewers" in taught and "reviewers" not in untaught


def test_teach_and_train_with_lessons_on_the_command_line(disease_sample, tmp_path, capsys, disease_texts):
    text = tmp_path / "unlabelled.txt"
    text.write_text("\n".join(disease_texts * 3) + "\n", encoding="utf-8")
    lessons = tmp_path / "lessons.safetensors"
    assert main(["teach", "--model", "ncbi-disease-fast", "--input", str(text), "--output", str(lessons)]) == 0
    assert f"wrote {lessons}: 15 sentences" in capsys.readouterr().err
    output = tmp_path / "run"
    train = ["train", "--train", str(disease_sample[0]), "--dev", str(disease_sample[1])]
    quick = ["--epochs", "1", "--set", "hidden=16", "--set", "char_hidden=8", "--no-progress"]
    assert main([*train, "--lessons", str(lessons), "--output", str(output), *quick]) == 0
    card = json.loads((output / "model" / "meta.json").read_text())
    (head,) = card["heads"]
    assert head["lessons"] == {"source": str(lessons), "sentences": 15}
    assert any("distillation" in limit for limit in card["limits"])


def test_teach_and_train_refuse_bad_lessons_and_outputs_over_their_inputs(
    disease_sample, sample, tmp_path, capsys, disease_texts
):
    text = tmp_path / "unlabelled.txt"
    text.write_text(disease_texts[0] + "\n", encoding="utf-8")
    assert main(["teach", "--model", "ncbi-disease-fast", "--input", str(text), "--output", str(text)]) == 2
    assert text.read_text(encoding="utf-8") == disease_texts[0] + "\n"
    capsys.readouterr()
    train = ["train", "--train", str(disease_sample[0]), "--dev", str(disease_sample[1]), "--no-progress"]
    assert main([*train, "--lessons", str(text), "--output", str(tmp_path / "run")]) == 2
    assert f"{text}: not a lessons file" in capsys.readouterr().err
    chemical = main(["teach", "--model", "ncbi-disease-fast", "--input", str(text), "--output", str(tmp_path / "l")])
    assert chemical == 0
    capsys.readouterr()
    wrong = ["train", "--train", str(sample / "train.tsv"), "--dev", str(sample / "dev.tsv"), "--epochs", "1"]
    assert main([*wrong, "--lessons", str(tmp_path / "l"), "--output", str(tmp_path / "other"), "--no-progress"]) == 2
    assert "not the student's" in capsys.readouterr().err

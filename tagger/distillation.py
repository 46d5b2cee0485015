"""Knowledge distillation (Hinton et al. 2015; for CRF taggers, Wang et al. 2020): a teacher, typically an ensemble,
reads unlabelled text, and a student learns its CRF posteriors there beside the gold corpus.

What the student learns of a sentence is the teacher's distribution over tag sequences, through what a CRF's score
reads of it: each token's tag marginals and the expected count of each transition (``Lesson``). The student's loss on
it is the cross-entropy of its own sequence distribution against that one (``ConstrainedCRF.soft_nll``), the gold
likelihood's generalisation: on the gold path's one-hot marginals and counts the two are equal.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from .corpus import Sentence
from .files import atomic_write
from .self_training import TEXTS_AT_ONCE, text_groups
from .tagger import Tagger

FORMAT = "tagger lessons 1"  # the metadata's "format": what ``load`` reads


class LessonsError(ValueError):
    """A file that holds no lessons, or lessons that cannot teach this student."""


@dataclass
class Lesson:
    """The teacher's posteriors of one sentence, in the tag ids of ``Lessons.tags``."""

    sentence: Sentence
    marginals: torch.Tensor  # shape: (tokens, num_tags), P(tag) per token
    moves: torch.Tensor  # shape: (num_tags, num_tags), expected count of each transition


@dataclass
class Lessons:
    """A teacher's lessons and the tags their columns stand for."""

    tags: list[str]
    lessons: list[Lesson]

    def __len__(self) -> int:
        return len(self.lessons)

    def __iter__(self) -> Iterator[Lesson]:
        return iter(self.lessons)

    def texts(self) -> list[list[str]]:
        """Each lesson's tokens: words a student's vocabulary takes in, as it takes dev's and test's."""
        return [lesson.sentence.tokens for lesson in self.lessons]

    def in_tags(self, tags: Sequence[str]) -> "Lessons":
        """The lessons with their columns in the order of ``tags`` (a student's), which must be the same tags."""
        if sorted(tags) != sorted(self.tags):
            raise LessonsError(
                f"the teacher's tags {self.tags} are not the student's {list(tags)}: train on its corpus"
            )
        order = torch.tensor([self.tags.index(tag) for tag in tags])
        return Lessons(
            list(tags),
            [
                Lesson(lesson.sentence, lesson.marginals[:, order], lesson.moves[order][:, order])
                for lesson in self.lessons
            ],
        )

    def fingerprint(self) -> str:
        """SHA-256 (hex) of the tags, each sentence's tokens and the posteriors' bytes, in order."""
        digest = hashlib.sha256("\x1f".join(self.tags).encode("utf-8"))
        for lesson in self.lessons:
            digest.update("\x1f".join(lesson.sentence.tokens).encode("utf-8") + b"\x1e")
            digest.update(lesson.marginals.numpy().tobytes() + lesson.moves.numpy().tobytes())
        return digest.hexdigest()

    def save(self, path: str | Path) -> None:
        """Write the lessons to ``path``, atomically: safetensors of every token's marginals, one sentence after
        another, and each sentence's moves; the tags and sentences (tokens, text, offsets) as JSON in its metadata."""
        sentences = [
            {"tokens": s.tokens, "text": s.text, "offsets": s.offsets} for s in (lesson.sentence for lesson in self)
        ]
        tensors = {
            "marginals": torch.cat([lesson.marginals for lesson in self.lessons]).contiguous(),
            "moves": torch.stack([lesson.moves for lesson in self.lessons]).contiguous(),
        }
        metadata = {"format": FORMAT, "tags": json.dumps(self.tags), "sentences": json.dumps(sentences)}
        with atomic_write(path, "wb") as out:
            out.write(save(tensors, metadata))

    @classmethod
    def load(cls, path: str | Path) -> "Lessons":
        """The lessons ``save`` wrote to ``path``; ``LessonsError`` naming it for anything else. Runs no code of
        the file's."""
        path = Path(path)
        try:
            with safe_open(path, "pt") as opened:
                metadata = opened.metadata() or {}
                tensors = {name: opened.get_tensor(name) for name in opened.keys()}
        except (OSError, SafetensorError, ValueError) as error:
            raise LessonsError(f"{path}: not a lessons file (tagger teach writes them): {error}") from None
        if metadata.get("format") != FORMAT or set(tensors) != {"marginals", "moves"}:
            raise LessonsError(f"{path}: not a lessons file (tagger teach writes them)")
        try:
            tags, sentences = json.loads(metadata["tags"]), json.loads(metadata["sentences"])
            marginals, moves = tensors["marginals"].float(), tensors["moves"].float()
            sizes = [len(sentence["tokens"]) for sentence in sentences]
            lessons = [
                Lesson(Sentence(s["tokens"], offsets=_offsets(s["offsets"]), text=s["text"]), rows, moved)
                for s, rows, moved in zip(sentences, marginals.split(sizes), moves, strict=True)
            ]
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise LessonsError(f"{path}: lessons file damaged ({error})") from None
        shapes = marginals.shape == (sum(sizes), len(tags)) and moves.shape == (len(sentences), len(tags), len(tags))
        probabilities = all(bool(((t >= 0) & t.isfinite()).all()) for t in (marginals, moves))
        if not shapes or not all(sizes) or not probabilities:
            raise LessonsError(f"{path}: lessons file damaged (its posteriors do not fit its sentences and tags)")
        return cls(tags, lessons)


def _offsets(offsets: list | None) -> list[tuple[int, int]] | None:
    return None if offsets is None else [(int(start), int(end)) for start, end in offsets]


def teach(
    teacher: Tagger,
    texts: Iterable[str],
    max_sentences: int | None = None,
    batch_size: int = 256,
    head: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Lessons:
    """The lessons of ``teacher``'s head ``head`` (by default its first) on the sentences of raw ``texts`` (cut by
    its tokenizer): at most ``max_sentences``, the first. ``progress`` is called with the number of texts read and
    of sentences taught after each group of texts."""
    lessons: list[Lesson] = []
    for group in text_groups(iter(texts), TEXTS_AT_ONCE):
        sentences = [sentence for cut in teacher.cut(group) for sentence in cut if sentence.tokens]
        if max_sentences is not None:
            del sentences[max_sentences - len(lessons) :]
        lessons += lessons_of(teacher, sentences, batch_size, head)
        if progress is not None:
            progress(len(group), len(lessons))
        if max_sentences is not None and len(lessons) >= max_sentences:
            break
    return Lessons(list(teacher.chosen_heads(head or teacher.head_names[0])[0].tags.items), lessons)


def lessons_of(
    teacher: Tagger, sentences: Sequence[Sentence], batch_size: int = 256, head: str | None = None
) -> list[Lesson]:
    """The teacher's lessons on ``sentences`` (each of a token or more), in its head's internal tags."""
    found: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    for indices, posteriors in teacher.posteriors(sentences, batch_size, head):
        marginals, moves = posteriors.marginals().float(), posteriors.moves().float()
        for row, index in enumerate(indices):
            found[index] = marginals[row, : len(sentences[index])], moves[row]
    # copied once predict's inference mode has ended: tensors a training may use like any other
    return [Lesson(sentence, *(part.clone() for part in found[n])) for n, sentence in enumerate(sentences)]

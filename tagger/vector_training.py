"""In-domain word vectors: word2vec or fastText (skip-gram) trained by gensim on raw text."""

from __future__ import annotations

import logging
import tempfile
import time
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Iterator

from gensim.models import FastText, Word2Vec
from gensim.models.callbacks import CallbackAny2Vec
from gensim.models.fasttext import save_facebook_model

from .files import atomic_path
from .reading import BOM, DEFAULT_ENCODING, check_text_file, codec, text_lines
from .text import DEFAULT_TOKENIZER, sentences, tokenize
from .vectors import VectorsError

ALGORITHMS = ("word2vec", "fasttext")
logger = logging.getLogger(__name__)


def is_pretokenized(path: str | Path, lines: int = 200, share: float = 0.9, encoding: str = DEFAULT_ENCODING) -> bool:
    """Whether ``path`` holds text tokenised with single spaces: tokenising again leaves at least
    ``share`` of its first ``lines`` non-blank lines as they are."""
    sample = [
        line.rstrip("\n") for line in islice((line for line in text_lines(path, encoding) if line.strip()), lines)
    ]
    same = sum(tokenize(line).tokens == line.split(" ") for line in sample)
    return bool(sample) and same >= share * len(sample)


@contextmanager
def tokenized(
    path: str | Path, pretokenized: bool, encoding: str = DEFAULT_ENCODING, tokenizer: str = DEFAULT_TOKENIZER
) -> Iterator[Path]:
    """``path`` as UTF-8, one sentence per line of space-separated tokens: itself if ``pretokenized`` (and
    UTF-8 without a byte-order mark), else a temporary file of its lines split into sentences and tokens
    by ``tagger.text`` with the rules ``tokenizer`` (or only re-encoded, if ``pretokenized``). Text that is
    not in ``encoding`` is an ``EncodingError`` naming the byte offset; text without a word, a ``VectorsError``."""
    path = Path(path)
    if pretokenized and codec(encoding) == "utf-8":
        check_text_file(path, encoding)
        with open(path, "rb") as handle:
            plain = not handle.read(3).decode("utf-8", "replace").startswith(BOM)
        if plain:
            yield path
            return
    with tempfile.TemporaryDirectory(prefix="tagger-vectors-") as directory:
        out_path, words = Path(directory) / "tokenized.txt", 0
        with open(out_path, "w", encoding="utf-8") as out:
            for line in text_lines(path, encoding):
                split = (
                    [line.split()]
                    if pretokenized
                    else [sentence.tokens for sentence in sentences(line, tokenizer=tokenizer)]
                )
                out.writelines(" ".join(tokens) + "\n" for tokens in split if tokens)
                words += sum(len(tokens) for tokens in split)
        if not words:
            raise VectorsError(f"{path}: no words to train vectors on (the file is empty or only whitespace)")
        yield out_path


def train_vectors(
    corpus_file: Path,
    algorithm: str,
    dim: int,
    epochs: int = 5,
    min_count: int = 5,
    window: int = 5,
    threads: int = 1,
    seed: int = 13,
    buckets: int = 500_000,
    callbacks: tuple[CallbackAny2Vec, ...] = (),
    source: str | Path | None = None,
) -> Word2Vec:
    """Train skip-gram vectors on ``corpus_file`` (one sentence per line, tokens separated by spaces).

    ``fasttext`` also learns vectors for character 3- to 6-grams, hashed into ``buckets`` rows.
    ``source`` names the text in errors (default: ``corpus_file``).
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}, not {algorithm!r}")
    options = dict(vector_size=dim, window=window, min_count=min_count, workers=threads, epochs=epochs, seed=seed)
    if algorithm == "fasttext":
        model = FastText(sg=1, bucket=buckets, **options)
    else:
        model = Word2Vec(sg=1, **options)
    model.build_vocab(corpus_file=str(corpus_file))
    if not len(model.wv):
        raise VectorsError(f"{source or corpus_file}: no word occurs {min_count} times or more; lower --min-count")
    model.train(
        corpus_file=str(corpus_file),
        total_words=model.corpus_total_words,
        total_examples=model.corpus_count,
        epochs=epochs,
        callbacks=list(callbacks),
    )
    return model


def save_vectors(model: Word2Vec, path: str | Path) -> None:
    """Write ``model`` atomically: a ``.bin`` fastText model in fastText's format (subwords kept), a ``.bin``
    word2vec model in word2vec's binary format; any other name gets word2vec's text format."""
    path = Path(path)
    with atomic_path(path) as temporary:
        if isinstance(model, FastText) and path.suffix == ".bin":
            save_facebook_model(model, str(temporary))
        else:
            model.wv.save_word2vec_format(str(temporary), binary=path.suffix == ".bin")


class EpochProgress(CallbackAny2Vec):
    """A tqdm bar over the epochs; without ``bar``, a log line per finished epoch with its time."""

    def __init__(self, epochs: int, bar: bool = True):
        from tqdm import tqdm

        self.epochs, self.epoch = epochs, 0
        self.bar = tqdm(total=epochs, desc="training vectors", unit="epoch", disable=not bar)

    def on_epoch_begin(self, model) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, model) -> None:
        self.epoch += 1
        self.bar.update()
        if self.bar.disable:
            logger.info("epoch %d/%d: %.1fs", self.epoch, self.epochs, time.perf_counter() - self.started)

    def on_train_end(self, model) -> None:
        self.bar.close()

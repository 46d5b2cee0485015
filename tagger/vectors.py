"""Pretrained word vectors: reading the common formats, and the word vocabulary they extend.

gensim reads word2vec (text and binary), GloVe and fastText (``.vec`` and ``.bin``) files;
spaCy reads pipeline and vectors directories. Each table is read once into one array; only
the rows a model needs are copied out of it.
"""

from __future__ import annotations

import logging
from collections import Counter
from itertools import chain
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from .config import VECTOR_FORMATS
from .vocab import Vocab, normalize_word

FASTTEXT_MAGIC = 793712314  # first four bytes (little-endian int32) of a fastText .bin model
logger = logging.getLogger(__name__)


class VectorsError(ValueError):
    """A vectors file that cannot be read in the format asked for, or text too small to train vectors on."""


class WordVectors:
    """A pretrained table: the vectors of the words it lists, and with subwords (fastText, floret), any word's."""

    dim: int
    size: int  # words listed
    subwords: bool

    def vector(self, word: str) -> np.ndarray | None:
        """The vector the table lists for ``word`` exactly, if any."""
        raise NotImplementedError

    def subword_vector(self, word: str) -> np.ndarray | None:
        """A vector built from ``word``'s character n-grams; ``None`` for tables without subwords."""
        return None

    def first_words(self, n: int) -> list[str]:
        """The first ``n`` words the table lists, in its order (the most frequent first, in the usual files)."""
        raise NotImplementedError


class GensimVectors(WordVectors):
    """A gensim ``KeyedVectors`` (``FastTextKeyedVectors`` for fastText ``.bin`` models)."""

    def __init__(self, keyed):
        self.keyed = keyed
        self.dim, self.size = keyed.vector_size, len(keyed.key_to_index)
        self.subwords = getattr(keyed, "bucket", 0) > 0

    def vector(self, word: str) -> np.ndarray | None:
        index = self.keyed.key_to_index.get(word)
        return None if index is None else self.keyed.vectors[index]

    def subword_vector(self, word: str) -> np.ndarray | None:
        if not self.subwords:
            return None
        vector = self.keyed.get_vector(word)
        return vector if vector.any() else None

    def first_words(self, n: int) -> list[str]:
        return list(self.keyed.index_to_key[:n])


class SpacyVectors(WordVectors):
    """A spaCy ``Vectors`` table, keyed by string hashes; floret tables have subwords."""

    def __init__(self, vectors):
        from spacy.strings import hash_string

        self.table, self._hash = vectors, hash_string
        self.dim, self.size = vectors.shape[1], len(vectors.key2row)
        self.subwords = vectors.mode == "floret"

    def vector(self, word: str) -> np.ndarray | None:
        if self.subwords:
            return None
        row = self.table.key2row.get(self._hash(word))
        return None if row is None else np.asarray(self.table.data[row])

    def subword_vector(self, word: str) -> np.ndarray | None:
        return np.asarray(self.table.get_batch([word])[0]) if self.subwords else None

    def first_words(self, n: int) -> list[str]:
        """Words by row, as far as the table's strings name them (a pipeline's do; a bare ``Vectors`` directory's
        and a floret table's do not)."""
        if not n:
            return []
        named = [key for key in sorted(self.table.key2row, key=self.table.key2row.get) if key in self.table.strings]
        if len(named) < min(n, self.size):
            logger.warning("the spaCy table names %d of its %d words (no strings.json?)", len(named), self.size)
        return [self.table.strings[key] for key in named[:n]]


def read_vectors(path: str | Path, kind: str = "auto") -> WordVectors:
    """Read a vectors file (or spaCy directory) in format ``kind``; ``auto`` detects it (see ``detect_format``)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"vectors not found: {path}")
    if kind not in VECTOR_FORMATS:
        raise VectorsError(f"unknown vectors format {kind!r}; known: {', '.join(VECTOR_FORMATS)}")
    if path.is_file() and path.stat().st_size == 0:
        raise VectorsError(f"{path}: the vectors file is empty")
    kind = detect_format(path) if kind == "auto" else kind
    try:
        table = _read(path, kind)
    except Exception as error:  # gensim and spaCy fail on foreign files in many ways
        text = kind in ("word2vec", "glove", "fasttext") and path.is_file() and not _is_fasttext_bin(path)
        where = _bad_line(path, header=kind != "glove") if text else None
        reason = where or f"{type(error).__name__}: {error}"
        raise VectorsError(f"{path}: cannot read as {kind} vectors ({reason})") from None
    logger.info("read %d %d-dimensional %s vectors from %s", table.size, table.dim, kind, path)
    return table


def _read(path: Path, kind: str) -> WordVectors:
    from gensim.models import KeyedVectors

    if kind == "spacy":
        return SpacyVectors(_spacy_vectors(path))
    if kind == "fasttext" and _is_fasttext_bin(path):
        from gensim.models.fasttext import load_facebook_vectors

        return GensimVectors(load_facebook_vectors(str(path)))
    return GensimVectors(
        KeyedVectors.load_word2vec_format(str(path), binary=kind == "word2vec-binary", no_header=kind == "glove")
    )


def _spacy_vectors(path: Path):
    """The ``Vectors`` of a spaCy pipeline directory, its ``vocab`` directory, or a ``Vectors.to_disk`` one."""
    from spacy.strings import StringStore
    from spacy.vectors import Vectors

    for directory in (path / "vocab", path):
        if (directory / "vectors.cfg").is_file() or (directory / "key2row").is_file():
            strings = StringStore()
            if (directory / "strings.json").is_file():
                strings.from_disk(directory / "strings.json")
            return Vectors(strings=strings).from_disk(directory)
    raise ValueError("not a spaCy pipeline or vectors directory (no vectors.cfg or key2row found)")


def detect_format(path: Path) -> str:
    """The format of a vectors file: a directory is spaCy's; a fastText ``.bin`` starts with its magic number;
    a header ``WORDS DIM`` line means word2vec (text when the next line reads as a word and numbers, else
    binary); anything else is GloVe."""
    if path.is_dir():
        return "spacy"
    if _is_fasttext_bin(path):
        return "fasttext"
    from gensim.utils import open as open_any

    with open_any(str(path), "rb") as handle:
        header, first = handle.readline(4096).split(), handle.readline(1 << 20)
    if len(header) == 2 and all(field.isdigit() for field in header):
        return "word2vec" if _is_text_vector(first) else "word2vec-binary"
    return "glove"


def _is_fasttext_bin(path: Path) -> bool:
    with open(path, "rb") as handle:
        return int.from_bytes(handle.read(4), "little") == FASTTEXT_MAGIC


def _is_text_vector(line: bytes) -> bool:
    """Whether ``line`` reads as UTF-8 text of a word and numbers (binary vectors are seldom valid UTF-8)."""
    try:
        fields = line.decode("utf-8").split()
        return len(fields) > 1 and all(np.isfinite(float(value)) for value in fields[1:])
    except ValueError:
        return False


def _bad_line(path: Path, header: bool) -> str | None:
    """The first line of a text vectors file that is not a word and as many numbers as the others."""
    from gensim.utils import open as open_any

    dim = None
    with open_any(str(path), "rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                fields = raw.decode("utf-8").rstrip().split(" ")
                numbers = [float(value) for value in fields[1:]]
            except ValueError as error:
                return f"line {number}: {error}"
            if number == 1 and header:  # words and dimension
                dim = int(numbers[0]) if len(numbers) == 1 else None
                continue
            dim = dim or len(fields) - 1
            if len(fields) != dim + 1:
                return f"line {number}: expected a word and {dim} numbers, found {len(fields) - 1}"
    return None


def vocabulary_with_vectors(
    vectors: WordVectors,
    train: Iterable[str],
    texts: Iterable[str],
    lowercase: bool,
    normalize_digits: bool,
    min_count: int = 1,
) -> tuple[Vocab, torch.Tensor]:
    """The word vocabulary of Lample et al.: training words, and the words of ``texts`` that have a vector.

    ``train`` and ``texts`` are tokens (``texts``: those of the other corpora to be tagged, and any
    of the table's words kept whether or not a text has them). A
    word is keyed by its ``normalize_word`` form; its vector is the table's for the first of
    its key, the token as written, lowercased, lowercased with digits as 0; failing those,
    a subword vector of the token where the table has subwords. Specials and training words
    without a vector come first (training words by ``min_count``), then the words with one,
    whose vectors are returned, shape (words with a vector, dim), in vocabulary order.
    """
    train = list(train)
    found: dict[str, np.ndarray] = {}
    how: Counter[str] = Counter()
    for token in dict.fromkeys(chain(train, texts)):  # distinct tokens, training ones first
        key = normalize_word(token, lowercase, normalize_digits)
        if key in found:
            continue
        vector, kind = _lookup(vectors, key, token)
        if vector is not None:
            found[key] = vector
            how[kind] += 1
    counts = Counter(normalize_word(token, lowercase, normalize_digits) for token in train)
    learned = Vocab.build(Counter({key: n for key, n in counts.items() if key not in found}), min_count)
    with_vectors = sorted(found, key=lambda key: (-counts[key], key))
    in_train = sum(key in counts for key in found)
    logger.info(
        "pretrained vectors for %d of %d training words (%.1f%%) and %d other words (of the other texts, or kept): %s",
        in_train,
        len(counts),
        100 * in_train / max(len(counts), 1),
        len(found) - in_train,
        ", ".join(f"{n} {kind}" for kind, n in how.most_common()) or "none found",
    )
    rows = np.stack([found[key] for key in with_vectors]) if found else np.zeros((0, vectors.dim), np.float32)
    return Vocab([*learned.items, *with_vectors]), torch.tensor(rows, dtype=torch.float32)


def _lookup(vectors: WordVectors, key: str, token: str) -> tuple[np.ndarray | None, str]:
    """The vector of the first form of ``token`` the table lists (or of its subwords), and how it was found."""
    lowered = token.lower()
    for form in dict.fromkeys((key, token, lowered, normalize_word(token, True, True))):
        vector = vectors.vector(form)
        if vector is not None:
            return vector, "exact" if form == token else "lowercased" if form == lowered else "digit-normalised"
    return vectors.subword_vector(token), "subword"

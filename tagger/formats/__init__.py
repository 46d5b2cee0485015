"""Corpus readers and writers, one module per format, chosen by file extension."""

from __future__ import annotations

from pathlib import Path

from ..corpus import Corpus, CorpusFormatError
from . import conll

READERS = dict.fromkeys(conll.EXTENSIONS, conll.read)
WRITERS = dict.fromkeys(conll.EXTENSIONS, conll.write)


def read_corpus(path: str | Path) -> Corpus:
    """Read a corpus file in the format its extension names."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise CorpusFormatError(f"{path}: unknown corpus format {path.suffix!r}; expected one of {', '.join(READERS)}")
    if not path.is_file():
        raise FileNotFoundError(f"corpus file not found: {path}")
    return reader(path)


def write_corpus(corpus: Corpus, path: str | Path) -> None:
    """Write ``corpus`` in the format the extension of ``path`` names."""
    path = Path(path)
    writer = WRITERS.get(path.suffix.lower())
    if writer is None:
        raise CorpusFormatError(f"{path}: unknown corpus format {path.suffix!r}; expected one of {', '.join(WRITERS)}")
    writer(corpus, path)

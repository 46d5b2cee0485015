"""Corpus readers and writers, one module per format, chosen by name or by file extension."""

from __future__ import annotations

from pathlib import Path

from ..corpus import Corpus, CorpusFormatError
from . import conll, jsonl, pubtator, semeval

FORMATS = {"conll": conll, "semeval": semeval, "jsonl": jsonl, "pubtator": pubtator}
LENIENT = ("semeval", "jsonl", "pubtator")  # formats whose readers can skip bad sentences or documents
EXTENSIONS = {extension: name for name, module in FORMATS.items() for extension in module.EXTENSIONS}


def format_of(path: str | Path, format: str | None = None) -> str:
    """``format`` checked, or else the format that the extension of ``path`` names."""
    if format is not None:
        if format not in FORMATS:
            raise CorpusFormatError(f"unknown corpus format {format!r}; expected one of {', '.join(FORMATS)}")
        return format
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        raise CorpusFormatError(
            f"{path}: unknown corpus format {suffix!r}; expected one of {', '.join(EXTENSIONS)} "
            f"or a format named explicitly ({', '.join(FORMATS)})"
        )
    return EXTENSIONS[suffix]


def read_corpus(
    path: str | Path, format: str | None = None, lenient: bool = False, columns: tuple[int, int] | None = None
) -> Corpus:
    """Read a corpus file in ``format`` (default: by extension).

    With ``lenient``, formats in ``LENIENT`` skip and count bad sentences or documents
    instead of raising; CoNLL files are always read strictly. ``columns`` is the ``(token,
    tag)`` column pair of CoNLL files (default: the first and the last); other formats have
    no columns and ignore it.
    """
    path = Path(path)
    name = format_of(path, format)
    if not path.is_file():
        raise FileNotFoundError(f"corpus file not found: {path}")
    if name == "conll" and columns is not None:
        return conll.read(path, *columns)
    if lenient and name in LENIENT:
        return FORMATS[name].read(path, lenient=True)
    return FORMATS[name].read(path)


def write_corpus(corpus: Corpus, path: str | Path, format: str | None = None) -> None:
    """Write ``corpus`` in ``format`` (default: by the extension of ``path``), atomically."""
    FORMATS[format_of(path, format)].write(corpus, path)

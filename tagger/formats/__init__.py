"""Corpus readers and writers, one module per format, chosen by name or by file extension."""

from __future__ import annotations

from pathlib import Path

from ..corpus import Corpus, CorpusFormatError
from ..reading import codec
from ..text import DEFAULT_TOKENIZER, check_tokenizer
from . import conll, jsonl, pubtator, semeval

FORMATS = {"conll": conll, "semeval": semeval, "jsonl": jsonl, "pubtator": pubtator}
RAW_TEXT = ("semeval", "jsonl", "pubtator")  # formats of raw text and character spans: their readers tokenise
LENIENT = RAW_TEXT  # formats whose readers can skip bad sentences or documents
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
    path: str | Path,
    format: str | None = None,
    lenient: bool = False,
    columns: tuple[int, int] | None = None,
    encoding: str | None = None,
    tokenizer: str = DEFAULT_TOKENIZER,
) -> Corpus:
    """Read a corpus file in ``format`` (default: by extension).

    With ``lenient``, formats in ``LENIENT`` skip and count bad sentences or documents
    instead of raising; CoNLL files are always read strictly. ``columns`` is the ``(token,
    tag)`` column pair of CoNLL files (default: the first and the last); other formats have
    no columns and ignore it. ``encoding`` is the file's (default UTF-8; XML files declare
    their own, which it overrides); a byte-order mark is dropped, and bytes that are not
    text in the encoding are a ``CorpusFormatError`` naming their offset. Formats in ``RAW_TEXT``
    cut their text into tokens by the rules ``tokenizer`` (``text.TOKENIZERS``); CoNLL files
    are tokenised already.
    """
    path = Path(path)
    name = format_of(path, format)
    check_tokenizer(tokenizer)
    if path.is_dir():
        raise CorpusFormatError(f"{path} is a folder; expected a corpus file")
    if not path.is_file():
        raise FileNotFoundError(f"corpus file not found: {path}")
    options = {"encoding": codec(encoding)} if encoding is not None else {}
    if name in RAW_TEXT:
        options["tokenizer"] = tokenizer
    if name == "conll" and columns is not None:
        return conll.read(path, *columns, **options)
    if lenient and name in LENIENT:
        return FORMATS[name].read(path, lenient=True, **options)
    return FORMATS[name].read(path, **options)


def write_corpus(corpus: Corpus, path: str | Path, format: str | None = None) -> None:
    """Write ``corpus`` in ``format`` (default: by the extension of ``path``), atomically."""
    FORMATS[format_of(path, format)].write(corpus, path)

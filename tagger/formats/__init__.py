"""Corpus readers and writers, one module per format, chosen by name or by file extension."""

from __future__ import annotations

from pathlib import Path

from ..corpus import Corpus, CorpusFormatError
from ..reading import codec
from ..text import DEFAULT_TOKENIZER, check_tokenizer
from . import brat, conll, docbin, jsonl, pubtator, semeval

FORMATS = {"conll": conll, "semeval": semeval, "jsonl": jsonl, "pubtator": pubtator, "brat": brat, "spacy": docbin}
RAW_TEXT = ("semeval", "jsonl", "pubtator", "brat")  # formats of raw text and character spans: their readers tokenise
LENIENT = (*RAW_TEXT, "spacy")  # formats whose readers can skip bad sentences, documents or files
BINARY = ("spacy",)  # formats without a text encoding
FOLDERS = {"brat": "**/*.ann", "spacy": "*.spacy"}  # formats that a folder can hold, and its files of them
EXTENSIONS = {extension: name for name, module in FORMATS.items() for extension in module.EXTENSIONS}


def format_of(path: str | Path, format: str | None = None) -> str:
    """``format`` checked, or else the format that the extension of ``path`` names (for a folder: the format of
    the files in it, BRAT's ``.ann`` or DocBin's ``.spacy``)."""
    if format is not None:
        if format not in FORMATS:
            raise CorpusFormatError(f"unknown corpus format {format!r}; expected one of {', '.join(FORMATS)}")
        return format
    if Path(path).is_dir():
        return _folder_format(Path(path))
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        raise CorpusFormatError(
            f"{path}: unknown corpus format {suffix!r}; expected one of {', '.join(EXTENSIONS)} "
            f"or a format named explicitly ({', '.join(FORMATS)})"
        )
    return EXTENSIONS[suffix]


def _folder_format(path: Path) -> str:
    """The format of ``FOLDERS`` whose files the folder ``path`` holds (BRAT's anywhere beneath it)."""
    found = [name for name, files in FOLDERS.items() if next(path.glob(files), None)]
    if len(found) != 1:
        raise CorpusFormatError(
            f"{path} is a folder; expected a corpus file, or a folder of BRAT standoff (.txt and .ann) or of spaCy "
            f"DocBin (.spacy) files" + (f", not both (name one with a format: {', '.join(found)})" if found else "")
        )
    return found[0]


def read_corpus(
    path: str | Path,
    format: str | None = None,
    lenient: bool = False,
    columns: tuple[int, int] | None = None,
    encoding: str | None = None,
    tokenizer: str = DEFAULT_TOKENIZER,
) -> Corpus:
    """Read a corpus file, or a folder of BRAT or DocBin files, in ``format`` (default: by extension, ``format_of``).

    With ``lenient``, formats in ``LENIENT`` skip and count bad sentences or documents
    instead of raising; CoNLL files are always read strictly. ``columns`` is the ``(token,
    tag)`` column pair of CoNLL files (default: the first and the last); other formats have
    no columns and ignore it. ``encoding`` is the file's (default UTF-8; XML files declare
    their own, which it overrides); a byte-order mark is dropped, and bytes that are not
    text in the encoding are a ``CorpusFormatError`` naming their offset (DocBin files have no
    encoding). Formats in ``RAW_TEXT`` cut their text into tokens by the rules ``tokenizer``
    (``text.TOKENIZERS``); CoNLL and DocBin files are tokenised already.
    """
    path = Path(path)
    name = format_of(path, format)
    check_tokenizer(tokenizer)
    if path.is_dir() and name not in FOLDERS:
        raise CorpusFormatError(f"{path} is a folder; expected a corpus file (a folder holds {' or '.join(FOLDERS)})")
    if not path.exists():
        raise FileNotFoundError(f"corpus file not found: {path}")
    options = {"encoding": codec(encoding)} if encoding is not None and name not in BINARY else {}
    if name in RAW_TEXT:
        options["tokenizer"] = tokenizer
    if name == "conll" and columns is not None:
        return conll.read(path, *columns, **options)
    if lenient and name in LENIENT:
        return FORMATS[name].read(path, lenient=True, **options)
    return FORMATS[name].read(path, **options)


def write_corpus(corpus: Corpus, path: str | Path, format: str | None = None) -> None:
    """Write ``corpus`` in ``format`` (default: by the extension of ``path``), atomically (BRAT: file by file, into
    the folder ``path``)."""
    FORMATS[format_of(path, format)].write(corpus, path)

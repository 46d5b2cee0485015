"""CoNLL-style files: one token per line with its tag in a column, blank lines between sentences."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from ..corpus import Corpus, CorpusFormatError, Sentence
from ..files import atomic_write
from ..reading import DEFAULT_ENCODING, read_text
from ..schemes import SchemeError, repair, split_tag

EXTENSIONS = (".tsv", ".conll", ".txt", ".iob", ".bio")
UNWRITABLE = re.compile("[\t\n\r]")  # what the reader splits fields and lines on
logger = logging.getLogger(__name__)


def read(path: str | Path, token_column: int = 0, tag_column: int = -1, encoding: str = DEFAULT_ENCODING) -> Corpus:
    """Read tokens and tags; ``-DOCSTART-`` lines and runs of blank lines end a sentence.

    The file is text in ``encoding`` (a byte-order mark is dropped); lines end at ``\\n``,
    ``\\r\\n`` or ``\\r``.

    Columns are split on tabs when a line has one, else on whitespace; ``token_column`` and
    ``tag_column`` index them from 0, negative ones from the end. Every line of the file must
    have the column count of the first one. Ill-formed chunks (``O`` then ``I-X`` in IOB2)
    are repaired and counted in ``corpus.notes["repaired_tags"]``.
    """
    path = Path(path)
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    columns = None

    def close_sentence() -> None:
        if tokens:
            sentences.append(Sentence(list(tokens), list(tags)))
            tokens.clear()
            tags.clear()

    lines = read_text(path, encoding).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("-DOCSTART-"):
            close_sentence()
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        if columns is None:
            columns = len(fields)
            if columns < 2:
                raise CorpusFormatError(f"{path}:{number}: expected a token and a tag, found {line!r}")
            if not all(-columns <= column < columns for column in (token_column, tag_column)):
                raise CorpusFormatError(
                    f"{path}:{number}: token column {token_column} and tag column {tag_column} asked for, "
                    f"but the lines have {columns} columns (0 to {columns - 1}, or -1 to -{columns})"
                )
        if len(fields) != columns:
            raise CorpusFormatError(
                f"{path}:{number}: expected {columns} columns like the first line, found {len(fields)}: {line!r}"
            )
        token, tag = fields[token_column], fields[tag_column].strip()
        if not token or not tag:
            raise CorpusFormatError(f"{path}:{number}: empty token or tag in {line!r}")
        try:
            split_tag(tag)
        except SchemeError as error:
            raise CorpusFormatError(f"{path}:{number}: {error}") from None
        tokens.append(token)
        tags.append(tag)
    close_sentence()
    corpus = Corpus.of(sentences, str(path))
    repaired = 0
    for sentence in corpus.sentences:
        sentence.tags, count = repair(sentence.tags, corpus.scheme)
        repaired += count
    if repaired:
        corpus.notes["repaired_tags"] = repaired
        logger.warning("%s: repaired %d ill-formed %s tags (e.g. I-X after O)", path, repaired, corpus.scheme)
    return corpus


def looks_like(text: str, lines: int = 10) -> bool:
    """Whether ``text`` begins as a CoNLL file does: its first ``lines`` non-blank lines each a token and a tag."""
    found = [line for line in text.splitlines() if line.strip() and not line.startswith("-DOCSTART-")][:lines]
    return bool(found) and all(_tagged(line) for line in found)


def _tagged(line: str) -> bool:
    fields = line.split("\t") if "\t" in line else line.split()
    try:
        split_tag(fields[-1].strip())
    except SchemeError:
        return False
    return len(fields) >= 2


def write(corpus: Corpus, path: str | Path, columns: tuple[list[list[str]], ...] = ()) -> None:
    """Write ``token TAB tag`` lines (any extra ``columns`` after them), atomically.

    A token or tag that the file cannot hold as it is (one with a tab or a line break, or a token
    that reads as a ``-DOCSTART-`` line) is a ``CorpusFormatError``; nothing is written then.
    """
    for number, sentence in enumerate(corpus.sentences, start=1):
        for value in (*sentence.tokens, *sentence.tags):
            if UNWRITABLE.search(value) or (value in sentence.tokens and value.startswith("-DOCSTART-")):
                where = f"sentence {sentence.id!r}" if sentence.id is not None else f"sentence {number}"
                raise CorpusFormatError(
                    f"{path}: {where}: a CoNLL line cannot hold {value!r} (a tab or a line break, or -DOCSTART-)"
                )
    with atomic_write(path) as out:
        for index, sentence in enumerate(corpus.sentences):
            extra = [column[index] for column in columns]
            for position, (token, tag) in enumerate(zip(sentence.tokens, sentence.tags)):
                out.write("\t".join([token, tag, *(column[position] for column in extra)]) + "\n")
            out.write("\n")

"""PubTator: ``ID|t|title`` and ``ID|a|abstract`` lines, then ``ID TAB start TAB end TAB mention TAB type`` lines."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Iterator

from ..corpus import Corpus, CorpusFormatError, Sentence
from ..files import atomic_write
from ..reading import DEFAULT_ENCODING, read_text
from ..text import DEFAULT_TOKENIZER
from ..text import sentences as split_sentences
from .offsets import CharSpan, char_spans, check_span, documents, joined, log_alignment, parse_each, tag

EXTENSIONS = (".pubtator",)
TEXT_LINE = re.compile(r"([^|\t]+)\|([ta])\|(.*)")
NUMBER = re.compile("[0-9]+")
SEPARATOR = "\n"  # between title and abstract: offsets count one character there
FLAT = str.maketrans("\t\n\r", "   ")  # what a line of the file cannot hold, kept to the same length
Line = tuple[int, str]


def read(
    path: str | Path, lenient: bool = False, encoding: str = DEFAULT_ENCODING, tokenizer: str = DEFAULT_TOKENIZER
) -> Corpus:
    """Read documents, split into sentences with their mentions aligned to tokens.

    A document's text is its title and abstract joined by a newline. Title and abstract are
    split into sentences (``text.sentences``, document offsets kept) of tokens by the rules
    ``tokenizer``; sentences that a mention crosses are joined again
    (``notes["joined_sentences"]``). Mentions are aligned and counted as the SemEval reader
    does; the sentences' ``id`` is the document's. Relation lines
    (``ID TAB CID TAB ...``) are counted in ``notes["relations"]``; concept ids are not kept.
    A bad document raises, or with ``lenient`` is skipped (``notes["skipped_documents"]``).
    """
    path = Path(path)
    notes: Counter = Counter()
    blocks = _blocks(path, read_text(path, encoding))
    groups = parse_each(blocks, lambda block: _document(block, path, notes, tokenizer), lenient, notes, "documents")
    sentences = [sentence for group in groups for sentence in group]
    log_alignment(path, notes)
    return Corpus(sentences, "IOB2", str(path), +notes)


def _blocks(path: Path, text: str) -> Iterator[list[Line]]:
    """The numbered lines of each document in ``text``: a title line starts one, a blank line ends one."""
    block: list[Line] = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        match = TEXT_LINE.fullmatch(line)
        if block and (not line.strip() or (match and match.group(2) == "t")):
            yield block
            block = []
        if line.strip():
            block.append((number, line))
    if block:
        yield block


def _document(block: list[Line], path: Path, notes: Counter, tokenizer: str) -> list[Sentence]:
    """The tagged sentences of one document's lines."""
    number, line = block[0]
    title = TEXT_LINE.fullmatch(line)
    if not title or title.group(2) != "t":
        raise CorpusFormatError(f"{path}:{number}: expected a title line 'ID|t|TITLE', found {line[:80]!r}")
    id, abstract, mentions, relations = title.group(1), None, [], 0
    for number, line in block[1:]:
        where = f"{path}:{number}"
        match = TEXT_LINE.fullmatch(line)
        if match:
            if match.group(1) != id or match.group(2) != "a" or abstract is not None or mentions:
                raise CorpusFormatError(
                    f"{where}: expected one line '{id}|a|ABSTRACT' right after the title, found {line[:80]!r}"
                )
            abstract = match.group(3)
            continue
        fields = line.split("\t")
        if fields[0] != id:
            raise CorpusFormatError(f"{where}: expected a line of document {id!r}, found {line[:80]!r}")
        if len(fields) >= 5 and NUMBER.fullmatch(fields[1]) and NUMBER.fullmatch(fields[2]) and fields[4]:
            mentions.append((where, int(fields[1]), int(fields[2]), fields[3], fields[4]))
        elif len(fields) >= 3 and not NUMBER.fullmatch(fields[1]):
            relations += 1
        else:
            raise CorpusFormatError(
                f"{where}: expected 'ID TAB START TAB END TAB MENTION TAB TYPE' or a relation line, found {line[:80]!r}"
            )
    text = title.group(3) + SEPARATOR + (abstract or "")
    spans: list[CharSpan] = []
    for where, start, end, mention, label in mentions:
        check_span(text, start, end, f"{where}: mention", mention)
        spans.append((start, end, label))
    notes["relations"] += relations
    sentences = []
    for sentence, own in _sentences(text, spans, notes, tokenizer):
        sentence.id = id
        sentences.append(tag(sentence, own, notes, f"{path}: document {id!r}"))
    return sentences


def _sentences(
    text: str, spans: list[CharSpan], notes: Counter, tokenizer: str
) -> list[tuple[Sentence, list[CharSpan]]]:
    """Sentences of title and abstract, joined where a span crosses them, each with its spans."""
    title_length = text.index(SEPARATOR)
    split = [
        Sentence(sentence.tokens, offsets=[(s + shift, e + shift) for s, e in sentence.offsets], text=text)
        for part, shift in ((text[:title_length], 0), (text[title_length + 1 :], title_length + 1))
        for sentence in split_sentences(part, tokenizer=tokenizer)
    ]
    return joined(split, spans, notes)


def write(corpus: Corpus, path: str | Path) -> None:
    """Write each document (sentences sharing a text) with its spans, atomically.

    The text up to its first newline is the title, the rest the abstract; tabs and line
    breaks become spaces. Documents without an id are numbered from 1.
    """
    path = Path(path)
    with atomic_write(path) as out:
        for number, document in enumerate(documents(corpus.sentences), start=1):
            id = document[0].id or str(number)
            if re.search(r"[|\s]", id):
                raise CorpusFormatError(f"{path}: a PubTator document id cannot hold '|' or whitespace: {id!r}")
            title, _, abstract = document[0].text.partition("\n")
            text = (title + SEPARATOR + abstract).translate(FLAT)
            out.write(f"{id}|t|{text[: len(title)]}\n{id}|a|{text[len(title) + 1 :]}\n")
            for sentence in document:
                for start, end, label in char_spans(sentence):
                    if re.search("[\t\n\r]", label):
                        raise CorpusFormatError(
                            f"{path}: document {id!r}: a PubTator line cannot hold the label {label!r} "
                            "(a tab or a line break)"
                        )
                    out.write(f"{id}\t{start}\t{end}\t{text[start:end]}\t{label}\n")
            out.write("\n")

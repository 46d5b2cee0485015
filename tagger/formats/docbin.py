"""spaCy ``DocBin`` files (``.spacy``, as ``spacy convert`` and ``tagger annotate --format spacy`` write them): docs
with their tokens, entities and, where set, sentence starts. Read without a pipeline: a DocBin is msgpack data, and
nothing in it is executed."""

from __future__ import annotations

import zlib
from collections import Counter
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING

from ..corpus import Corpus, CorpusFormatError, Sentence
from ..files import atomic_write
from ..reading import read_bytes
from ..text import sentence_ranges, skip_bom
from .offsets import documents, joined, log_alignment, nonempty, parse_each, tag

if TYPE_CHECKING:
    from spacy.vocab import Vocab

EXTENSIONS = (".spacy",)


def read(path: str | Path, lenient: bool = False) -> Corpus:
    """Read the docs of the ``.spacy`` file ``path``, or of every ``.spacy`` file in the folder ``path`` (sorted by
    name, as annotate's parts are).

    Tokens are the docs' own, whitespace tokens left out, with their offsets into ``doc.text``. Sentences are
    ``doc.sents`` where the doc has sentence starts, else cut by our splitter (``text.sentence_ranges``), and
    joined where an entity crosses them (``notes["joined_sentences"]``). Spans are ``doc.ents``, aligned and
    counted as other readers count them. The sentences' ``id`` is the doc's ``user_data["id"]`` where stored. A
    file that is not a DocBin raises naming it, or with ``lenient`` is skipped (``notes["skipped_files"]``).
    """
    from spacy.vocab import Vocab  # here, not above: reading other formats needs no spaCy

    path = Path(path)
    notes: Counter = Counter()
    vocab = Vocab()  # the strings come with the file: no language, no pipeline
    files = _files(path)
    groups = parse_each(files, lambda file: _sentences(file, vocab, notes), lenient, notes, "files")
    sentences = nonempty([sentence for group in groups for sentence in group], notes)
    log_alignment(path, notes)
    return Corpus(sentences, "IOB2", str(path), +notes)


def _files(path: Path) -> list[Path]:
    """The ``.spacy`` files of the folder ``path``, sorted; or ``[path]`` for a file."""
    if not path.is_dir():
        return [path]
    files = sorted(file for file in path.glob("*.spacy") if file.is_file())
    if not files:
        raise CorpusFormatError(f"{path}: expected spaCy DocBin files (.spacy); found none in this folder")
    return files


def _sentences(path: Path, vocab: Vocab, notes: Counter) -> list[Sentence]:
    """The tagged sentences of the docs of one file."""
    from spacy.tokens import DocBin

    try:
        docs = list(DocBin(store_user_data=True).from_bytes(read_bytes(path)).get_docs(vocab))
    except (ValueError, KeyError, TypeError, IndexError, zlib.error) as error:
        raise CorpusFormatError(
            f"{path}: expected a spaCy DocBin (.spacy), found data it cannot read ({type(error).__name__}: {error})"
        ) from None
    result = []
    for number, doc in enumerate(docs):
        id = doc.user_data.get("id")
        words, fresh = [], True  # (start, end, whether a sentence starts at it) of each non-space token
        for start, length, sent_start in doc.to_array(["IDX", "LENGTH", "SENT_START"]).tolist():
            fresh = fresh or sent_start == 1
            if not doc.text[start : start + length].isspace():  # not IS_SPACE: a bare vocab computes no such flag
                words.append((start, start + length, fresh))
                fresh = False
        offsets = skip_bom(doc.text, [(start, end) for start, end, _ in words])
        if doc.has_annotation("SENT_START"):
            starts = [fresh for *_, fresh in words][len(words) - len(offsets) :]  # without a byte-order mark token
            firsts = [i for i, fresh in enumerate(starts) if fresh or i == 0]
            ranges = list(zip(firsts, [*firsts[1:], len(offsets)]))
        else:
            ranges = sentence_ranges(doc.text, offsets)
        split = [
            Sentence([doc.text[s:e] for s, e in offsets[first:last]], offsets=offsets[first:last], text=doc.text)
            for first, last in ranges
        ]
        spans = [(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents]
        for sentence, own in joined(split, spans, notes):
            sentence.id = None if id is None else str(id)
            result.append(tag(sentence, own, notes, f"{path}: doc {number}"))
    return result


def write(corpus: Corpus, path: str | Path) -> None:
    """Write each document (sentences sharing a text) as one doc of its tokens, with its sentences as sentence
    starts, its tagged spans as ``doc.ents`` and its id as ``user_data["id"]``, in one DocBin, atomically."""
    from spacy.tokens import Doc, DocBin, Span
    from spacy.vocab import Vocab

    vocab = Vocab()
    docs = DocBin(store_user_data=True)
    for document in documents(corpus.sentences):
        text = document[0].text
        words, spaces, index = _words(text, [offset for sentence in document for offset in sentence.offsets])
        doc = Doc(vocab, words=words, spaces=spaces)
        befores = list(accumulate(len(sentence) for sentence in document))  # tokens before the next sentence
        firsts = {0, *(index[before] for before in befores[:-1])}
        for token in doc:
            token.is_sent_start = token.i in firsts
        doc.ents = [
            Span(doc, index[before + start], index[before + end - 1] + 1, label)
            for before, sentence in zip([0, *befores], document)
            for start, end, label in sentence.spans
        ]
        if document[0].id is not None:
            doc.user_data["id"] = document[0].id
        docs.add(doc)
    with atomic_write(path, "wb") as out:
        out.write(docs.to_bytes())


def _words(text: str, offsets: list[tuple[int, int]]) -> tuple[list[str], list[bool], list[int]]:
    """``Doc`` words and spaces that spell ``text``, the text between tokens as words of its own (a single space:
    the word's trailing space), and the word index of each token at ``offsets``."""
    words: list[str] = []
    spaces: list[bool] = []
    index = []
    position = 0
    for start, end in [*offsets, (len(text), len(text))]:
        gap = text[position:start]
        if gap == " " and words:
            spaces[-1] = True
        elif gap:
            words.append(gap)
            spaces.append(False)
        if start < end:
            index.append(len(words))
            words.append(text[start:end])
            spaces.append(False)
        position = end
    return words, spaces, index

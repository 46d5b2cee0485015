"""BRAT standoff: ``NAME.txt`` and ``NAME.ann`` pairs in a folder (or one pair, named by its ``.ann``), entities as
``T`` lines ``ID TAB TYPE START END[;START END...] TAB MENTION``."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from pathlib import Path

from ..corpus import Corpus, CorpusFormatError, Sentence
from ..files import atomic_write
from ..reading import DEFAULT_ENCODING, decode, read_bytes
from ..text import DEFAULT_TOKENIZER
from ..text import sentences as split_sentences
from .offsets import CharSpan, char_spans, check_span, documents, joined, log_alignment, parse_each, tag

EXTENSIONS = (".ann",)
ENTITY = re.compile(r"(T[^\t]*)\t(\S+) ([0-9]+ [0-9]+(?:;[0-9]+ [0-9]+)*)\t(.*)")
FRAGMENT = re.compile(r"(?:\S| )+")  # brat's .ann lines hold no other whitespace
NAME_BYTES = 255 - 16  # the longest file name most file systems take, in bytes, less what atomic_write's temporary adds
PATH_BYTES = 1024  # paths longer than this (within the folder) become one shortened name
logger = logging.getLogger(__name__)


def read(
    path: str | Path, lenient: bool = False, encoding: str = DEFAULT_ENCODING, tokenizer: str = DEFAULT_TOKENIZER
) -> Corpus:
    """Read every ``.ann`` file under the folder ``path`` (or the file ``path``) with the ``.txt`` beside it.

    Offsets count the characters of the ``.txt`` as it is (a byte-order mark too). Its text is split into
    sentences (``text.sentences``) of tokens by the rules ``tokenizer``, joined again where an entity crosses
    them (``notes["joined_sentences"]``); entities are aligned and counted as the PubTator reader does. A
    discontinuous entity (``START END;START END``) is taken as the span that covers its fragments, with a warning,
    counted in ``notes["discontinuous_entities"]``. Other lines (relations, events, attributes, notes) are
    ignored, counted in ``notes["other_lines"]``; a ``.txt`` without its ``.ann`` is left out with a warning,
    counted in ``notes["unannotated_texts"]``. The sentences' ``id`` is the pair's name (its path in the
    folder, without ``.ann``). A bad pair raises naming the file and line, or with ``lenient`` is skipped
    (``notes["skipped_documents"]``).
    """
    path = Path(path)
    notes: Counter = Counter()
    files = _annotation_files(path)
    parse = lambda ann: _document(ann, _name(ann, path), notes, encoding, tokenizer)  # noqa: E731
    sentences = [sentence for group in parse_each(files, parse, lenient, notes, "documents") for sentence in group]
    if notes["discontinuous_entities"]:
        logger.warning(
            "%s: %d discontinuous entities taken as the span that covers their fragments (--verbose lists them)",
            path,
            notes["discontinuous_entities"],
        )
    unannotated = [txt for txt in path.rglob("*.txt") if not txt.with_suffix(".ann").exists()] if path.is_dir() else []
    if unannotated:
        notes["unannotated_texts"] = len(unannotated)
        logger.warning(
            "%s: %d .txt files without a .ann beside them left out (not annotated yet?), such as %s",
            path,
            len(unannotated),
            min(unannotated).relative_to(path),
        )
    log_alignment(path, notes)
    return Corpus(sentences, "IOB2", str(path), +notes)


def _annotation_files(path: Path) -> list[Path]:
    """The ``.ann`` files of the folder ``path`` (and its subfolders), sorted; for a file, that of its pair."""
    if not path.is_dir():
        return [path.with_suffix(".ann")]
    files = sorted(file for file in path.rglob("*.ann") if file.is_file())
    if not files:
        raise CorpusFormatError(f"{path}: expected BRAT standoff, NAME.txt and NAME.ann pairs; found no .ann file")
    return files


def _name(ann: Path, root: Path) -> str:
    return (ann.relative_to(root) if root.is_dir() else Path(ann.name)).with_suffix("").as_posix()


def _document(ann: Path, name: str, notes: Counter, encoding: str, tokenizer: str) -> list[Sentence]:
    """The tagged sentences of one pair."""
    txt = ann.with_suffix(".txt")
    for file, other, role in ((ann, txt, "annotations"), (txt, ann, "text")):
        if not file.is_file():
            raise CorpusFormatError(f"{other}: expected its {role} {file.name} beside it, found no such file")
    text = decode(read_bytes(txt), txt, encoding, keep_bom=True)
    spans = []
    for number, line in enumerate(decode(read_bytes(ann), ann, encoding).split("\n"), start=1):
        line = line.rstrip("\r")
        if line.startswith("T"):
            spans.append(_entity(line, text, f"{ann}:{number}", notes))
        elif line.strip():
            notes["other_lines"] += 1
    result = []
    for sentence, own in joined(split_sentences(text, tokenizer=tokenizer), spans, notes):
        sentence.id = name
        result.append(tag(sentence, own, notes, str(ann)))
    return result


def _entity(line: str, text: str, where: str, notes: Counter) -> CharSpan:
    """The character span of a ``T`` line, checked against the text; a discontinuous one as its cover."""
    match = ENTITY.fullmatch(line)
    if not match:
        raise CorpusFormatError(
            f"{where}: expected an entity 'ID TAB TYPE START END[;START END...] TAB MENTION', found {line[:80]!r}"
        )
    id, label, offsets, mention = match.groups()
    fragments = [tuple(map(int, fragment.split(" "))) for fragment in offsets.split(";")]
    for start, end in fragments:
        check_span(text, start, end, f"{where}: entity {id}")
    found = " ".join(text[start:end] for start, end in fragments)
    if found != mention:
        raise CorpusFormatError(f"{where}: entity {id}: expected {mention!r} at {offsets}, found {found!r}")
    start, end = min(start for start, _ in fragments), max(end for _, end in fragments)
    if len(fragments) > 1:
        notes["discontinuous_entities"] += 1
        logger.debug("%s: discontinuous %s %r taken as %r at %d-%d", where, label, mention, text[start:end], start, end)
    return start, end, label


def entity_line(number: int, start: int, end: int, label: str, text: str) -> str:
    """The ``T`` line of entity ``number`` at ``start``-``end`` of ``text``: one fragment per piece of it
    between line breaks and tabs, which a line cannot hold."""
    pieces = [
        (start + m.start() + len(m.group()) - len(m.group().lstrip()), m.group().strip())
        for m in FRAGMENT.finditer(text[start:end])
        if m.group().strip()
    ]
    offsets = ";".join(f"{begin} {begin + len(piece)}" for begin, piece in pieces)
    return f"T{number}\t{label} {offsets}\t{' '.join(piece for _, piece in pieces)}\n"


def id_note(id) -> str:
    """The note that gives a document's id, for a shortened file name."""
    return f"#0\tAnnotatorNotes T1\tdocument id: {json.dumps(id, ensure_ascii=False)}\n"


def file_name(id) -> tuple[str, bool]:
    """A relative path made from a document id (no ``..``, no absolute root, odd characters as ``_``), and
    whether it had to be shortened: each name to ``NAME_BYTES`` with its ``.ann``, the whole to ``PATH_BYTES``,
    by a stable hash of the id."""
    parts = [re.sub(r"[^\w.+-]", "_", part) for part in str(id).split("/") if part not in ("", ".", "..")]
    name = "/".join(parts) or "document"
    name = name[: -len(".txt")] if name.lower().endswith(".txt") and len(name) > 4 else name
    digest = hashlib.sha256(json.dumps(id, ensure_ascii=False).encode("utf-8", "replace")).hexdigest()[:16]
    room = NAME_BYTES - len(".ann") - len(digest) - 1

    def cut(part: str) -> str:
        return part.encode("utf-8")[:room].decode("utf-8", "ignore") + "-" + digest

    parts = [cut(part) if len(part.encode("utf-8")) + len(".ann") > NAME_BYTES else part for part in name.split("/")]
    shortened = "/".join(parts) != name
    name = "/".join(parts)
    if len(name.encode("utf-8")) + len(".ann") > PATH_BYTES:
        name, shortened = cut(name.replace("/", "_")), True
    return name, shortened


def write(corpus: Corpus, path: str | Path) -> None:
    """Write each document (sentences sharing a text) as ``NAME.txt`` and ``NAME.ann`` in the folder ``path``,
    each file atomically; NAME is from the document's id (``file_name``; documents without one are numbered from
    1). Spans read with character offsets are written as read, others as tagged."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CorpusFormatError(f"{path} is a file; BRAT standoff is written to a folder")
    taken: dict[str, str] = {}
    for number, document in enumerate(documents(corpus.sentences), start=1):
        id = document[0].id or str(number)
        name, shortened = file_name(id)
        if name in taken:
            raise CorpusFormatError(
                f"{path}: documents {taken[name]!r} and {id!r} would both be {name}.txt (ids must give distinct "
                "file names)"
            )
        taken[name] = id
        text = document[0].text
        spans = [span for sentence in document for span in char_spans(sentence)]
        for *_, label in spans:
            if not re.fullmatch(r"\S+", label):
                raise CorpusFormatError(
                    f"{path}: document {id!r}: a BRAT entity type cannot be empty or hold whitespace: {label!r}"
                )
        lines = [entity_line(n, *span, text) for n, span in enumerate(spans, start=1)]
        with atomic_write(path / f"{name}.txt", "wb") as out:
            out.write(text.encode("utf-8"))
        with atomic_write(path / f"{name}.ann") as out:
            out.write("".join(([id_note(id)] if shortened else []) + lines))

"""Writing tagged windows: one function per output format, and the errors file."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ..files import atomic_write, output_error
from ..formats import brat
from ..text import DEFAULT_TOKENIZER, spacy_doc
from .job import STDOUT, AnnotateError, Document


def write_jsonl(documents: list[Document], output: Path, part: int, with_text: bool = True) -> None:
    """Append ``{"id", "text", "spans"}`` lines."""
    records = (
        {"id": d.id, **({"text": d.text} if with_text else {}), "spans": d.spans} for d in documents if not d.error
    )
    _append(output, "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))


def write_conll(documents: list[Document], output: Path, part: int) -> None:
    """Append ``token TAB tag`` lines, each document after a ``-DOCSTART- <id as JSON>`` line."""
    lines = []
    for document in documents:
        if document.error:
            continue
        lines.append(f"-DOCSTART- {json.dumps(document.id, ensure_ascii=False)}\n\n")
        for tokens, tags in document.tagged:
            lines.extend(f"{token}\t{tag}\n" for token, tag in zip(tokens, tags))
            lines.append("\n")
    _append(output, "".join(lines))


def write_brat(documents: list[Document], output: Path, part: int) -> None:
    """Write ``NAME.txt`` and its standoff ``NAME.ann`` per document, NAME from its id (``brat.file_name``).

    Entities that cross a line break or a tab become discontinuous fragments. A NAME too long for
    the file system is shortened, with a hash of the id, and the ``.ann`` begins with a note that
    gives the id. A document whose NAME another document with a different text already took, or
    whose files cannot be written, is failed.
    """
    for document in documents:
        if document.error:
            continue
        name, shortened = brat.file_name(document.id)
        text_file = output / f"{name}.txt"
        lines = [brat.id_note(document.id)] if shortened else []
        for number, span in enumerate(document.spans, start=1):
            lines.append(brat.entity_line(number, span["start"], span["end"], span["label"], document.text))
            lines.append(f"#{number}\tAnnotatorNotes T{number}\tscore={span['score']:.4f}\n")
        try:
            if text_file.exists() and text_file.read_text(encoding="utf-8") != document.text:
                document.error = f"{text_file.name} already holds another document (ids must give distinct file names)"
                continue
            with atomic_write(text_file, "wb") as out:
                out.write(document.text.encode("utf-8"))
            with atomic_write(output / f"{name}.ann") as out:
                out.write("".join(lines))
        except (OSError, UnicodeError) as error:
            document.error = f"cannot write {name}.txt and .ann: {getattr(error, 'strerror', None) or error}"


def write_spacy(documents: list[Document], output: Path, part: int, tokenizer: str = DEFAULT_TOKENIZER) -> None:
    """Write the window as one spaCy ``DocBin``, ``part-NNNNNN.spacy``, with entities and ``user_data["id"]``.

    Docs are cut into tokens by the rules ``tokenizer``: the model's, on whose tokens the spans fall.
    """
    from spacy.tokens import DocBin

    docs = DocBin(store_user_data=True)
    for document in documents:
        if document.error:
            continue
        doc = spacy_doc(document.text, tokenizer)
        doc.ents = [doc.char_span(s["start"], s["end"], label=s["label"]) for s in document.spans]
        doc.user_data["id"] = document.id
        docs.add(doc)
    with atomic_write(output / f"part-{part:06d}.spacy", "wb") as out:
        out.write(docs.to_bytes())


WRITERS = {"jsonl": write_jsonl, "conll": write_conll, "brat": write_brat, "spacy": write_spacy}


def _append(path: Path, text: str) -> None:
    """Append whole lines and sync them to disk (or write them to standard output, for ``-``); a refusal of the
    file system is an ``AnnotateError``."""
    if str(path) == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        with open(path, "a", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
    except OSError as error:
        raise AnnotateError(
            f"{output_error(path, error)}. What the progress file records is whole: once the cause is fixed, "
            "rerun with --resume"
        ) from None


def write_errors(documents: list[Document], path: Path) -> None:
    """Append a ``{"id", "path", "reason"}`` line per failed document; the file is created by the first."""
    records = [{"id": d.id, "path": d.path, "reason": d.error} for d in documents if d.error]
    if records:
        _append(path, "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))

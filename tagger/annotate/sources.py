"""Reading the inputs: a loader per document of text files, folders, JSONL files or standard input, in a fixed order."""

from __future__ import annotations

import json
import os
import sys
from functools import partial
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from ..reading import SURROGATE
from .job import STDIN, Document, Job

JSONL_SUFFIXES = (".jsonl", ".ndjson")
WINDOW_CHARS = 2_000_000  # a window also closes once its documents hold this many characters


def entries(job: Job) -> Iterator[Callable[[], Document]]:
    """A loader per document of ``job.inputs``, in a fixed order (folders walked sorted by name).

    Loaders, so that a resumed run passes over the documents already done without reading them.
    """
    for source in job.inputs:
        jsonl = job.input_format == "jsonl" or (job.input_format == "auto" and source.lower().endswith(JSONL_SUFFIXES))
        if source == STDIN:
            if jsonl:
                yield from _jsonl_entries(sys.stdin.buffer, "<stdin>", job)
            else:
                yield partial(_stdin_document, job)
        elif Path(source).is_dir():
            yield from _walk(Path(source), Path(source), job)
        elif jsonl:
            try:
                stream = open(source, "rb")
            except OSError as error:
                yield partial(_failed, source, source, f"cannot read file: {error.strerror}")
                continue
            with stream:
                yield from _jsonl_entries(stream, source, job)
        else:
            yield partial(_text_document, Path(source), source, job)


def _walk(root: Path, folder: Path, job: Job) -> Iterator[Callable[[], Document]]:
    """Loaders for the ``.txt`` files under ``folder``, by sorted name; symlinked folders are not followed."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as error:
        reason = f"cannot list folder: {error.strerror}"
        yield partial(_failed, folder.relative_to(root).as_posix(), str(folder), reason)
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(root, path, job)
        elif entry.name.lower().endswith(".txt") and not entry.is_dir():
            yield partial(_text_document, path, path.relative_to(root).as_posix(), job)


def _failed(id: str | int | None, path: str, reason: str) -> Document:
    return Document(id, path, error=reason)


def _text_document(path: Path, id: str, job: Job) -> Document:
    try:
        size = path.stat().st_size
        if size > 4 * job.max_chars:  # UTF-8 takes at most 4 bytes a character
            return _failed(id, str(path), f"{size} bytes, over the limit of {job.max_chars} characters")
        data = path.read_bytes()
    except OSError as error:
        return _failed(id, str(path), f"cannot read file: {error.strerror or error}")
    return _decoded(data, id, str(path), job)


def _stdin_document(job: Job) -> Document:
    data = sys.stdin.buffer.read(4 * job.max_chars + 1)
    if len(data) > 4 * job.max_chars:
        return _failed("<stdin>", STDIN, f"over the limit of {job.max_chars} characters")
    return _decoded(data, "<stdin>", STDIN, job)


def _decoded(data: bytes, id: str, path: str, job: Job) -> Document:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return _failed(id, path, f"not UTF-8: {error.reason} at byte {error.start}")
    return _checked(Document(id, path, text), job)


def _jsonl_entries(stream: BinaryIO, source: str, job: Job) -> Iterator[Callable[[], Document]]:
    """A loader per non-blank line; lines too long to hold a document are failed unparsed."""
    limit = 12 * job.max_chars + 65536  # room for the text escaped as \\uXXXX pairs, and other fields
    number = 0
    while line := stream.readline(limit + 1):
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = stream.readline(65536)
            yield partial(_failed, None, f"{source}:{number}", f"line over {limit} bytes")
        elif line.strip():
            yield partial(_json_document, line, f"{source}:{number}", job)


def _json_document(line: bytes, path: str, job: Job) -> Document:
    try:
        record = json.loads(line)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        return _failed(None, path, f"not a JSON line: {error}")
    if not isinstance(record, dict):
        return _failed(None, path, f"expected a JSON object, found {type(record).__name__}")
    id = record.get(job.id_field, path)
    if SURROGATE.search(json.dumps(id, ensure_ascii=False)):
        return _failed(path, path, f"the id in field {job.id_field!r} holds a lone surrogate (not valid Unicode)")
    text = record.get(job.text_field)
    if not isinstance(text, str):
        found = "no such field" if job.text_field not in record else type(text).__name__
        return _failed(id, path, f"expected a string in field {job.text_field!r}, found {found}")
    return _checked(Document(id, path, text), job)


def _checked(document: Document, job: Job) -> Document:
    """``document``, failed if it is empty, too long, or not encodable as UTF-8."""
    text = document.text
    if len(text) > job.max_chars:
        document.error = f"{len(text)} characters, over the limit of {job.max_chars}"
    elif not text.strip():
        document.error = "empty document" if not text else "document holds only whitespace"
    elif (surrogate := SURROGATE.search(text)) is not None:
        document.error = f"lone surrogate {surrogate.group()!r} at character {surrogate.start()} (not valid Unicode)"
    if document.error:
        document.text = None
    return document


def windows(documents: Iterator[Document], size: int) -> Iterator[list[Document]]:
    window, chars = [], 0
    for document in documents:
        window.append(document)
        chars += len(document.text or "")
        if len(window) >= size or chars >= WINDOW_CHARS:
            yield window
            window, chars = [], 0
    if window:
        yield window

"""Reading the inputs: an entry per document of text files, folders, JSONL files or standard input, in a fixed
order; windows of entries; each entry read into a ``Document`` here or on another machine that sees the same files."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field, fields
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

from ..reading import SURROGATE
from .job import STDIN, Document, Job

JSONL_SUFFIXES = (".jsonl", ".ndjson")
WINDOW_BYTES = 2_000_000  # a window also closes once its documents' files hold this many bytes
FIRST_WINDOW = 32  # documents: a window is cut in a third of the time it is tagged (cutting.cut_ahead),
WINDOW_GROWTH = 2.5  # so each is cut while the one before, this much smaller, is tagged


@dataclass(frozen=True)
class Entry:
    """Where one document lies: a text file, a line of a JSONL file, standard input, or one that fails unread.

    Entries are listed without reading the documents, so that a resumed run passes over those
    already done, and a window of them can be read again wherever the same files can be read.
    """

    kind: str  # "text", "line", "stdin" or "failed"
    path: str  # the file, or FILE:LINE for a JSONL line
    id: Any = None  # of a text file or a failed entry (a JSONL line holds its own)
    size: int = 0  # bytes in the file or line, by which windows close
    source: str | None = None  # the JSONL file of a line
    offset: int = 0  # where the line starts in ``source``, in bytes
    reason: str | None = None  # why a failed entry fails
    line: bytes | None = field(default=None, compare=False, repr=False)  # the JSONL line, when already read

    def record(self) -> dict:
        """The fields that differ from their defaults, JSON-ready; not the line read (``source`` holds it)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name != "line" and getattr(self, f.name) != f.default
        }


def entries(job: Job) -> Iterator[Entry]:
    """An entry per document of ``job.inputs``, in a fixed order (folders walked sorted by name)."""
    for source in job.inputs:
        jsonl = job.input_format == "jsonl" or (job.input_format == "auto" and source.lower().endswith(JSONL_SUFFIXES))
        if source == STDIN:
            if jsonl:
                yield from _jsonl_entries(sys.stdin.buffer, "<stdin>", job)
            else:
                yield Entry("stdin", STDIN)
        elif Path(source).is_dir():
            yield from _walk(Path(source), Path(source))
        elif jsonl:
            try:
                stream = open(source, "rb")
            except OSError as error:
                yield Entry("failed", source, source, reason=f"cannot read file: {error.strerror}")
                continue
            with stream:
                yield from _jsonl_entries(stream, source, job)
        else:
            yield Entry("text", source, source, size=_size(Path(source)))


def _walk(root: Path, folder: Path) -> Iterator[Entry]:
    """Entries for the ``.txt`` files under ``folder``, by sorted name; symlinked folders are not followed."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as error:
        reason = f"cannot list folder: {error.strerror}"
        yield Entry("failed", str(folder), folder.relative_to(root).as_posix(), reason=reason)
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(root, path)
        elif entry.name.lower().endswith(".txt") and not entry.is_dir():
            yield Entry("text", str(path), path.relative_to(root).as_posix(), size=_size(path))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # reading it will say why
        return 0


def windows(entries: Iterable[Entry], size: int, done: int = 0) -> Iterator[list[Entry]]:
    """``entries`` in windows of ``size``, or fewer once their files hold ``WINDOW_BYTES``. The first windows of a
    run are smaller (``FIRST_WINDOW``, growing by ``WINDOW_GROWTH``), so that tagging starts at once; a run resumed
    after ``done`` windows goes on as it would have (the same windows, so the same output to the byte)."""
    sizes = islice(_window_sizes(size), done, None)
    window, held, now = [], 0, next(sizes)
    for entry in entries:
        window.append(entry)
        held += entry.size
        if len(window) >= now or held >= WINDOW_BYTES:
            yield window
            window, held, now = [], 0, next(sizes)
    if window:
        yield window


def _window_sizes(size: int) -> Iterator[int]:
    now = min(size, FIRST_WINDOW)
    while True:
        yield now
        now = min(size, int(now * WINDOW_GROWTH))


def load(entry: Entry, job: Job) -> Document:
    """The document at ``entry``, read and checked, or failed with the reason."""
    if entry.kind == "text":
        return _text_document(Path(entry.path), entry.id, job)
    if entry.kind == "stdin":
        return _stdin_document(job)
    if entry.kind == "failed":
        return _failed(entry.id, entry.path, entry.reason)
    line = entry.line
    if line is None:
        try:
            with open(entry.source, "rb") as stream:
                stream.seek(entry.offset)
                line = stream.read(entry.size)
        except OSError as error:
            return _failed(None, entry.path, f"cannot read file: {error.strerror or error}")
    return _json_document(line, entry.path, job)


def digest(documents: list[Document]) -> str:
    """A short SHA-256 of documents as read (id, path, text or why they could not be read), for ``--resume``."""
    digest = hashlib.sha256()
    for document in documents:
        record = [document.id, document.path, document.text, document.error]
        digest.update(json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n")
    return digest.hexdigest()[:16]


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


def _jsonl_entries(stream: BinaryIO, source: str, job: Job) -> Iterator[Entry]:
    """An entry per non-blank line, holding the line; lines too long to hold a document are failed unparsed."""
    limit = 12 * job.max_chars + 65536  # room for the text escaped as \\uXXXX pairs, and other fields
    number = offset = 0
    while line := stream.readline(limit + 1):
        number += 1
        start, offset = offset, offset + len(line)
        if len(line) > limit and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = stream.readline(65536)
                offset += len(line)
            yield Entry("failed", f"{source}:{number}", reason=f"line over {limit} bytes")
        elif line.strip():
            yield Entry("line", f"{source}:{number}", size=len(line), source=source, offset=start, line=line)


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

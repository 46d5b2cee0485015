"""Streaming batch annotation: raw documents in, entity spans with exact character offsets out.

Documents are read lazily, a window at a time; the sentences of a whole window are tagged
together (batched by length) and the window's records are written in input order, whole
and synced, before a progress file beside the output records how far the run got. An
interrupted run resumes from there without redoing or duplicating a document. Documents
that cannot be read or tagged go to the errors file with the reason, and the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import re
import sys
import threading
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from functools import partial
from itertools import islice
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import torch

from .config import MAX_THREADS
from .files import atomic_write, output_error, refuse_overwrite
from .reading import SURROGATE
from .tagger import Tagger, char_spans
from .text import DEFAULT_TOKENIZER, MAX_TOKENS, sentences, spacy_doc

FORMATS = ("jsonl", "conll", "brat", "spacy")
DIRECTORY_FORMATS = ("brat", "spacy")
INPUT_FORMATS = ("auto", "txt", "jsonl")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
WINDOW_CHARS = 2_000_000  # a window also closes once its documents hold this many characters
STDIN = "-"
NAME_BYTES = 255 - 16  # the longest file name most file systems take, in bytes, less what atomic_write's temporary adds
PATH_BYTES = 1024  # BRAT paths longer than this (within the output folder) become one shortened name
MODEL_FILES = ("config.json", "vocab.json", "weights.safetensors")
logger = logging.getLogger(__name__)


class AnnotateError(ValueError):
    """A run that cannot start or resume: bad settings, or outputs that do not match its progress file."""


@dataclass
class Job:
    """What to annotate, with which model, how, and where the results go."""

    model: Path
    inputs: list[str]  # .txt files, folders (searched for .txt files), JSONL files, or "-" for stdin
    output: Path  # a file for jsonl and conll, a folder for brat and spacy
    format: str = "jsonl"
    errors: Path | None = None  # default: the output path + ".errors.jsonl"
    input_format: str = "auto"  # auto: JSONL for .jsonl/.ndjson files, text otherwise (stdin included)
    id_field: str = "id"
    text_field: str = "text"
    with_text: bool = True  # JSONL records carry the document text
    n_process: int = 1
    threads: int = 0  # torch threads per process; 0: torch's default alone, else the cores shared out
    batch_size: int = 128  # sentences per forward pass
    window: int = 256  # documents tokenised and tagged together
    max_tokens: int = MAX_TOKENS  # longer sentences are cut into chunks
    max_chars: int = 1_000_000  # longer documents are recorded as errors
    heads: list[str] | None = None  # the model's heads that tag (Tagger.predict's head); None: every head

    @property
    def errors_path(self) -> Path:
        return self.errors or Path(f"{self.output}.errors.jsonl")

    @property
    def progress_path(self) -> Path:
        return Path(f"{self.output}.progress.json")

    def settings(self) -> dict:
        """The settings a resumed run must share with the interrupted one (the model by its files' content)."""
        keys = ("inputs", "format", "input_format", "id_field", "text_field", "with_text", "max_tokens", "max_chars")
        keys += ("heads",)  # progress files from before heads lack it: None, every head, as those runs tagged
        return {"model": str(self.model), **{key: getattr(self, key) for key in keys}}

    def check(self) -> None:
        """Raise ``AnnotateError`` on settings out of range, ``FileNotFoundError`` on a missing input and
        ``OverwriteError`` on an output that would write over an input."""
        for name, allowed in (("format", FORMATS), ("input_format", INPUT_FORMATS)):
            if getattr(self, name) not in allowed:
                raise AnnotateError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        for name in ("n_process", "batch_size", "window", "max_tokens", "max_chars"):
            if getattr(self, name) < 1:
                raise AnnotateError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not 0 <= self.threads <= MAX_THREADS:
            raise AnnotateError(f"threads must be 0 (automatic) to {MAX_THREADS}, not {self.threads}")
        if not self.inputs:
            raise AnnotateError("no inputs: give .txt files, folders, JSONL files or - for standard input")
        kind = "folder" if self.format in DIRECTORY_FORMATS else "file"
        if self.output.exists() and self.output.is_dir() != (kind == "folder"):
            raise AnnotateError(f"--format {self.format} writes a {kind}, but {self.output} exists and is not one")
        missing = [path for path in self.inputs if path != STDIN and not Path(path).exists()]
        if missing:
            raise FileNotFoundError(f"input not found: {', '.join(missing)}")
        outputs = {"--output": self.output, "--errors": self.errors_path, "the progress file": self.progress_path}
        refuse_overwrite(outputs, [*self.inputs, self.model])


@dataclass
class Document:
    """One input document; once tagged, its character spans (and for CoNLL its tokens and tags)."""

    id: str | int | None
    path: str  # the file, or file:line for JSONL
    text: str | None = None
    error: str | None = None  # why it could not be read, tagged or written
    spans: list[dict] = field(default_factory=list)
    tagged: list[tuple[list[str], list[str]]] = field(default_factory=list)  # (tokens, tags) per sentence
    tokens: int = 0


@dataclass
class Counts:
    """Documents read, annotated and failed; tokens tagged and entity spans found."""

    documents: int = 0
    annotated: int = 0
    failed: int = 0
    tokens: int = 0
    spans: int = 0

    def add(self, documents: list[Document]) -> None:
        good = [d for d in documents if d.error is None]
        self.documents += len(documents)
        self.annotated += len(good)
        self.failed += len(documents) - len(good)
        self.tokens += sum(d.tokens for d in good)
        self.spans += sum(len(d.spans) for d in good)


@dataclass
class Summary:
    """Counts over the whole run (``total``, earlier interrupted calls included) and of this call."""

    total: Counts
    new: Counts
    seconds: float


# Reading ---------------------------------------------------------------------------------


def _entries(job: Job) -> Iterator[Callable[[], Document]]:
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


# Tagging ---------------------------------------------------------------------------------


def tag_documents(
    tagger: Tagger,
    documents: list[Document],
    batch_size: int = 128,
    max_tokens: int = MAX_TOKENS,
    tags: bool = False,
    heads: list[str] | None = None,
) -> list[Document]:
    """Tag the readable ``documents`` together with the tagger's ``heads`` (``None``: all) and fill in their spans
    (and ``tagged`` if ``tags``).

    A window whose tagging raises is retried one document at a time, so that only the
    documents that fail get an error.
    """
    todo = [d for d in documents if d.error is None]
    try:
        _tag(tagger, todo, batch_size, max_tokens, tags, heads)
    except Exception as error:  # one bad document must not stop the run
        if len(todo) == 1:
            logger.debug("tagging %s failed", todo[0].path, exc_info=True)
            todo[0].error = f"tagging failed: {type(error).__name__}: {error}"
        else:
            for document in todo:
                tag_documents(tagger, [document], batch_size, max_tokens, tags, heads)
    return documents


def _tag(
    tagger: Tagger, documents: list[Document], batch_size: int, max_tokens: int, tags: bool, heads: list[str] | None
) -> None:
    split = [sentences(d.text, max_tokens, tagger.config.tokenizer) for d in documents]
    predictions = iter(tagger.predict([s for group in split for s in group], batch_size, head=heads))
    tagged = [[(sentence, next(predictions)) for sentence in group] for group in split]
    for document, pairs in zip(documents, tagged):
        document.spans = [span for sentence, prediction in pairs for span in char_spans(sentence, prediction)]
        document.tokens = sum(len(sentence) for sentence, _ in pairs)
        document.tagged = [(sentence.tokens, prediction.tags) for sentence, prediction in pairs] if tags else []


def _windows(documents: Iterator[Document], size: int) -> Iterator[list[Document]]:
    window, chars = [], 0
    for document in documents:
        window.append(document)
        chars += len(document.text or "")
        if len(window) >= size or chars >= WINDOW_CHARS:
            yield window
            window, chars = [], 0
    if window:
        yield window


_worker: tuple[Tagger, dict] | None = None


def _start_worker(model: Path, threads: int, settings: dict, parent: multiprocessing.connection.Connection) -> None:
    """Load the model, and exit as soon as ``parent``'s other end closes: the main process ended, however."""
    global _worker
    threading.Thread(target=_exit_with_parent, args=(parent,), name="tagger-parent-watch", daemon=True).start()
    torch.set_num_threads(threads)
    _worker = (Tagger.load(model), settings)


def _exit_with_parent(parent: multiprocessing.connection.Connection) -> None:
    """Block until the main process's end of the pipe closes (it exited, or was killed), then exit at once.

    Without this, a worker whose main process was killed (SIGKILL) waits for work forever, and keeps
    the forkserver alive with it.
    """
    try:
        parent.recv_bytes()
    except (EOFError, OSError):
        pass
    os._exit(1)


def _work(documents: list[Document]) -> list[Document]:
    tagger, settings = _worker
    return tag_documents(tagger, documents, **settings)


def _context() -> multiprocessing.context.BaseContext:
    """Forkserver where there is one (workers fork from a server that imported torch once), else spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def _tagged_windows(job: Job, tagger: Tagger, windows: Iterator[list[Document]]) -> Iterator[list[Document]]:
    """Tagged windows in input order; with ``n_process > 1``, at most two per process in flight."""
    settings = {"batch_size": job.batch_size, "max_tokens": job.max_tokens, "tags": job.format == "conll"}
    settings["heads"] = job.heads
    if job.n_process == 1:
        if job.threads:
            torch.set_num_threads(job.threads)
        yield from (tag_documents(tagger, window, **settings) for window in windows)
        return
    threads = job.threads or max(1, (os.cpu_count() or 1) // job.n_process)
    context = _context()
    watched, alive = context.Pipe(duplex=False)  # workers watch ``watched``; it closes when this process ends
    pool = ProcessPoolExecutor(
        job.n_process,
        mp_context=context,
        initializer=_start_worker,
        initargs=(job.model, threads, settings, watched),
    )
    try:
        pending = deque()
        for window in windows:
            pending.append(pool.submit(_work, window))
            if len(pending) > 2 * job.n_process:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool as error:
        raise AnnotateError(
            f"a tagging process died ({error}); perhaps out of memory. Everything written so far is whole: "
            "rerun with --resume, perhaps with fewer processes or a smaller --window"
        ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        alive.close()
        watched.close()


# Writing: one function per output format -------------------------------------------------


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


BRAT_FRAGMENT = re.compile(r"(?:\S| )+")  # brat's .ann lines hold no other whitespace


def write_brat(documents: list[Document], output: Path, part: int) -> None:
    """Write ``NAME.txt`` and its standoff ``NAME.ann`` per document, NAME from its id.

    Entities that cross a line break or a tab become discontinuous fragments. A NAME too long for
    the file system is shortened, with a hash of the id, and the ``.ann`` begins with a note that
    gives the id. A document whose NAME another document with a different text already took, or
    whose files cannot be written, is failed.
    """
    for document in documents:
        if document.error:
            continue
        name, shortened = _file_name(document.id)
        text_file = output / f"{name}.txt"
        lines = (
            [f"#0\tAnnotatorNotes T1\tdocument id: {json.dumps(document.id, ensure_ascii=False)}\n"]
            if shortened
            else []
        )
        for number, span in enumerate(document.spans, start=1):
            pieces = [
                (span["start"] + m.start() + len(m.group()) - len(m.group().lstrip()), m.group().strip())
                for m in BRAT_FRAGMENT.finditer(span["text"])
                if m.group().strip()
            ]
            offsets = ";".join(f"{start} {start + len(piece)}" for start, piece in pieces)
            lines.append(f"T{number}\t{span['label']} {offsets}\t{' '.join(piece for _, piece in pieces)}\n")
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


def _file_name(id) -> tuple[str, bool]:
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


def _append(path: Path, text: str) -> None:
    """Append whole lines and sync them to disk; a refusal of the file system is an ``AnnotateError``."""
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


def _write_errors(documents: list[Document], path: Path) -> None:
    records = ({"id": d.id, "path": d.path, "reason": d.error} for d in documents if d.error)
    _append(path, "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))


# The run ---------------------------------------------------------------------------------


def annotate(job: Job, resume: bool = False, on_window: Callable[[Summary], None] | None = None) -> Summary:
    """Annotate every document of ``job``; ``resume`` continues the interrupted run into the same output.

    ``on_window`` is called with the running summary after each window is written.
    """
    job.check()
    tagger = Tagger.load(job.model)  # in the parent too, so that a bad model fails before any output is touched
    labels = tagger.chosen_labels(job.heads)  # or HeadError
    model = _model_digests(job.model)
    state = (_resume_state(job, model) if resume else None) or _fresh_state(job, labels, model)
    _truncate_to(job, state)
    total, new = Counts(**state["counts"]), Counts()
    entries = _entries(job)
    if total.documents:
        logger.info("resuming %s after %d documents", job.output, total.documents)
        _check_done(state, entries)
    writer = _writer(job, tagger)
    started = time.perf_counter()
    summary = Summary(total, new, 0.0)
    digests: deque[str] = deque()  # of the windows read and not yet written, in order

    def read() -> Iterator[list[Document]]:
        for window in _windows((load() for load in entries), job.window):
            digests.append(_digest(window))  # before tagging: of the documents as read
            yield window

    for window in _tagged_windows(job, tagger, read()):
        writer(window, job.output, state["parts"])
        _write_errors(window, job.errors_path)
        total.add(window)
        new.add(window)
        state.update(counts=asdict(total), parts=state["parts"] + 1, last_id=window[-1].id)
        state["windows"].append([len(window), digests.popleft()])
        state.update(errors_bytes=job.errors_path.stat().st_size)
        if job.format not in DIRECTORY_FORMATS:
            state.update(output_bytes=job.output.stat().st_size)
        _save_state(job, state)
        summary.seconds = time.perf_counter() - started
        if on_window:
            on_window(summary)
    state["complete"] = True
    _save_state(job, state)
    summary.seconds = time.perf_counter() - started
    return summary


def _writer(job: Job, tagger: Tagger) -> Callable[[list[Document], Path, int], None]:
    """The writer of ``job.format``, given the options of that format."""
    options = {"jsonl": {"with_text": job.with_text}, "spacy": {"tokenizer": tagger.config.tokenizer}}
    return partial(WRITERS[job.format], **options.get(job.format, {}))


def _digest(documents: list[Document]) -> str:
    """A short SHA-256 of documents as read (id, path, text or why they could not be read), for ``--resume``."""
    digest = hashlib.sha256()
    for document in documents:
        record = [document.id, document.path, document.text, document.error]
        digest.update(json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n")
    return digest.hexdigest()[:16]


def _model_digests(model: Path) -> dict[str, str]:
    """The SHA-256 of each file of the model directory."""
    return {name: hashlib.sha256((Path(model) / name).read_bytes()).hexdigest() for name in MODEL_FILES}


def _check_done(state: dict, entries: Iterator[Callable[[], Document]]) -> None:
    """Read the documents the interrupted run annotated, from ``entries``, and refuse if any changed since."""
    done = state["counts"]["documents"]
    if "windows" not in state:  # a progress file from before window digests: its last id is all there is
        last = next(islice(entries, done - 1, None), None)
        if last is None or last().id != state["last_id"]:
            raise AnnotateError(
                f"cannot --resume: document {done} of the inputs is no longer {state['last_id']!r}, "
                "as when the run was interrupted; the inputs changed"
            )
        state["windows"] = [[done, None]]  # those documents, without a digest to check them by
        return
    read = 0
    for count, digest in state["windows"]:
        documents = [load() for load in islice(entries, count)]
        if len(documents) < count:
            raise AnnotateError(
                f"cannot --resume: the inputs now hold {read + len(documents)} documents, fewer than the {done} "
                "annotated before the interruption; the inputs changed. Start again without --resume"
            )
        if digest is not None and _digest(documents) != digest:
            raise AnnotateError(
                f"cannot --resume: documents {read + 1} to {read + count} of the inputs (ids {documents[0].id!r} to "
                f"{documents[-1].id!r}) are not as they were when annotated; the inputs changed. "
                "Start again without --resume"
            )
        read += count


def _fresh_state(job: Job, labels: list[str], model: dict[str, str]) -> dict:
    if job.format in DIRECTORY_FORMATS:
        if job.output.exists() and (not job.output.is_dir() or any(job.output.iterdir())):
            raise AnnotateError(
                f"{job.output} must be a new or empty folder for --format {job.format}; "
                "add --resume to continue an interrupted run into it"
            )
        try:
            job.output.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise AnnotateError(str(output_error(job.output, error))) from None
        if job.format == "brat":
            with atomic_write(job.output / "annotation.conf") as out:
                out.write("[entities]\n" + "".join(f"{label}\n" for label in labels))
                out.write("[relations]\n[events]\n[attributes]\n")
    state = {"settings": job.settings(), "model_sha256": model, "counts": asdict(Counts()), "parts": 0}
    state |= {"last_id": None, "complete": False, "output_bytes": 0, "errors_bytes": 0, "windows": []}
    _save_state(job, state)
    return state


def _resume_state(job: Job, model: dict[str, str]) -> dict | None:
    """The interrupted run's progress, or None when there is none and no output either.

    Refused when the settings or the model's files changed since (a progress file from before
    model digests compares the model's path instead).
    """
    path = job.progress_path
    if not path.exists():
        if job.output.exists():
            raise AnnotateError(f"cannot --resume: {job.output} exists but its progress file {path} does not")
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        settings, before = state["settings"], state.get("model_sha256")
        if not isinstance(settings, dict) or not isinstance(state["counts"], dict):
            raise ValueError("settings and counts must be objects")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise AnnotateError(f"cannot --resume: unreadable progress file {path} ({error})") from None
    changed = [
        f"{key}={settings.get(key)!r} then, {value!r} now"
        for key, value in job.settings().items()
        if settings.get(key) != value and not (key == "model" and before is not None)
    ]
    if changed:
        raise AnnotateError(f"cannot --resume with other settings than the interrupted run: {'; '.join(changed)}")
    if before is not None and before != model:
        files = ", ".join(name for name in MODEL_FILES if before.get(name) != model[name])
        raise AnnotateError(
            f"cannot --resume: the model changed since the interrupted run ({files} of {job.model} differ from the "
            "files it annotated with); start again without --resume, or resume with that model"
        )
    return state


def _truncate_to(job: Job, state: dict) -> None:
    """Cut the outputs back to what the progress file records: a crash may have left a partial window."""
    streams = [(job.errors_path, "errors_bytes")]
    if job.format not in DIRECTORY_FORMATS:
        streams.append((job.output, "output_bytes"))
    for path, key in streams:
        size = path.stat().st_size if path.exists() else 0
        if size < state[key]:
            raise AnnotateError(
                f"cannot --resume: {path} holds {size} bytes, fewer than the {state[key]} already written to it"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as out:
                out.truncate(state[key])
        except OSError as error:
            raise AnnotateError(str(output_error(path, error))) from None
    if job.format == "spacy":
        for stale in job.output.glob("part-*.spacy"):
            if int(stale.stem.split("-")[1]) >= state["parts"]:
                stale.unlink()


def _save_state(job: Job, state: dict) -> None:
    with atomic_write(job.progress_path) as out:
        json.dump(state, out, indent=1, ensure_ascii=False)

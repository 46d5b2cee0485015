"""Tagging windows of documents: in this process, or in a pool of worker processes that each load the model once."""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import threading
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch

from ..config import PREDICT_BATCH_SIZE
from ..corpus import Sentence
from ..tagger import Tagger, char_spans
from ..text import MAX_TOKENS
from .cutting import cut_ahead
from .job import AnnotateError, Document, Job

GC_THRESHOLD = 50_000  # allocations between two collections of Python's youngest generation (its default: 700)
logger = logging.getLogger(__name__)


def tag_documents(
    tagger: Tagger,
    documents: list[Document],
    batch_size: int = PREDICT_BATCH_SIZE,
    max_tokens: int = MAX_TOKENS,
    tags: bool = False,
    heads: list[str] | None = None,
    split: list[list[Sentence]] | None = None,
) -> list[Document]:
    """Tag the readable ``documents`` together with the tagger's ``heads`` (``None``: all) and fill in their spans
    (and ``tagged`` if ``tags``); ``split``, if given, is the readable documents already ``Tagger.cut``.

    A window whose tagging raises is retried one document at a time, so that only the
    documents that fail get an error.
    """
    todo = [d for d in documents if d.error is None]
    try:
        _tag(tagger, todo, split or tagger.cut([d.text for d in todo], max_tokens), batch_size, tags, heads)
    except Exception as error:  # one bad document must not stop the run
        if len(todo) == 1:
            logger.debug("tagging %s failed", todo[0].path, exc_info=True)
            todo[0].error = f"tagging failed: {type(error).__name__}: {error}"
        else:
            for document in todo:
                tag_documents(tagger, [document], batch_size, max_tokens, tags, heads)
    return documents


def _tag(
    tagger: Tagger,
    documents: list[Document],
    split: list[list[Sentence]],
    batch_size: int,
    tags: bool,
    heads: list[str] | None,
) -> None:
    for document, pairs in zip(documents, tagger.predict_cut(split, batch_size, heads)):
        document.spans = [span for sentence, prediction in pairs for span in char_spans(sentence, prediction)]
        document.tokens = sum(len(sentence) for sentence, _ in pairs)
        document.tagged = [(sentence.tokens, prediction.tags) for sentence, prediction in pairs] if tags else []


_worker: tuple[Tagger, dict] | None = None


def _start_worker(model: Path, threads: int, settings: dict, parent: multiprocessing.connection.Connection) -> None:
    """Load the model, and exit as soon as ``parent``'s other end closes: the main process ended, however."""
    global _worker
    threading.Thread(target=_exit_with_parent, args=(parent,), name="tagger-parent-watch", daemon=True).start()
    torch.set_num_threads(threads)
    _collect_less()
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


@contextmanager
def collecting_less() -> Iterator[None]:
    """Python's cyclic garbage collector run less often within the block (``GC_THRESHOLD``): the documents,
    sentences and tokens of a window are millions of small objects in no cycle, which at its default threshold
    it traversed again and again, a tenth of a run of 10,000 documents (``benchmarks/README.md``)."""
    before = _collect_less()
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _collect_less() -> tuple[int, int, int]:
    """Raise the youngest generation's threshold to ``GC_THRESHOLD``; the thresholds before."""
    before = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, *before[1:])
    return before


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


def tagging_settings(job: Job) -> dict:
    """``tag_documents``' keyword arguments for ``job``."""
    return {
        "batch_size": job.batch_size,
        "max_tokens": job.max_tokens,
        "tags": job.format == "conll",
        "heads": job.heads,
    }


def tagged_windows(job: Job, tagger: Tagger, windows: Iterator[list[Document]]) -> Iterator[list[Document]]:
    """Tagged windows in input order; with ``n_process > 1``, at most two per process in flight."""
    if job.n_process == 1:
        if job.threads:
            torch.set_num_threads(job.threads)
        settings = tagging_settings(job)
        with collecting_less():
            for window, split in cut_ahead(windows, tagger.config.tokenizer, job.max_tokens):
                yield tag_documents(tagger, window, **settings, split=split)
        return
    threads = job.threads or max(1, (os.cpu_count() or 1) // job.n_process)
    context = _context()
    watched, alive = context.Pipe(duplex=False)  # workers watch ``watched``; it closes when this process ends
    pool = ProcessPoolExecutor(
        job.n_process,
        mp_context=context,
        initializer=_start_worker,
        initargs=(job.model, threads, tagging_settings(job), watched),
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

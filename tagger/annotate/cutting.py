"""Sentence splitting and tokenisation of the next window in a process of its own, while this one tags.

A thread would gain nothing: spaCy's tokenizer and the sentence splitter hold the GIL. The cutting
process is ``python -m tagger.annotate.cutting``, not a multiprocessing child, so that it never
imports the user's main script; it imports no torch, and the two speak JSON over its standard
input and output. Should it fail to start or die, the windows are cut in this process.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import struct
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Iterator

from ..text import sentence_offsets, sentences_at

if TYPE_CHECKING:
    from ..corpus import Sentence
    from .job import Document

Cut = list[tuple[list[int], list[int]]]  # per text, its token offsets and sentence ranges, flat
HEADER = struct.Struct("<Q")  # the length of the JSON message that follows
READY = b"ready\n"  # what the cutting process writes once it can cut
STARTUP_SECONDS = 120.0  # the longest wait for the cutting process to be ready before windows are cut here
logger = logging.getLogger(__name__)
_early: list[Cutter] = []  # cutting processes started ahead of their run (``started_early``), not yet taken


def cut_ahead(
    windows: Iterator[list[Document]], tokenizer: str, max_tokens: int
) -> Iterator[tuple[list[Document], list[list[Sentence]] | None]]:
    """Each window with its readable documents' sentences (``text.sentences``; ``None`` if cutting them failed:
    tagging will cut them again, one by one if need be).

    Each window is cut in the cutting process while the caller tags the one before. The first waits for that
    process to import spaCy (half a second), which this one then never does; had it to cut the windows until then, it
    would import spaCy too, and the time it cut would be lost to tagging (a sixth of a run of 3,000 documents).
    """
    windows = iter(windows)
    with _taken(tokenizer, max_tokens) as cutter:
        current = next(windows, None)
        sent = current is not None and cutter.send(_texts(current))
        while current is not None:
            following = next(windows, None)  # read while the current window is cut
            cut = cutter.receive(_texts(current)) if sent else _cut(_texts(current), tokenizer, max_tokens)
            sent = following is not None and cutter.send(_texts(following))
            yield current, _sentences(current, cut)
            current = following


@contextmanager
def started_early(tokenizer: str, max_tokens: int) -> Iterator[None]:
    """Start the cutting process of a run to come now, for that run's ``cut_ahead`` within this block to take: it
    imports spaCy while this process imports torch and loads the model (the first seconds of a run)."""
    cutter = Cutter(tokenizer, max_tokens)
    _early.append(cutter)
    try:
        yield
    finally:
        if cutter in _early:  # not taken: the run failed before tagging, or cut with other settings
            _early.remove(cutter)
            cutter.__exit__()


def _taken(tokenizer: str, max_tokens: int) -> Cutter:
    """The cutting process started early for these settings, else a new one."""
    for cutter in _early:
        if (cutter.tokenizer, cutter.max_tokens) == (tokenizer, max_tokens):
            _early.remove(cutter)
            return cutter
    return Cutter(tokenizer, max_tokens)


class Cutter:
    """The cutting process, started on creation: ``send`` it texts, then ``receive`` their cut (cut here if the
    process died); leaving a ``with`` block stops it."""

    def __init__(self, tokenizer: str, max_tokens: int):
        self.tokenizer, self.max_tokens = tokenizer, max_tokens
        self.process: subprocess.Popen | None = None
        self.ready, self.settled = False, threading.Event()  # settled: ready, or known never to be
        self._start()

    def __enter__(self) -> Cutter:
        return self

    def __exit__(self, *exc) -> None:
        if self.process is None:
            return
        if not self.ready:
            self.process.kill()  # still importing spaCy
        self.process.stdin.close()  # it exits at the end of its input, or on writing a reply nobody reads
        self.process.stdout.close()
        self.process.wait()

    def send(self, texts: list[str]) -> bool:
        """Send ``texts`` to be cut, once the process is ready (waiting for it up to ``STARTUP_SECONDS``): whether
        it took them."""
        if self.process is not None and not (self.settled.wait(STARTUP_SECONDS) and self.ready):
            self._gone(RuntimeError(f"it was not ready within {STARTUP_SECONDS:.0f} s"))
        if self.process is None:
            return False
        try:
            _write(self.process.stdin, texts)
        except OSError as error:
            self._gone(error)
            return False
        return True

    def receive(self, texts: list[str]) -> Cut | None:
        """The cut of ``texts``, the texts last sent."""
        if self.process is not None:
            try:
                return _read(self.process.stdout)
            except (OSError, EOFError, ValueError) as error:
                self._gone(error)
        return _cut(texts, self.tokenizer, self.max_tokens)

    def _start(self) -> None:
        package = str(Path(__file__).resolve().parents[2])  # this checkout's tagger, however it was imported
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package, os.environ.get("PYTHONPATH")]))}
        command = [sys.executable, "-m", __name__, self.tokenizer, str(self.max_tokens)]
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
            )
        except OSError as error:
            self._gone(error)
            return
        threading.Thread(target=self._wait_ready, name="tagger-cutter-start", daemon=True).start()

    def _wait_ready(self) -> None:
        self.ready = self.process.stdout.read(len(READY)) == READY
        self.settled.set()

    def _gone(self, error: Exception) -> None:
        logger.warning("the cutting process stopped (%s); windows are cut in this process", error)
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        self.process = None


def _texts(window: list[Document]) -> list[str]:
    return [document.text for document in window if document.error is None]


def _cut(texts: list[str], tokenizer: str, max_tokens: int) -> Cut | None:
    try:
        cuts = [sentence_offsets(text, max_tokens, tokenizer) for text in texts]
    except Exception:  # tag_documents records the error of the document that has it
        return None
    return [([i for pair in tokens for i in pair], [i for pair in ranges for i in pair]) for tokens, ranges in cuts]


def _sentences(window: list[Document], cut: Cut | None) -> list[list[Sentence]] | None:
    if cut is None:
        return None
    return [sentences_at(text, _pairs(tokens), _pairs(ranges)) for text, (tokens, ranges) in zip(_texts(window), cut)]


def _pairs(flat: list[int]) -> list[tuple[int, int]]:
    return list(zip(flat[::2], flat[1::2]))


def _write(stream: IO[bytes], message) -> None:
    data = json.dumps(message, separators=(",", ":")).encode("ascii")  # ASCII: lone surrogates survive
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def _read(stream: IO[bytes]):
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        raise EOFError("no reply")
    (size,) = HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("a cut reply")
    return json.loads(data)


def _serve(tokenizer: str, max_tokens: int) -> None:
    """Cut each list of texts read from standard input, until its end, and write the cuts to standard output."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C; this process ends with its input
    _cut(["Warm up."], tokenizer, max_tokens)
    sys.stdout.buffer.write(READY)
    sys.stdout.buffer.flush()
    while True:
        try:
            texts = _read(sys.stdin.buffer)
        except EOFError:
            return
        _write(sys.stdout.buffer, _cut(texts, tokenizer, max_tokens))


if __name__ == "__main__":
    sys.modules["torch"] = None  # spaCy's thinc imports torch where it can, a second of start; cutting needs none
    _serve(sys.argv[1], int(sys.argv[2]))
    os._exit(0)  # every reply is flushed; tearing down spaCy's objects would keep the parent waiting half a second

"""The run: read windows, tag them, write them in input order, and record in a progress file how far it got.

An interrupted run resumes from its progress file without redoing or duplicating a document.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import deque
from dataclasses import asdict, dataclass
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Callable, Iterator

from ..files import atomic_write, output_error
from ..tagger import Tagger
from .job import DIRECTORY_FORMATS, AnnotateError, Document, Job
from .parts import clear
from .sources import Entry, digest, entries, load, windows
from .tagging import tagged_windows
from .writers import WRITERS, write_errors

MODEL_FILES = ("config.json", "vocab.json", "weights.safetensors")
logger = logging.getLogger(__name__)


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


def annotate(job: Job, resume: bool = False, on_window: Callable[[Summary], None] | None = None) -> Summary:
    """Annotate every document of ``job``; ``resume`` continues the interrupted run into the same output.

    ``on_window`` is called with the running summary after each window is written. A run into standard output
    keeps no progress file, so it cannot be resumed.
    """
    job.check()
    if resume and job.to_stdout:
        raise AnnotateError(
            "cannot --resume into standard output (--output -): what was written there cannot be found again. "
            "Give --output a file to be able to resume"
        )
    tagger = Tagger.load(job.model)  # in the parent too, so that a bad model fails before any output is touched
    model = _model_digests(job.model)
    labels = tagger.chosen_labels(job.heads)  # or HeadError
    state = (_resume_state(job, model) if resume else None) or _fresh_state(job, labels, model)
    _truncate_to(job, state)
    total, new = Counts(**state["counts"]), Counts()
    listed = entries(job)
    if total.documents:
        logger.info("resuming %s after %d documents", job.output, total.documents)
        _check_done(job, state, listed)
    writer = _writer(job, tagger)
    started = time.perf_counter()
    summary = Summary(total, new, 0.0)
    blocks = windows(listed, job.window, len(state["windows"]))
    for window, as_read in _tagged(job, tagger, blocks, state["parts"]):
        writer(window, job.output, state["parts"])
        write_errors(window, job.errors_path)
        total.add(window)
        new.add(window)
        state.update(counts=asdict(total), parts=state["parts"] + 1, last_id=window[-1].id)
        state["windows"].append([len(window), as_read])
        state.update(errors_bytes=job.errors_path.stat().st_size if job.errors_path.exists() else 0)
        if _output_file(job):
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


def _tagged(
    job: Job, tagger: Tagger, blocks: Iterator[list[Entry]], first: int
) -> Iterator[tuple[list[Document], str]]:
    """The windows ``blocks`` (numbered from ``first``) tagged by ``job``'s engine, in order, each with the digest
    of its documents as read."""
    if job.engine == "ray":
        from .ray_engine import tag_on_ray  # Ray is an optional extra

        return tag_on_ray(job, blocks, first)
    return _tag_here(job, tagger, blocks)


def _tag_here(job: Job, tagger: Tagger, blocks: Iterator[list[Entry]]) -> Iterator[tuple[list[Document], str]]:
    """Each window of entries read and tagged on this machine, in order, with the digest of its documents as read."""
    digests: deque[str] = deque()  # of the windows read and not yet tagged, in order

    def read() -> Iterator[list[Document]]:
        for block in blocks:
            documents = [load(entry, job) for entry in block]
            digests.append(digest(documents))  # before tagging: of the documents as read
            yield documents

    for documents in tagged_windows(job, tagger, read()):
        yield documents, digests.popleft()


def _model_digests(model: Path) -> dict[str, str]:
    """The SHA-256 of each file of the model directory."""
    return {name: hashlib.sha256((Path(model) / name).read_bytes()).hexdigest() for name in MODEL_FILES}


def _check_done(job: Job, state: dict, entries: Iterator[Entry]) -> None:
    """Read the documents the interrupted run annotated, from ``entries``, and refuse if any changed since."""
    done = state["counts"]["documents"]
    if "windows" not in state:  # a progress file from before window digests: its last id is all there is
        last = next(islice(entries, done - 1, None), None)
        if last is None or load(last, job).id != state["last_id"]:
            raise AnnotateError(
                f"cannot --resume: document {done} of the inputs is no longer {state['last_id']!r}, "
                "as when the run was interrupted; the inputs changed"
            )
        state["windows"] = [[done, None]]  # those documents, without a digest to check them by
        return
    read = 0
    for count, recorded in state["windows"]:
        documents = [load(entry, job) for entry in islice(entries, count)]
        if len(documents) < count:
            raise AnnotateError(
                f"cannot --resume: the inputs now hold {read + len(documents)} documents, fewer than the {done} "
                "annotated before the interruption; the inputs changed. Start again without --resume"
            )
        if recorded is not None and digest(documents) != recorded:
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
                f"{job.output} must be a new or empty folder for --output-format {job.format}; "
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
    clear(job.parts_path)  # what an earlier Ray run into this output left
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
    if _output_file(job):
        streams.append((job.output, "output_bytes"))
    for path, key in streams:
        size = path.stat().st_size if path.exists() else 0
        if size < state[key]:
            raise AnnotateError(
                f"cannot --resume: {path} holds {size} bytes, fewer than the {state[key]} already written to it"
            )
        if path == job.errors_path and not state[key]:
            _remove(path)  # an earlier run's: the file is there only when a document failed
            continue
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


def _output_file(job: Job) -> bool:
    """Whether the records go to one file, whose size the progress file records."""
    return job.format not in DIRECTORY_FORMATS and not job.to_stdout


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as error:
        raise AnnotateError(str(output_error(path, error))) from None


def _save_state(job: Job, state: dict) -> None:
    """Record how far the run got; a run into standard output, which cannot resume, records nothing."""
    if job.to_stdout:
        return
    with atomic_write(job.progress_path) as out:
        json.dump(state, out, indent=1, ensure_ascii=False)

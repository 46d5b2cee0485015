"""What a run annotates and how (``Job``), one document on its way through (``Document``), and what can go wrong."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

from ..config import MAX_THREADS, PREDICT_BATCH_SIZE
from ..files import refuse_overwrite
from ..text import MAX_TOKENS

FORMATS = ("jsonl", "conll", "brat", "spacy")
DIRECTORY_FORMATS = ("brat", "spacy")
INPUT_FORMATS = ("auto", "txt", "jsonl")
ENGINES = ("local", "ray")
STDIN = STDOUT = "-"
STDOUT_ERRORS = Path("annotate.errors.jsonl")  # the errors file of a run into standard output


class AnnotateError(ValueError):
    """A run that cannot start or resume: bad settings, or outputs that do not match its progress file."""


@dataclass
class Job:
    """What to annotate, with which model, how, and where the results go."""

    model: Path
    inputs: list[str]  # .txt files, folders (searched for .txt files), JSONL files, or "-" for stdin
    output: Path  # a file for jsonl and conll, a folder for brat and spacy; "-": JSONL to standard output
    format: str = "jsonl"
    errors: Path | None = None  # default: the output path + ".errors.jsonl" (STDOUT_ERRORS for standard output)
    input_format: str = "auto"  # auto: JSONL for .jsonl/.ndjson files, text otherwise (stdin included)
    id_field: str = "id"
    text_field: str = "text"
    with_text: bool = True  # JSONL records carry the document text
    engine: str = "local"  # local: this process or a pool of processes; ray: actors on a Ray cluster
    n_process: int = 1  # local
    workers: int = 0  # ray: tagging actors; 0: as many as the cluster's CPUs hold
    ray_address: str | None = None  # ray: the cluster to join; None: start a local Ray on this machine
    threads: int = 0  # torch threads per process or actor; 0: local, torch's default alone or the cores shared
    # out; ray, 1 (an actor reserves as many CPUs as it takes threads)
    batch_size: int = PREDICT_BATCH_SIZE  # sentences per forward pass
    window: int = 1024  # documents tokenised and tagged together (each runs the character encoder once)
    max_tokens: int = MAX_TOKENS  # longer sentences are cut into chunks
    max_chars: int = 1_000_000  # longer documents are recorded as errors
    heads: list[str] | None = None  # the model's heads that tag (Tagger.predict's head); None: every head

    @property
    def to_stdout(self) -> bool:
        """Whether the records go to standard output (``--output -``), which keeps no progress file."""
        return str(self.output) == STDOUT

    @property
    def errors_path(self) -> Path:
        """Where failed documents are written, a file created only when one fails."""
        return self.errors or (STDOUT_ERRORS if self.to_stdout else Path(f"{self.output}.errors.jsonl"))

    @property
    def progress_path(self) -> Path:
        return Path(f"{self.output}.progress.json")

    @property
    def parts_path(self) -> Path:
        """The folder of the Ray engine's part files, while they wait to be merged into the output."""
        return Path(f"{self.output}.parts")

    def settings(self) -> dict:
        """The settings a resumed run must share with the interrupted one (the model by its files' content)."""
        keys = ("inputs", "format", "input_format", "id_field", "text_field", "with_text", "max_tokens", "max_chars")
        keys += ("heads",)  # progress files from before heads lack it: None, every head, as those runs tagged
        return {"model": str(self.model), **{key: getattr(self, key) for key in keys}}

    def check(self) -> None:
        """Raise ``AnnotateError`` on settings out of range, ``FileNotFoundError`` on a missing input and
        ``OverwriteError`` on an output that would write over an input."""
        for name, allowed in (("format", FORMATS), ("input_format", INPUT_FORMATS), ("engine", ENGINES)):
            if getattr(self, name) not in allowed:
                raise AnnotateError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        for name in ("n_process", "batch_size", "window", "max_tokens", "max_chars"):
            if getattr(self, name) < 1:
                raise AnnotateError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not 0 <= self.threads <= MAX_THREADS:
            raise AnnotateError(f"threads must be 0 (automatic) to {MAX_THREADS}, not {self.threads}")
        self._check_engine()
        if not self.inputs:
            raise AnnotateError("no inputs: give .txt files, folders, JSONL files or - for standard input")
        if self.to_stdout and self.format != "jsonl":
            raise AnnotateError(
                f"--output - writes JSONL to standard output; --output-format {self.format} needs a path to write to"
            )
        kind = "folder" if self.format in DIRECTORY_FORMATS else "file"
        if not self.to_stdout and self.output.exists() and self.output.is_dir() != (kind == "folder"):
            raise AnnotateError(
                f"--output-format {self.format} writes a {kind}, but {self.output} exists and is not one"
            )
        missing = [path for path in self.inputs if path != STDIN and not Path(path).exists()]
        if missing:
            raise FileNotFoundError(f"input not found: {', '.join(missing)}")
        outputs = {"--output": self.output, "--errors": self.errors_path, "the progress file": self.progress_path}
        refuse_overwrite(outputs | {"the parts folder": self.parts_path}, [*self.inputs, self.model])

    def _check_engine(self) -> None:
        """Refuse settings of one engine given to the other, and the Ray engine without Ray or with standard input."""
        if self.workers < 0:
            raise AnnotateError(f"workers must be 0 (automatic) or more, not {self.workers}")
        if self.engine == "local":
            if self.workers or self.ray_address:
                raise AnnotateError(
                    "--workers and --ray-address are for --engine ray; the local engine takes --n-process"
                )
            return
        if self.n_process != 1:
            raise AnnotateError("--n-process is for --engine local; the Ray engine takes --workers")
        if STDIN in self.inputs:
            raise AnnotateError(
                "--engine ray reads files that its workers open again; standard input needs --engine local"
            )
        if importlib.util.find_spec("ray") is None:
            raise AnnotateError("--engine ray needs Ray: pip install 'tagger[ray]'")


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

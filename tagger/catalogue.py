"""Named public corpora: where each split's file comes from, its format, licence and checksum; download and cache.

The table is ``catalogue.json`` beside this module, one entry per corpus. A corpus' files are
looked for, file by file, in a local mirror laid out as ``NAME/FILE`` (``data_dir``, then
``$TAGGER_DATA_DIR``), then in the cache (``$XDG_CACHE_HOME/tagger/corpora``, by default
``~/.cache/tagger/corpora``), and downloaded into the cache when missing.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import json
import logging
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from . import DISTRIBUTION, __version__
from .files import atomic_path

SPLITS = ("train", "dev", "test")
FIELDS = ("task", "domain", "format", "licence", "citation", "source")  # of an entry, besides its files
DATA_DIR_VARIABLE = "TAGGER_DATA_DIR"
RETRIES = 3  # attempts per file
BACKOFF = 1.0  # seconds before the second attempt, doubled for each further one
TIMEOUT = 60.0  # seconds without an answer from the server
CHUNK = 1 << 16
logger = logging.getLogger(__name__)


class CatalogueError(ValueError):
    """An unknown corpus or split, or a corpus that could not be fetched; the message says which."""


class DownloadError(CatalogueError):
    """A download that failed or whose checksum did not match; nothing of it is kept."""


@dataclass(frozen=True)
class CorpusFile:
    """One split's file: its name in ``NAME/``, where to download it and its SHA-256 where known."""

    split: str
    file: str
    url: str
    sha256: str | None = None


@dataclass(frozen=True)
class Entry:
    """A named corpus: task, text domain, format, licence, citation, provenance and one file per split.

    ``columns`` is the ``(token, tag)`` column pair of CoNLL files that need one other than
    the first and the last.
    """

    name: str
    task: str
    domain: str  # of its text: biomedical or reviews (the domains of the presets' resources)
    format: str
    licence: str
    citation: str
    source: str
    files: tuple[CorpusFile, ...]
    columns: tuple[int, int] | None = None

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(file.split for file in self.files)

    def file(self, split: str) -> CorpusFile:
        """The file of ``split``, or an error naming the splits the corpus has."""
        for file in self.files:
            if file.split == split:
                return file
        raise CatalogueError(f"corpus {self.name!r} has no {split} split; it has {', '.join(self.splits)}")

    def to_dict(self) -> dict:
        """The entry as ``catalogue.json`` holds it, with its name."""
        entry = {key: getattr(self, key) for key in ("name", *FIELDS)}
        entry["files"] = {f.split: {"file": f.file, "url": f.url, "sha256": f.sha256} for f in self.files}
        if self.columns is not None:
            entry["columns"] = list(self.columns)
        return entry

    @classmethod
    def from_dict(cls, name: str, entry: dict) -> "Entry":
        """The entry ``name`` of ``catalogue.json``."""
        if "train" not in entry["files"] or not set(entry["files"]) <= set(SPLITS):
            raise CatalogueError(
                f"catalogue entry {name!r}: expected files for train and optionally dev and test, "
                f"found {', '.join(entry['files'])}"
            )
        files = tuple(CorpusFile(split, **entry["files"][split]) for split in SPLITS if split in entry["files"])
        columns = tuple(entry["columns"]) if "columns" in entry else None
        fields = {key: entry[key] for key in FIELDS}
        return cls(name, files=files, columns=columns, **fields)


@functools.cache
def entries() -> dict[str, Entry]:
    """Every corpus of the catalogue by name, in the table's order."""
    table = json.loads(resources.files(__package__).joinpath("catalogue.json").read_text(encoding="utf-8"))
    return {name: Entry.from_dict(name, entry) for name, entry in table.items()}


def entry(name: str) -> Entry:
    """The corpus called ``name``, or an error listing the names there are."""
    if name not in entries():
        raise CatalogueError(f"unknown corpus {name!r}; the catalogue has {', '.join(entries())}")
    return entries()[name]


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/tagger``, by default ``~/.cache/tagger``: downloaded corpora and models are kept below."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tagger"


def cache_dir() -> Path:
    """Where downloads are kept: ``$XDG_CACHE_HOME/tagger/corpora``, by default ``~/.cache/tagger/corpora``."""
    return cache_root() / "corpora"


def mirrors(data_dir: str | Path | None = None) -> list[Path]:
    """The local mirrors to look in, in order: ``data_dir``, then ``$TAGGER_DATA_DIR``."""
    found = [data_dir, os.environ.get(DATA_DIR_VARIABLE)]
    return [Path(directory) for directory in found if directory]


def locate(
    entry: Entry, splits: tuple[str, ...] | None = None, data_dir: str | Path | None = None, progress: bool = True
) -> dict[str, Path]:
    """The file of each of ``splits`` (default: all) of ``entry``, from a mirror or the cache, downloading if need be.

    A mirror's file is used as it is (a checksum mismatch is logged); a cached one is used when
    its checksum is good, and downloaded again otherwise.
    """
    places = mirrors(data_dir)
    paths = {}
    for file in [entry.file(split) for split in splits or entry.splits]:
        path = next((path for path in (place / entry.name / file.file for place in places) if path.is_file()), None)
        if path is not None:
            if file.sha256 and sha256(path) != file.sha256:
                logger.warning("%s: checksum differs from the catalogue's (%s); using it as it is", path, file.sha256)
        else:
            path = cache_dir() / entry.name / file.file
            if not _cached(path, file.sha256):
                absent = f" (not in {' or '.join(str(place / entry.name) for place in places)})" if places else ""
                logger.info("%s %s: downloading %s to %s%s", entry.name, file.split, file.url, path, absent)
                fetch(file.url, path, file.sha256, progress)
        paths[file.split] = path
    return paths


def _cached(path: Path, expected: str | None) -> bool:
    if not path.is_file():
        return False
    if expected and sha256(path) != expected:
        logger.warning("%s: checksum differs from the catalogue's; downloading it again", path)
        return False
    return True


def fetch(
    url: str, path: str | Path, expected: str | None = None, progress: bool = True, offline: str | None = None
) -> Path:
    """Download ``url`` to ``path`` atomically, checking its SHA-256 against ``expected`` when given.

    Connection errors, timeouts, truncated bodies and 5xx or 429 answers are tried again, up to
    ``RETRIES`` attempts in all, after ``BACKOFF`` seconds and then twice as long each time.
    Raises ``DownloadError``, one line saying what failed; nothing is left at ``path`` then. When the server
    cannot be reached, ``offline`` (by default: how to use a local mirror of a corpus) ends the message.
    """
    path = Path(path)
    attempt = 1
    while True:
        try:
            return _download(url, path, expected, progress)
        except _Transient as error:
            if attempt == RETRIES:
                hint = ""
                if isinstance(error, _Unreachable):
                    hint = ". Offline? " + (
                        offline
                        or f"Put {path.parent.name}/{path.name} in a local mirror (--data-dir or ${DATA_DIR_VARIABLE})"
                    )
                raise DownloadError(f"cannot download {url}: {error} ({RETRIES} attempts){hint}") from None
            wait = BACKOFF * 2 ** (attempt - 1)
            logger.warning("%s: %s; trying again in %.0f s", url, error, wait)
            time.sleep(wait)
            attempt += 1


class _Transient(Exception):
    """A failure worth another attempt."""


class _Unreachable(_Transient):
    """No answer from the server at all."""


def _download(url: str, path: Path, expected: str | None, progress: bool) -> Path:
    """One attempt: stream ``url`` into a temporary file beside ``path`` and move it there if it is whole and good."""
    from tqdm import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": f"{DISTRIBUTION}/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response, atomic_path(path) as temporary:
            size = int(response.headers.get("Content-Length") or 0) or None
            digest = hashlib.sha256()
            received = 0
            bar = tqdm(total=size, unit="B", unit_scale=True, desc=path.name, disable=not progress, leave=False)
            with open(temporary, "wb") as out, bar:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            if size is not None and received != size:
                raise _Transient(f"the connection closed after {received} of {size} bytes")
            if expected and digest.hexdigest() != expected:
                raise DownloadError(
                    f"{url}: checksum mismatch for {path.parent.name}/{path.name}: expected sha256 {expected}, "
                    f"got {digest.hexdigest()}; the download was not kept"
                )
    except urllib.error.HTTPError as error:
        answer = f"the server answered {error.code} {error.reason}"
        if error.code >= 500 or error.code == 429:
            raise _Transient(answer) from None
        raise DownloadError(f"cannot download {url}: {answer}") from None
    except urllib.error.URLError as error:
        raise _Unreachable(f"cannot reach the server ({error.reason})") from None
    except (http.client.HTTPException, ConnectionError, TimeoutError) as error:
        raise _Transient(f"the connection failed ({type(error).__name__}: {error})") from None
    return path


def sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()

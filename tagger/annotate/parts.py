"""Part files: each window tagged elsewhere, written whole under its block number until it is merged.

A block is a window of entries, numbered from the start of the run; its key is a digest of
those entries. A part is written atomically, so one that exists is complete, and a retried
or re-run block replaces its own part instead of adding a second. The manifest beside the
parts records the key of every block of the plan; a resumed run keeps only the parts whose
block has the same key in its own plan, and deletes the rest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from ..files import atomic_write
from .job import Document

MANIFEST = "manifest.json"


def block_key(records: list[dict]) -> str:
    """A short SHA-256 of a block's entries (as ``Entry.record`` gives them)."""
    return hashlib.sha256(json.dumps(records, sort_keys=True).encode("ascii")).hexdigest()[:16]


def part_path(folder: Path, number: int) -> Path:
    return folder / f"part-{number:08d}.jsonl"


def write_part(folder: Path, number: int, documents: list[Document], as_read: str) -> None:
    """Write block ``number``'s tagged ``documents`` and the digest of them as read, in one step."""
    with atomic_write(part_path(folder, number)) as out:
        out.write(json.dumps({"digest": as_read}) + "\n")
        out.writelines(json.dumps(asdict(document)) + "\n" for document in documents)


def read_part(folder: Path, number: int) -> tuple[list[Document], str]:
    """Block ``number``'s tagged documents and the digest of them as read."""
    header, *lines = part_path(folder, number).read_text(encoding="utf-8").splitlines()
    return [Document(**json.loads(line)) for line in lines], json.loads(header)["digest"]


def remove_part(folder: Path, number: int) -> None:
    part_path(folder, number).unlink(missing_ok=True)


def start(folder: Path, keys: dict[int, str]) -> set[int]:
    """Make ``folder`` hold the parts of the plan ``keys`` (block number to key) only; the numbers already done.

    Parts the previous manifest gave another key, or that it did not list, are deleted; then
    the manifest of ``keys`` replaces it.
    """
    try:
        before = {int(number): key for number, key in json.loads((folder / MANIFEST).read_text())["keys"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # none yet, or unreadable: keep no part
        before = {}
    done = set()
    for part in folder.glob("part-*.jsonl"):
        number = int(part.stem.split("-")[1])
        if number in keys and before.get(number) == keys[number]:
            done.add(number)
        else:
            part.unlink()
    _remove_temporaries(folder)
    with atomic_write(folder / MANIFEST) as out:
        json.dump({"keys": {str(number): key for number, key in keys.items()}}, out, indent=1)
    return done


def clear(folder: Path) -> None:
    """Delete the parts, their temporaries and the manifest, and ``folder`` once empty."""
    if not folder.is_dir():
        return
    for part in folder.glob("part-*.jsonl"):
        part.unlink()
    _remove_temporaries(folder)
    (folder / MANIFEST).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()


def _remove_temporaries(folder: Path) -> None:
    """Delete what interrupted writes of parts left (no worker writes while the driver calls this)."""
    for stale in folder.glob(".part-*.tmp"):
        stale.unlink(missing_ok=True)

"""Writing files so that a crash never leaves a truncated one behind, and never over a command's own input."""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from pathlib import Path
from typing import IO, Iterable, Iterator


class OverwriteError(ValueError):
    """An output path that is, lies inside, or holds one of the command's inputs."""


class OutputError(OSError):
    """An output that cannot be written (no such folder, a file where a folder should be, no space left, ...)."""


def refuse_overwrite(
    outputs: dict[str, str | Path | None], inputs: Iterable[str | Path | None], holds: bool = True
) -> None:
    """Raise ``OverwriteError`` when writing an output could touch an input; call it before opening anything.

    ``outputs`` maps each output's option name (for the message) to its path. An output is refused when it is an
    input (also through a symbolic or hard link), lies inside an input folder, or (with ``holds``) is a folder an
    input lies in. ``None`` entries and ``-`` (standard input or output) are skipped.
    """
    sources = [Path(path) for path in inputs if path is not None and str(path) != "-"]
    for option, output in outputs.items():
        if output is None or str(output) == "-":
            continue
        target = Path(os.path.realpath(output))
        for source in sources:
            resolved = Path(os.path.realpath(source))
            if _same_file(target, resolved) or target == resolved:
                raise OverwriteError(f"{option} {output} is the input {source}: refusing to write over it")
            if resolved.is_dir() and target.is_relative_to(resolved):
                raise OverwriteError(
                    f"{option} {output} lies inside the input folder {source}: choose a path outside it"
                )
            if holds and resolved.is_relative_to(target):
                raise OverwriteError(f"{option} {output} holds the input {source}: choose an output that does not")


def _same_file(first: Path, second: Path) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist yet
        return False


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` in one step."""
    with atomic_path(path) as temporary:
        with open(temporary, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary file name beside ``path``, for writers that want a name; on success it replaces ``path``.

    The file system's refusals (of the folder, the temporary file, its writing or the replacement)
    raise ``OutputError`` naming ``path``; ``path`` is then as it was.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise output_error(path, error) from None
    os.close(descriptor)
    try:
        os.chmod(temporary, 0o666 & ~_umask())
        yield Path(temporary)
        descriptor = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        if isinstance(error, OSError) and not isinstance(error, OutputError) and error.filename in (None, temporary):
            raise output_error(path, error) from None
        raise


def output_error(path: str | Path, error: OSError) -> OutputError:
    """``OutputError`` naming ``path`` and why ``error`` refused it (a file where a folder should be, say)."""
    path = Path(path)
    blocked = next((parent for parent in path.parents if parent.exists() and not parent.is_dir()), None)
    if blocked is not None:
        return OutputError(f"cannot write {path}: {blocked} is a file, not a folder")
    return OutputError(f"cannot write {path}: {error.strerror or error}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_temporaries(path: str | Path) -> list[Path]:
    """Delete the temporary files that interrupted ``atomic_write``s of ``path`` left beside it; return them."""
    path = Path(path)
    stale = sorted(path.parent.glob(f".{glob.escape(path.name)}.*.tmp")) if path.parent.is_dir() else []
    for temporary in stale:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return stale

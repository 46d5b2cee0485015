"""Figures written as PNG: matplotlib without a display, each file replaced atomically."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import IO, Iterator

from .files import atomic_write


@contextlib.contextmanager
def png_figure(path: str | Path | IO[bytes], rows: int = 1, columns: int = 1, **options) -> Iterator[tuple]:
    """``(figure, axes)`` of ``plt.subplots(rows, columns, **options)``, laid out and saved on exit to ``path``, a
    file name or a binary file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(rows, columns, **options)
    try:
        yield figure, axes
        figure.tight_layout()
        if not isinstance(path, (str, Path)):
            figure.savefig(path, format="png")
            return
        with atomic_write(path, "wb") as out:
            figure.savefig(out, format="png")
    finally:
        plt.close(figure)

"""Figures written to PNG files: matplotlib without a display, each file replaced atomically."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from .files import atomic_write


@contextlib.contextmanager
def png_figure(path: str | Path, rows: int = 1, columns: int = 1, **options) -> Iterator[tuple]:
    """``(figure, axes)`` of ``plt.subplots(rows, columns, **options)``, laid out and saved to ``path`` on exit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(rows, columns, **options)
    try:
        yield figure, axes
        figure.tight_layout()
        with atomic_write(path, "wb") as out:
            figure.savefig(out, format="png")
    finally:
        plt.close(figure)

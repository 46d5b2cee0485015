"""Score tables for the terminal."""

from __future__ import annotations

from ..evaluation import how_counted, score_rows


def print_scores(scores: dict) -> None:
    """Per-type and micro-averaged precision, recall and F1 as a table."""
    rows = score_rows(scores)
    width = max(12, *(len(label) for label, _ in rows))
    print(f"{'':<{width}}  {'precision':>9}  {'recall':>9}  {'f1':>9}  {'support':>8}")
    for label, row in rows:
        print(
            f"{label:<{width}}  {row['precision']:>9.4f}  {row['recall']:>9.4f}  {row['f1']:>9.4f}  {row['support']:>8}"
        )
    print(f"({how_counted(scores)})")

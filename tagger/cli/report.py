"""Score tables for the terminal."""

from __future__ import annotations


def print_scores(scores: dict) -> None:
    """Per-type and micro-averaged precision, recall and F1 as a table."""
    rows = [(label, row) for label, row in sorted(scores["per_type"].items())]
    support = sum(row["support"] for _, row in rows)
    rows.append(("micro avg", {**scores, "support": support}))
    width = max(12, *(len(label) for label, _ in rows))
    print(f"{'':<{width}}  {'precision':>9}  {'recall':>9}  {'f1':>9}  {'support':>8}")
    for label, row in rows:
        print(
            f"{label:<{width}}  {row['precision']:>9.4f}  {row['recall']:>9.4f}  {row['f1']:>9.4f}  {row['support']:>8}"
        )
    print(f"(seqeval, {scores['mode']} mode, {scores['scheme']})")

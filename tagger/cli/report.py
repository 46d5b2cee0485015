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
    print(_how(scores))


def _how(scores: dict) -> str:
    """How the scores were counted: by seqeval, or by character spans of raw text (``raw_text_scores``)."""
    if "matching" not in scores:
        return f"(seqeval, {scores['mode']} mode, {scores['scheme']})"
    return (
        f"({scores['matching']} in the raw text of {scores['documents']} documents; {scores['off_token_boundaries']} "
        f"of the {scores['gold']} gold mentions begin or end inside a token, and cannot be found)"
    )

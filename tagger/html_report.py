"""The error analysis of ``tagger evaluate --report`` as one self-contained HTML page: inline CSS, the calibration
plot an inline PNG, nothing fetched from the network."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from html import escape
from pathlib import Path

from .error_analysis import CATEGORIES, MISSED, Example, Match, error_count, worst
from .evaluation import how_counted, score_rows
from .files import atomic_write
from .plots import png_figure

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; } td, th { padding: 2px 10px; text-align: right; }
th:first-child, thead th { text-align: left; } thead th { border-bottom: 1px solid #999; }
tbody tr:nth-child(even) { background: #f6f6f6; } td.zero { color: #bbb; }
.example { margin: .8em 0; padding: .3em .6em; border-left: 3px solid #ccc; }
.line { font-family: ui-monospace, monospace; white-space: pre-wrap; }
.line b { display: inline-block; width: 6em; color: #777; font-weight: normal; }
mark { border-radius: 3px; padding: 0 2px; background: #e4e4e4; }
mark sub { font-size: .7em; color: #555; margin-left: 2px; }
.correct { background: #c8ecc8; } .missed { background: #f8c8c8; } .spurious { background: #f6d6a8; }
.wrong_type { background: #d8c8f0; } .wrong_boundary { background: #c8dcf6; }
.wrong_type_and_boundary { background: #f0c8e4; }
.legend mark { margin-right: .6em; } .side { display: flex; gap: 2em; align-items: flex-start; }
"""


def render(scores: dict, analysis: dict, examples: Sequence[Example], title: str, limit: int = 50) -> str:
    """The page: ``scores`` (``evaluation.score`` or ``raw_text_scores``) per type, ``analysis``
    (``error_analysis.analyse`` of ``examples``) and the ``limit`` examples with the most errors."""
    errors, calibration = analysis["errors"], analysis["calibration"]
    error_rows = [("all types", errors["overall"]), *errors["per_type"].items()]
    confusion, unit = analysis["confusion"], "documents" if "matching" in scores else "sentences"
    sections = [
        f"<h1>{escape(title)}</h1><p>{escape(how_counted(scores))}</p>",
        "<h2>Scores</h2>",
        _table(
            ["", "precision", "recall", "f1", "support"],
            [[label, row["precision"], row["recall"], row["f1"], row["support"]] for label, row in score_rows(scores)],
        ),
        "<h2>Errors</h2><p>Each prediction is correct, spurious (no gold entity overlaps it), of the wrong type (same "
        "boundaries), of the wrong boundaries (overlapping, same type) or both; a gold entity that no prediction "
        "overlaps is missed. Per type: the gold entity's type, the prediction's when spurious.</p>",
        _table(
            ["", *(category.replace("_", " ") for category in CATEGORIES)],
            [[label, *row.values()] for label, row in error_rows],
        ),
        "<h2>Confusion of types</h2><p>Rows: gold type, columns: predicted type, over overlapping pairs; O is "
        "the missing entity of a spurious prediction (row) or a miss (column).</p>",
        _table(["gold \\ predicted", *confusion], [[gold, *row.values()] for gold, row in confusion.items()]),
        "<h2>Calibration</h2>",
        _calibration(calibration),
        f"<h2>Worst {unit}</h2>",
        _legend(limit, unit),
        *(_example(example, matches) for example, matches in worst(examples, limit)),
    ]
    body = "\n".join(sections)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def write(
    path: str | Path, scores: dict, analysis: dict, examples: Sequence[Example], title: str, limit: int = 50
) -> None:
    """The page ``render`` makes, written to ``path`` atomically."""
    with atomic_write(path) as out:
        out.write(render(scores, analysis, examples, title, limit))


def _table(header: list[str], rows: list[list]) -> str:
    """An HTML table; a row's first cell is its heading, numbers are shown with 4 decimals, ``None`` as a dash."""
    head = "".join(f"<th>{escape(str(cell))}</th>" for cell in header)
    body = "".join(f"<tr><th>{escape(str(row[0]))}</th>{''.join(_cell(cell) for cell in row[1:])}</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value) -> str:
    if value is None:
        return "<td>–</td>"
    if isinstance(value, float):
        return f"<td>{value:.4f}</td>"
    return '<td class="zero">0</td>' if value == 0 else f"<td>{value}</td>"


def _calibration(calibration: dict) -> str:
    """The reliability plot and the table of ``calibration``'s bins, with its expected calibration error."""
    ece = "–" if calibration["ece"] is None else f"{calibration['ece']:.4f}"
    rows = [
        [f"{row['low']:.1f}–{row['high']:.1f}", row["count"], row["confidence"], row["precision"]]
        for row in calibration["bins"]
    ]
    table = _table(["confidence", "entities", "mean confidence", "precision"], rows)
    return (
        f"<p>Are entities predicted with confidence 0.9 right 90% of the time? Expected calibration error "
        f"(the mean gap between a prediction's bin's precision and confidence): <strong>{ece}</strong>.</p>"
        f'<div class="side"><img alt="precision against confidence of the predicted entities" '
        f'src="{_reliability_png(calibration)}">{table}'
        "</div>"
    )


def _reliability_png(calibration: dict) -> str:
    """The precision of each confidence bin against its confidence, as a ``data:`` URL of a PNG."""
    buffer = io.BytesIO()
    filled = [row for row in calibration["bins"] if row["count"]]
    with png_figure(buffer, figsize=(5, 4), dpi=100) as (_, axis):
        width = calibration["bins"][0]["high"] - calibration["bins"][0]["low"]
        centres = [row["low"] + width / 2 for row in filled]
        bars = axis.bar(centres, [row["precision"] for row in filled], width=width * 0.9, color="#6a9fd8")
        axis.bar_label(bars, labels=[str(row["count"]) for row in filled], fontsize=8)
        axis.plot([0, 1], [0, 1], "--", color="#888")
        axis.set(xlim=(0, 1), ylim=(0, 1.1), xlabel="confidence of the predicted entity", ylabel="precision")
        axis.set_title("entities per bin above its bar; dashed: perfect calibration", fontsize=9)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _legend(limit: int, unit: str) -> str:
    marks = "".join(f'<mark class="{c}">{c.replace("_", " ")}</mark>' for c in CATEGORIES)
    return (
        f'<p class="legend">Up to {limit} {unit} with the most errors, most first: gold entities above with their '
        f"type, predictions below with type and confidence, coloured by category: {marks}</p>"
    )


def _example(example: Example, matches: list[Match]) -> str:
    """Two lines of ``example``'s text: its gold entities (misses marked) and its predictions by category."""
    missed = {m.gold for m in matches if m.category == MISSED}
    gold = [(start, end, MISSED if (start, end, label) in missed else "", label) for start, end, label in example.gold]
    predicted = [
        (m.predicted[0], m.predicted[1], m.category, f"{m.predicted[2]} {score:.2f}")
        for m, score in zip(matches, example.scores)  # the matches of predictions come first, in order
    ]
    errors = error_count(matches)
    return (
        f'<div class="example">{errors} error{"s" if errors != 1 else ""}'
        f'<div class="line"><b>gold</b>{_marked(example.text, gold)}</div>'
        f'<div class="line"><b>predicted</b>{_marked(example.text, predicted)}</div></div>'
    )


def _marked(text: str, spans: list[tuple[int, int, str, str]]) -> str:
    """``text`` escaped, with its ``(start, end, css class, tag)`` spans marked; a span that overlaps one before it
    (nested gold) is left out."""
    pieces, at = [], 0
    for start, end, css, tag in sorted(spans):
        if start < at:
            continue
        pieces += [escape(text[at:start]), f'<mark class="{css}">']
        pieces += [escape(text[start:end]), f"<sub>{escape(tag)}</sub></mark>"]
        at = end
    return "".join([*pieces, escape(text[at:])])

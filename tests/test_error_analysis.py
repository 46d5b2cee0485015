"""Error analysis: the MUC categories on hand-made spans, calibration on known inputs, and ``tagger evaluate
--report`` on a tiny model, its page agreeing with ``--json``."""

from __future__ import annotations

import json
import re

import pytest

from tagger.cli.main import main
from tagger.error_analysis import (
    CORRECT,
    MISSED,
    NONE,
    SPURIOUS,
    WRONG_BOTH,
    WRONG_BOUNDARY,
    WRONG_TYPE,
    Example,
    Match,
    analyse,
    calibration,
    categorise,
    category_counts,
    confusion,
    worst,
)
from tagger.formats import read_corpus

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize(
    "gold, predicted, category",
    [
        ((2, 4, "A"), (2, 4, "A"), CORRECT),
        ((2, 4, "A"), (2, 4, "B"), WRONG_TYPE),
        ((2, 4, "A"), (3, 6, "A"), WRONG_BOUNDARY),
        ((2, 4, "A"), (1, 3, "B"), WRONG_BOTH),
    ],
)
def test_a_prediction_overlapping_a_gold_span_falls_in_its_category(gold, predicted, category):
    assert categorise([gold], [predicted]) == [Match(category, gold, predicted)]


def test_a_gold_span_no_prediction_overlaps_is_missed_and_a_prediction_without_gold_is_spurious():
    gold, predicted = [(0, 2, "A")], [(2, 3, "A")]  # end exclusive: touching is not overlapping
    assert categorise(gold, predicted) == [Match(SPURIOUS, None, (2, 3, "A")), Match(MISSED, (0, 2, "A"), None)]
    assert categorise([], []) == []


def test_a_prediction_is_compared_with_the_gold_span_that_agrees_most():
    gold = [(0, 2, "B"), (2, 4, "A"), (3, 5, "C")]
    assert categorise(gold, [(1, 3, "A")]) == [Match(WRONG_BOUNDARY, (2, 4, "A"), (1, 3, "A")), *_missed(gold[2])]
    assert categorise(gold, [(3, 5, "A")])[0] == Match(WRONG_TYPE, (3, 5, "C"), (3, 5, "A"))
    assert categorise(gold, [(1, 3, "D")])[0] == Match(WRONG_BOTH, (0, 2, "B"), (1, 3, "D"))  # the first of equals
    two = categorise([(0, 4, "A")], [(0, 2, "A"), (2, 4, "A")])  # one gold span split in two: two errors, no miss
    assert [m.category for m in two] == [WRONG_BOUNDARY, WRONG_BOUNDARY]


def _missed(*gold):
    return [Match(MISSED, span, None) for span in gold]


def test_counts_and_confusion_count_a_spurious_prediction_for_its_own_type():
    matches = categorise([(0, 1, "A"), (2, 3, "A"), (5, 6, "B")], [(0, 1, "A"), (2, 3, "B"), (8, 9, "B")])
    counts = category_counts(matches)
    assert counts["overall"] == {
        CORRECT: 1, MISSED: 1, SPURIOUS: 1, WRONG_TYPE: 1, WRONG_BOUNDARY: 0, WRONG_BOTH: 0
    }  # fmt: skip
    assert {label: {k: v for k, v in row.items() if v} for label, row in counts["per_type"].items()} == {
        "A": {CORRECT: 1, WRONG_TYPE: 1},
        "B": {MISSED: 1, SPURIOUS: 1},
    }
    assert confusion(matches) == {
        "A": {"A": 1, "B": 1, NONE: 0},
        "B": {"A": 0, "B": 0, NONE: 1},
        NONE: {"A": 0, "B": 1, NONE: 0},
    }


def test_calibration_bins_scores_and_weighs_each_bins_gap_by_its_spans():
    found = calibration([0.05, 0.95, 0.95, 0.55, 1.0], [False, True, False, True, True], bins=10)
    filled = {row["low"]: row for row in found["bins"] if row["count"]}
    assert set(filled) == {0.0, 0.5, 0.9}  # 1.0 falls in the last bin
    assert (filled[0.9]["count"], filled[0.9]["precision"]) == (3, pytest.approx(2 / 3))
    assert filled[0.9]["confidence"] == pytest.approx(2.9 / 3) and filled[0.5]["precision"] == 1.0
    assert found["bins"][1] == {"low": 0.1, "high": 0.2, "count": 0, "confidence": None, "precision": None}
    assert found["ece"] == pytest.approx((0.05 + 0.45 + 3 * abs(2 / 3 - 2.9 / 3)) / 5)
    assert calibration([0.8] * 5, [True] * 4 + [False], bins=1)["ece"] == pytest.approx(0.0)
    assert calibration([1 + 1e-8], [True], bins=2)["bins"][1]["count"] == 1  # exp(log p) may round above 1
    empty = calibration([], [], bins=3)
    assert [row["count"] for row in empty["bins"]] == [0, 0, 0] and empty["ece"] is None


@pytest.mark.parametrize("scores, correct, bins", [([0.5], [], 10), ([1.5], [True], 10), ([0.5], [True], 0)])
def test_calibration_refuses_what_it_cannot_bin(scores, correct, bins):
    with pytest.raises(ValueError, match="calibration needs"):
        calibration(scores, correct, bins)


def test_token_examples_are_the_tokens_joined_with_character_spans():
    example = Example.of_tokens(["Aspirin", "and", "breast", "cancer"], [(2, 4, "D")], [(0, 1, "C")], [0.9])
    assert example.text == "Aspirin and breast cancer"
    assert [example.text[s:e] for s, e, _ in example.gold + example.predicted] == ["breast cancer", "Aspirin"]


def test_analyse_and_worst_gather_the_examples():
    examples = [
        Example("a b", [(0, 1, "A")], [(0, 1, "A")], [0.95]),
        Example("c d", [(0, 1, "A")], [(2, 3, "A")], [0.35]),
        Example("e f g", [(0, 1, "A"), (2, 3, "A"), (4, 5, "A")], [], []),
    ]
    analysis = analyse(examples)
    assert analysis["errors"]["overall"][MISSED] == 4 and analysis["errors"]["overall"][SPURIOUS] == 1
    assert [row["count"] for row in analysis["calibration"]["bins"]] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 1]
    assert [example.text for example, _ in worst(examples)] == ["e f g", "c d"]  # the correct one left out
    assert len(worst(examples, limit=1)) == 1


# tagger evaluate --report ---------------------------------------------------------------------------------------

SECTIONS = ("Scores", "Errors", "Confusion of types", "Calibration", "Worst sentences")


def _evaluate(capsys, *args: str) -> dict:
    assert main(["evaluate", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _check_page(page: str, printed: dict, sections=SECTIONS) -> None:
    """The page is one self-contained HTML document with ``sections`` whose error counts are ``printed``'s."""
    assert page.startswith("<!DOCTYPE html>") and page.count("<html") == 1
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "<script" not in page and "data:image/png;base64," in page
    assert all(f"<h2>{section}</h2>" in page for section in sections)
    for label, row in [("all types", printed["errors"]["overall"]), *printed["errors"]["per_type"].items()]:
        assert f"<tr><th>{label}</th>{''.join(_cell(n) for n in row.values())}</tr>" in page
    ece = printed["calibration"]["ece"]
    assert f"<strong>{'–' if ece is None else f'{ece:.4f}'}</strong>" in page


def _cell(count: int) -> str:
    return '<td class="zero">0</td>' if count == 0 else f"<td>{count}</td>"


def test_evaluate_report_writes_one_page_whose_counts_are_those_of_json(tiny_model, sample, tmp_path, capsys):
    report = tmp_path / "out" / "report.html"
    printed = _evaluate(capsys, "--model", str(tiny_model), "--data", str(sample / "test.tsv"), "--report", str(report))
    assert {"precision", "recall", "f1", "mode", "scheme", "per_type"} <= set(printed)
    overall = printed["errors"]["overall"]
    predicted = sum(overall[c] for c in (CORRECT, SPURIOUS, WRONG_TYPE, WRONG_BOUNDARY, WRONG_BOTH))
    assert sum(row["count"] for row in printed["calibration"]["bins"]) == predicted
    assert printed["precision"] == pytest.approx(overall[CORRECT] / predicted if predicted else 0.0)
    gold = sum(row["support"] for row in printed["per_type"].values())
    assert printed["recall"] == pytest.approx(overall[CORRECT] / gold)
    _check_page(report.read_text(encoding="utf-8"), printed)
    assert [p.name for p in report.parent.iterdir()] == ["report.html"]  # no temporary file left


def test_evaluate_report_of_raw_text_shows_documents(tiny_model, sample, tmp_path, capsys):
    corpus = read_corpus(sample / "test.tsv")
    records = []
    for number, sentence in enumerate(corpus.sentences[:20]):
        example = Example.of_tokens(sentence.tokens, sentence.spans, [], [])
        spans = [{"start": s, "end": e, "label": label} for s, e, label in example.gold]
        records.append({"id": str(number), "text": example.text, "spans": spans})
    data = tmp_path / "gold.jsonl"
    data.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    report = tmp_path / "report.html"
    printed = _evaluate(capsys, "--model", str(tiny_model), "--data", str(data), "--raw-text", "--report", str(report))
    sections = (*SECTIONS[:-1], "Worst documents")
    _check_page(report.read_text(encoding="utf-8"), printed, sections)
    assert printed["errors"]["overall"][CORRECT] == printed["correct"]


def test_evaluate_report_refuses_to_write_over_its_inputs(tiny_model, sample, tmp_path, capsys):
    data = tmp_path / "test.tsv"
    data.write_bytes((sample / "test.tsv").read_bytes())
    common = ["evaluate", "--model", str(tiny_model), "--data", str(data)]
    for report in (data, tiny_model / "report.html"):
        assert main([*common, "--report", str(report)]) == 2
        assert "--report" in capsys.readouterr().err
    assert main([*common, "--report", str(tmp_path / "a"), "--predictions", str(tmp_path / "a")]) == 2
    assert "--report and --predictions are both" in capsys.readouterr().err
    assert data.read_bytes() == (sample / "test.tsv").read_bytes() and not (tiny_model / "report.html").exists()


def test_evaluate_report_refuses_to_write_over_the_file_corpus_finds(tiny_model, shared_corpora, tmp_path, capsys):
    mirror = tmp_path / "mirror" / "semeval14-laptop"
    mirror.mkdir(parents=True)
    test = mirror / "test.xml"
    test.write_bytes((shared_corpora / "semeval14-laptop" / "test.xml").read_bytes())
    command = ["evaluate", "--model", str(tiny_model), "--corpus", "semeval14-laptop", "--data-dir", str(mirror.parent)]
    for raw_text in ([], ["--raw-text"]):
        assert main([*command, *raw_text, "--report", str(test)]) == 2
        assert f"--report {test} is the input" in capsys.readouterr().err
    assert test.read_bytes() == (shared_corpora / "semeval14-laptop" / "test.xml").read_bytes()

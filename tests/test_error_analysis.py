"""Error analysis: the MUC categories on hand-made spans, calibration on known inputs."""

from __future__ import annotations

import pytest

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

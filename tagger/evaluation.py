"""Entity-level scoring with seqeval, always naming its mode and scheme."""

from __future__ import annotations

from typing import Sequence

from seqeval.metrics import classification_report
from seqeval.scheme import IOB1, IOB2, IOBES

from .corpus import Corpus
from .schemes import check_scheme, convert

MODES = ("default", "strict")
_SCHEME_CLASSES = {"IOB1": IOB1, "IOB2": IOB2, "IOBES": IOBES}


def score(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], scheme: str, mode: str = "default"
) -> dict:
    """Micro P/R/F1 and a per-type table, as fractions.

    ``default`` is conlleval's lenient chunking; ``strict`` counts only chunks that are
    well formed in ``scheme``.
    """
    scheme = check_scheme(scheme)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if len(gold) != len(predicted) or any(len(g) != len(p) for g, p in zip(gold, predicted)):
        raise ValueError("gold and predicted tag sequences differ in number or length")
    if not gold:
        raise ValueError("no tag sequences to score")
    options = {"mode": "strict", "scheme": _SCHEME_CLASSES[scheme]} if mode == "strict" else {}
    report = classification_report(
        [list(g) for g in gold], [list(p) for p in predicted], output_dict=True, zero_division=0, **options
    )
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    per_type = {
        label: {
            "precision": float(row["precision"]),
            "recall": float(row["recall"]),
            "f1": float(row["f1-score"]),
            "support": int(row["support"]),
        }
        for label, row in report.items()
        if not label.endswith(" avg")
    }
    return {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "mode": mode,
        "scheme": scheme,
        "per_type": per_type,
    }


def evaluate(
    tagger, corpus: Corpus, mode: str = "default", batch_size: int = 256, head: str | Sequence[str] | None = None
) -> tuple[dict, list[list[str]]]:
    """Score ``tagger`` (its heads ``head`` chooses: ``Tagger.predict``) on ``corpus`` in the corpus' own scheme;
    also return the predicted tags.

    A corpus without sentences is an ``EmptyCorpusError`` naming its source.
    """
    corpus.require_sentences("evaluate on")
    predictions = tagger.predict(list(corpus), batch_size=batch_size, confidences=False, head=head)
    predicted = [convert(p.tags, corpus.scheme) for p in predictions]
    return score([s.tags for s in corpus], predicted, corpus.scheme, mode), predicted

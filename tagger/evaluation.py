"""Entity-level scoring: seqeval over tags, always naming its mode and scheme; exact character spans over raw text."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Sequence

from .corpus import Corpus, CorpusFormatError, Sentence
from .error_analysis import Example
from .formats import RAW_TEXT, format_of, read_corpus
from .formats.offsets import documents
from .label_maps import LabelMap, map_labels, relabel
from .predictions import Prediction
from .schemes import check_scheme, convert

MODES = ("default", "strict")
RAW_TEXT_MATCHING = "exact character spans"
logger = logging.getLogger(__name__)


def score(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], scheme: str, mode: str = "default"
) -> dict:
    """Micro P/R/F1 and a per-type table, as fractions.

    ``default`` is conlleval's lenient chunking; ``strict`` counts only chunks that are
    well formed in ``scheme``.
    """
    from seqeval import scheme as schemes  # here, not above: it takes a second to import, and the help needs MODES
    from seqeval.metrics import classification_report

    scheme = check_scheme(scheme)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if len(gold) != len(predicted) or any(len(g) != len(p) for g, p in zip(gold, predicted)):
        raise ValueError("gold and predicted tag sequences differ in number or length")
    if not gold:
        raise ValueError("no tag sequences to score")
    options = {"mode": "strict", "scheme": getattr(schemes, scheme)} if mode == "strict" else {}
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
    tagger,
    corpus: Corpus,
    mode: str = "default",
    batch_size: int = 256,
    label_map: LabelMap | None = None,
    head: str | Sequence[str] | None = None,
) -> tuple[dict, list[list[str]]]:
    """Score ``tagger`` (its heads ``head`` chooses: ``Tagger.predict``) on ``corpus`` in the corpus' own scheme;
    also return the predicted tags.

    ``label_map`` renames the gold types first (``label_maps.relabel``). A corpus without
    sentences is an ``EmptyCorpusError`` naming its source.
    """
    scores, predictions = scored_predictions(tagger, corpus, mode, batch_size, label_map, head, confidences=False)
    return scores, [prediction.tags for prediction in predictions]


def scored_predictions(
    tagger,
    corpus: Corpus,
    mode: str = "default",
    batch_size: int = 256,
    label_map: LabelMap | None = None,
    head: str | Sequence[str] | None = None,
    confidences: bool = True,
) -> tuple[dict, list[Prediction]]:
    """As ``evaluate``, but return the predictions: their tags in the corpus' scheme, their spans with confidences
    (``nan`` without ``confidences``)."""
    corpus.require_sentences("evaluate on")
    if label_map:
        corpus = relabel(corpus, label_map)
    predictions = tagger.predict(list(corpus), batch_size=batch_size, confidences=confidences, head=head)
    predictions = [replace(p, tags=convert(p.tags, corpus.scheme)) for p in predictions]
    return score([s.tags for s in corpus], [p.tags for p in predictions], corpus.scheme, mode), predictions


def sentence_examples(corpus: Corpus, predictions: Sequence[Prediction]) -> list[Example]:
    """Each sentence of ``corpus`` with its gold spans (as ``to_spans`` reads its tags) and those of its prediction,
    for ``error_analysis``."""
    return [
        Example.of_tokens(sentence.tokens, sentence.spans, _triples(p.spans), [span.score for span in p.spans])
        for sentence, p in zip(corpus, predictions)
    ]


def _triples(spans: Iterable) -> list[tuple[int, int, str]]:
    """``(start, end, label)`` of each ``Span`` or ``TextSpan``."""
    return [(span.start, span.end, span.label) for span in spans]


def raw_text_scores(
    tagger,
    path: str | Path,
    label_map: LabelMap | None = None,
    batch_size: int = 256,
    format: str | None = None,
    encoding: str | None = None,
    lenient: bool = False,
    head: str | Sequence[str] | None = None,
) -> dict:
    """The scores of ``raw_text_evaluation``."""
    return raw_text_evaluation(tagger, path, label_map, batch_size, format, encoding, lenient, head)[0]


def raw_text_evaluation(
    tagger,
    path: str | Path,
    label_map: LabelMap | None = None,
    batch_size: int = 256,
    format: str | None = None,
    encoding: str | None = None,
    lenient: bool = False,
    head: str | Sequence[str] | None = None,
) -> tuple[dict, list[Example]]:
    """Score ``tagger`` on the raw text of the corpus file ``path`` by exact character spans.

    ``path`` holds documents with gold character spans (a format of ``formats.RAW_TEXT``:
    PubTator, SemEval XML, JSONL, BRAT; ``format``, ``encoding`` and ``lenient`` as ``read_corpus``
    takes them). Each document's text is tagged as a user's text is, by ``Tagger.tag``
    (our sentence splitter, the model's tokenizer, the heads ``head`` chooses); nothing of
    the gold tells it where sentences or tokens are. A predicted ``(start, end, label)`` is
    correct when a gold mention after ``label_map`` is exactly that. Gold mentions that begin or end inside a
    token (counted as ``off_token_boundaries``), or cross a sentence end, cannot be found:
    they are misses.

    Returns the scores, ``precision``, ``recall``, ``f1`` and ``per_type`` as ``score`` gives them, ``matching``,
    and the counts ``documents``, ``gold``, ``predicted``, ``correct`` and ``off_token_boundaries``; and each
    document as an ``Example`` for ``error_analysis``.
    """
    if format_of(path, format) not in RAW_TEXT:
        raise CorpusFormatError(
            f"{path}: raw-text scoring needs documents with their text and character spans "
            f"({', '.join(RAW_TEXT)}), not the tokens of {format_of(path, format)}"
        )
    corpus = read_corpus(path, format, lenient, encoding=encoding, tokenizer=tagger.config.tokenizer)
    split = list(documents(corpus.require_sentences("evaluate on").sentences))  # each document's sentences
    gold, predicted, off_boundaries, examples = set(), set(), 0, []
    tagged = tagger.tag([document[0].text for document in split], batch_size, head)  # documents batched together
    for number, (document, result) in enumerate(zip(split, tagged)):
        mentions = {span for sentence in document for span in map_labels(sentence.char_spans, label_map or {})}
        off_boundaries += _off_token_boundaries(mentions, result.sentences)
        gold |= {(number, *span) for span in mentions}
        found = _triples(result.spans)
        predicted |= {(number, *span) for span in found}
        examples.append(Example(result.text, sorted(mentions), found, [span.score for span in result.spans]))
    warn_of_unpredicted({label for *_, label in gold}, tagger, str(path), head)
    counts = {"documents": len(split), "gold": len(gold), "predicted": len(predicted), "correct": len(gold & predicted)}
    counts["off_token_boundaries"] = off_boundaries
    return {**span_scores(gold, predicted), "matching": RAW_TEXT_MATCHING, **counts}, examples


def score_rows(scores: dict) -> list[tuple[str, dict]]:
    """The rows of a score table: ``(type, its scores)`` by type, then ``micro avg`` with the total support."""
    rows = sorted(scores["per_type"].items())
    return [*rows, ("micro avg", {**scores, "support": sum(row["support"] for _, row in rows)})]


def how_counted(scores: dict) -> str:
    """How ``scores`` were counted: by seqeval (``score``), or by character spans of raw text (``raw_text_scores``)."""
    if "matching" not in scores:
        return f"seqeval, {scores['mode']} mode, {scores['scheme']}"
    return (
        f"{scores['matching']} in the raw text of {scores['documents']} documents; {scores['off_token_boundaries']} "
        f"of the {scores['gold']} gold mentions begin or end inside a token, and cannot be found"
    )


def _off_token_boundaries(spans: Iterable[tuple[int, int, str]], sentences: Sequence[Sentence]) -> int:
    """How many of the character ``spans`` begin or end inside a token of the text's ``sentences`` (or in
    whitespace)."""
    offsets = [offset for sentence in sentences for offset in sentence.offsets]
    starts, ends = {start for start, _ in offsets}, {end for _, end in offsets}
    return sum(start not in starts or end not in ends for start, end, _ in spans)


def span_scores(gold: set[tuple], predicted: set[tuple]) -> dict:
    """Micro P/R/F1 and a per-type table of exactly matching spans, tuples whose last item is the label."""
    labels = sorted({span[-1] for span in gold | predicted})
    per_type = {}
    for label in labels:
        own_gold, own_predicted = ({s for s in spans if s[-1] == label} for spans in (gold, predicted))
        per_type[label] = {**_fractions(gold & predicted & own_gold, own_predicted, own_gold), "support": len(own_gold)}
    return {**_fractions(gold & predicted, predicted, gold), "per_type": per_type}


def _fractions(correct: set, predicted: set, gold: set) -> dict:
    """Precision, recall and F1 as fractions; 0 where a denominator is 0 (as seqeval's ``zero_division=0``)."""
    precision = len(correct) / len(predicted) if predicted else 0.0
    recall = len(correct) / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def warn_of_unpredicted(
    labels: Iterable[str], tagger, source: str | None, head: str | Sequence[str] | None = None
) -> None:
    """Log a warning naming the gold ``labels`` that ``tagger``'s heads ``head`` never predict: their entities
    are all misses."""
    predicts = tagger.chosen_labels(head)
    unknown = sorted(set(labels) - set(predicts))
    if unknown:
        logger.warning(
            "%s: gold types the model never predicts (it predicts %s): %s; a label map renames them",
            source or "corpus",
            ", ".join(predicts),
            ", ".join(unknown),
        )

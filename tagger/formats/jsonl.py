"""Span JSONL, as Prodigy and doccano export it: ``{"text": ..., "spans": [{"start", "end", "label"}]}``, or doccano's
``"entities": [{"start_offset", "end_offset", "label"}]`` or ``"label": [[start, end, label]]``."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from ..corpus import Corpus, CorpusFormatError, Sentence
from ..files import atomic_write
from ..reading import DEFAULT_ENCODING, SURROGATE, read_text
from ..text import DEFAULT_TOKENIZER, tokenize
from .offsets import CharSpan, check_span, log_alignment, nonempty, parse_each, pieces, tag

EXTENSIONS = (".jsonl",)
SPAN_KEYS = ("spans", "entities", "label")  # where a record's spans are looked for, in this order
SKIPPED_ANSWERS = ("reject", "ignore")  # Prodigy answers whose records are not gold


def read(
    path: str | Path, lenient: bool = False, encoding: str = DEFAULT_ENCODING, tokenizer: str = DEFAULT_TOKENIZER
) -> Corpus:
    """Read one sentence per line: ``text``, ``spans`` and optionally ``id`` and ``tokens``.

    ``tokens`` (``[{"text", "start", "end"}]``, as Prodigy writes them) are used as given,
    whitespace ones left out; without them the text is one sentence of tokens by the rules
    ``tokenizer`` (``text.tokenize``). Spans are aligned to the tokens and counted in
    ``corpus.notes`` as the SemEval reader does. A bad line raises, or with ``lenient`` is
    skipped, counted in ``notes["skipped_sentences"]``. Spans are the first of ``SPAN_KEYS`` a record has
    (``label`` only as a list). Records whose Prodigy ``answer`` is ``reject`` or ``ignore`` are left out,
    counted in ``notes["reject_answers"]`` and ``notes["ignore_answers"]``.
    """
    path = Path(path)
    notes: Counter = Counter()
    text = read_text(path, encoding)
    lines = [(number, line) for number, line in enumerate(text.split("\n"), start=1) if line.strip()]
    parsed = parse_each(lines, lambda item: _sentence(*item, path, notes, tokenizer), lenient, notes, "sentences")
    sentences = nonempty([sentence for sentence in parsed if sentence is not None], notes)
    log_alignment(path, notes)
    return Corpus(sentences, "IOB2", str(path), +notes)


def _sentence(number: int, line: str, path: Path, notes: Counter, tokenizer: str) -> Sentence | None:
    where = f"{path}:{number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise CorpusFormatError(f"{where}: expected a JSON object, found invalid JSON ({error})") from None
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        raise CorpusFormatError(f"{where}: expected an object with a string 'text', found {line[:80]!r}")
    if record.get("answer") in SKIPPED_ANSWERS:
        notes[f"{record['answer']}_answers"] += 1
        return None
    text = _unicode(record["text"], "the text", where)
    spans = [_span(span, text, where) for span in _span_objects(record, where)]
    if "tokens" in record:
        sentence = _tokens(_list(record, "tokens", where), text, where)
    else:
        sentence = tokenize(text, tokenizer)
    sentence.id = None if record.get("id") is None else _unicode(str(record["id"]), "the id", where)
    return tag(sentence, spans, notes, where)


def _unicode(value: str, what: str, where: str) -> str:
    """``value``, unless it holds a lone surrogate (a ``\\ud800`` escape alone): not Unicode, no UTF-8 for it."""
    surrogate = SURROGATE.search(value)
    if surrogate:
        raise CorpusFormatError(
            f"{where}: {what} holds a lone surrogate {surrogate.group()!r} at character {surrogate.start()}, "
            "which is not valid Unicode"
        )
    return value


def _list(record: dict, key: str, where: str) -> list[dict]:
    """``record[key]`` (empty when absent), checked to be a list of objects."""
    items = record.get(key, [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise CorpusFormatError(f"{where}: expected '{key}' to be a list of objects, found {json.dumps(items)[:80]}")
    return items


def _span_objects(record: dict, where: str) -> list[dict]:
    """The record's spans as ``{"start", "end", "label"}`` objects, from the first of ``SPAN_KEYS`` it has."""
    if "spans" in record or ("entities" not in record and not isinstance(record.get("label"), list)):
        return _list(record, "spans", where)
    if "entities" in record:
        keys = {"start": "start_offset", "end": "end_offset", "label": "label"}
        return [
            {key: entity.get(theirs) for key, theirs in keys.items()} for entity in _list(record, "entities", where)
        ]
    triples = record["label"]
    if not all(isinstance(triple, list) and len(triple) == 3 for triple in triples):
        raise CorpusFormatError(
            f"{where}: expected 'label' to be a list of [start, end, label] lists, found {json.dumps(triples)[:80]}"
        )
    return [dict(zip(("start", "end", "label"), triple)) for triple in triples]


def _integer(item: dict, key: str, where: str) -> int:
    value = item.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise CorpusFormatError(f"{where}: expected an integer '{key}' in {json.dumps(item)[:80]}")
    return value


def _span(span: dict, text: str, where: str) -> CharSpan:
    label = span.get("label")
    if not isinstance(label, str) or not label:
        raise CorpusFormatError(f"{where}: expected a string 'label' in span {json.dumps(span)[:80]}")
    _unicode(label, "a span label", where)
    start, end = _integer(span, "start", where), _integer(span, "end", where)
    check_span(text, start, end, f"{where}: span {label}")
    return start, end, label


def _tokens(tokens: list[dict], text: str, where: str) -> Sentence:
    """A sentence of the given tokens, checked to match the text in order; whitespace tokens left out."""
    offsets: list[tuple[int, int]] = []
    for number, token in enumerate(tokens):
        start, end = _integer(token, "start", where), _integer(token, "end", where)
        check_span(text, start, end, f"{where}: token {number}", token.get("text"))
        if offsets and start < offsets[-1][1]:
            raise CorpusFormatError(f"{where}: token {number} at {start}-{end} overlaps or precedes the one before")
        if not text[start:end].isspace():
            offsets.append((start, end))
    return Sentence([text[start:end] for start, end in offsets], offsets=offsets, text=text)


def write(corpus: Corpus, path: str | Path) -> None:
    """Write one line per sentence with ``text``, ``tokens`` and ``spans`` (and ``id`` when known), atomically.

    Sentences read with character spans give them back as read; others give their tagged spans.
    """
    with atomic_write(path) as out:
        for part in pieces(corpus.sentences):
            record = {"id": part.sentence.id} if part.sentence.id is not None else {}
            record["text"] = part.text
            record["tokens"] = [
                {"text": token, "start": start - part.start, "end": end - part.start, "id": number}
                for number, (token, (start, end)) in enumerate(zip(part.sentence.tokens, part.sentence.offsets))
            ]
            record["spans"] = [{"start": start, "end": end, "label": label} for start, end, label in part.spans]
            out.write(json.dumps(record, ensure_ascii=False) + "\n")

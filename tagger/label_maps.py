"""Label maps: gold entity types renamed to a model's labels before scoring (``SpecificDisease=Disease``)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from .config import ConfigError, read_json
from .corpus import Corpus
from .schemes import Span

DROPPED = ("O", "")  # what a type is mapped to to leave its entities out
LabelMap = Mapping[str, str]


class LabelMapError(ValueError):
    """A label map that is neither ``TYPE=LABEL`` pairs nor a JSON file of them."""


def read_label_map(spec: str) -> dict[str, str]:
    """The map ``spec`` gives: ``TYPE=LABEL`` pairs separated by commas, or the path of a JSON object of them.

    A type mapped to ``O`` or to nothing (``Modifier=``) is dropped by ``map_labels``; types the map
    does not name keep their label. Anything else is a ``LabelMapError`` saying what it found.
    """
    if Path(spec).is_file():
        return _from_json(Path(spec))
    if "=" not in spec:
        raise LabelMapError(
            f"label map {spec!r}: expected TYPE=LABEL pairs separated by commas, such as "
            "SpecificDisease=Disease,Modifier=Disease, or a JSON file of them; it is neither, and no such file exists"
        )
    mapping: dict[str, str] = {}
    for pair in spec.split(","):
        source, equals, target = (part.strip() for part in pair.partition("="))
        if not equals or not source:
            raise LabelMapError(f"label map {spec!r}: expected TYPE=LABEL, found {pair.strip()!r}")
        if mapping.get(source, target) != target:
            raise LabelMapError(f"label map {spec!r}: {source} is mapped twice, to {mapping[source]!r} and {target!r}")
        mapping[source] = target
    return mapping


def _from_json(path: Path) -> dict[str, str]:
    try:
        mapping = read_json(path, "label map")
    except ConfigError as error:
        raise LabelMapError(str(error)) from None
    if not isinstance(mapping, dict) or not all(isinstance(label, str) for label in mapping.values()):
        raise LabelMapError(
            f'{path}: expected a JSON object of TYPE: LABEL strings, such as {{"SpecificDisease": "Disease"}}, '
            f"found {str(mapping)[:80]}"
        )
    return mapping


def map_labels(spans: Iterable[Span], label_map: LabelMap) -> list[Span]:
    """``spans`` (``(start, end, label)``, over tokens or characters) with their labels mapped; those mapped to
    ``O`` or nothing left out."""
    mapped = ((start, end, label_map.get(label, label)) for start, end, label in spans)
    return [span for span in mapped if span[2] not in DROPPED]


def relabel(corpus: Corpus, label_map: LabelMap) -> Corpus:
    """``corpus`` with the entity types of its tags mapped by ``label_map``, in its scheme."""
    sentences = [sentence.with_spans(map_labels(sentence.spans, label_map), corpus.scheme) for sentence in corpus]
    return Corpus(sentences, corpus.scheme, corpus.source, corpus.notes)

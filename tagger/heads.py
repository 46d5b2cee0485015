"""Heads: a model's output layers, one per training corpus and named after it, and choosing them by name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .schemes import labels_of
from .vocab import Vocab

DEFAULT_HEAD = "default"  # the head of a model built from one unnamed corpus, and of models saved before heads
ALL = "all"  # chooses every head, so it names none


class HeadError(ValueError):
    """A head a model does not have, or names that cannot name heads (empty, repeated, ``all``)."""


@dataclass
class Head:
    """One head as a tagger knows it: its name, its tags (``O`` first) and the scheme its predictions are in."""

    name: str
    tags: Vocab
    output_scheme: str

    @property
    def labels(self) -> list[str]:
        """The entity labels of its tags, sorted."""
        return labels_of(self.tags.items)


def check_names(names: Sequence[str]) -> None:
    """``HeadError`` unless ``names`` are distinct non-blank strings, none of them ``all``."""
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise HeadError(f"a head's name must be a non-blank string, not {name!r}")
        if name == ALL:
            raise HeadError(f"{ALL!r} cannot name a head (or corpus): choosing the head {ALL!r} chooses every head")
    for name in names:
        if names.count(name) > 1:
            raise HeadError(f"two heads (corpora) are named {name!r}: give each its own name")


def choose(names: Sequence[str], head: str | Sequence[str] | None) -> list[int]:
    """Indices into ``names`` of the heads ``head`` chooses, in its order.

    ``head`` is a name, a list of names, or ``None`` or ``"all"`` (alone, or as the list's only entry) for
    every head; a name not in ``names`` is a ``HeadError`` listing them.
    """
    wanted = [head] if head is None or isinstance(head, str) else list(head)
    if wanted in ([None], [ALL]):
        return list(range(len(names)))
    if not wanted:
        raise HeadError(f"no head chosen: name one or more of {_listed(names)}, or {ALL}")
    for name in wanted:
        if not isinstance(name, str):
            raise HeadError(f"a head is chosen by its name, a string, not {name!r}")
        if name == ALL:
            raise HeadError(f"{ALL!r} chooses every head: give it alone, or name the heads")
        if name not in names:
            raise HeadError(f"no head named {name!r}: this model's heads are {_listed(names)}")
    return [names.index(name) for name in dict.fromkeys(wanted)]


def _listed(names: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in names)

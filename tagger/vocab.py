"""Word, character and tag vocabularies, and the word-form normalisation they share."""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

PAD, UNK = "<pad>", "<unk>"
_DIGITS = re.compile(r"\d")

CASINGS = ("<pad>", "lower", "upper", "title", "numeric", "has_digit", "mixed", "other")


class Vocab:
    """A fixed list of items and their ids; unknown items map to ``<unk>`` when it has one."""

    def __init__(self, items: Iterable[str]):
        self.items = list(items)
        self.ids = {item: i for i, item in enumerate(self.items)}
        if len(self.ids) != len(self.items):
            raise ValueError("vocabulary items must be unique")
        self.unk = self.ids.get(UNK)

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, item: str) -> bool:
        return item in self.ids

    def id(self, item: str) -> int:
        found = self.ids.get(item, self.unk)
        if found is None:
            raise KeyError(f"{item!r} is not in a vocabulary without {UNK}")
        return found

    @classmethod
    def build(cls, counts: Counter, min_count: int = 1, specials: tuple[str, ...] = (PAD, UNK)) -> "Vocab":
        """Specials first, then items seen at least ``min_count`` times, most frequent first."""
        kept = sorted((item for item, n in counts.items() if n >= min_count), key=lambda item: (-counts[item], item))
        return cls([*specials, *(item for item in kept if item not in specials)])


def normalize_word(word: str, lowercase: bool, normalize_digits: bool) -> str:
    """The form a word is looked up by in the word vocabulary."""
    if lowercase:
        word = word.lower()
    if normalize_digits:
        word = _DIGITS.sub("0", word)
    return word


def word_forms(word: str, lowercase: bool, normalize_digits: bool) -> list[str]:
    """The forms a word is looked up by, in order: as configured, lowercased, lowercased with digits as 0."""
    forms = [normalize_word(word, lowercase, normalize_digits), normalize_word(word, True, normalize_digits)]
    return list(dict.fromkeys([*forms, normalize_word(word, True, True)]))


def casing(word: str) -> int:
    """The id in ``CASINGS`` of a token's shape."""
    if word.isdigit():
        kind = "numeric"
    elif any(c.isdigit() for c in word):
        kind = "has_digit"
    elif word.islower():
        kind = "lower"
    elif word.isupper():
        kind = "upper"
    elif word.istitle():
        kind = "title"
    elif any(c.isalpha() for c in word):
        kind = "mixed"
    else:
        kind = "other"
    return CASINGS.index(kind)

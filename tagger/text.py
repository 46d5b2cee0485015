"""Raw text to sentences of tokens that keep their character offsets (spaCy's tokenizer, by rules)."""

from __future__ import annotations

import re
from functools import lru_cache
from types import SimpleNamespace

from .corpus import Sentence

MAX_TOKENS = 256
BOM = "\ufeff"  # a byte-order mark: annotate keeps it in the text, so offsets index the file
ENDINGS = frozenset(".!?…")  # a token made only of these can end a sentence
CLOSING = frozenset(")]}\"'’”»")  # tokens that stay with the sentence they close
CONTINUATIONS = frozenset(",;:)]}%")  # a token starting with one of these never starts a sentence
# Words that are followed by "." without ending a sentence (compared lowercased, without the dot).
# Abbreviations with inner dots (``i.v.``, ``e.g.``) and any "." before a lowercase word need no entry.
ABBREVIATIONS = frozenset(
    "al approx ca cf ch chap co dept dr ed eds eq eqs fig figs inc incl jr ltd mr mrs ms nos prof ref refs resp "
    "sp spp sr st subsp suppl tab tabs var viz vol vols vs".split()
)
MAX_VOCAB = 100_000  # spaCy keeps every new string it sees: past this many, start a fresh tokenizer
LINE_BREAK = re.compile(r"\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
# Tokenizer rules, chosen per model (config key ``tokenizer``). english: spaCy's English rules.
# biomedical: every punctuation character is a token and runs of letters and digits stay whole
# (``GSK-3beta`` is ``GSK - 3beta``, ``and/or`` is ``and / or``, ``I1307K`` one token), the
# tokenisation of the NCBI-disease and BC5CDR releases (Crichton et al. 2017).
TOKENIZERS = ("english", "biomedical")
DEFAULT_TOKENIZER = "english"
PUNCTUATION = r"[^\w\s]|_"


class TokenizerError(ValueError):
    """A tokenizer name that is not one of ``TOKENIZERS``."""


def check_tokenizer(name: str) -> str:
    if name not in TOKENIZERS:
        raise TokenizerError(f"unknown tokenizer {name!r}; expected one of {', '.join(TOKENIZERS)}")
    return name


def spacy_tokenizer(name: str = DEFAULT_TOKENIZER, vocab=None):
    """A new spaCy ``Tokenizer`` with the rules ``name``, on ``vocab`` (default: a blank English one).

    The rules are spaCy's own (prefix, suffix and infix patterns), so a pipeline saves and loads them. The
    English one is made by spaCy's tokenizer factory, as ``spacy.blank("en")`` makes it, but without a
    ``Language``: that would first import every spaCy component installed (``spacy_factories``), torch with
    ours, a second of ``tagger annotate``'s start.
    """
    from spacy.lang.en import English
    from spacy.language import create_tokenizer
    from spacy.tokenizer import Tokenizer
    from spacy.vocab import create_vocab

    check_tokenizer(name)
    vocab = vocab if vocab is not None else create_vocab("en", English.Defaults)
    if name == "english":
        return create_tokenizer()(SimpleNamespace(Defaults=English.Defaults, vocab=vocab))
    prefix = re.compile(f"^(?:{PUNCTUATION})")
    suffix = re.compile(f"(?:{PUNCTUATION})$")
    infix = re.compile(PUNCTUATION)
    return Tokenizer(
        vocab, rules={}, prefix_search=prefix.search, suffix_search=suffix.search, infix_finditer=infix.finditer
    )


@lru_cache(maxsize=len(TOKENIZERS))
def _tokenizer(name: str):
    return spacy_tokenizer(name)


def spacy_doc(text: str, tokenizer: str = DEFAULT_TOKENIZER):
    """``text`` as a spaCy ``Doc`` of tokens (whitespace runs are tokens too), as ``sentences`` sees it.

    The tokenizer is rebuilt once its vocabulary holds ``MAX_VOCAB`` strings, so that memory
    stays bounded however many documents pass through.
    """
    if len(_tokenizer(tokenizer).vocab) > MAX_VOCAB:
        _tokenizer.cache_clear()
    return _tokenizer(tokenizer)(text)


def sentences(text: str, max_tokens: int = MAX_TOKENS, tokenizer: str = DEFAULT_TOKENIZER) -> list[Sentence]:
    """Split ``text`` into sentences of non-space tokens; ``text[start:end]`` is each token.

    A sentence ends at ``.``, ``!`` or ``?`` (with any closing quotes or brackets) unless
    the next word starts in lowercase or the dot follows a known abbreviation (``et al.``,
    ``Fig.``); a blank line always ends one. Sentences longer than ``max_tokens`` are cut
    into near-equal chunks, so memory stays bounded on text without punctuation. Tokens follow
    the rules ``tokenizer`` (one of ``TOKENIZERS``).
    """
    return sentences_at(text, *sentence_offsets(text, max_tokens, tokenizer))


def sentence_offsets(
    text: str, max_tokens: int = MAX_TOKENS, tokenizer: str = DEFAULT_TOKENIZER
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The ``(start, end)`` offsets of the non-space tokens of ``text`` and the ``(first, last)`` ranges of its
    sentences into them, as ``sentences`` cuts them: plain data, cheap to send between processes."""
    tokens = _token_offsets(text, tokenizer)
    return tokens, sentence_ranges(text, tokens, max_tokens)


def sentences_at(text: str, tokens: list[tuple[int, int]], ranges: list[tuple[int, int]]) -> list[Sentence]:
    """The sentences of ``text`` that ``sentence_offsets`` found."""
    return [
        Sentence([text[s:e] for s, e in tokens[first:last]], offsets=tokens[first:last], text=text)
        for first, last in ranges
    ]


def sentence_ranges(text: str, tokens: list[tuple[int, int]], max_tokens: int = MAX_TOKENS) -> list[tuple[int, int]]:
    """``(first, last)`` indices into ``tokens`` of each sentence of ``text``, ``last`` exclusive, as ``sentences``
    cuts them: ``tokens`` are the ``(start, end)`` offsets of the non-space tokens of ``text``, in order, by any
    tokenizer (the spaCy component passes its pipeline's)."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, not {max_tokens}")
    ranges = []
    start = 0
    for end in _boundaries(text, tokens):
        pieces = -(-(end - start) // max_tokens)
        cuts = [start + (end - start) * i // pieces for i in range(pieces + 1)]
        ranges.extend(zip(cuts, cuts[1:]))
        start = end
    return ranges


def _token_offsets(text: str, tokenizer: str = DEFAULT_TOKENIZER) -> list[tuple[int, int]]:
    """``(start, end)`` of each non-space token of ``text``; a byte-order mark that begins the text is in none."""
    columns = spacy_doc(text, tokenizer).to_array(["IDX", "LENGTH", "IS_SPACE"]).tolist()  # no Token objects: faster
    return skip_bom(text, [(start, start + length) for start, length, space in columns if not space])


def skip_bom(text: str, offsets: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``offsets`` of non-space tokens, the first without a byte-order mark that begins ``text`` (none if it
    held only that)."""
    if offsets and offsets[0][0] == 0 and text.startswith(BOM):
        offsets[0] = (1, offsets[0][1])
        if offsets[0][0] == offsets[0][1] or text[1 : offsets[0][1]].isspace():
            offsets.pop(0)
    return offsets


def _boundaries(text: str, tokens: list[tuple[int, int]]) -> list[int]:
    """Indices into ``tokens`` where sentences end (exclusive), ascending, the last one ``len(tokens)``."""
    words = [text[start:end] for start, end in tokens]

    def blank_line(i: int) -> bool:  # between tokens i and i + 1
        end, start = tokens[i][1], tokens[i + 1][0]
        return start - end > 1 and len(LINE_BREAK.findall(text, end, start)) > 1

    ends = {len(words)} if words else set()
    for i in range(len(words) - 1):
        if blank_line(i):
            ends.add(i + 1)
        if words[i][0] not in ENDINGS or not set(words[i]) <= ENDINGS or _after_abbreviation(words, tokens, i):
            continue
        j = i + 1
        while j < len(words) and set(words[j]) <= CLOSING and not blank_line(j - 1):
            j += 1
        spaced = j < len(words) and tokens[j][0] > tokens[j - 1][1]  # 0.05 and q11.2 go on
        if spaced and not words[j][0].islower() and words[j][0] not in CONTINUATIONS:
            ends.add(j)
    return sorted(ends)


def _after_abbreviation(words: list[str], tokens: list[tuple[int, int]], i: int) -> bool:
    """Whether ``words[i]`` is a dot glued to an abbreviation (``Fig.``, ``et al.``, ``i.v.``)."""
    if words[i] != "." or i == 0 or tokens[i - 1][1] != tokens[i][0]:
        return False
    before = words[i - 1]
    if "." in before or before.lower() in ABBREVIATIONS:
        return True
    # split by the biomedical rules: i . v . and the initials J . B .
    letter = len(before) == 1 and before.isalpha()
    dotted = i >= 2 and words[i - 2] == "." and tokens[i - 2][1] == tokens[i - 1][0]
    initial = i + 2 < len(words) and len(words[i + 1]) == 1 and words[i + 1].isupper() and words[i + 2] == "."
    return letter and (dotted or (before.isupper() and initial))


def tokenize(text: str, tokenizer: str = DEFAULT_TOKENIZER) -> Sentence:
    """``text`` as one sentence of non-space tokens, never split; ``text[start:end]`` is each token."""
    offsets = _token_offsets(text, tokenizer)
    return Sentence([text[start:end] for start, end in offsets], offsets=offsets, text=text)

"""SemEval ABSA XML: 2014 Task 4 ``<aspectTerm term from to>``, 2015/2016 ``<Opinion target from to>``."""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from ..corpus import Corpus, CorpusFormatError, Sentence
from ..files import atomic_write
from ..reading import DEFAULT_ENCODING, EncodingError, codec, decode, read_bytes
from ..text import DEFAULT_TOKENIZER, tokenize
from .offsets import CharSpan, check_span, log_alignment, nonempty, parse_each, pieces, tag

ASPECT = "ASPECT"
EXTENSIONS = (".xml",)
NULL_TARGET = "NULL"
TERMS = {"aspectTerm": "term", "Opinion": "target"}  # element → attribute holding the term's text
CARRIAGE_RETURN = {"\r": "&#13;"}  # kept from the XML parser's line-end normalisation
QUOTE = {'"': "&quot;"}  # attributes in double quotes, as SemEval writes them
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")  # characters XML 1.0 cannot hold
DECLARED = re.compile(r"""^(<\?xml[^>]*?\sencoding\s*=\s*)(["'])([^"']*)\2""")  # the XML declaration's encoding
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def read(
    path: str | Path, lenient: bool = False, encoding: str | None = None, tokenizer: str = DEFAULT_TOKENIZER
) -> Corpus:
    """Read every ``<sentence>``: its text as one sentence of tokens, its terms as ASPECT spans.

    The file is decoded as ``encoding`` if given, else as its XML declaration or byte-order
    mark says (UTF-8 without either); bytes that are not text raise naming their offset.

    Tokens follow the rules ``tokenizer`` (``text.TOKENIZERS``). Offsets are Python ``str``
    indices into the text. Terms that cut into a token are expanded to its boundaries;
    ``corpus.notes`` counts ``exact``, ``expanded`` and ``dropped`` terms, ``null_targets``
    (``target="NULL"`` opinions, which are not spans) and sentences without tokens
    (``empty_sentences``, left out). A bad sentence raises, or with ``lenient`` is skipped,
    counted in ``notes["skipped_sentences"]``.
    """
    path = Path(path)
    data = _utf8(read_bytes(path), path, encoding)
    try:
        root = ET.fromstring(data)
    except (ET.ParseError, LookupError, ValueError) as error:  # LookupError: an unknown encoding
        raise CorpusFormatError(f"{path}: malformed XML: {error}") from None
    elements = list(root.iter("sentence"))
    if not elements:
        raise CorpusFormatError(f"{path}: expected <sentence> elements, found none under <{root.tag}>")
    notes: Counter = Counter()
    parsed = parse_each(
        enumerate(elements, start=1), lambda item: _sentence(*item, path, notes, tokenizer), lenient, notes, "sentences"
    )
    sentences = nonempty(list(parsed), notes)
    log_alignment(path, notes)
    return Corpus(sentences, "IOB2", str(path), +notes)


def _utf8(data: bytes, path: Path, encoding: str | None) -> bytes:
    """The XML document ``data`` as UTF-8 bytes that declare UTF-8 (decoded as ``read`` says)."""
    if encoding is None:
        encoding = next((name for mark, name in BYTE_ORDER_MARKS if data.startswith(mark)), None)
    if encoding is None:
        declared = DECLARED.match(data[:200].decode("latin-1"))
        encoding = declared.group(3) if declared else DEFAULT_ENCODING
        try:
            codec(encoding)
        except EncodingError as error:
            raise EncodingError(f"{path}: the XML declaration names encoding {encoding!r}: {error}") from None
    text = decode(data, path, encoding)
    return DECLARED.sub(r"\1\2UTF-8\2", text, count=1).encode("utf-8")


def _sentence(number: int, element: ET.Element, path: Path, notes: Counter, tokenizer: str) -> Sentence:
    """One ``<sentence>``, tagged; its ``target="NULL"`` opinions are counted in ``notes``."""
    id = element.get("id")
    where = f"{path}: sentence {id!r}" if id is not None else f"{path}: sentence #{number} (no id)"
    text_element = element.find("text")
    if text_element is None:
        raise CorpusFormatError(f"{where}: expected a <text> element, found {[child.tag for child in element]}")
    text = text_element.text or ""
    terms = [term for name in TERMS for term in element.iter(name)]
    spans = [_span(term, text, where) for term in terms if term.get("target") != NULL_TARGET]
    notes["null_targets"] += len(terms) - len(spans)
    sentence = tokenize(text, tokenizer)
    sentence.id = id
    return tag(sentence, spans, notes, where)


def _span(term: ET.Element, text: str, where: str) -> CharSpan:
    """The checked ASPECT span of an ``<aspectTerm>`` or ``<Opinion>``."""
    where = f"{where}: <{term.tag} {' '.join(f'{k}={v!r}' for k, v in term.attrib.items())}>"
    attribute = TERMS[term.tag]
    mention = term.get(attribute)
    if mention is None:
        raise CorpusFormatError(f"{where}: expected a {attribute!r} attribute, found none")
    try:
        start, end = int(term.get("from", "")), int(term.get("to", ""))
    except ValueError:
        raise CorpusFormatError(f"{where}: expected integer 'from' and 'to' attributes") from None
    check_span(text, start, end, where, mention)
    return start, end, ASPECT


def write(corpus: Corpus, path: str | Path) -> None:
    """Write SemEval-2014 XML, each sentence's spans as ``<aspectTerm term from to>``, atomically.

    Sentences read from XML give back their terms as read; others give their tagged spans.
    Sentences of one text (a split document) each get their own part of it.
    """
    path = Path(path)
    parts = [(part.sentence.id or str(number), part) for number, part in enumerate(pieces(corpus.sentences), start=1)]
    for id, part in parts:
        labels = {label for _, _, label in part.spans} - {ASPECT}
        if labels:
            raise CorpusFormatError(f"{path}: SemEval XML holds {ASPECT} spans only; found {', '.join(sorted(labels))}")
        bad = NOT_XML.search(part.text) or NOT_XML.search(id)
        if bad:
            raise CorpusFormatError(f"{path}: sentence {id!r}: XML cannot hold the character {bad.group()!r}")
    with atomic_write(path) as out:
        out.write('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sentences>\n')
        for id, part in parts:
            out.write(f"    <sentence id={quoteattr(id)}>\n")
            out.write(f"        <text>{escape(part.text, CARRIAGE_RETURN)}</text>\n")
            if part.spans:
                out.write("        <aspectTerms>\n")
                for start, end, _ in part.spans:
                    term = quoteattr(part.text[start:end], QUOTE)
                    out.write(f'            <aspectTerm term={term} from="{start}" to="{end}"/>\n')
                out.write("        </aspectTerms>\n")
            out.write("    </sentence>\n")
        out.write("</sentences>\n")

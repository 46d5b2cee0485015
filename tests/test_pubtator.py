"""PubTator: documents split into sentences with document offsets, mentions aligned, errors by line."""

from __future__ import annotations

import pytest

from tagger.corpus import CorpusFormatError
from tagger.formats import read_corpus, write_corpus

TITLE = "Naloxone reverses the antihypertensive effect of clonidine."
ABSTRACT = "In rats given 10 mg i.v. clonidine, blood pressure fell. Naloxone reversed it."
TEXT = f"{TITLE} {ABSTRACT}"
MENTIONS = [  # (mention, label, which occurrence)
    ("Naloxone", "Chemical", 0),
    ("clonidine", "Chemical", 0),
    ("clonidine", "Chemical", 1),
    ("blood pressure fell. Naloxone", "Odd", 0),  # crosses a sentence end
]


def _mention_lines(id="123"):
    lines = []
    for mention, label, occurrence in MENTIONS:
        start = TEXT.find(mention)
        for _ in range(occurrence):
            start = TEXT.find(mention, start + 1)
        lines.append(f"{id}\t{start}\t{start + len(mention)}\t{mention}\t{label}\tMESH:D0{start}")
    return lines


def _pubtator(tmp_path, *lines, name="abstracts.pubtator"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


DOCUMENT = [f"123|t|{TITLE}", f"123|a|{ABSTRACT}", *_mention_lines(), "123\tCID\tD009270\tD003000"]
SECOND = ["456|t|Short title", "456|a|", "456\t0\t5\tShort\tOdd"]


def test_documents_are_split_into_sentences_keeping_document_offsets(tmp_path):
    corpus = read_corpus(_pubtator(tmp_path, *DOCUMENT, "", *SECOND))
    assert [s.id for s in corpus] == ["123", "123", "456"]
    title, abstract, second = corpus.sentences
    assert title.tokens[-1] == "." and abstract.tokens[0] == "In" and abstract.tokens[-1] == "."
    for sentence in corpus:
        assert all(sentence.text[s:e] == token for token, (s, e) in zip(sentence.tokens, sentence.offsets))
        for start, end, _ in sentence.char_spans:
            assert sentence.offsets[0][0] <= start < end <= sentence.offsets[-1][1]
    assert title.text.replace("\n", " ") == TEXT
    assert [title.tokens[s:e] for s, e, _ in title.spans] == [["Naloxone"], ["clonidine"]]
    assert [abstract.tokens[s:e] for s, e, _ in abstract.spans] == [
        ["clonidine"],
        ["blood", "pressure", "fell", ".", "Naloxone"],
    ]
    assert dict(corpus.notes) == {"exact": 5, "joined_sentences": 1, "relations": 1}


def test_write_and_read_back_keeps_text_and_mentions(tmp_path):
    corpus = read_corpus(_pubtator(tmp_path, *DOCUMENT, "", *SECOND))
    write_corpus(corpus, tmp_path / "copy.pubtator")
    lines = (tmp_path / "copy.pubtator").read_text(encoding="utf-8").split("\n")
    assert lines[:2] == DOCUMENT[:2]
    assert lines[2:6] == [line.rsplit("\t", 1)[0] for line in _mention_lines()]  # concept ids are not kept
    again = read_corpus(tmp_path / "copy.pubtator")
    assert [(s.id, s.text, s.tokens, s.tags, s.char_spans) for s in again] == [
        (s.id, s.text, s.tokens, s.tags, s.char_spans) for s in corpus
    ]


def test_other_formats_convert_to_documents(tmp_path):
    corpus = read_corpus(_pubtator(tmp_path, *DOCUMENT))
    write_corpus(corpus, tmp_path / "spans.jsonl")
    write_corpus(read_corpus(tmp_path / "spans.jsonl"), tmp_path / "back.pubtator")
    lines = (tmp_path / "back.pubtator").read_text(encoding="utf-8").split("\n")
    assert lines[:2] == [f"123|t|{TITLE}", "123|a|"]  # one record per sentence: the title ...
    assert f"123|t|{ABSTRACT}" in lines  # ... and the abstract's two sentences, joined by a mention
    assert "123\t36\t65\tblood pressure fell. Naloxone\tOdd" in lines


@pytest.mark.parametrize(
    "lines, message",
    [
        (["123\t0\t8\tNaloxone\tChemical"], r"abstracts.pubtator:1: expected a title line 'ID\|t\|TITLE'"),
        ([*DOCUMENT[:2], "123\t0\t8\tNaloxon\tChemical"], r"abstracts.pubtator:3: mention: expected 'Naloxon' at 0-8"),
        (
            [*DOCUMENT[:2], "123\t0\t999\tx\tChemical"],
            r"abstracts.pubtator:3: mention: expected offsets .* found 0-999",
        ),
        ([*DOCUMENT[:2], "124\t0\t8\tNaloxone\tChemical"], r"abstracts.pubtator:3: expected a line of document '123'"),
        ([*DOCUMENT[:2], "123\t0\t8\tNaloxone"], r"abstracts.pubtator:3: expected 'ID TAB START TAB END TAB"),
        ([*DOCUMENT[:2], DOCUMENT[1]], r"abstracts.pubtator:3: expected one line '123\|a\|ABSTRACT'"),
    ],
)
def test_bad_documents_name_the_line_or_are_skipped_when_lenient(tmp_path, lines, message):
    path = _pubtator(tmp_path, *lines, "", *SECOND)
    with pytest.raises(CorpusFormatError, match=message):
        read_corpus(path)
    corpus = read_corpus(path, lenient=True)
    assert [s.id for s in corpus] == ["456"] and corpus.notes["skipped_documents"] == 1


def test_bytes_that_are_not_utf8_name_the_line(tmp_path):
    path = tmp_path / "abstracts.pubtator"
    path.write_bytes(b"1|t|Caf\xe9\n1|a|\n")
    with pytest.raises(CorpusFormatError, match=r"abstracts.pubtator:1: not utf-8 text: byte 0xe9 at offset 7"):
        read_corpus(path)

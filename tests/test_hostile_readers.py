"""Every corpus reader on hostile bytes: random bytes and mutations of valid files give a corpus or the
project's own error (``CorpusFormatError``), never another exception."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tagger.corpus import Corpus, CorpusFormatError
from tagger.formats import read_corpus, write_corpus

SAMPLE = Path(__file__).resolve().parents[1] / "corpora" / "sample"
CONLL = b"".join((SAMPLE / "dev.tsv").read_bytes().splitlines(keepends=True)[:60])
SEMEVAL = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<sentences>\n'
    b'<sentence id="1"><text>The battery life is great, the screen is not.</text><aspectTerms>'
    b'<aspectTerm term="battery life" polarity="positive" from="4" to="16"/>'
    b'<aspectTerm term="screen" polarity="negative" from="31" to="37"/></aspectTerms></sentence>\n'
    b'<sentence id="2"><text>Food was &amp; \xc3\xa9clair</text><Opinions>'
    b'<Opinion target="Food" category="FOOD#QUALITY" polarity="positive" from="0" to="4"/>'
    b'<Opinion target="NULL" category="SERVICE" from="0" to="0"/></Opinions></sentence>\n'
    b"</sentences>\n"
)
PUBTATOR = (
    b"101|t|Aspirin causes nausea in mice.\n"
    b"101|a|Tamoxifen reduced breast cancer risk. The effect was small.\n"
    b"101\t0\t7\tAspirin\tChemical\n101\t15\t21\tnausea\tDisease\n101\t49\t62\tbreast cancer\tDisease\n"
    b"101\tCID\tD001241\tD009325\n\n"
    b"102|t|Caf\xc3\xa9ine\n102|a|\n102\t0\t7\tCaf\xc3\xa9ine\tChemical\n\n"
)
JSONL = (
    json.dumps({"id": "a", "text": "Aspirin causes nausea.", "spans": [{"start": 0, "end": 7, "label": "Chemical"}]})
    + "\n"
    + json.dumps(
        {
            "text": "New screen",
            "tokens": [{"text": "New", "start": 0, "end": 3}, {"text": "screen", "start": 4, "end": 10}],
            "spans": [{"start": 4, "end": 10, "label": "ASPECT"}],
        }
    )
    + "\n"
).encode()
VALID = {
    "conll": (".tsv", CONLL),
    "semeval": (".xml", SEMEVAL),
    "pubtator": (".pubtator", PUBTATOR),
    "jsonl": (".jsonl", JSONL),
}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hostile")


def read_hostile(folder: Path, name: str, data: bytes, lenient: bool) -> None:
    suffix = VALID[name][0]
    path = folder / f"input{suffix}"
    path.write_bytes(data)
    try:
        corpus = read_corpus(path, lenient=lenient)
    except CorpusFormatError as error:
        message = str(error)
        assert str(path) in message and "\n" not in message.strip(), message
        return
    assert isinstance(corpus, Corpus)
    for sentence in corpus:
        assert len(sentence.tokens) == len(sentence.tags) > 0
        assert all(isinstance(token, str) and token for token in sentence.tokens)
        if sentence.offsets is not None:
            assert [sentence.text[start:end] for start, end in sentence.offsets] == sentence.tokens


@st.composite
def mutated(draw, name: str) -> bytes:
    """A valid file of format ``name`` with a few random edits: bytes cut, inserted, repeated, replaced, lines moved."""
    data = bytearray(VALID[name][1])
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["cut", "insert", "repeat", "replace", "lines", "truncate"]))
        at = draw(st.integers(0, len(data)))
        if kind == "cut":
            del data[at : at + draw(st.integers(1, 40))]
        elif kind == "insert":
            piece = draw(
                st.one_of(
                    st.binary(min_size=1, max_size=12),
                    st.sampled_from(
                        [
                            b"\t",
                            b"\n",
                            b"\r",
                            b"|",
                            b"<",
                            b"&",
                            b'"',
                            b"\xef\xbb\xbf",
                            b"\x00",
                            b"\xe9",
                            b"\xed\xa0\x80",
                        ]
                    ),
                    st.text(max_size=6).map(lambda text: text.encode("utf-8", "surrogatepass")),
                )
            )
            data[at:at] = piece
        elif kind == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 60))]
        elif kind == "replace" and data:
            data[min(at, len(data) - 1)] = draw(st.integers(0, 255))
        elif kind == "lines":
            lines = bytes(data).split(b"\n")
            order = draw(st.permutations(range(len(lines))))
            data = bytearray(b"\n".join(lines[i] for i in order))
        elif kind == "truncate":
            del data[at:]
    return bytes(data)


@pytest.mark.parametrize("name", VALID)
@pytest.mark.parametrize("lenient", [False, True])
@SETTINGS
@given(data=st.binary(max_size=400))
@example(data=b"")
@example(data=b"\xef\xbb\xbf")
@example(data=b"\xff\xfe\x00\x00")
@example(data=bytes(range(256)))
def test_random_bytes_are_read_or_refused_cleanly(folder, name, lenient, data):
    read_hostile(folder, name, data, lenient)


@pytest.mark.parametrize("name", VALID)
@pytest.mark.parametrize("lenient", [False, True])
@SETTINGS
@given(data=st.data())
def test_mutated_files_are_read_or_refused_cleanly(folder, name, lenient, data):
    read_hostile(folder, name, data.draw(mutated(name)), lenient)


@pytest.mark.parametrize("name", VALID)
def test_the_valid_files_read(folder, name):
    path = folder / f"valid{VALID[name][0]}"
    path.write_bytes(VALID[name][1])
    assert len(read_corpus(path)) > 0


@SETTINGS
@given(data=st.data())
def test_text_records_of_any_unicode_are_read_or_refused_cleanly(folder, data):
    """JSON lines whose text, ids, labels and offsets are arbitrary JSON values."""
    value = st.recursive(
        st.none() | st.booleans() | st.integers(-5, 60) | st.floats(allow_nan=True) | st.text(max_size=20),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
        max_leaves=6,
    )
    span = st.fixed_dictionaries({}, optional={"start": value, "end": value, "label": value})
    record = st.fixed_dictionaries(
        {}, optional={"text": st.text(max_size=40) | value, "id": value, "spans": st.lists(span, max_size=3) | value}
    )
    lines = data.draw(st.lists(record, min_size=1, max_size=4))
    read_hostile(
        folder, "jsonl", "".join(json.dumps(line) + "\n" for line in lines).encode("utf-8", "surrogatepass"), False
    )


@pytest.mark.parametrize("name", VALID)
@pytest.mark.parametrize("target", [".tsv", ".jsonl", ".pubtator", ".xml"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_what_is_read_is_written_in_any_format_or_refused_and_reads_back(folder, name, target, data):
    """``corpora convert`` on mutated files: a written file reads back (with the same tokens, where the format keeps
    tokens: PubTator and SemEval XML hold text, tokenised again), or nothing is written."""
    source = folder / f"convert{VALID[name][0]}"
    source.write_bytes(data.draw(mutated(name)))
    try:
        corpus = read_corpus(source, lenient=True)
    except CorpusFormatError:
        return
    output = folder / f"converted{target}"
    output.unlink(missing_ok=True)
    try:
        write_corpus(corpus, output)
    except CorpusFormatError:
        assert not output.exists()
        return
    if len(corpus):
        again = read_corpus(output)
        if target in (".tsv", ".jsonl"):
            assert [token for s in again for token in s.tokens] == [token for s in corpus for token in s.tokens]

"""``tagger corpora stats|convert`` and ``--format``/``--lenient`` on train and evaluate, as users run them."""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET

import pytest

from tagger.cli.main import main, parser
from tagger.formats import read_corpus

TINY = ["--set", "word_dim=16", "--set", "char_dim=8", "--set", "char_hidden=8", "--set", "hidden=16"]
REVIEWS = [
    ("The battery life is great.", "battery life"),
    ("Runs OS X. Fast.", "OS X"),  # "X." is one token: the term is expanded to it
    ("I love the keyboard.", "keyboard"),
    ("It arrived quickly.", None),
]


@pytest.fixture
def reviews(tmp_path):
    """A small SemEval-2014 file with one expanded term."""
    body = ""
    for number, (text, term) in enumerate(REVIEWS, start=1):
        terms = ""
        if term:
            start = text.index(term)
            terms = f'<aspectTerms><aspectTerm term="{term}" from="{start}" to="{start + len(term)}"/></aspectTerms>'
        body += f'<sentence id="{number}"><text>{text}</text>{terms}</sentence>\n'
    path = tmp_path / "reviews.xml"
    path.write_text(f"<sentences>\n{body}</sentences>\n", encoding="utf-8")
    return path


def _terms(path):
    return [
        (sentence.get("id"), term.get("term"), term.get("from"), term.get("to"))
        for sentence in ET.parse(path).getroot().iter("sentence")
        for term in sentence.iter("aspectTerm")
    ]


def test_stats_json_on_the_laptop_corpus(shared_corpora, capsys):
    folder = shared_corpora / "semeval14-laptop"
    assert main(["corpora", "stats", str(folder / "train.xml"), str(folder / "test.xml"), "--json"]) == 0
    train, test = json.loads(capsys.readouterr().out)
    for row, (sentences, terms) in ((train, (3045, 2358)), (test, (800, 654))):
        assert (row["sentences"], row["entities"], row["entities_per_type"]) == (sentences, terms, {"ASPECT": terms})
        assert sum(row["alignment"].values()) == terms and row["alignment"]["dropped"] == 0
        assert sum(row["span_lengths"].values()) == terms and row["format"] == "semeval"
    assert "oov_rate" not in train and 0.0 < test["oov_rate"] < 0.2


def test_stats_table_and_format_option(reviews, tmp_path, capsys):
    assert main(["corpora", "convert", str(reviews), str(tmp_path / "reviews.txt"), "--to", "jsonl"]) == 0
    assert "wrote 4 sentences, 3 entities" in capsys.readouterr().out
    assert main(["corpora", "stats", str(tmp_path / "reviews.txt"), "--format", "jsonl"]) == 0
    out = capsys.readouterr().out
    assert "(jsonl)" in out and "entities      3 (ASPECT 3)" in out
    assert "alignment     2 exact, 1 expanded, 0 dropped" in out


def test_convert_xml_to_jsonl_and_back_keeps_every_term(shared_corpora, tmp_path):
    test_xml = shared_corpora / "semeval14-laptop" / "test.xml"
    assert main(["corpora", "convert", str(test_xml), str(tmp_path / "test.jsonl")]) == 0
    assert main(["corpora", "convert", str(tmp_path / "test.jsonl"), str(tmp_path / "test.xml")]) == 0
    assert _terms(tmp_path / "test.xml") == _terms(test_xml)


def test_bad_input_is_one_line_naming_the_sentence_unless_lenient(reviews, tmp_path, capsys):
    reviews.write_text(reviews.read_text().replace('from="4"', 'from="5"', 1), encoding="utf-8")
    assert main(["corpora", "convert", str(reviews), str(tmp_path / "out.tsv")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"tagger corpora: error: {reviews}: sentence '1': <aspectTerm") and "\n" not in error
    assert not (tmp_path / "out.tsv").exists()
    assert main(["corpora", "convert", str(reviews), str(tmp_path / "out.tsv"), "--lenient"]) == 0
    assert read_corpus(tmp_path / "out.tsv").notes == {}
    assert len(read_corpus(tmp_path / "out.tsv")) == 3


def test_verbose_lists_expanded_terms(reviews, caplog):
    caplog.set_level(logging.DEBUG)  # what --verbose asks of the root logger
    assert main(["--verbose", "corpora", "stats", str(reviews)]) == 0
    assert "sentence '2': ASPECT 'OS X' at 5-9 expanded to token boundaries: 'OS X.' at 5-10" in caplog.text


def test_train_and_evaluate_on_semeval_xml_write_official_xml_predictions(reviews, tmp_path, capsys):
    data = ["--train", str(reviews), "--dev", str(reviews), "--test", str(reviews)]
    options = ["--output", str(tmp_path / "run"), "--epochs", "1", "--no-progress", "--set", "threads=1", *TINY]
    assert main(["train", *data, *options]) == 0
    predictions = tmp_path / "predictions.xml"
    model = str(tmp_path / "run" / "model")
    assert main(["evaluate", "--model", model, "--data", str(reviews), "--predictions", str(predictions)]) == 0
    assert "(seqeval" in capsys.readouterr().out
    written = ET.parse(predictions).getroot()
    assert [(s.get("id"), s.findtext("text")) for s in written] == [
        (str(i), text) for i, (text, _) in enumerate(REVIEWS, 1)
    ]
    read_corpus(predictions)  # every predicted term is a valid span of its text


@pytest.mark.parametrize("command", [["corpora"], ["corpora", "stats"], ["corpora", "convert"]])
def test_corpora_commands_have_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: tagger corpora" in capsys.readouterr().out

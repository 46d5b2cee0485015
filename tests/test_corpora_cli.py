"""``tagger corpora list|fetch|stats|convert`` and the corpus options of train, evaluate and tune, as users run them."""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET

import pytest

from tagger import catalogue
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
    output = ["--output", str(tmp_path / "reviews.txt"), "--output-format", "jsonl"]
    assert main(["corpora", "convert", str(reviews), *output]) == 0
    assert "wrote 4 sentences, 3 entities" in capsys.readouterr().out
    assert main(["corpora", "stats", str(tmp_path / "reviews.txt"), "--format", "jsonl"]) == 0
    out = capsys.readouterr().out
    assert "(jsonl)" in out and "entities      3 (ASPECT 3)" in out
    assert "alignment     2 exact, 1 expanded, 0 dropped" in out


def test_convert_xml_to_jsonl_and_back_keeps_every_term(shared_corpora, tmp_path):
    test_xml = shared_corpora / "semeval14-laptop" / "test.xml"
    assert main(["corpora", "convert", str(test_xml), "--output", str(tmp_path / "test.jsonl")]) == 0
    assert main(["corpora", "convert", str(tmp_path / "test.jsonl"), "--output", str(tmp_path / "test.xml")]) == 0
    assert _terms(tmp_path / "test.xml") == _terms(test_xml)


def test_bad_input_is_one_line_naming_the_sentence_unless_lenient(reviews, tmp_path, capsys):
    reviews.write_text(reviews.read_text().replace('from="4"', 'from="5"', 1), encoding="utf-8")
    assert main(["corpora", "convert", str(reviews), "--output", str(tmp_path / "out.tsv")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"tagger corpora: error: {reviews}: sentence '1': <aspectTerm") and "\n" not in error
    assert not (tmp_path / "out.tsv").exists()
    assert main(["corpora", "convert", str(reviews), "--output", str(tmp_path / "out.tsv"), "--lenient"]) == 0
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


@pytest.mark.parametrize(
    "command", [["corpora"], ["corpora", "list"], ["corpora", "fetch"], ["corpora", "stats"], ["corpora", "convert"]]
)
def test_corpora_commands_have_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: tagger corpora" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["train", "evaluate", "tune"])
def test_commands_that_read_corpora_take_a_name_and_a_data_dir(command, capsys):
    with pytest.raises(SystemExit):
        parser().parse_args([command, "--help"])
    usage = capsys.readouterr().out
    assert all(option in usage for option in ("--corpus NAME", "--data-dir DIR", "--columns TOKEN,TAG"))


def test_list_names_every_corpus_with_task_domain_format_splits_and_licence(capsys):
    assert main(["corpora", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "task", "domain", "format", "splits", "licence"]
    assert [line.split()[0] for line in lines[1:14]] == list(catalogue.entries())
    laptop = next(line for line in lines if line.startswith("semeval14-laptop "))
    assert " semeval " in laptop and " train test " in laptop
    assert main(["corpora", "list", "--json"]) == 0
    listed = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert set(listed) == set(catalogue.entries())
    assert listed["ncbi-disease"]["files"]["dev"]["file"] == "devel.tsv"
    assert listed["ncbi-disease"]["files"]["train"]["url"].startswith(
        "https://raw.githubusercontent.com/cambridgeltl/MTL-Bioinformatics-2016/"
    )


@pytest.fixture
def tiny_corpus(file_server, cache, monkeypatch):
    """A catalogue entry ``tiny`` served by the local file server, with checksums."""
    (file_server.root / "tiny").mkdir()
    files = []
    for split, text in (("train", "aspirin\tB-Chemical\nworks\tO\n\n"), ("test", "ibuprofen\tB-Chemical\n\n")):
        (file_server.root / "tiny" / f"{split}.tsv").write_text(text)
        digest = catalogue.sha256(file_server.root / "tiny" / f"{split}.tsv")
        files.append(catalogue.CorpusFile(split, f"{split}.tsv", file_server.url(f"tiny/{split}.tsv"), digest))
    entry = catalogue.Entry(
        "tiny", "NER: chemicals", "biomedical", "conll", "CC0", "Nobody 2024", "a test", tuple(files)
    )
    monkeypatch.setitem(catalogue.entries(), "tiny", entry)
    return entry


def test_fetch_downloads_into_the_cache_once_and_prints_where(tiny_corpus, file_server, cache, capsys):
    assert main(["corpora", "fetch", "tiny", "--no-progress"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"tiny train: {cache / 'tiny' / 'train.tsv'}",
        f"tiny test: {cache / 'tiny' / 'test.tsv'}",
        "tiny: licence CC0; cite: Nobody 2024",
    ]
    assert main(["corpora", "fetch", "tiny", "--no-progress"]) == 0
    assert file_server.requests == {"tiny/train.tsv": 1, "tiny/test.tsv": 1}


def test_fetch_errors_are_one_line_without_a_traceback(tiny_corpus, file_server, cache, capsys):
    file_server.failures["tiny/train.tsv"] = catalogue.RETRIES
    assert main(["corpora", "fetch", "tiny", "--no-progress"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == (
        f"tagger corpora: error: cannot download {file_server.url('tiny/train.tsv')}: "
        f"the server answered 500 Internal Server Error ({catalogue.RETRIES} attempts)"
    )
    assert main(["corpora", "fetch", "tiny-corpus"]) == 2
    assert capsys.readouterr().err.startswith("tagger corpora: error: unknown corpus 'tiny-corpus'; the catalogue has")


def test_stats_of_a_name_gives_every_split_train_first(shared_corpora, cache, capsys):
    assert main(["corpora", "stats", "ncbi-disease", "--data-dir", str(shared_corpora), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(row["corpus"], row["split"]) for row in rows] == [("ncbi-disease", s) for s in ("train", "dev", "test")]
    assert [row["sentences"] for row in rows] == [5424, 923, 940]
    assert all({"tokens", "entities", "entities_per_type", "alignment"} <= set(row) for row in rows)
    assert set(rows[0]["alignment"]) == {"exact", "expanded", "dropped"}
    assert "oov_rate" not in rows[0] and all(0.0 < row["oov_rate"] < 0.1 for row in rows[1:])
    assert not cache.exists()  # nothing was downloaded


def test_stats_table_draws_span_lengths_as_bars(reviews, capsys):
    assert main(["corpora", "stats", str(reviews)]) == 0
    lines = capsys.readouterr().out.splitlines()
    bars = lines[lines.index("  span lengths  entities by length in tokens") + 1 :][:2]
    assert [line.split() for line in bars] == [["1", "#" * 20, "1", "33.3%"], ["2", "#" * 40, "2", "66.7%"]]


def test_columns_pick_the_token_and_the_tag_of_wider_conll_files(tmp_path, capsys):
    path = tmp_path / "pos.conll"
    path.write_text("EU NNP B-ORG x\nrejects VBZ O x\n\n")
    assert main(["corpora", "stats", str(path), "--columns", "0,2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entities_per_type"] == {"ORG": 1}
    assert main(["corpora", "stats", str(path), "--columns", "0,4"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"tagger corpora: error: {path}:1: token column 0 and tag column 4 asked for, "
        "but the lines have 4 columns (0 to 3, or -1 to -4)"
    )
    with pytest.raises(SystemExit):
        parser().parse_args(["corpora", "stats", str(path), "--columns", "2"])
    assert "expected two column numbers TOKEN,TAG such as 0,3, got '2'" in capsys.readouterr().err


def test_train_and_evaluate_on_a_named_corpus_from_the_data_dir(shared_corpora, cache, tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO)
    data = ["--corpus", "semeval14-laptop", "--data-dir", str(shared_corpora)]
    options = ["--output", str(tmp_path / "run"), "--epochs", "1", "--no-progress", "--set", "threads=1", *TINY]
    assert main(["train", *data, *options]) == 0
    assert "semeval14-laptop has no dev split: holding out 304 of 3045 training sentences (10%, seed" in caplog.text
    assert f"Test ({shared_corpora / 'semeval14-laptop' / 'test.xml'}) of" in capsys.readouterr().out
    model = ["--model", str(tmp_path / "run" / "model")]
    assert main(["evaluate", *model, *data, "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["scheme"] == "IOB2" and scores["per_type"]["ASPECT"]["support"] == 654
    assert main(["evaluate", *model, *data, "--split", "dev"]) == 2
    assert "corpus 'semeval14-laptop' has no dev split; it has train, test" in capsys.readouterr().err
    assert not cache.exists()


def test_corpus_and_file_options_exclude_each_other_clearly(reviews, tmp_path, capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["train", "--corpus", "ncbi-disease", "--train", str(reviews), "--output", "out"])
    assert "argument --train: not allowed with argument --corpus" in capsys.readouterr().err
    assert main(["train", "--corpus", "ncbi-disease", "--dev", str(reviews), "--output", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.strip() == (
        "tagger train: error: --corpus ncbi-disease gives the splits; leave out --dev, "
        "or name every file with --train, --dev, --test instead of --corpus"
    )
    assert main(["evaluate", "--model", str(tmp_path), "--data", str(reviews), "--split", "dev"]) == 2
    assert "--split chooses a split of --corpus" in capsys.readouterr().err


def test_tune_on_a_named_corpus_of_a_local_mirror(reviews, cache, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    mirror = tmp_path / "mirror" / "semeval14-laptop"
    mirror.mkdir(parents=True)
    (mirror / "train.xml").write_bytes(reviews.read_bytes())
    monkeypatch.setenv(catalogue.DATA_DIR_VARIABLE, str(tmp_path / "mirror"))
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"hidden": {"choices": [8]}}))
    options = ["--output", str(tmp_path / "tune"), "--trials", "1", "--epochs", "1", "--space", str(space), *TINY]
    assert main(["tune", "--corpus", "semeval14-laptop", *options, "--no-progress"]) == 0
    assert "train.xml: checksum differs from the catalogue's" in caplog.text
    assert "semeval14-laptop has no dev split: holding out 1 of 4" in caplog.text
    assert (tmp_path / "tune" / "best-config.json").is_file() and not cache.exists()

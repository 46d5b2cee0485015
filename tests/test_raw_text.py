"""Raw text as users tag it: the model's tokenizer everywhere text is cut, label maps, raw-text scores."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import pytest
import spacy
import torch
from spacy.tokens import DocBin

from tagger import Tagger, TaggerConfig
from tagger.annotate import Job, annotate
from tagger.cli.main import main
from tagger.evaluation import evaluate, raw_text_scores
from tagger.formats import read_corpus, write_corpus
from tagger.label_maps import LabelMapError, map_labels, read_label_map, relabel
from tagger.text import TokenizerError

FORMAT_1 = Path(__file__).parent / "data" / "format1"  # saved before the config key tokenizer existed
TINY = dict(word_dim=16, char_dim=8, char_hidden=8, hidden=16, dropout=0.0)
TEXT = "GSK-3beta and/or p<0.05."
CUTS = {
    "biomedical": ["GSK", "-", "3beta", "and", "/", "or", "p", "<", "0", ".", "05", "."],
    "english": ["GSK-3beta", "and/or", "p<0.05", "."],
}
NCBI_MAP = "SpecificDisease=Disease,DiseaseClass=Disease,Modifier=Disease,CompositeMention=Disease"
NO_MODIFIERS = "SpecificDisease=Disease,DiseaseClass=Disease,Modifier=O,CompositeMention=Disease"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module", params=sorted(CUTS))
def rules(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def model(sample, tmp_path_factory, rules) -> Path:
    """A model that tags every token as a Disease of its own, so that its entities are the tokens it was given."""
    tagger = Tagger.build(TaggerConfig(**TINY, tokenizer=rules), read_corpus(sample / "train.tsv"))
    _tag_every_token(tagger, 0, "Disease")
    directory = tmp_path_factory.mktemp(f"every-token-{rules}") / "model"
    tagger.save(directory)
    return directory


def _tag_every_token(tagger: Tagger, head: int, label: str) -> None:
    """Make head number ``head`` of ``tagger`` tag every token as an entity ``label`` of its own."""
    single = tagger.heads[head].tags.id(f"S-{label}")
    layers = tagger.model.heads[head]
    with torch.no_grad():
        layers.project.weight.zero_()
        layers.project.bias.fill_(-10.0)[single] = 10.0
        for transitions in (layers.crf.crf.start_transitions, layers.crf.crf.end_transitions):
            transitions.zero_()
        layers.crf.crf.transitions.zero_()


# The model's tokenizer, wherever raw text is cut ----------------------------------------------


def test_the_tokenizer_is_saved_with_the_model_and_cuts_the_text_tag_text_tags(model, rules):
    tagger = Tagger.load(model)
    assert tagger.config.tokenizer == rules
    spans = tagger.tag_text(TEXT)
    assert [span["text"] for span in spans] == CUTS[rules]
    assert all(TEXT[span["start"] : span["end"]] == span["text"] for span in spans)


def test_a_model_saved_before_the_tokenizer_key_loads_with_the_english_rules():
    assert "tokenizer" not in json.loads((FORMAT_1 / "config.json").read_text(encoding="utf-8"))["config"]
    assert Tagger.load(FORMAT_1).config.tokenizer == "english"


@pytest.mark.parametrize("format", ["jsonl", "spacy"])
def test_annotate_cuts_documents_and_their_spacy_docs_by_the_models_rules(model, rules, tmp_path, format):
    (tmp_path / "doc.txt").write_text(TEXT, encoding="utf-8")
    output = tmp_path / f"out-{format}"
    summary = annotate(Job(model, [str(tmp_path / "doc.txt")], output, format=format, threads=1))
    assert summary.total.annotated == 1 and summary.total.tokens == len(CUTS[rules])
    if format == "jsonl":
        [record] = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
        assert [span["text"] for span in record["spans"]] == CUTS[rules]
    else:
        [doc] = DocBin().from_disk(output / "part-000000.spacy").get_docs(spacy.blank("en").vocab)
        assert [token.text for token in doc] == [ent.text for ent in doc.ents] == CUTS[rules]


def test_an_exported_pipeline_saves_the_models_rules_and_loads_them_again(model, rules, tmp_path):
    assert main(["export-spacy", "--model", str(model), "--output", str(tmp_path / "pipeline")]) == 0
    nlp = spacy.load(tmp_path / "pipeline")  # the tokenizer as spaCy's from_disk reads it
    assert len(nlp.tokenizer("GSK-3beta")) == (3 if rules == "biomedical" else 1)
    assert [ent.text for ent in nlp(TEXT).ents] == CUTS[rules]


def test_a_component_in_a_pipeline_that_cuts_otherwise_warns(model, rules, caplog):
    nlp = spacy.blank("en")
    with caplog.at_level(logging.WARNING, logger="tagger.spacy_component"):
        nlp.add_pipe("bilstm_crf", config={"model": str(model)})
    if rules == "english":
        assert not caplog.records
    else:
        assert "cuts text otherwise than the model's 'biomedical' rules (GSK-3beta and/or" in caplog.text
        assert "spacy_tokenizer('biomedical', nlp.vocab)" in caplog.text


RAW_FILES = {
    "abstract.pubtator": "1|t|GSK-3beta binds.\n1|a|It does.\n1\t0\t3\tGSK\tGene\n",
    "records.jsonl": json.dumps({"text": "GSK-3beta binds.", "spans": [{"start": 0, "end": 3, "label": "Gene"}]}),
    "reviews.xml": '<sentences><sentence id="1"><text>GSK-3beta binds.</text><aspectTerms>'
    '<aspectTerm term="GSK" from="0" to="3"/></aspectTerms></sentence></sentences>',
}


@pytest.mark.parametrize("name", sorted(RAW_FILES))
def test_raw_text_readers_cut_by_the_rules_they_are_given(tmp_path, name):
    path = tmp_path / name
    path.write_text(RAW_FILES[name], encoding="utf-8")
    biomedical = read_corpus(path, tokenizer="biomedical")
    sentence = biomedical.sentences[0]
    assert sentence.tokens[:4] == ["GSK", "-", "3beta", "binds"]
    assert [sentence.tokens[start:end] for start, end, _ in sentence.spans] == [["GSK"]]
    assert biomedical.notes["exact"] == 1 and not biomedical.notes["expanded"]
    english = read_corpus(path)
    assert english.sentences[0].tokens[0] == "GSK-3beta" and english.notes["expanded"] == 1


def test_conll_files_are_read_as_tokenised_and_an_unknown_tokenizer_is_refused(sample):
    path = sample / "dev.tsv"
    assert [s.tokens for s in read_corpus(path, tokenizer="biomedical")] == [s.tokens for s in read_corpus(path)]
    with pytest.raises(TokenizerError, match="unknown tokenizer 'scispacy'"):
        read_corpus(path, tokenizer="scispacy")


def test_train_reads_raw_text_by_its_tokenizer_key_and_evaluate_by_the_models(sample, tmp_path):
    write_corpus(read_corpus(sample / "train.tsv"), tmp_path / "train.pubtator")  # each sentence's tokens, spaced
    (tmp_path / "dev.jsonl").write_text(RAW_FILES["records.jsonl"] + "\n", encoding="utf-8")
    train, dev, output = tmp_path / "train.pubtator", tmp_path / "dev.jsonl", tmp_path / "run"
    settings = [f"--set={key}={value}" for key, value in {**TINY, "tokenizer": "biomedical"}.items()]
    command = ["train", "--train", str(train), "--dev", str(dev), "--output", str(output), "--epochs", "1"]
    assert main([*command, "--no-progress", *settings]) == 0
    assert Tagger.load(output / "model").config.tokenizer == "biomedical"
    words = set(json.loads((output / "model" / "vocab.json").read_text(encoding="utf-8"))["words"])
    assert "interleukin" in words and "interleukin-0" not in words  # the sample's interleukin-6, as read
    predictions = tmp_path / "predictions.tsv"
    evaluate_command = ["evaluate", "--model", str(output / "model"), "--data", str(dev)]
    assert main([*evaluate_command, "--predictions", str(predictions)]) == 0
    tokens = [line.split("\t")[0] for line in predictions.read_text(encoding="utf-8").splitlines()]
    assert tokens[:4] == ["GSK", "-", "3beta", "binds"]


# Label maps -------------------------------------------------------------------------------------


def test_label_maps_are_pairs_or_a_json_file(tmp_path):
    assert read_label_map(" SpecificDisease = Disease,Modifier=,Other=O ") == {
        "SpecificDisease": "Disease",
        "Modifier": "",
        "Other": "O",
    }
    path = tmp_path / "map.json"
    path.write_text('{"SpecificDisease": "Disease", "Modifier": "O"}', encoding="utf-8")
    assert read_label_map(str(path)) == {"SpecificDisease": "Disease", "Modifier": "O"}
    spans = [(0, 1, "SpecificDisease"), (1, 2, "Modifier"), (2, 3, "Other"), (3, 4, "Gene")]
    assert map_labels(spans, read_label_map("SpecificDisease=Disease,Modifier=,Other=O")) == [
        (0, 1, "Disease"),
        (3, 4, "Gene"),
    ]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("SpecificDisease", "label map 'SpecificDisease': expected TYPE=LABEL pairs .* no such file exists"),
        ("", "label map '': expected TYPE=LABEL pairs"),
        ("A=B,C", "label map 'A=B,C': expected TYPE=LABEL, found 'C'"),
        ("=B", "label map '=B': expected TYPE=LABEL, found '=B'"),
        ("A=B,A=C", "label map 'A=B,A=C': A is mapped twice, to 'B' and 'C'"),
        ("FILE:[1, 2]", r"map.json: expected a JSON object of TYPE: LABEL strings, .* found \[1, 2\]"),
        ('FILE:{"A": 1}', r"map.json: expected a JSON object of TYPE: LABEL strings, .* found {'A': 1}"),
        ("FILE:{A=B}", "cannot read label map .*map.json: not JSON"),
    ],
)
def test_a_label_map_of_no_known_form_is_a_clear_error(tmp_path, capsys, spec, message):
    if spec.startswith("FILE:"):
        (tmp_path / "map.json").write_text(spec[len("FILE:") :], encoding="utf-8")
        spec = str(tmp_path / "map.json")
    with pytest.raises(LabelMapError, match=message):
        read_label_map(spec)
    assert main(["evaluate", "--model", str(FORMAT_1), "--data", "x.tsv", "--label-map", spec]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("tagger evaluate: error: ") and "Traceback" not in line


def test_relabel_renames_and_drops_the_gold_types_evaluate_scores(tmp_path, model, rules):
    path = tmp_path / "doc.pubtator"
    path.write_text("1|t|Cancer in mice.\n1|a|\n1\t0\t6\tCancer\tDiseaseClass\n1\t10\t14\tmice\tSpecies\n")
    corpus = read_corpus(path)
    relabelled = relabel(corpus, read_label_map("DiseaseClass=Disease,Species=O"))
    assert [s.tags for s in relabelled] == [["B-Disease", "O", "O", "O"]] and relabelled.scheme == "IOB2"
    scores, _ = evaluate(Tagger.load(model), corpus, label_map={"DiseaseClass": "Disease", "Species": ""})
    assert scores["per_type"]["Disease"]["support"] == 1 and scores["recall"] == 1.0 and scores["precision"] == 0.25


# Raw-text scores --------------------------------------------------------------------------------

TITLE = "GSK-3beta inhibitors and breast cancer."
ABSTRACT = "Wilson disease (WD) differs. The tumours grew."
MENTIONS = [  # mention, type, what the every-token model makes of it
    ("GSK-3", "CompositeMention", "a miss: it ends inside a token (3beta, or GSK-3beta by the english rules)"),
    ("inhibitors", "Modifier", "dropped by the label map"),
    ("breast cancer", "SpecificDisease", "a miss: two tokens"),
    ("Wilson disease", "SpecificDisease", "a miss: two tokens"),
    ("WD", "SpecificDisease", "found"),
    ("tumours", "DiseaseClass", "found"),
]


def _documents() -> list[tuple[str, str, list[tuple[int, int, str]]]]:
    """(id, text, gold spans) of two documents: the one above, and one whose title is a found mention."""
    text = f"{TITLE}\n{ABSTRACT}"
    spans = [(text.index(mention), text.index(mention) + len(mention), label) for mention, label, _ in MENTIONS]
    return [("1", text, spans), ("2", "Cancer.\n", [(0, 6, "DiseaseClass")])]


def _write(path: Path) -> Path:
    if path.suffix == ".jsonl":
        records = [{"id": id, "text": text, "spans": [dict(zip(("start", "end", "label"), s)) for s in spans]}
                   for id, text, spans in _documents()]  # fmt: skip
        path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
        return path
    lines = []
    for id, text, spans in _documents():
        title, abstract = text.split("\n")
        lines += [f"{id}|t|{title}", f"{id}|a|{abstract}"]
        lines += [f"{id}\t{start}\t{end}\t{text[start:end]}\t{label}" for start, end, label in spans]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# Tokens of the two documents, each one predicted entity. biomedical: GSK - 3beta inhibitors and breast cancer . |
# Wilson disease ( WD ) differs . The tumours grew . | Cancer . english: GSK-3beta as one token.
PREDICTED = {"biomedical": 8 + 11 + 2, "english": 6 + 11 + 2}


@pytest.mark.parametrize("name", ["gold.pubtator", "gold.jsonl"])
def test_raw_text_scores_count_exact_character_spans_of_each_documents_text(model, rules, tmp_path, name):
    scores = raw_text_scores(Tagger.load(model), _write(tmp_path / name), read_label_map(NO_MODIFIERS))
    predicted = PREDICTED[rules]
    assert {key: scores[key] for key in ("documents", "gold", "predicted", "correct", "off_token_boundaries")} == {
        "documents": 2,
        "gold": 6,
        "predicted": predicted,
        "correct": 3,  # WD, tumours, Cancer
        "off_token_boundaries": 1,  # GSK-3, inside GSK-3beta or 3beta
    }
    assert scores["precision"] == pytest.approx(3 / predicted) and scores["recall"] == pytest.approx(3 / 6)
    assert scores["f1"] == pytest.approx(2 * (3 / predicted) * 0.5 / (3 / predicted + 0.5))
    micro = {key: scores[key] for key in ("precision", "recall", "f1")}
    assert scores["per_type"] == {"Disease": {**micro, "support": 6}}
    assert scores["matching"] == "exact character spans"


def test_evaluate_raw_text_on_the_command_line(model, rules, tmp_path, capsys, caplog):
    gold = _write(tmp_path / "gold.pubtator")
    command = ["evaluate", "--model", str(model), "--data", str(gold), "--raw-text"]
    assert main([*command, "--json", "--label-map", NO_MODIFIERS]) == 0
    printed = json.loads(capsys.readouterr().out)
    scores = raw_text_scores(Tagger.load(model), gold, read_label_map(NO_MODIFIERS))
    assert {key: printed[key] for key in scores} == scores  # and the error analysis: test_error_analysis
    assert main(command) == 0
    table = capsys.readouterr().out
    assert "exact character spans in the raw text of 2 documents" in table and "CompositeMention" in table
    assert "gold types the model never predicts" in caplog.text
    with pytest.raises(SystemExit):  # argparse: --predictions not allowed with --raw-text
        main([*command, "--predictions", "p.tsv"])
    assert main([*command[:4], "x.tsv", "--raw-text"]) == 2
    assert "raw-text scoring needs documents with their text and character spans" in capsys.readouterr().err


def test_raw_text_scores_and_label_maps_score_the_heads_they_are_given(sample, tmp_path, rules, capsys, caplog):
    """A two-head model, each head tagging every token (Disease, Drug): a head scores as a one-head model of it."""
    corpus = read_corpus(sample / "train.tsv")
    drugs = relabel(corpus, {"Disease": "Drug", **{label: "O" for label in corpus.labels() if label != "Disease"}})
    tagger = Tagger.build(TaggerConfig(**TINY, tokenizer=rules), {"disease": corpus, "drugs": drugs})
    _tag_every_token(tagger, 0, "Disease")
    _tag_every_token(tagger, 1, "Drug")
    gold, label_map = _write(tmp_path / "gold.pubtator"), read_label_map(NO_MODIFIERS)
    disease = raw_text_scores(tagger, gold, label_map, head="disease")
    assert (disease["predicted"], disease["correct"]) == (PREDICTED[rules], 3)
    with caplog.at_level(logging.WARNING):
        drug = raw_text_scores(tagger, gold, label_map, head="drugs")
    assert (drug["predicted"], drug["correct"]) == (PREDICTED[rules], 0)
    assert "gold types the model never predicts (it predicts Drug): Disease" in caplog.text
    tagger.save(tmp_path / "model")
    command = ["evaluate", "--model", str(tmp_path / "model"), "--data", str(gold), "--label-map", NO_MODIFIERS]
    assert main([*command, "--raw-text", "--json", "--head", "disease"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {key: printed[key] for key in disease} == disease
    path = tmp_path / "doc.pubtator"
    path.write_text("1|t|Cancer in mice.\n1|a|\n1\t0\t6\tCancer\tDiseaseClass\n")
    one = {"DiseaseClass": "Drug"}
    assert evaluate(tagger, read_corpus(path), label_map=one, head="drugs")[0]["recall"] == 1.0
    assert evaluate(tagger, read_corpus(path), label_map=one, head="disease")[0]["recall"] == 0.0


# The real corpus --------------------------------------------------------------------------------


def test_the_pubtator_release_cut_by_the_biomedical_rules_gives_the_conll_releases_entities(shared_corpora):
    """Title and abstract cut by the rules, with the four types as Disease: the CoNLL test split's entities."""
    pubtator = read_corpus(shared_corpora / "ncbi-disease-pubtator" / "test.pubtator", tokenizer="biomedical")
    assert pubtator.notes["exact"] == 960 and not pubtator.notes["expanded"] and not pubtator.notes["dropped"]
    conll = read_corpus(shared_corpora / "ncbi-disease" / "test.tsv")

    def entities(corpus) -> Counter:
        return Counter((" ".join(s.tokens[start:end]), label) for s in corpus for start, end, label in s.spans)

    assert entities(relabel(pubtator, read_label_map(NCBI_MAP))) == entities(conll)

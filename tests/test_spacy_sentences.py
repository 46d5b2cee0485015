"""One sentence splitter everywhere: ``tagger_sentences`` in a spaCy pipeline cuts as ``Tagger.tag`` does, so the
exported pipeline finds the spans ``Tagger.tag`` finds, on real abstracts."""

from __future__ import annotations

import configparser
import importlib
import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import spacy
from spacy.util import registry

import tagger.spacy_component  # noqa: F401  registers the factories in this process (installed: by entry points)
from tagger import Tagger, TaggerConfig
from tagger.cli.main import main
from tagger.formats import read_corpus
from tagger.spacy_component import SENTENCES
from tagger.text import sentences, spacy_tokenizer

pytestmark = pytest.mark.usefixtures("one_thread")
FIG = "As shown in Fig. 2 cisplatin kills tumour cells (Smith et al. 2001). It works!\n\nA new one"
TEXTS = [
    FIG,
    "  Leading space. Then a second one?  And a third.  ",
    "",
    "   \n\n  ",
    "no end at all and lower. case goes on",
    "Two blank lines\n\n\nend one. \u201cQuoted.\u201d Next (see Eq. 3). Done",
    "GSK-3beta binds i.v. to J. B. Smith. Then p<0.05 was found. I1307K too.",
]
TINY = dict(word_dim=16, char_dim=8, char_hidden=8, hidden=16)
DOCUMENTS = 60  # of the NCBI-disease test set: 60 abstracts, over 500 sentences
LOAD_AND_CUT = """
import json, sys
import spacy
assert "tagger" not in sys.modules  # the factories must come from the spacy_factories entry points
nlp = spacy.load(sys.argv[1])
docs = nlp.pipe(json.load(sys.stdin))
bounds = lambda s: [s.start_char + len(s.text) - len(s.text.lstrip()), s.start_char + len(s.text.rstrip())]
print(json.dumps([[[bounds(s) for s in d.sents], [[e.start_char, e.end_char, e.label_] for e in d.ents]]
                  for d in docs]))
"""


def bounds(doc) -> list[tuple[int, int]]:
    """Character span of each sentence's non-space tokens (empty sentences left out)."""
    result = []
    for sentence in doc.sents:
        words = [token for token in sentence if not token.is_space]
        if words:
            result.append((words[0].idx, words[-1].idx + len(words[-1].text)))
    return result


def our_bounds(found) -> list[tuple[int, int]]:
    return [(sentence.offsets[0][0], sentence.offsets[-1][1]) for sentence in found]


def splitter(rules: str = "english", **settings) -> spacy.Language:
    nlp = spacy.blank("en")
    nlp.tokenizer = spacy_tokenizer(rules, nlp.vocab)
    nlp.add_pipe(SENTENCES, config=settings)
    return nlp


@pytest.mark.parametrize("rules", ["english", "biomedical"])
@pytest.mark.parametrize("max_tokens", [256, 4])
def test_the_component_cuts_as_text_sentences_does(rules, max_tokens):
    nlp = splitter(rules, max_tokens=max_tokens)
    for text in TEXTS:
        assert bounds(nlp(text)) == our_bounds(sentences(text, max_tokens, rules)), text


def test_a_figure_reference_ends_no_sentence_as_it_does_for_the_sentencizer():
    ours = bounds(splitter()(FIG))
    assert [FIG[start:end] for start, end in ours][0].startswith("As shown in Fig. 2 cisplatin")
    sentencizer = spacy.blank("en")
    sentencizer.add_pipe("sentencizer")
    assert bounds(sentencizer(FIG)) != ours  # the defect: "Fig." ended a sentence


def test_every_token_belongs_to_one_sentence_and_whitespace_closes_the_one_before():
    doc = splitter()("One here.   Two here.")
    assert [sentence.text for sentence in doc.sents] == ["One here.   ", "Two here."]


def test_a_bad_max_tokens_fails_when_the_component_is_added():
    with pytest.raises(ValueError, match="max_tokens must be a positive integer, not 0"):
        splitter(max_tokens=0)


@pytest.fixture(scope="module")
def abstracts(shared_corpora) -> list[str]:
    """The raw text (title, newline, abstract) of NCBI-disease test documents."""
    path = shared_corpora / "ncbi-disease-pubtator" / "test.pubtator"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    texts = []
    for sentence in read_corpus(path):
        if not texts or sentence.text != texts[-1]:
            texts.append(sentence.text)
    return texts[:DOCUMENTS]


@pytest.fixture(scope="module", params=["trained english", "fresh biomedical"])
def model(request, tiny_model, sample, tmp_path_factory):
    """The conftest's model trained on the sample, or an untrained model of the biomedical rules."""
    if request.param == "trained english":
        return tiny_model
    path = tmp_path_factory.mktemp("fresh") / "model"
    Tagger.build(TaggerConfig(**TINY, tokenizer="biomedical", seed=3), read_corpus(sample / "train.tsv")).save(path)
    return path


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    output = tmp_path_factory.mktemp("exported") / "pipeline"
    assert main(["export-spacy", "--model", str(model), "--output", str(output)]) == 0
    return output


def test_the_exported_pipeline_finds_the_spans_and_sentences_of_tagger_tag(model, exported, abstracts):
    nlp = spacy.load(exported)
    assert nlp.pipe_names == [SENTENCES, "bilstm_crf"]
    expected = list(Tagger.load(model).tag(abstracts))
    docs = list(nlp.pipe(abstracts))
    assert sum(len(result.sentences) for result in expected) > 500
    assert sum(len(result.spans) for result in expected) > 20  # spans to compare, not only empty lists
    for result, doc in zip(expected, docs):
        assert bounds(doc) == our_bounds(result.sentences)
        assert [(e.start_char, e.end_char, e.label_) for e in doc.ents] == [
            (span.start, span.end, span.label) for span in result.spans
        ]
        assert [e._.bilstm_crf_score for e in doc.ents] == pytest.approx([s.score for s in result.spans], abs=1e-5)


def test_setup_cfg_registers_every_factory_by_entry_point():
    config = configparser.ConfigParser()
    config.read(Path(__file__).resolve().parents[1] / "setup.cfg")
    lines = config["options.entry_points"]["spacy_factories"].strip().splitlines()
    targets = dict(line.replace(" ", "").split("=") for line in lines)
    for name, target in targets.items():
        module, function = target.split(":")
        assert registry.factories.get(name) is getattr(importlib.import_module(module), function)
    assert set(targets) == {"bilstm_crf", SENTENCES}


def test_the_exported_pipeline_cuts_so_in_a_fresh_process(model, exported, abstracts):
    if not entry_points(group="spacy_factories", name=SENTENCES):
        pytest.skip(f"the {SENTENCES} entry point is not installed: reinstall the package (pip install -e .)")
    texts = abstracts[:10]
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_CUT, str(exported)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    expected = Tagger.load(model).tag(texts)
    for (sents, ents), tagged in zip(json.loads(result.stdout), expected):
        assert [tuple(s) for s in sents] == [(s.offsets[0][0], s.offsets[-1][1]) for s in tagged.sentences]
        assert [tuple(e) for e in ents] == [(s.start, s.end, s.label) for s in tagged.spans]

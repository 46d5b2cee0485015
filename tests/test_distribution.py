"""The distribution's name (``bilstm-crf-tagger``; PyPI's ``tagger`` is another project) and the entry points it
registers: the command, the spaCy factory and displaCy's colours for our labels.

Entry points and the installed name change only when the package is reinstalled; the tests that read the
installed metadata skip, saying so, while the installed copy is the old one."""

from __future__ import annotations

import configparser
import importlib
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
from spacy import displacy
from spacy.tokens import Doc, Span
from spacy.util import registry
from spacy.vocab import Vocab

import tagger
from tagger.displacy_colors import COLORS, displacy_colors
from tagger.formats import read_corpus
from tagger.spacy_component import pipeline

ROOT = Path(__file__).resolve().parents[1]
REINSTALL = "the installed distribution is the old one: reinstall it (pip install --no-deps -e .)"


def setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    return config


def entry_points() -> dict[str, dict[str, str]]:
    """setup.cfg's entry points: {group: {name: "module:attribute"}}."""
    groups = {}
    for group, lines in setup_cfg()["options.entry_points"].items():
        pairs = (line.split("=") for line in lines.strip().splitlines())
        groups[group] = {name.strip(): target.strip() for name, target in pairs}
    return groups


def resolve(target: str):
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def test_setup_cfg_names_the_distribution_by_the_package_constant():
    assert setup_cfg()["metadata"]["name"] == tagger.DISTRIBUTION == "bilstm-crf-tagger"


def test_setup_cfg_entry_points_name_what_exists():
    groups = entry_points()
    assert groups["console_scripts"] == {"tagger": "tagger.cli.main:main"}
    assert resolve(groups["spacy_factories"]["bilstm_crf"]) is not None
    assert resolve(groups["spacy_displacy_colors"]["bilstm_crf"]) is displacy_colors


def test_an_exported_pipeline_requires_the_distribution_by_its_name(tiny_model):
    nlp = pipeline(tiny_model)
    assert nlp.meta["requirements"] == [f"bilstm-crf-tagger>={tagger.__version__}"]


def test_every_label_of_the_sample_corpus_has_a_colour(sample):
    labels = read_corpus(sample / "train.tsv").labels()
    assert labels and all(label.upper() in COLORS for label in labels)
    assert all(label == label.upper() for label in COLORS)  # displaCy compares in upper case
    assert displacy_colors() == COLORS and displacy_colors() is not COLORS


def rendered(labels: list[str]) -> str:
    """displaCy's HTML of a doc with one entity of each of ``labels``."""
    doc = Doc(Vocab(), words=[f"word{i}" for i in range(len(labels))])
    doc.ents = [Span(doc, i, i + 1, label=label) for i, label in enumerate(labels)]
    return displacy.render(doc, style="ent")


@pytest.fixture
def registered():
    """Our colours in spaCy's registry, as the entry point puts them once installed; removed afterwards."""
    registry.displacy_colors.register("bilstm_crf_test", func=displacy_colors)
    yield
    import catalogue

    del catalogue.REGISTRY[(*registry.displacy_colors.namespace, "bilstm_crf_test")]


def test_displacy_draws_our_labels_in_their_colours_from_the_registry(registered):
    html = rendered(["Disease", "Chemical", "Aspect", "ASPECT"])
    for label in ("DISEASE", "CHEMICAL", "ASPECT"):
        assert f"background: {COLORS[label]}" in html
    assert "background: #ddd" not in html  # displaCy's grey for unknown labels


def test_spacy_reads_our_colours_through_the_entry_point_setup_cfg_declares(tmp_path):
    """The entry point as an installation writes it (a dist-info of setup.cfg's group), read by spaCy itself."""
    info = tmp_path / "bilstm_crf_tagger-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bilstm-crf-tagger\nVersion: 0.1.0\n")
    points = entry_points()["spacy_displacy_colors"]
    lines = "".join(f"{name} = {target}\n" for name, target in points.items())
    (info / "entry_points.txt").write_text(f"[spacy_displacy_colors]\n{lines}")
    script = (
        "from spacy import displacy; from spacy.tokens import Doc, Span; from spacy.vocab import Vocab\n"
        "doc = Doc(Vocab(), words=['BRCA1', 'aspirin'])\n"
        "doc.ents = [Span(doc, 0, 1, 'Gene'), Span(doc, 1, 2, 'Chemical')]\n"
        "print(displacy.render(doc, style='ent'))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert f"background: {COLORS['GENE']}" in done.stdout and f"background: {COLORS['CHEMICAL']}" in done.stdout


def test_the_installed_entry_point_gives_displacy_our_colours():
    installed = {point.name: point.value for point in importlib.metadata.entry_points(group="spacy_displacy_colors")}
    if "bilstm_crf" not in installed:
        pytest.skip(f"no spacy_displacy_colors entry point installed: {REINSTALL}")
    assert f"background: {COLORS['DISEASE']}" in rendered(["Disease"])


def test_the_installed_distribution_has_the_new_name():
    try:
        version = importlib.metadata.version(tagger.DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{tagger.DISTRIBUTION} is not installed: {REINSTALL}")
    assert version == tagger.__version__

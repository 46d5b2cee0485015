"""displaCy colours for the entity labels of the catalogue's corpora and the bundled sample, which spaCy finds
through the ``spacy_displacy_colors`` entry point (displaCy otherwise draws them all grey)."""

from __future__ import annotations

# displaCy looks labels up in upper case, so ASPECT (SemEval) colours the sample's Aspect too.
COLORS = {
    "DISEASE": "#f4a3a3",
    "SPECIFICDISEASE": "#f4a3a3",  # NCBI-disease's PubTator types, before --label-map folds them into Disease
    "DISEASECLASS": "#f4a3a3",
    "MODIFIER": "#f4a3a3",
    "COMPOSITEMENTION": "#f4a3a3",
    "CHEMICAL": "#a3d3f4",
    "GENE": "#c8f4a3",
    "PROTEIN": "#c8f4a3",
    "DNA": "#a3f4d9",
    "RNA": "#a3f4ea",
    "CELL_LINE": "#f4c8a3",
    "CELL_TYPE": "#f4d3b8",
    "SPECIES": "#f4e2a3",
    "ANATOMY": "#f4b8e2",
    "ASPECT": "#d9b8f4",
}


def displacy_colors() -> dict[str, str]:
    """{label: CSS colour} for displaCy's ``ent`` style."""
    return dict(COLORS)

"""BiLSTM-CRF sequence tagging for opinion targets and biomedical entities."""

from .lazy import lazy_exports

__version__ = "0.1.0"
DISTRIBUTION = "bilstm-crf-tagger"  # the name pip installs it by (PyPI's ``tagger`` is another project)

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "config": ("TaggerConfig",),
        "predictions": ("TaggedText", "TextSpan"),
        "tagger": ("Prediction", "Span", "Tagger"),
    },
)
__all__ = ["DISTRIBUTION", "Prediction", "Span", "TaggedText", "Tagger", "TaggerConfig", "TextSpan", "__version__"]

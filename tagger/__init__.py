"""BiLSTM-CRF sequence tagging for opinion targets and biomedical entities."""

__version__ = "0.1.0"
DISTRIBUTION = "bilstm-crf-tagger"  # the name this project is installed by (pip install bilstm-crf-tagger)

from .config import TaggerConfig  # noqa: E402
from .predictions import TaggedText, TextSpan  # noqa: E402
from .tagger import Prediction, Span, Tagger  # noqa: E402

__all__ = ["Prediction", "Span", "TaggedText", "Tagger", "TaggerConfig", "TextSpan", "__version__"]

"""``Tagger``: what users hold. Config, vocabularies and model; build, save, load, predict."""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path
from typing import Iterable, Sequence

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from . import __version__
from .batching import Encoded, Encoder, length_batches
from .bilstm import upgrade_packed_names
from .config import ConfigError, TaggerConfig
from .corpus import Corpus, Sentence
from .charlm import CharLM
from .files import atomic_write
from .lm_store import CharVocab, LMError, load_lm
from .model import BiLSTMCRF
from .schemes import allowed_transitions, check_scheme, from_spans, tags_for, to_spans
from .vocab import CASINGS, Vocab, normalize_word

FORMAT_VERSION = 2  # 2: the encoder is a BiLSTM of one-way LSTMs (bilstm.py); 1's weights are renamed
CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE = "config.json", "vocab.json", "weights.safetensors"
logger = logging.getLogger(__name__)


class ModelError(ValueError):
    """A model directory that is missing, corrupt or from an incompatible version."""


@dataclass
class Span:
    """An entity over tokens ``start:end`` (end exclusive) with the CRF's probability of it."""

    start: int
    end: int
    label: str
    score: float


@dataclass
class Prediction:
    """Tags of one sentence (in the model's output scheme), its spans and token confidences."""

    tags: list[str]
    spans: list[Span] = field(default_factory=list)
    token_scores: list[float] = field(default_factory=list)


class Tagger:
    """A trained (or freshly built) BiLSTM-CRF with its vocabularies.

    The last ``pretrained`` words of the word vocabulary are those with pretrained vectors.
    """

    def __init__(
        self,
        config: TaggerConfig,
        words: Vocab,
        chars: Vocab,
        tags: Vocab,
        output_scheme: str,
        pretrained: int = 0,
        lm_chars: CharVocab | None = None,
    ):
        self.config = config
        self.output_scheme = check_scheme(output_scheme)
        self.pretrained = pretrained
        if bool(config.char_lm_hidden) != (lm_chars is not None):
            raise ConfigError("a character LM (char_lm_hidden) needs its character vocabulary, and only it")
        self.encoder = Encoder(words, chars, tags, config.lowercase, config.normalize_digits, lm_chars)
        self.model = BiLSTMCRF(
            len(words),
            len(chars),
            len(CASINGS),
            len(tags),
            allowed_transitions(config.scheme, tags.items),
            word_dim=config.word_dim,
            char_encoder_kind=config.char_encoder,
            char_dim=config.char_dim,
            char_hidden=config.char_hidden,
            char_kernel=config.char_kernel,
            casing_dim=config.casing_dim,
            hidden=config.hidden,
            layers=config.layers,
            dropout=config.dropout,
            frozen_words=pretrained if config.freeze_vectors else 0,
            lm_chars=len(lm_chars) if lm_chars else 0,
            lm_dim=config.char_lm_dim,
            lm_hidden=config.char_lm_hidden,
            lm_layers=config.char_lm_layers,
            lm_finetune=config.char_lm_finetune,
        )

    @property
    def labels(self) -> list[str]:
        """Entity labels the model predicts."""
        return sorted({tag[2:] for tag in self.encoder.tag_vocab.items if tag != "O"})

    @classmethod
    def build(cls, config: TaggerConfig, train: Corpus, texts: Iterable[Sequence[str]] = ()) -> "Tagger":
        """A new, untrained tagger with vocabularies from ``train``.

        With ``config.vectors``, the words of ``train`` and of ``texts`` (the token lists to be
        tagged, such as dev and test) that have a pretrained vector, and the table's first
        ``config.vectors_keep`` words, join the word vocabulary with their vectors, and
        ``word_dim`` becomes the vectors' dimension. Otherwise nothing is taken from ``texts``.
        With ``config.char_lm``, the forward and backward LMs of that directory give each token
        their states, and the tagger keeps their weights. A config with ``init_from`` is built by
        ``transfer.build``, which starts from that model.
        """
        if config.init_from:
            raise ConfigError("Tagger.build makes models from scratch; build a config with init_from by transfer.build")
        config, words, vectors = _word_vocabulary(config, train, texts)
        config, lms = _char_lms(config)
        chars = Counter(c for s in train for token in s.tokens for c in token)
        tags = Vocab(tags_for(train.labels(), config.scheme))
        tagger = cls.fresh(config, words, Vocab.build(chars), tags, train.scheme, len(vectors), vectors, lms and lms[2])
        if lms:
            tagger.model.char_lm.use_trained(lms[0], lms[1])
        return tagger

    @classmethod
    def fresh(
        cls,
        config: TaggerConfig,
        words: Vocab,
        chars: Vocab,
        tags: Vocab,
        output_scheme: str,
        pretrained: int = 0,
        vectors: torch.Tensor | None = None,
        lm_chars: CharVocab | None = None,
    ) -> "Tagger":
        """A tagger over these vocabularies with weights drawn by ``config.init`` from ``config.seed``.

        ``vectors`` (n × word_dim), if given, become the last n word rows; ``lm_chars`` is the vocabulary of a
        character LM (``config.char_lm_hidden``), whose weights the caller sets.
        """
        with torch.random.fork_rng():
            torch.manual_seed(config.seed)
            tagger = cls(config, words, chars, tags, output_scheme, pretrained, lm_chars)
            tagger.model.initialise(config.init, config.init_scale, config.forget_bias)
            if vectors is not None:
                tagger.model.use_pretrained(vectors)
        return tagger

    def predict(
        self, sentences: Sequence[Sequence[str] | Sentence], batch_size: int = 128, confidences: bool = True
    ) -> list[Prediction]:
        """Tag token lists (or ``Sentence``s, whose text a character LM reads as it is) in length-sorted batches;
        results come back in input order."""
        self.model.eval()
        results = [Prediction([]) for _ in sentences]
        lengths = [len(s) for s in sentences]
        tag_names = self.encoder.tag_vocab.items
        with torch.inference_mode():
            for indices in length_batches(lengths, batch_size):
                indices = [i for i in indices if lengths[i]]
                if not indices:
                    continue
                batch = self.encoder.collate([self.encode(sentences[i]) for i in indices])
                best, posteriors = self.model.decode(batch, with_posteriors=confidences)
                paths = posteriors.along(best) if confidences else None
                for row, (index, ids) in enumerate(zip(indices, best.tolist())):
                    ids = ids[: lengths[index]]
                    spans = to_spans([tag_names[i] for i in ids])
                    prediction = results[index]
                    prediction.tags = from_spans(spans, len(ids), self.output_scheme)
                    if paths is None:
                        prediction.spans = [Span(s, e, label, math.nan) for s, e, label in spans]
                        continue
                    prediction.token_scores = [math.exp(p) for p in paths.token_log_probs[row][: len(ids)]]
                    prediction.spans = [
                        Span(s, e, label, math.exp(paths.span_log_prob(row, s, e))) for s, e, label in spans
                    ]
        return results

    def encode(self, sentence: Sequence[str] | Sentence, tags: Sequence[str] | None = None) -> Encoded:
        """A token list, or a ``Sentence`` with the text and offsets a character LM reads, as ids."""
        if isinstance(sentence, Sentence):
            return self.encoder.encode(sentence.tokens, tags, sentence.text, sentence.offsets)
        return self.encoder.encode(sentence, tags)

    def tag_text(self, text: str, batch_size: int = 128) -> list[dict]:
        """Entities in raw ``text`` as ``{start, end, label, text, score}`` character spans."""
        from .text import sentences

        split = sentences(text)
        predictions = self.predict(split, batch_size)
        return [span for sentence, prediction in zip(split, predictions) for span in char_spans(sentence, prediction)]

    @property
    def vocabs(self) -> tuple[Vocab, Vocab, Vocab]:
        return self.encoder.word_vocab, self.encoder.char_vocab, self.encoder.tag_vocab

    def to_parts(self) -> tuple[dict, dict, dict[str, torch.Tensor]]:
        """``(meta, vocabularies, weights)``: plain data that ``from_parts`` turns back into a tagger."""
        meta = {
            "format_version": FORMAT_VERSION,
            "tagger_version": __version__,
            "output_scheme": self.output_scheme,
            "config": self.config.to_dict(),
        }
        vocab = {name: v.items for name, v in zip(("words", "chars", "tags"), self.vocabs)}
        vocab["pretrained"] = self.pretrained
        if self.encoder.lm_vocab is not None:
            vocab["lm_chars"] = self.encoder.lm_vocab.items
        weights = {name: tensor.detach().contiguous() for name, tensor in self.model.state_dict().items()}
        return meta, vocab, weights

    @classmethod
    def from_parts(cls, meta: dict, vocab: dict, weights: dict[str, torch.Tensor], source: str) -> "Tagger":
        """The tagger ``to_parts`` described; ``source`` names where the parts came from in errors."""
        version = meta.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ModelError(
                f"{source}: model format {version!r} is not one this tagger {__version__} reads "
                f"(up to {FORMAT_VERSION}); upgrade tagger"
            )
        try:
            config = TaggerConfig.from_dict(meta["config"])
            words, chars, tags = (Vocab(vocab[name]) for name in ("words", "chars", "tags"))
            lm_chars = CharVocab(vocab["lm_chars"]) if "lm_chars" in vocab else None
            tagger = cls(config, words, chars, tags, meta["output_scheme"], vocab.get("pretrained", 0), lm_chars)
            tagger.model.load_state_dict(upgrade_packed_names(weights) if version < 2 else weights)
        except (KeyError, TypeError, ConfigError, LMError, RuntimeError, ValueError) as error:
            raise ModelError(f"{source}: incompatible or corrupt model ({type(error).__name__}: {error})") from None
        tagger.model.eval()
        return tagger

    def save(self, directory: str | Path) -> None:
        """Write the model directory: config and vocabularies as JSON, weights as safetensors.

        Each file is replaced atomically, the config last.
        """
        directory = Path(directory)
        meta, vocab, weights = self.to_parts()
        with atomic_write(directory / VOCAB_FILE) as out:
            json.dump(vocab, out, ensure_ascii=False)
        with atomic_write(directory / WEIGHTS_FILE, "wb") as out:
            out.write(save(weights))
        with atomic_write(directory / CONFIG_FILE) as out:
            json.dump(meta, out, indent=2)

    @classmethod
    def load(cls, directory: str | Path) -> "Tagger":
        """Load a model directory onto the CPU; never unpickles anything."""
        directory = Path(directory)
        missing = [name for name in (CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE) if not (directory / name).is_file()]
        if missing:
            raise ModelError(
                f"{directory} is not a tagger model: missing {', '.join(missing)} "
                f"(a model directory holds {CONFIG_FILE}, {VOCAB_FILE} and {WEIGHTS_FILE})"
            )
        try:
            weights = load_file(str(directory / WEIGHTS_FILE), device="cpu")
        except (SafetensorError, OSError) as error:
            raise ModelError(f"{directory / WEIGHTS_FILE}: cannot read weights ({error})") from None
        return cls.from_parts(
            _read_json(directory / CONFIG_FILE), _read_json(directory / VOCAB_FILE), weights, str(directory)
        )


def _word_vocabulary(
    config: TaggerConfig, train: Corpus, texts: Iterable[Sequence[str]]
) -> tuple[TaggerConfig, Vocab, torch.Tensor]:
    """The config (``word_dim`` set by any vectors), the word vocabulary and the vectors of its last words."""
    tokens = (token for s in train for token in s.tokens)
    if not config.vectors:
        words = Counter(normalize_word(token, config.lowercase, config.normalize_digits) for token in tokens)
        return config, Vocab.build(words, config.min_word_count), torch.zeros(0, config.word_dim)
    from .vectors import read_vectors, vocabulary_with_vectors

    table = read_vectors(config.vectors, config.vectors_format)
    if table.dim != config.word_dim:
        logger.info("word_dim set to %d, the dimension of the vectors (was %d)", table.dim, config.word_dim)
        config = replace(config, word_dim=table.dim)
    other = chain((token for text in texts for token in text), table.first_words(config.vectors_keep))
    words, vectors = vocabulary_with_vectors(
        table, tokens, other, config.lowercase, config.normalize_digits, config.min_word_count
    )
    return config, words, vectors


def _char_lms(config: TaggerConfig) -> tuple[TaggerConfig, tuple[CharLM, CharLM, CharVocab] | None]:
    """The config with the architecture of ``config.char_lm`` set, and its forward LM, backward LM and vocabulary."""
    if not config.char_lm:
        return config, None
    forward_lm, vocab, _ = load_lm(Path(config.char_lm), "forward")
    backward_lm, backward_vocab, _ = load_lm(Path(config.char_lm), "backward")
    shape = (forward_lm.embed.embedding_dim, forward_lm.hidden, forward_lm.lstm.num_layers)
    if vocab.items != backward_vocab.items or shape != (
        backward_lm.embed.embedding_dim,
        backward_lm.hidden,
        backward_lm.lstm.num_layers,
    ):
        raise LMError(f"{config.char_lm}: its forward and backward LMs differ in characters or architecture")
    config = replace(config, char_lm_dim=shape[0], char_lm_hidden=shape[1], char_lm_layers=shape[2])
    return config, (forward_lm, backward_lm, vocab)


def char_spans(sentence: Sentence, prediction: Prediction) -> list[dict]:
    """``prediction``'s entities as ``{start, end, label, text, score}`` character spans into ``sentence.text``."""
    found = []
    for span in prediction.spans:
        start, end = sentence.offsets[span.start][0], sentence.offsets[span.end - 1][1]
        found.append(
            {"start": start, "end": end, "label": span.label, "text": sentence.text[start:end], "score": span.score}
        )
    return found


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"{path}: cannot read model file ({error})") from None
    if not isinstance(value, dict):
        raise ModelError(f"{path}: expected a JSON object")
    return value

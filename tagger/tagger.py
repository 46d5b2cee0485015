"""``Tagger``: what users hold. Config, vocabularies and model; build, save, load, predict."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from itertools import chain, islice
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from . import __version__
from .batching import (
    LM_MAX_PADDING,
    MAX_PADDING,
    PACKED_MAX_PADDING,
    Batch,
    Encoded,
    Encoder,
    TokenTable,
    length_batches,
)
from .bilstm import upgrade_packed_names
from .charlm import CharLM
from .chunks import ChunkReader
from .config import PREDICT_BATCH_SIZE, ConfigError, TaggerConfig
from .corpus import Corpus, Sentence
from .crf import Posteriors
from .files import atomic_write
from .heads import DEFAULT_HEAD, Head, HeadError, check_names, choose
from .lm_store import CharVocab, LMError, load_lm
from .model import BiLSTMCRF, Ensemble
from .named_models import resolve
from .predictions import (  # Prediction and Span are re-exported: they lived here
    Prediction,
    Span,
    TaggedText,
    merged,
    text_spans,
)
from .quantization import QUANTIZATIONS, STORED_DTYPES, quantize
from .reading import SURROGATE
from .schemes import (
    SCHEMES,
    SchemeError,
    allowed_transitions,
    check_scheme,
    chunk_links,
    from_spans,
    labels_of,
    tags_for,
)
from .text import MAX_TOKENS, sentences
from .vocab import CASINGS, PAD, UNK, Vocab, normalize_word

# 2: the encoder is a BiLSTM of one-way LSTMs (bilstm.py); 1's weights are renamed.
# 3: heads, each with its name, output scheme, tags and weights heads.N.*; 2's one head is DEFAULT_HEAD.
# 4: ensembles (config ensemble > 1), member N's weights members.N.*; a single model is still saved as 3.
FORMAT_VERSION = 4
SINGLE_MODEL_FORMAT = 3
CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE = "config.json", "vocab.json", "weights.safetensors"
TEXTS_AT_ONCE = 256  # texts whose sentences Tagger.tag predicts together
LM_SHAPE = ("char_lm_dim", "char_lm_hidden", "char_lm_layers")  # config keys a build takes from the character LM
CHECKSUM = "weights_sha256"  # config.json key: the SHA-256 of weights.safetensors, recorded when saved
WEIGHT_DTYPES = {name: getattr(torch, name) for name in STORED_DTYPES}  # what weights.safetensors may hold
logger = logging.getLogger(__name__)


class ModelError(ValueError):
    """A model directory that is missing, corrupt or from an incompatible version."""


class Tagger:
    """A trained (or freshly built) BiLSTM-CRF with its vocabularies and heads.

    The last ``pretrained`` words of the word vocabulary are those with pretrained vectors. Each head
    (one per training corpus) has its own tags, output scheme, projection and CRF over the shared encoder.
    """

    def __init__(
        self,
        config: TaggerConfig,
        words: Vocab,
        chars: Vocab,
        heads: Sequence[Head],
        pretrained: int = 0,
        lm_chars: CharVocab | None = None,
    ):
        self.config = config
        self.pretrained = pretrained
        self.quantization: str | None = None  # set by quantize
        self.weights_dtype = "float32"  # set by store_weights_in
        self._float_weights: dict[str, torch.Tensor] | None = None
        if bool(config.char_lm_hidden) != (lm_chars is not None):
            raise ConfigError("a character LM (char_lm_hidden) needs its character vocabulary, and only it")
        if not heads:
            raise HeadError("a tagger needs a head: give it one corpus or more")
        check_names([head.name for head in heads])
        self.heads = [Head(head.name, head.tags, check_scheme(head.output_scheme)) for head in heads]
        self.encoder = Encoder(words, chars, config.lowercase, config.normalize_digits, lm_chars)
        self.links = [chunk_links(config.scheme, head.tags.items) for head in heads]  # what span confidences need
        self.readers = [ChunkReader(head.tags.items) for head in heads]
        try:
            members = [self._member(config, words, chars, heads, pretrained, lm_chars) for _ in range(config.ensemble)]
        except (MemoryError, RuntimeError) as error:  # torch's allocator raises RuntimeError
            if isinstance(error, RuntimeError) and "allocate" not in str(error):
                raise
            raise ConfigError(
                f"a model of this config does not fit in memory ({len(words):,} words, word_dim {config.word_dim}, "
                f"hidden {config.hidden}, layers {config.layers}, char_hidden {config.char_hidden}, "
                f"ensemble {config.ensemble})"
            ) from None
        self.model = members[0] if len(members) == 1 else Ensemble(members)

    @staticmethod
    def _member(
        config: TaggerConfig, words: Vocab, chars: Vocab, heads: Sequence[Head], pretrained: int, lm_chars
    ) -> BiLSTMCRF:
        return BiLSTMCRF(
            len(words),
            len(chars),
            len(CASINGS),
            [(len(head.tags), allowed_transitions(config.scheme, head.tags.items)) for head in heads],
            word_dim=config.word_dim,
            char_encoder_kind=config.char_encoder,
            char_dim=config.char_dim,
            char_hidden=config.char_hidden,
            char_kernel=config.char_kernel,
            casing_dim=config.casing_dim,
            hidden=config.hidden,
            layers=config.layers,
            dropout=config.dropout,
            locked_dropout=config.locked_dropout,
            word_dropout=config.word_dropout,
            frozen_words=pretrained if config.freeze_vectors else 0,
            lm_chars=len(lm_chars) if lm_chars else 0,
            lm_dim=config.char_lm_dim,
            lm_hidden=config.char_lm_hidden,
            lm_layers=config.char_lm_layers,
            lm_finetune=config.char_lm_finetune,
            lm_projection=config.char_lm_projection,
        )

    @property
    def head_names(self) -> list[str]:
        """The names of the heads, in order."""
        return [head.name for head in self.heads]

    @property
    def labels(self) -> list[str]:
        """Entity labels the model predicts, those of every head."""
        return self.chosen_labels()

    @property
    def output_scheme(self) -> str:
        """The scheme the first head's predictions are in (that of a single-corpus model's only head)."""
        return self.heads[0].output_scheme

    def chosen_heads(self, head: str | Sequence[str] | None = None) -> list[Head]:
        """The heads ``head`` chooses: a name, a list of names, or ``None`` or ``"all"`` for every head;
        ``HeadError`` for a name the model lacks."""
        return [self.heads[index] for index in choose(self.head_names, head)]

    def chosen_labels(self, head: str | Sequence[str] | None = None) -> list[str]:
        """Entity labels the heads ``head`` chooses predict (``chosen_heads``), sorted."""
        return sorted({label for chosen in self.chosen_heads(head) for label in chosen.labels})

    @classmethod
    def build(
        cls, config: TaggerConfig, train: Corpus | Mapping[str, Corpus], texts: Iterable[Sequence[str]] = ()
    ) -> "Tagger":
        """A new, untrained tagger with vocabularies from ``train``: a ``Corpus`` (one head, named
        ``DEFAULT_HEAD``) or a dict of head names to corpora (a head each, in its order).

        Words and characters come from every corpus; each head's tags from its own, its output scheme
        is its corpus' scheme. With ``config.vectors``, the words of ``train`` and of ``texts`` (the
        token lists to be tagged, such as dev and test) that have a pretrained vector, and the table's
        first ``config.vectors_keep`` words, join the word vocabulary with their vectors, and
        ``word_dim`` becomes the vectors' dimension. Otherwise nothing is taken from ``texts``.
        With ``config.char_lm``, the forward and backward LMs of that directory give each token
        their states, and the tagger keeps their weights. A config with ``init_from`` is built by
        ``transfer.build``, which starts from that model.
        """
        corpora = named_corpora(train, "Tagger.build")
        texts = token_lists(texts, "Tagger.build: texts")
        if config.init_from:
            raise ConfigError("Tagger.build makes models from scratch; build a config with init_from by transfer.build")
        sentences = [sentence for corpus in corpora.values() for sentence in corpus]
        config, words, vectors = _word_vocabulary(config, sentences, texts)
        config, lms = _char_lms(config)
        chars = Vocab.build(Counter(c for s in sentences for token in s.tokens for c in token))
        heads = heads_for(corpora, config.scheme)
        tagger = cls.fresh(config, words, chars, heads, len(vectors), vectors, lms and lms[2])
        if lms:
            tagger.model.char_lm.use_trained(lms[0], lms[1])
        return tagger

    @classmethod
    def fresh(
        cls,
        config: TaggerConfig,
        words: Vocab,
        chars: Vocab,
        heads: Sequence[Head],
        pretrained: int = 0,
        vectors: torch.Tensor | None = None,
        lm_chars: CharVocab | None = None,
    ) -> "Tagger":
        """A tagger over these vocabularies and heads with weights drawn by ``config.init`` from ``config.seed``.

        ``vectors`` (n × word_dim), if given, become the last n word rows; ``lm_chars`` is the vocabulary of a
        character LM (``config.char_lm_hidden``), whose weights the caller sets.
        """
        with torch.random.fork_rng():
            torch.manual_seed(config.seed)
            tagger = cls(config, words, chars, heads, pretrained, lm_chars)
            tagger.model.initialise(config.init, config.init_scale, config.forget_bias)
            if vectors is not None:
                tagger.model.use_pretrained(vectors)
        return tagger

    def predict(
        self,
        sentences: Sequence[Sequence[str] | Sentence],
        batch_size: int = PREDICT_BATCH_SIZE,
        confidences: bool = True,
        head: str | Sequence[str] | None = None,
    ) -> list[Prediction]:
        """Tag token lists (or ``Sentence``s, whose text a character LM reads as it is) in length-sorted batches;
        results come back in input order.

        ``sentences`` is a list of sentences, each a list of token strings (``[["Aspirin", "works", "."]]``)
        or a ``Sentence``; anything else is a ``TypeError``, and a ``batch_size`` below 1 a ``ValueError``.
        ``head`` chooses the heads that tag (``chosen_heads``; by default every head). The predictions of
        several are merged (``predictions.merged``: of overlapping spans the most probable stays), their
        tags in the first chosen head's scheme, with confidences whatever ``confidences`` says.
        """
        sentences = token_lists(sentences, "Tagger.predict")
        _check_batch_size(batch_size, "Tagger.predict")
        chosen = choose(self.head_names, head)
        names = [self.heads[index].name for index in chosen]
        results = [Prediction([]) for _ in sentences]
        for indices, batch, decoded in self._decoded(sentences, batch_size, chosen, confidences or len(chosen) > 1):
            found = [self._predictions(h, best, scores, batch.mask) for h, (best, scores) in zip(chosen, decoded)]
            if len(chosen) == 1:
                for index, prediction in zip(indices, found[0]):
                    results[index] = prediction
                continue
            outside = [posteriors.marginals()[:, :, 0].tolist() for _, posteriors in decoded]  # tag 0 is O
            scheme = self.heads[chosen[0]].output_scheme
            for row, index in enumerate(indices):
                ours = [head_found[row] for head_found in found]
                length = len(sentences[index])
                results[index] = merged(ours, names, [o[row][:length] for o in outside], scheme)
        return results

    def posteriors(
        self,
        sentences: Sequence[Sequence[str] | Sentence],
        batch_size: int = PREDICT_BATCH_SIZE,
        head: str | None = None,
    ) -> Iterator[tuple[list[int], Posteriors]]:
        """The CRF posteriors of head ``head`` (by default the first) over token lists or ``Sentence``s, a batch at a
        time: the numbers of the batch's sentences (rows in that order), and their posteriors (rows in the head's
        tag ids, ``heads[...].tags``). They are computed, and the loop's body runs, in inference mode: copy what
        a training is to use after the loop."""
        sentences = token_lists(sentences, "Tagger.posteriors")
        _check_batch_size(batch_size, "Tagger.posteriors")
        chosen = choose(self.head_names, head)[:1]
        for indices, _, [(_, found)] in self._decoded(sentences, batch_size, chosen, with_posteriors=True):
            yield indices, found

    def _decoded(
        self, sentences: Sequence[Sequence[str] | Sentence], batch_size: int, heads: list[int], with_posteriors: bool
    ) -> Iterator[tuple[list[int], Batch, list[tuple[torch.Tensor, Posteriors | None]]]]:
        """``model.decode`` of ``heads`` over the non-empty ``sentences`` in length-sorted batches: each batch's
        sentence numbers, the batch, and what it decoded."""
        self.model.eval()
        lengths = [len(s) for s in sentences]
        encoded = [self.encode(sentence) if length else None for sentence, length in zip(sentences, lengths)]
        with torch.inference_mode():
            table = self._token_table([e for e in encoded if e is not None])
            lm_features = self._lm_features(encoded, batch_size)
            packed = table is not None and table.gates is not None
            for indices in length_batches(
                lengths, batch_size, max_padding=PACKED_MAX_PADDING if packed else MAX_PADDING
            ):
                indices = [i for i in indices if lengths[i]]
                if not indices:
                    continue
                own_lm_features = [lm_features[i] for i in indices] if lm_features else ()
                batch = self.encoder.collate([encoded[i] for i in indices], table, own_lm_features)
                yield indices, batch, self.model.decode(batch, with_posteriors, heads)

    def forget(self) -> None:
        """Empty what ``predict`` remembers of earlier calls, a character LM's features of sentences, so that the
        next call computes them afresh (as a speed benchmark's passes must)."""
        if self.model.char_lm is not None:
            self.model.char_lm.forget()

    def _token_table(self, encoded: list[Encoded]) -> TokenTable | None:
        """The distinct tokens of ``encoded`` with what the model computes of them once for all their batches."""
        if not encoded:
            return None
        table = TokenTable.of(encoded)
        table.features, table.gates = self.model.table_features(table)
        return table

    def _lm_features(self, encoded: list[Encoded | None], batch_size: int) -> dict[int, torch.Tensor]:
        """By sentence number, the character LM's features of each token (tokens × LM output), read in batches of
        texts of similar length in characters, which a batch of similar token counts is not; none without an LM."""
        texts = {i: e.lm for i, e in enumerate(encoded) if e is not None and e.lm is not None}
        if self.model.char_lm is None or not texts:
            return {}
        numbers = list(texts)
        lengths = [len(texts[i][0]) for i in numbers]
        features = {}
        for rows in length_batches(lengths, batch_size, max_padding=LM_MAX_PADDING):
            found = self.model.char_lm(*Encoder.collate_texts([texts[numbers[row]] for row in rows]))
            for position, row in enumerate(rows):
                features[numbers[row]] = found[position, : len(texts[numbers[row]][1])]
        return features

    def _predictions(
        self, head: int, best: torch.Tensor, posteriors: Posteriors | None, mask: torch.Tensor
    ) -> list[Prediction]:
        """The predictions of head number ``head`` from its best tag ids (batch, seq_len) and, if computed, the
        posteriors behind them, for sentences where ``mask`` is true."""
        scheme = self.heads[head].output_scheme
        found = self.readers[head].spans(best, mask)
        lengths = mask.sum(dim=1).tolist()
        if posteriors is None:
            return [
                Prediction(from_spans(spans, length, scheme), [Span(s, e, label, math.nan) for s, e, label in spans])
                for spans, length in zip(found, lengths)
            ]
        paths = posteriors.along(best, self.links[head])
        token_scores = paths.tokens.exp().tolist()
        span_scores = iter(paths.span_log_probs([(row, s, e) for row, spans in enumerate(found) for s, e, _ in spans]))
        predictions = []
        for row, (spans, length) in enumerate(zip(found, lengths)):
            scored = [Span(s, e, label, math.exp(next(span_scores))) for s, e, label in spans]
            predictions.append(Prediction(from_spans(spans, length, scheme), scored, token_scores[row][:length]))
        return predictions

    def encode(
        self, sentence: Sequence[str] | Sentence, tags: Sequence[str] | None = None, head: str | None = None
    ) -> Encoded:
        """A token list, or a ``Sentence`` with the text and offsets a character LM reads, as ids; ``tags``
        (if given) numbered as the head named ``head`` numbers them (``None``: the first head)."""
        if tags is not None:
            vocab = self.heads[0 if head is None else choose(self.head_names, head)[0]].tags
            tags = [vocab.id(tag) for tag in tags]
        if isinstance(sentence, Sentence):
            return self.encoder.encode(sentence.tokens, tags, sentence.text, sentence.offsets)
        return self.encoder.encode(sentence, tags)

    def tag(
        self, texts: str | Iterable[str], batch_size: int = PREDICT_BATCH_SIZE, head: str | Sequence[str] | None = None
    ) -> TaggedText | Iterator[TaggedText]:
        """Entities in raw text as character spans: for a ``str``, its ``TaggedText``; for an iterable of ``str``,
        an iterator of theirs, in input order.

        Texts are cut into sentences (``text.sentences``) of tokens by the model's rules (``config.tokenizer``), as
        its raw-text training files were, and ``predict`` tags the sentences of ``TEXTS_AT_ONCE`` texts together.
        An iterable is read that many texts at a time as the results are taken, so a generator of any length
        streams in bounded memory. ``head`` chooses the heads as in ``predict``; a span names the head that found
        it when several are chosen. Each text must be a ``str`` of valid Unicode (``check_text``).
        """
        if isinstance(texts, str):
            return self._tagged_text(texts, batch_size, head, "Tagger.tag")
        _check_batch_size(batch_size, "Tagger.tag")
        names = [chosen.name for chosen in self.chosen_heads(head)]  # a bad head fails before any text is read
        if isinstance(texts, (bytes, Mapping)) or not isinstance(texts, Iterable):
            raise TypeError(f"Tagger.tag expects a str or an iterable of str, not {_kind(texts)}")
        return self._tagged_stream(iter(texts), batch_size, names)

    def _tagged_stream(self, texts: Iterator[str], batch_size: int, names: list[str]) -> Iterator[TaggedText]:
        numbered = enumerate(texts)
        while chunk := list(islice(numbered, TEXTS_AT_ONCE)):
            for number, text in chunk:
                check_text(text, f"Tagger.tag (text {number})")
            yield from self._tagged([text for _, text in chunk], batch_size, names)

    def _tagged_text(self, text: str, batch_size: int, head: str | Sequence[str] | None, caller: str) -> TaggedText:
        """``text`` tagged, after the checks of its arguments, whose errors name ``caller``."""
        _check_batch_size(batch_size, caller)
        names = [chosen.name for chosen in self.chosen_heads(head)]
        check_text(text, caller)
        return self._tagged([text], batch_size, names)[0]

    def _tagged(self, texts: list[str], batch_size: int, names: list[str]) -> list[TaggedText]:
        return [
            TaggedText(text, [sentence for sentence, _ in pairs], [s for pair in pairs for s in text_spans(*pair)])
            for text, pairs in zip(texts, self.predict_texts(texts, batch_size, names))
        ]

    def predict_texts(
        self,
        texts: Sequence[str],
        batch_size: int = PREDICT_BATCH_SIZE,
        head: str | Sequence[str] | None = None,
        max_tokens: int = MAX_TOKENS,
    ) -> list[list[tuple[Sentence, Prediction]]]:
        """Per text, its sentences of at most ``max_tokens`` tokens (``cut``) with their predictions; the sentences
        of all texts are predicted together."""
        return self.predict_cut(self.cut(texts, max_tokens), batch_size, head)

    def cut(self, texts: Sequence[str], max_tokens: int = MAX_TOKENS) -> list[list[Sentence]]:
        """Per text, its sentences of at most ``max_tokens`` tokens (``text.sentences``, by the model's
        ``config.tokenizer``)."""
        return [sentences(text, max_tokens, self.config.tokenizer) for text in texts]

    def predict_cut(
        self,
        split: Sequence[Sequence[Sentence]],
        batch_size: int = PREDICT_BATCH_SIZE,
        head: str | Sequence[str] | None = None,
    ) -> list[list[tuple[Sentence, Prediction]]]:
        """Texts ``cut`` into sentences, each sentence with its prediction; all predicted together."""
        predictions = iter(self.predict([sentence for group in split for sentence in group], batch_size, head=head))
        return [[(sentence, next(predictions)) for sentence in group] for group in split]

    def tag_text(
        self, text: str, batch_size: int = PREDICT_BATCH_SIZE, head: str | Sequence[str] | None = None
    ) -> list[dict]:
        """Entities in raw ``text`` as ``{start, end, label, text, score}`` character spans (and ``head``, the
        head that found each, when ``head`` chooses several): ``tag``'s spans as dicts."""
        return [span.as_dict() for span in self._tagged_text(text, batch_size, head, "Tagger.tag_text").spans]

    def quantize(self, scheme: str = "int8") -> "Tagger":
        """This tagger, its LSTMs and linear layers quantised to ``scheme`` (``QUANTIZATIONS``) for inference on the
        CPU; it predicts, saves (the float weights, and the scheme, applied again on ``load``) and loads, but no
        longer trains."""
        if self.quantization is not None:
            raise ModelError(f"this tagger is already quantised ({self.quantization})")
        weights = self.float_weights()
        self.model.eval()
        quantize(self.model, scheme)  # a ValueError for an unknown scheme, before it changes anything
        self._float_weights, self.quantization = weights, scheme
        self.forget()  # a character LM's features remembered from the float weights
        return self

    def store_weights_in(self, dtype: str) -> "Tagger":
        """This tagger with its weights rounded to ``dtype`` (``WEIGHT_DTYPES``), which ``save`` then writes them in:
        ``bfloat16`` halves the file. It still computes in float32 and predicts as it will once saved and loaded."""
        if dtype not in WEIGHT_DTYPES:
            raise ValueError(f"unknown weights dtype {dtype!r}: expected one of {', '.join(WEIGHT_DTYPES)}")
        if self.quantization is not None:
            raise ModelError(f"this tagger is quantised ({self.quantization}): choose how to store it before that")
        with torch.no_grad():
            for tensor in self.model.state_dict().values():
                if tensor.is_floating_point():
                    tensor.copy_(tensor.to(WEIGHT_DTYPES[dtype]))
        self.weights_dtype = dtype
        self.forget()  # a character LM's features remembered from the weights before
        return self

    def float_weights(self) -> dict[str, torch.Tensor]:
        """The model's weights as plain tensors by name: its state dict, or for a quantised tagger the float
        weights it was quantised from."""
        if self._float_weights is not None:
            return self._float_weights
        return {name: tensor.detach().contiguous() for name, tensor in Ensemble.saved(self.model.state_dict()).items()}

    def to_parts(self) -> tuple[dict, dict, dict[str, torch.Tensor]]:
        """``(meta, vocabularies, weights)``: plain data that ``from_parts`` turns back into a tagger."""
        meta = {
            "format_version": FORMAT_VERSION if self.config.ensemble > 1 else SINGLE_MODEL_FORMAT,
            "tagger_version": __version__,
            "heads": [{"name": head.name, "output_scheme": head.output_scheme} for head in self.heads],
            "config": self.config.to_dict(),
        }
        if self.quantization is not None:
            meta["quantization"] = self.quantization
        if self.weights_dtype != "float32":
            meta["weights_dtype"] = self.weights_dtype
        vocab = {"words": self.encoder.word_vocab.items, "chars": self.encoder.char_vocab.items}
        vocab["tags"] = {head.name: head.tags.items for head in self.heads}
        vocab["pretrained"] = self.pretrained
        if self.encoder.lm_vocab is not None:
            vocab["lm_chars"] = self.encoder.lm_vocab.items
        return meta, vocab, self.float_weights()

    @classmethod
    def from_parts(
        cls, meta: dict, vocab: dict, weights: dict[str, torch.Tensor], source: str, files: tuple[str, str, str] = None
    ) -> "Tagger":
        """The tagger ``to_parts`` described; ``source`` names where the parts came from in errors.

        ``files`` names the config, vocabularies and weights apart (``Tagger.load``: the three files).
        Every part is checked before it is used: config keys, the heads' names and output schemes, the
        special entries of the vocabularies (``<pad>`` and ``<unk>`` first, each head's tags ``O`` first
        and complete for the scheme), and weights that are finite numbers. Parts of formats 1 and 2 (one
        head, named ``DEFAULT_HEAD``) are read as they were written.
        """
        config_name, vocab_name, weights_name = files or (source, source, source)
        if not isinstance(meta, dict):
            raise ModelError(f"{config_name}: expected an object with format_version, heads and config")
        version = meta.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= FORMAT_VERSION:
            raise ModelError(
                f"{config_name}: model format {version!r} is not one this tagger {__version__} reads "
                f"(1 to {FORMAT_VERSION}); upgrade tagger"
            )
        if not isinstance(meta.get("config"), dict):
            raise ModelError(
                f"{config_name}: expected 'config', an object of config keys, found {_kind(meta.get('config'))}"
            )
        try:
            config = TaggerConfig.from_dict(meta["config"])
        except ConfigError as error:
            raise ModelError(f"{config_name}: config: {error}") from None
        if not isinstance(vocab, dict):
            raise ModelError(f"{vocab_name}: expected an object with words, chars and tags, found {_kind(vocab)}")
        quantization = meta.get("quantization")
        if quantization is not None and quantization not in QUANTIZATIONS:
            raise ModelError(
                f"{config_name}: quantization {quantization!r} is not one this tagger {__version__} reads "
                f"({', '.join(QUANTIZATIONS)}); upgrade tagger"
            )
        weights_dtype = meta.get("weights_dtype", "float32")
        if weights_dtype not in WEIGHT_DTYPES:
            raise ModelError(
                f"{config_name}: weights_dtype {weights_dtype!r} is not one this tagger {__version__} reads "
                f"({', '.join(WEIGHT_DTYPES)}); upgrade tagger"
            )
        heads = _heads(meta, vocab, version, config.scheme, (config_name, vocab_name))
        words, chars, pretrained = _vocabularies(vocab, vocab_name)
        for name, tensor in weights.items():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                bad = int((~torch.isfinite(tensor)).sum())
                raise ModelError(
                    f"{weights_name}: {name} holds {bad} NaN or infinite values of {tensor.numel()}: the model is "
                    "corrupt (did its training diverge?)"
                )
        try:
            lm_chars = CharVocab(vocab["lm_chars"]) if "lm_chars" in vocab else None
            tagger = cls(config, words, chars, heads, pretrained, lm_chars)
            tagger.model.load_state_dict(Ensemble.loadable(_upgraded(weights, version), config.ensemble))  # as float32
            tagger.weights_dtype = weights_dtype
        except (KeyError, TypeError, ConfigError, LMError, RuntimeError, ValueError) as error:
            raise ModelError(f"{source}: incompatible or corrupt model ({type(error).__name__}: {error})") from None
        tagger.model.eval()
        return tagger if quantization is None else tagger.quantize(quantization)

    def save(self, directory: str | Path) -> None:
        """Write the model directory: config and vocabularies as JSON, weights as safetensors (in ``weights_dtype``).

        ``config.json`` records the SHA-256 of the weights file, which ``load`` checks. Each file
        is replaced atomically, the config last.
        """
        directory = Path(directory)
        meta, vocab, weights = self.to_parts()
        stored = WEIGHT_DTYPES[self.weights_dtype]
        data = save({name: t.to(stored) if t.is_floating_point() else t for name, t in weights.items()})
        meta[CHECKSUM] = hashlib.sha256(data).hexdigest()
        with atomic_write(directory / VOCAB_FILE) as out:
            json.dump(vocab, out, ensure_ascii=False)
        with atomic_write(directory / WEIGHTS_FILE, "wb") as out:
            out.write(data)
        with atomic_write(directory / CONFIG_FILE) as out:
            json.dump(meta, out, indent=2)

    @classmethod
    def load(cls, directory: str | Path) -> "Tagger":
        """Load a model directory onto the CPU; never unpickles anything.

        ``directory`` may also be a run directory holding ``model/``, or a named model (``Tagger.load("bc5cdr")``,
        see ``tagger models list``): ``named_models.resolve`` says which directory it is.

        Weights that differ from the SHA-256 recorded in ``config.json`` (models saved before
        checksums have none, and load as they are), or that hold NaN or infinite values, are a
        ``ModelError``.
        """
        directory = resolve(directory)
        missing = [name for name in (CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE) if not (directory / name).is_file()]
        if missing:
            raise ModelError(
                f"{directory} is not a tagger model: missing {', '.join(missing)} "
                f"(a model directory holds {CONFIG_FILE}, {VOCAB_FILE} and {WEIGHTS_FILE})"
            )
        files = tuple(str(directory / name) for name in (CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE))
        meta = _read_json(directory / CONFIG_FILE)
        try:
            data = (directory / WEIGHTS_FILE).read_bytes()
        except OSError as error:
            raise ModelError(f"{files[2]}: cannot read weights ({error.strerror or error})") from None
        weights = read_weights(data, meta, files[2], f"{CONFIG_FILE}")
        return cls.from_parts(meta, _read_json(directory / VOCAB_FILE), weights, str(directory), files)


def read_weights(data: bytes, meta: dict, where: str, recorded_in: str) -> dict[str, torch.Tensor]:
    """The tensors of safetensors ``data``, checked against the SHA-256 that ``meta`` records (if any)."""
    expected = meta.get(CHECKSUM) if isinstance(meta, dict) else None
    if expected is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise ModelError(
                f"{where}: SHA-256 {actual[:12]}... differs from the {str(expected)[:12]}... that {recorded_in} "
                f"records: the weights are truncated, corrupt or from another model ({len(data):,} bytes)"
            )
    try:
        return load(data)
    except (SafetensorError, ValueError, RuntimeError, OSError) as error:
        raise ModelError(f"{where}: cannot read weights ({error})") from None


def token_lists(sentences, caller: str) -> Sequence[Sequence[str] | Sentence]:
    """``sentences`` if it is a list of token lists or ``Sentence``s (as a list, if it was another iterable);
    else ``TypeError``."""
    expected = (
        f"{caller} expects a list of sentences, each a list of token strings, such as [['Aspirin', 'works', '.']]"
    )
    if isinstance(sentences, (str, bytes, Mapping)) or not isinstance(sentences, Iterable):
        hint = "; to tag raw text, use Tagger.tag" if isinstance(sentences, str) else ""
        raise TypeError(f"{expected}; got {_kind(sentences)}{hint}")
    if not isinstance(sentences, Sequence):
        sentences = list(sentences)
    for number, sentence in enumerate(sentences):
        if isinstance(sentence, str):
            raise TypeError(
                f"{expected}; got a list of strings ({sentence[:40]!r} at {number}): "
                "wrap a single sentence in a list, [tokens]; to tag raw text, use Tagger.tag"
            )
        tokens = sentence.tokens if isinstance(sentence, Sentence) else sentence
        if not isinstance(tokens, Sequence) or isinstance(tokens, (str, bytes, Mapping)):
            raise TypeError(f"{expected}; sentence {number} is {_kind(sentence)}")
        for position, token in enumerate(tokens):
            if not isinstance(token, str):
                raise TypeError(f"{expected}; sentence {number}, token {position} is {_kind(token)}, not a string")
    return sentences


def check_text(text, caller: str) -> None:
    """``TypeError`` unless ``text`` is a ``str``, ``ValueError`` if it holds a lone surrogate (not valid Unicode)."""
    if not isinstance(text, str):
        raise TypeError(f"{caller} expects the text as a str, not {_kind(text)}")
    surrogate = SURROGATE.search(text)
    if surrogate:
        raise ValueError(
            f"{caller}: the text holds a lone surrogate {surrogate.group()!r} at character {surrogate.start()}, "
            "which is not valid Unicode (was it decoded with errors='surrogateescape'?)"
        )


def _check_batch_size(batch_size, caller: str) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise TypeError(f"{caller}: batch_size must be an integer >= 1, not {_kind(batch_size)}")
    if batch_size < 1:
        raise ValueError(f"{caller}: batch_size must be an integer >= 1, not {batch_size}")


def _kind(value) -> str:
    """How an error message names what it got: the type, and a short value when that helps."""
    if isinstance(value, (str, bytes)):
        return f"{type(value).__name__} {value[:40]!r}"
    if isinstance(value, (bool, int, float)) or value is None:
        return f"{type(value).__name__} {value!r}"
    return f"a {type(value).__name__}"


def _heads(meta: dict, vocab: dict, version: int, scheme: str, files: tuple[str, str]) -> list[Head]:
    """The heads that ``meta`` (names, output schemes) and ``vocab`` (tags) describe, checked; before format 3,
    the one head ``DEFAULT_HEAD`` of ``meta["output_scheme"]`` and ``vocab["tags"]``."""
    config_name, vocab_name = files
    if version < 3:
        described, tags, of = [{"name": DEFAULT_HEAD, "output_scheme": meta.get("output_scheme")}], {}, {}
        tags[DEFAULT_HEAD], of[DEFAULT_HEAD] = vocab.get("tags"), ""
    else:
        described, tags = meta.get("heads"), vocab.get("tags")
        if not isinstance(described, list) or not described or not all(isinstance(h, dict) for h in described):
            raise ModelError(
                f"{config_name}: expected 'heads', a list of objects with name and output_scheme, "
                f"found {_kind(described)}"
            )
        try:
            check_names([head.get("name") for head in described])
        except HeadError as error:
            raise ModelError(f"{config_name}: 'heads': {error}") from None
        names = [head["name"] for head in described]
        if not isinstance(tags, dict) or sorted(tags) != sorted(names):
            found = sorted(tags) if isinstance(tags, dict) else _kind(tags)
            raise ModelError(f"{vocab_name}: expected 'tags', an object of the tags of heads {names}, found {found}")
        of = {name: f" of head {name!r}" for name in names}
    heads = []
    for head in described:
        name, output_scheme = head["name"], head.get("output_scheme")
        if not isinstance(output_scheme, str) or output_scheme.upper() not in SCHEMES:
            raise ModelError(
                f"{config_name}: output_scheme{of[name]} must be one of {', '.join(SCHEMES)}, "
                f"not {json.dumps(output_scheme)}"
            )
        heads.append(Head(name, _tags(tags[name], scheme, vocab_name, f"'tags'{of[name]}"), output_scheme))
    return heads


def _strings(values, where: str, what: str) -> list[str]:
    """``values`` if it is a list of distinct strings; else a ``ModelError`` naming ``what`` in file ``where``."""
    if not isinstance(values, list) or not all(isinstance(item, str) for item in values):
        raise ModelError(f"{where}: expected {what}, a list of strings, found {_kind(values)}")
    if len(set(values)) != len(values):
        raise ModelError(f"{where}: {what} lists an entry twice")
    return values


def _tags(values, scheme: str, where: str, what: str) -> Vocab:
    """A head's saved tags, checked: ``O`` and then every tag of ``scheme`` over their labels."""
    values = _strings(values, where, what)
    try:
        expected = tags_for(labels_of(values), scheme)
    except SchemeError as error:
        raise ModelError(f"{where}: {what}: {error}") from None
    if values != expected:
        raise ModelError(
            f"{where}: {what} must be O and then every {scheme} tag of their labels, in order ({expected[:5]}...), "
            f"found {values[:5]}..."
        )
    return Vocab(values)


def _vocabularies(vocab: dict, where: str) -> tuple[Vocab, Vocab, int]:
    """Words and characters of a saved ``vocab``, and its count of pretrained words, checked."""
    items = {name: _strings(vocab.get(name), where, repr(name)) for name in ("words", "chars")}
    for name in ("words", "chars"):
        if items[name][:2] != [PAD, UNK]:
            raise ModelError(
                f"{where}: {name!r} must begin with the special entries {PAD} and {UNK}, "
                f"found {items[name][:2]}: not a vocabulary this tagger wrote"
            )
    pretrained = vocab.get("pretrained", 0)
    if (
        isinstance(pretrained, bool)
        or not isinstance(pretrained, int)
        or not 0 <= pretrained <= len(items["words"]) - 2
    ):
        raise ModelError(
            f"{where}: 'pretrained' must be a count of words from 0 to {len(items['words']) - 2}, not {pretrained!r}"
        )
    return Vocab(items["words"]), Vocab(items["chars"]), pretrained


def _upgraded(weights: dict[str, torch.Tensor], version: int) -> dict[str, torch.Tensor]:
    """Weights of model format ``version`` under this format's names: format 1's packed BiLSTM renamed
    (``bilstm``), and before format 3 the one projection and CRF as head 0's."""
    if version < 2:
        weights = upgrade_packed_names(weights)
    if version < 3:
        weights = {f"heads.0.{k}" if k.startswith(("project.", "crf.")) else k: v for k, v in weights.items()}
    return weights


def named_corpora(train: Corpus | Mapping[str, Corpus], caller: str) -> dict[str, Corpus]:
    """``train`` as head names to corpora (a ``Corpus`` is ``DEFAULT_HEAD``'s), each with a sentence to train on."""
    if isinstance(train, Corpus):
        train = {DEFAULT_HEAD: train}
    if not isinstance(train, Mapping) or not train or not all(isinstance(c, Corpus) for c in train.values()):
        raise TypeError(
            f"{caller} expects the training data as a Corpus (formats.read_corpus), or a dict of head names to "
            f"Corpus, not {_kind(train)}"
        )
    check_names(list(train))
    for corpus in train.values():
        corpus.require_sentences("train on")
    return dict(train)


def heads_for(corpora: Mapping[str, Corpus], scheme: str) -> list[Head]:
    """A new head per corpus: every tag of ``scheme`` over its labels, and its own scheme to write them in."""
    return [Head(name, Vocab(tags_for(corpus.labels(), scheme)), corpus.scheme) for name, corpus in corpora.items()]


def _word_vocabulary(
    config: TaggerConfig, train: Iterable[Sentence], texts: Iterable[Sequence[str]]
) -> tuple[TaggerConfig, Vocab, torch.Tensor]:
    """The config (``word_dim`` set by any vectors), the word vocabulary of the training sentences and the vectors
    of its last words."""
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
    shape = forward_lm.architecture
    if vocab.items != backward_vocab.items or shape != backward_lm.architecture:
        raise LMError(f"{config.char_lm}: its forward and backward LMs differ in characters or architecture")
    return replace(config, **dict(zip(LM_SHAPE, shape))), (forward_lm, backward_lm, vocab)


def char_spans(sentence: Sentence, prediction: Prediction) -> list[dict]:
    """``prediction``'s entities as ``{start, end, label, text, score}`` character spans into ``sentence.text``,
    and ``head`` where the span names the head that found it (``TextSpan.as_dict``)."""
    return [span.as_dict() for span in text_spans(sentence, prediction)]


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"{path}: cannot read model file ({error})") from None
    if not isinstance(value, dict):
        raise ModelError(f"{path}: expected a JSON object")
    return value

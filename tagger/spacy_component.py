"""The ``bilstm_crf`` spaCy pipeline component: a thin adapter over ``Tagger``.

``nlp.add_pipe("bilstm_crf", config={"model": PATH})`` takes these settings:

- ``model`` (required): a model directory holding ``config.json``, ``vocab.json`` and
  ``weights.safetensors``, a run directory holding ``model/``, or a named model
  (``{"model": "ncbi-disease"}``, see ``tagger models list``), read when the component is
  created; ``None`` leaves the weights to ``from_disk``/``from_bytes``. A pipeline saved with
  ``nlp.to_disk`` keeps its own copy of the weights and never reads this path again.
- ``spans_key`` (default ``None``): ``None`` writes ``doc.ents``; a key writes
  ``doc.spans[key]``, whose spans may overlap ``doc.ents``.
- ``overwrite`` (default ``False``): for ``doc.ents``, whether our entities replace the
  existing ones they overlap (``True``) or give way to them (``False``); for a span group,
  whether our spans replace the group or join it.
- ``batch_size`` (default 256): sentences per forward pass.
- ``head`` (default ``None``): the model's heads that tag, a name or a list of names; ``None`` or
  ``"all"`` for every head (a model trained on several corpora has one per corpus; where spans of
  several heads overlap, the most probable stays, as ``Tagger.predict`` says).

The tokens are the pipeline's own, whitespace tokens skipped; a component whose model cuts
text otherwise (its ``tokenizer`` rules) logs a warning when it is added. Sentences are
``doc.sents`` when an earlier component set them (``tagger_sentences``, ``sentencizer``, a parser),
else each doc is one sequence. Each span written carries its CRF probability as ``span._.bilstm_crf_score``.

The ``tagger_sentences`` component sets ``doc.sents`` as ``Tagger.tag`` cuts text (``text.sentences``,
on the pipeline's tokens; setting ``max_tokens``, default ``text.MAX_TOKENS``), so that a pipeline of
it, ``bilstm_crf`` and the model's tokenizer finds the spans ``Tagger.tag`` finds.
"""

import hashlib
import logging
import multiprocessing
import re
from pathlib import Path
from typing import Iterable, Iterator

import spacy
import srsly
import torch
from safetensors.torch import save as save_weights
from spacy.language import Language
from spacy.pipeline import Pipe
from spacy.pipeline.spancat import spancat_score
from spacy.scorer import get_ner_prf
from spacy.tokens import Doc, Span
from spacy.util import minibatch

from . import DISTRIBUTION, __version__, cards
from .config import PREDICT_BATCH_SIZE
from .corpus import Sentence
from .heads import DEFAULT_HEAD, HeadError
from .named_models import NamedModelError, resolve
from .tagger import CHECKSUM, ModelError, Tagger, read_weights
from .text import DEFAULT_TOKENIZER, MAX_TOKENS, sentence_ranges, skip_bom, spacy_doc, spacy_tokenizer

FACTORY = "bilstm_crf"
SENTENCES = "tagger_sentences"
SCORE = "bilstm_crf_score"  # the ``Span`` extension holding each written span's probability
# ``nlp.meta`` key listing the bilstm_crf components whose weights a saved pipeline holds:
# when ``spacy.load`` recreates one, the factory leaves ``model`` unread and ``from_disk`` fills it.
STORED = "_bilstm_crf_stored"
# Attribute of an ``nlp`` naming the bilstm_crf components its factory has made: those are not
# recreated by ``spacy.load`` (a name made again after ``remove_pipe``, say, loads its ``model``).
MADE = "_bilstm_crf_made"
PROBE = "GSK-3beta and/or p<0.05 (I1307K) isn't"  # text that the tokenizer rules of text.TOKENIZERS cut differently
logger = logging.getLogger(__name__)


@Language.factory(
    FACTORY,
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc.spans"],
    default_config={"spans_key": None, "overwrite": False, "batch_size": PREDICT_BATCH_SIZE, "head": None},
)
def make_bilstm_crf(
    nlp: Language,
    name: str,
    model: str | None,
    spans_key: str | None,
    overwrite: bool,
    batch_size: int,
    head: str | list[str] | None,
) -> "BiLSTMCRFComponent":
    """The ``bilstm_crf`` factory (settings in the module docstring); a bad ``model`` fails here.

    A component that ``spacy.load`` recreates from a saved pipeline (named in the saved
    ``nlp.meta``, not yet made on this ``nlp``) leaves ``model`` unread: ``from_disk`` brings
    its weights, and only if none come is ``model`` read, at the first document.
    """
    made = vars(nlp).setdefault(MADE, set())
    recreated = name in nlp.meta.get(STORED, ()) and name not in made
    tagger = None
    if model is not None and not recreated:
        try:
            tagger = Tagger.load(model)
        except (ModelError, NamedModelError) as error:
            raise ModelError(f"{FACTORY} component {name!r}: {error}") from None
        _check_tokenizer(nlp, tagger, name)
    component = BiLSTMCRFComponent(name, tagger, spans_key, overwrite, batch_size, model if recreated else None, head)
    made.add(name)
    stored = nlp.meta.setdefault(STORED, [])
    if name not in stored:
        stored.append(name)
    return component


@Language.factory(SENTENCES, assigns=["token.is_sent_start"], default_config={"max_tokens": MAX_TOKENS})
def make_sentences(nlp: Language, name: str, max_tokens: int) -> "SentenceComponent":
    """The ``tagger_sentences`` factory: our sentence splitter, sentences of at most ``max_tokens`` tokens."""
    return SentenceComponent(name, max_tokens)


class SentenceComponent:
    """Sets ``doc.sents`` where ``text.sentences`` cuts ``doc.text``, over the doc's non-space tokens.

    A sentence begins at its first non-space token; the whitespace tokens before it close the one before.
    """

    def __init__(self, name: str, max_tokens: int = MAX_TOKENS):
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ValueError(
                f"{SENTENCES} component {name!r}: max_tokens must be a positive integer, not {max_tokens!r}"
            )
        self.name, self.max_tokens = name, max_tokens

    def __call__(self, doc: Doc) -> Doc:
        columns = doc.to_array(["IDX", "LENGTH", "IS_SPACE"]).tolist()  # no Token objects: faster
        words = [(i, start, start + length) for i, (start, length, space) in enumerate(columns) if not space]
        ranges = sentence_ranges(doc.text, [(start, end) for _, start, end in words], self.max_tokens)
        starts = {0, *(words[first][0] for first, _ in ranges[1:])}
        for token in doc:
            token.is_sent_start = token.i in starts
        return doc


class BiLSTMCRFComponent(Pipe):
    """Tags the sentences of docs with a ``Tagger``; writes ``doc.ents`` or ``doc.spans[spans_key]``."""

    def __init__(
        self,
        name: str,
        tagger: Tagger | None,
        spans_key: str | None = None,
        overwrite: bool = False,
        batch_size: int = PREDICT_BATCH_SIZE,
        model: str | Path | None = None,
        head: str | list[str] | None = None,
    ):
        """``model``: a model directory to load at the first document if ``tagger`` is None and no
        ``from_disk`` or ``from_bytes`` brought one; ``head``: the heads that tag (``Tagger.predict``)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"{FACTORY} component {name!r}: batch_size must be a positive integer, not {batch_size!r}")
        self.name, self.model_path, self.head = name, model, head
        self.spans_key, self.overwrite, self.batch_size = spans_key, overwrite, batch_size
        self.tagger = self._checked(tagger)
        if not Span.has_extension(SCORE):
            Span.set_extension(SCORE, default=None)

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels of the chosen heads."""
        if not self.tagger:
            return ()
        return tuple(self.tagger.chosen_labels(self.head))

    def __call__(self, doc: Doc) -> Doc:
        self._annotate([doc])
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 1000) -> Iterator[Doc]:
        """Annotate ``batch_size`` docs at a time, their sentences tagged together; docs keep their order."""
        if multiprocessing.parent_process() is not None:
            torch.set_num_threads(1)  # a worker of nlp.pipe(n_process=N): one core each
        error_handler = self.get_error_handler()
        for docs in minibatch(stream, size=batch_size):
            try:
                self._annotate(docs)
                yield from docs
            except Exception as error:
                error_handler(self.name, self, docs, error)

    def _annotate(self, docs: list[Doc]) -> None:
        tagger = self._loaded()
        pieces = [  # (doc number, doc indices of the sentence's words, their character offsets)
            (number, *_words(doc, sentence))
            for number, doc in enumerate(docs)
            for sentence in (doc.sents if doc.has_annotation("SENT_START") else [doc[:]])
        ]
        sentences = [
            Sentence([docs[n].text[start:end] for start, end in offsets], offsets=offsets, text=docs[n].text)
            for n, _, offsets in pieces
        ]
        predictions = tagger.predict(sentences, self.batch_size, head=self.head)
        found: list[list[tuple[Span, float]]] = [[] for _ in docs]
        for (number, ids, _), prediction in zip(pieces, predictions):
            doc = docs[number]
            found[number].extend(
                (Span(doc, ids[span.start], ids[span.end - 1] + 1, label=span.label), span.score)
                for span in prediction.spans
            )
        for doc, scored in zip(docs, found):
            self._write(doc, scored)

    def _write(self, doc: Doc, scored: list[tuple[Span, float]]) -> None:
        """Put the new spans into the doc as ``overwrite`` says, with their scores."""
        if self.spans_key is None:
            existing = list(doc.ents)
            if self.overwrite:
                ours = {i for span, _ in scored for i in range(span.start, span.end)}
                existing = [e for e in existing if not ours.intersection(range(e.start, e.end))]
            else:
                theirs = {i for e in existing for i in range(e.start, e.end)}
                scored = [(span, p) for span, p in scored if not theirs.intersection(range(span.start, span.end))]
            doc.ents = existing + [span for span, _ in scored]
        else:
            keep = not self.overwrite and self.spans_key in doc.spans
            existing = list(doc.spans[self.spans_key]) if keep else []
            scored = [(span, p) for span, p in scored if span not in existing]
            doc.spans[self.spans_key] = existing + [span for span, _ in scored]
        for span, probability in scored:
            span._.set(SCORE, probability)

    def score(self, examples: Iterable, **kwargs) -> dict:
        """spaCy's entity scores: ``ents_p/r/f`` and ``ents_per_type``, or ``spans_{key}_*`` with a key."""
        if self.spans_key is None:
            return get_ner_prf(examples, **kwargs)
        return spancat_score(examples, **{**kwargs, "spans_key": self.spans_key})

    def _checked(self, tagger: Tagger | None) -> Tagger | None:
        """``tagger``, or ``HeadError`` naming the component when it lacks a head of ``head``."""
        if tagger is not None:
            try:
                tagger.chosen_heads(self.head)
            except HeadError as error:
                raise HeadError(f"{FACTORY} component {self.name!r}: {error}") from None
        return tagger

    def _loaded(self) -> Tagger:
        if self.tagger is None and self.model_path is not None:
            try:
                self.tagger = self._checked(Tagger.load(self.model_path))
            except (ModelError, NamedModelError) as error:
                raise ModelError(f"{FACTORY} component {self.name!r}: {error}") from None
        if self.tagger is None:
            raise ModelError(
                f"{FACTORY} component {self.name!r} has no model: set its 'model' setting to a model directory, "
                "or load a saved pipeline that holds one"
            )
        return self.tagger

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        """Write the model directory (``config.json``, ``vocab.json``, ``weights.safetensors``) to ``path``."""
        self._loaded().save(path)

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> "BiLSTMCRFComponent":
        """Take the model in directory ``path``, as ``to_disk`` (or ``Tagger.save``) wrote it."""
        self.tagger = self._checked(Tagger.load(path))
        return self

    def to_bytes(self, *, exclude: Iterable[str] = ()) -> bytes:
        """The model as msgpack: config and vocabularies as plain data, weights as safetensors bytes."""
        meta, vocab, weights = self._loaded().to_parts()
        data = save_weights(weights)
        meta[CHECKSUM] = hashlib.sha256(data).hexdigest()
        return srsly.msgpack_dumps({"meta": meta, "vocab": vocab, "weights": data})

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = ()) -> "BiLSTMCRFComponent":
        """Take the model ``to_bytes`` wrote; nothing is unpickled."""
        source = f"{FACTORY} component {self.name!r} bytes"
        try:
            parts = srsly.msgpack_loads(data)
            meta, vocab, weights = parts["meta"], parts["vocab"], parts["weights"]
            if not isinstance(weights, bytes):
                raise TypeError(f"weights are {type(weights).__name__}, not bytes")
        except (ValueError, TypeError, KeyError) as error:
            raise ModelError(
                f"{source}: expected msgpack with meta, vocab and weights ({type(error).__name__}: {error})"
            ) from None
        weights = read_weights(weights, meta, source, "its meta")
        self.tagger = self._checked(Tagger.from_parts(meta, vocab, weights, source))
        return self

    def __reduce__(self):
        """Pickle as settings plus ``to_bytes`` (for ``nlp.pipe(n_process=N)`` under spawn)."""
        return _unpickle, (self.name, self.spans_key, self.overwrite, self.batch_size, self.to_bytes(), self.head)


def _check_tokenizer(nlp: Language, tagger: Tagger, name: str) -> None:
    """Warn when ``nlp``'s tokenizer cuts ``PROBE`` otherwise than the model's tokenizer rules do."""
    rules = tagger.config.tokenizer
    theirs, ours = ([token.text for token in doc] for doc in (nlp.tokenizer(PROBE), spacy_doc(PROBE, rules)))
    if theirs != ours:
        logger.warning(
            "%s component %r: this pipeline's tokenizer cuts text otherwise than the model's %r rules (%s, not %s), "
            "which costs accuracy; set nlp.tokenizer = tagger.text.spacy_tokenizer(%r, nlp.vocab), "
            "or export the model with tagger export-spacy",
            FACTORY,
            name,
            rules,
            " ".join(theirs),
            " ".join(ours),
            rules,
        )


def _unpickle(
    name: str, spans_key: str | None, overwrite: bool, batch_size: int, data: bytes, head: str | list[str] | None
):
    return BiLSTMCRFComponent(name, None, spans_key, overwrite, batch_size, head=head).from_bytes(data)


def pipeline(
    model: str | Path,
    lang: str = "en",
    spans_key: str | None = None,
    batch_size: int = PREDICT_BATCH_SIZE,
    head: str | list[str] | None = None,
) -> Language:
    """A complete ``lang`` pipeline: a tokenizer, ``tagger_sentences`` and ``bilstm_crf`` with ``model`` (a model
    or run directory, or a named model; and its heads ``head``), which finds the spans ``Tagger.tag`` finds;
    its ``meta`` from the model's card (``pipeline_meta``).

    The tokenizer has the model's rules (``tokenizer``), except that models of the default
    ``english`` rules get the language's own; ``nlp.to_disk`` saves the rules with it.
    """
    nlp = spacy.blank(lang)
    nlp.add_pipe(SENTENCES)
    settings = {"model": None, "spans_key": spans_key, "batch_size": batch_size, "head": head}
    component = nlp.add_pipe(FACTORY, config=settings)
    directory = resolve(model)  # a name or a run directory: the model directory, said once
    component.from_disk(directory)
    rules = component.tagger.config.tokenizer
    if rules != DEFAULT_TOKENIZER:
        nlp.tokenizer = spacy_tokenizer(rules, nlp.vocab)
    try:
        card = cards.read(directory)
    except cards.CardError:  # a model saved without a card: the meta says what the model itself knows
        card = None
    nlp.meta.update(pipeline_meta(component.labels, card))
    return nlp


def pipeline_meta(labels: list[str], card: dict | None) -> dict:
    """spaCy's ``meta.json`` facts of a pipeline of our component with ``labels``, from the model's ``card``
    (``None`` without one): name, version, description, licence, ``performance`` (``ents_p``, ``ents_r``,
    ``ents_f`` and ``ents_per_type`` of its last default-mode test scores, as fractions) and ``requirements``
    (this project's distribution, so that ``spacy package`` installs it)."""
    heads = [head["name"] for head in card["heads"]] if card else []
    named = "_".join(re.sub(r"[^a-z0-9]+", "_", head.lower()).strip("_") for head in heads if head != DEFAULT_HEAD)
    description = f"BiLSTM-CRF tagger for {', '.join(labels)} (tagger {__version__})"
    meta = {
        "name": f"bilstm_crf_{named}" if named else "bilstm_crf",
        "version": __version__,
        "description": f"{description}. {card['intended_use']}" if card else description,
        "requirements": [f"{DISTRIBUTION}>={__version__}"],
    }
    licences = sorted({head["corpus"]["licence"] for head in card["heads"] if "corpus" in head}) if card else []
    if licences:
        meta["license"] = ", ".join(licences)
    scored = [test for test in card["test"] if test.get("mode") == "default"] if card else []
    if scored:
        test = scored[-1]
        meta["performance"] = {
            "ents_p": test["precision"],
            "ents_r": test["recall"],
            "ents_f": test["f1"],
            "ents_per_type": {
                label: {"p": row["precision"], "r": row["recall"], "f": row["f1"]}
                for label, row in test.get("per_type", {}).items()
            },
        }
    return meta


def _words(doc: Doc, sentence: Span) -> tuple[list[int], list[tuple[int, int]]]:
    """Doc indices and character offsets of the sentence's words: its non-space tokens, without a byte-order mark
    that begins the doc (a BOM-only token is no word)."""
    ids = [token.i for token in sentence if not token.is_space]
    offsets = skip_bom(doc.text, [(doc[i].idx, doc[i].idx + len(doc[i])) for i in ids])
    return ids[len(ids) - len(offsets) :], offsets

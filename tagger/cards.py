"""Model cards: what a model is, as plain facts (``meta.json``) and as Markdown (``README.md``) in its directory.

The facts are one JSON object: its heads (name, labels, output scheme, training and dev data with their
sentence counts and, for catalogue corpora, their licence), the config in short, how training ended,
the test sets scored, the date, code version and commit, intended use and known limits. ``tagger train``
writes a card beside every model it saves; ``tagger evaluate --update-card`` adds a scored test set.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import __version__, catalogue
from .config import TaggerConfig
from .corpus import Corpus
from .files import atomic_write
from .presets import cache_dir, package_dir

META_FILE, CARD_FILE = "meta.json", "README.md"
CARD_VERSION = 1
TEST_SCORES = "test-scores.json"  # beside a model directory: its test scores, as tagger train wrote them
ARCHITECTURE = (  # the config keys a card names whatever their values
    *("scheme", "tokenizer", "word_dim", "char_encoder", "char_hidden", "casing_dim", "hidden", "layers"),
    *("char_lm_hidden", "ensemble"),
)
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
TOKENIZER_RULES = {
    "english": "spaCy's English rules",
    "biomedical": "the biomedical rules (every punctuation mark a token, as NCBI-disease and BC5CDR are cut)",
}
# the unlabelled text of the shipped character LMs and presets' vectors, by domain (tagger/lms/README.md)
UNLABELLED_TEXT = {
    "biomedical": "eLife and PLOS full texts, OHSUMED and GENIA abstracts, PubMedQA and MedQuAD, whose licences "
    "differ (CC BY, MIT, the GENIA licence, OHSUMED's research collection)",
    "reviews": "Amazon reviews (Blitzer et al. 2007 and a polarity sample), SemEval-2015 laptop reviews, Hu & Liu "
    "product reviews and ACOS laptop sentences, under their publishers' terms",
}


class CardError(ValueError):
    """A model directory without a readable card (``meta.json``), such as one saved before cards."""


def commit(root: Path = PACKAGE_ROOT) -> str | None:
    """The short commit of the git checkout at ``root``, ``-dirty`` when tracked files differ from it; ``None``
    when ``root`` is not a checkout's top (an installed package) or git is missing."""
    if not (root / ".git").exists():
        return None
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=7"], cwd=root, capture_output=True, text=True
        )
    except OSError:
        return None
    return described.stdout.strip() if described.returncode == 0 else None


def today() -> str:
    """Today's date in UTC, ISO 8601."""
    return dt.datetime.now(dt.timezone.utc).date().isoformat()


def data_facts(train: Corpus, dev: Corpus, corpus: str | None = None) -> dict:
    """A head's training and dev data: source and sentence count of each (dev ``held_out`` of train when it
    shares train's source), and for the catalogue ``corpus`` its name, task, domain and licence."""
    facts = {
        "train": {"source": corpus_file(train.source, corpus), "sentences": len(train)},
        "dev": {
            "source": corpus_file(dev.source, corpus),
            "sentences": len(dev),
            "held_out": dev.source == train.source,
        },
    }
    if corpus:
        entry = catalogue.entry(corpus)
        facts["corpus"] = {"name": corpus, "task": entry.task, "domain": entry.domain, "licence": entry.licence}
    return facts


def test_facts(head: str, source: str | None, scores: dict, corpus: str | None = None) -> dict:
    """A scored test set: the head (or heads) scored, the data's source (of the catalogue ``corpus``, if it is one),
    the date and the scores."""
    return {"head": head, "source": corpus_file(source, corpus), "date": today(), **scores}


def corpus_file(source: str | None, corpus: str | None) -> str | None:
    """A file of the catalogue ``corpus`` by its place in a data directory (``bc5cdr/train.tsv``), not by the path
    it had on the machine that trained the model; any other source as it is."""
    if corpus is None or source is None or Path(source).parent.name != corpus:
        return source
    return f"{corpus}/{Path(source).name}"


def facts(tagger, data: Mapping[str, dict], training: dict, tests: Sequence[dict] = ()) -> dict:
    """The card of ``tagger``: ``data`` holds each head's ``data_facts`` by name, ``training`` how training ended
    (best epoch, dev F1, why it stopped, whether the model was refitted on train + dev), ``tests`` the
    ``test_facts`` of the test sets scored."""
    heads = [
        {"name": head.name, "labels": head.labels, "output_scheme": head.output_scheme, **data[head.name]}
        for head in tagger.heads
    ]
    config = tagger.config
    defaults = TaggerConfig().to_dict()
    changed = {key: value for key, value in config.to_dict().items() if value != defaults[key]}
    architecture = {key: getattr(config, key) for key in ARCHITECTURE}
    architecture |= {"words": len(tagger.encoder.word_vocab), "pretrained_words": tagger.pretrained}
    architecture["weights_dtype"] = tagger.weights_dtype
    card = {
        "card_version": CARD_VERSION,
        "date": today(),
        "tagger_version": __version__,
        "commit": commit(),
        "heads": heads,
        "config": {"changed": changed, "architecture": architecture},
        "training": training,
        "test": list(tests),
    }
    return card | use_and_limits(card, config)


def use_and_limits(card: dict, config: TaggerConfig) -> dict:
    """``intended_use`` and ``limits``: what the model is for, and where it is known to fall short."""
    labels = sorted({label for head in card["heads"] for label in head["labels"]})
    domains = sorted({head["corpus"]["domain"] for head in card["heads"] if "corpus" in head})
    sources = ", ".join(head.get("corpus", {}).get("name") or str(head["train"]["source"]) for head in card["heads"])
    text = f"{' and '.join(domains)} text" if domains else "text"
    use = f"Tagging {', '.join(labels) or 'no labels'} in {text} like its training data ({sources})."
    trained = sum(head["train"]["sentences"] for head in card["heads"])
    limits = [
        f"Trained on {trained} sentences of tokenised text from {sources}: text of another domain, genre or period "
        "will likely score lower.",
        f"Raw text is cut into tokens by {TOKENIZER_RULES[config.tokenizer]} (tokenizer {config.tokenizer}); "
        "pre-tokenised input should be cut the way its training data was.",
    ]
    silver = sum(head["silver"]["sentences"] for head in card["heads"] if "silver" in head)
    if silver:
        limits.append(
            f"{silver} more training sentences were silver: raw text that a model tagged (self-training), whose "
            "errors this model may have learnt."
        )
    lessons = sum(head["lessons"]["sentences"] for head in card["heads"] if "lessons" in head)
    if lessons:
        limits.append(
            f"It also learnt a teacher model's tag probabilities on {lessons} sentences of raw text (distillation), "
            "and with them that model's errors."
        )
    for key, what in (("char_lm", "Its character LM"), ("vectors", "Its word vectors")):
        if getattr(config, key):
            limits.append(f"{what} came from {_shown(getattr(config, key))}: {_unlabelled(getattr(config, key))}")
    if not card["test"]:
        limits.append("No test set was scored when it was trained: its accuracy is unmeasured.")
    return {"intended_use": use, "limits": limits}


def _shown(resource: str) -> str:
    """A resource as a card names it: an LM shipped with the package (in this checkout or another: ``…/tagger/lms/``)
    or a preset's vectors file by its name, not by the path it had on the machine that trained the model; any other
    by its path."""
    path = Path(resource)
    shipped_lm = (
        path.parent.name == "lms"
        and path.parent.parent.name == __package__
        and (package_dir("lms") / path.name).is_dir()
    )
    return path.name if shipped_lm or path.parent == cache_dir("vectors") else resource


def _unlabelled(resource: str) -> str:
    """What is known of the unlabelled text a character LM or vectors file was trained on."""
    for domain, text in UNLABELLED_TEXT.items():
        if Path(resource).name.startswith(domain):
            return f"a shipped {domain} resource, trained on {text}; a model trained with it should say so."
    return "the licences of the text it was trained on are not recorded here; check them before release."


def with_test(card: dict, test: dict) -> dict:
    """``card`` with the scored ``test`` set added, replacing an earlier one of the same head, source and
    counting (mode and scheme, or raw-text matching)."""
    same = ("head", "source", "mode", "scheme", "matching")
    kept = [old for old in card["test"] if any(old.get(key) != test.get(key) for key in same)]
    limits = [line for line in card["limits"] if not line.startswith("No test set was scored")]
    return card | {"test": [*kept, test], "limits": limits}


def quantized(card: dict, scheme: str) -> dict:
    """The card of a copy of ``card``'s model quantised to ``scheme``: the test scores it had become the float
    model's (``float_test``), and its own start empty (``tagger evaluate --update-card`` adds them)."""
    limit = f"Quantised to {scheme} from the float model; its own test scores are those listed, if any."
    return _scored_anew(card, limit) | {"quantization": scheme}


def rounded(card: dict, dtype: str) -> dict:
    """The card of a copy of ``card``'s model whose weights are stored in ``dtype`` (``Tagger.store_weights_in``):
    as ``quantized``'s, the test scores it had become the float32 model's."""
    limit = f"Weights rounded to {dtype} from the float32 model; its own test scores are those listed, if any."
    architecture = card["config"]["architecture"] | {"weights_dtype": dtype}
    return _scored_anew(card, limit) | {"config": card["config"] | {"architecture": architecture}}


def _scored_anew(card: dict, limit: str) -> dict:
    """``card`` for a lower-precision copy of its model: its test scores moved to ``float_test``, ``limit`` added."""
    return card | {"date": today(), "test": [], "float_test": card["test"], "limits": [*card["limits"], limit]}


def ensembled(cards: Sequence[dict], tagger) -> dict:
    """The card of ``tagger``, an ensemble of the models of ``cards`` trained apart (``ensembles.combined``): the
    first one's data, each one's training; its own test scores start empty (``tagger evaluate --update-card``)."""
    kept = ("train", "dev", "silver", "lessons", "corpus")
    data = {head["name"]: {key: head[key] for key in kept if key in head} for head in cards[0]["heads"]}
    training = {"refit": cards[0]["training"]["refit"], "members": [card["training"] for card in cards]}
    return facts(tagger, data, training)


def read(directory: str | Path) -> dict:
    """The card facts in ``directory``'s ``meta.json``; ``CardError`` when it has none or it is not a card."""
    path = Path(directory) / META_FILE
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CardError(
            f"{directory} has no model card ({META_FILE}): it was saved before cards or by Tagger.save alone; "
            "tagger train writes one"
        ) from None
    except (OSError, ValueError) as error:
        raise CardError(f"{path}: cannot read the model card ({error})") from None
    if not isinstance(card, dict) or not isinstance(card.get("card_version"), int):
        raise CardError(f"{path}: not a model card (expected an object with card_version {CARD_VERSION})")
    return card


def write(directory: str | Path, card: dict) -> None:
    """Write ``card`` into ``directory`` as ``meta.json`` and ``README.md``, each atomically."""
    directory = Path(directory)
    with atomic_write(directory / META_FILE) as out:
        json.dump(card, out, indent=2, ensure_ascii=False)
    with atomic_write(directory / CARD_FILE) as out:
        out.write(markdown(card))


def markdown(card: dict) -> str:
    """The card as a readable Markdown page."""
    lines = ["# Model card", "", card["intended_use"], "", "## Heads", ""]
    for head in card["heads"]:
        lines.append(f"### {head['name']}")
        lines.append("")
        lines.append(f"- Labels: {', '.join(head['labels']) or 'none'} (predicted in {head['output_scheme']})")
        if "corpus" in head:
            corpus = head["corpus"]
            lines.append(
                f"- Corpus: {corpus['name']} ({corpus['task']}, {corpus['domain']}), licence {corpus['licence']}"
            )
        lines.append(f"- Training data: {head['train']['source']}, {head['train']['sentences']} sentences")
        dev = head["dev"]
        held = " held out of the training data" if dev["held_out"] else ""
        lines.append(f"- Dev data: {dev['source']}, {dev['sentences']} sentences{held}")
        lines.append("")
    lines += ["## Training", "", _training(card["training"]), "", "## Config", ""]
    architecture = card["config"]["architecture"]
    lines.append("Architecture: " + ", ".join(f"{key} {value}" for key, value in architecture.items()) + ".")
    lines.append("")
    changed = card["config"]["changed"]
    lines.append(
        "Changed from the defaults: " + (", ".join(f"`{k}={v}`" for k, v in changed.items()) or "nothing") + "."
    )
    lines += ["", "## Test scores", ""]
    lines += [line for test in card["test"] for line in _test(test)] or ["No test set scored.", ""]
    if "float_test" in card:
        lines += [f"{_lowered(card)}. The float model scored:", ""]
        lines += [line for test in card["float_test"] for line in _test(test)] or ["No test set scored.", ""]
    lines += ["## Known limits", ""]
    lines += [f"- {limit}" for limit in card["limits"]]
    commit = f", commit {card['commit']}" if card["commit"] else ""
    lines += ["", f"Written {card['date']} by tagger {card['tagger_version']}{commit}.", ""]
    return "\n".join(lines)


def _lowered(card: dict) -> str:
    """How the model of a card with ``float_test`` differs from the float model it was made from."""
    if "quantization" in card:
        return f"Quantised ({card['quantization']} dynamic: LSTMs and linear layers)"
    return f"Weights stored in {card['config']['architecture']['weights_dtype']}, computed in float32"


def _training(training: dict) -> str:
    if "members" in training:
        members = " ".join(f"{number}: {_training(member)}" for number, member in enumerate(training["members"], 1))
        return f"An ensemble of {len(training['members'])} models trained apart. {members}"
    if training.get("set_epochs"):
        epochs = training["best_epoch"]
        return f"Trained on train + dev for {epochs} epochs, a count set beforehand (no early stopping)."
    if training["refit"]:
        return f"Refitted on train + dev for {training['best_epoch']} epochs (the count early stopping chose on dev)."
    return (
        f"Best dev F1 {training['best_dev_f1']:.4f} at epoch {training['best_epoch']}; "
        f"stopped: {training['stopped_because']}."
    )


def _test(test: dict) -> list[str]:
    """A scored test set as a heading line and a table of scores per type and micro-averaged."""
    counted = f"seqeval, {test['mode']} mode, {test['scheme']}" if "mode" in test else test.get("matching", "")
    lines = [f"{test['source']} (head {test['head']}, {counted}, {test['date']}):", ""]
    lines += ["| type | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for label, row in sorted(test.get("per_type", {}).items()):
        lines.append(f"| {label} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} | {row['support']} |")
    lines.append(f"| micro avg | {test['precision']:.4f} | {test['recall']:.4f} | {test['f1']:.4f} | |")
    return [*lines, ""]

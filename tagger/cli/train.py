"""``tagger train``: train a model on one corpus or several (a head each), early-stopping on dev F1 (with several,
their mean), and score it on test."""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path

from .. import cards
from ..callbacks import EpochReport, ProgressBar
from ..config import VECTOR_FORMATS, TaggerConfig, file_values
from ..corpus import Corpus
from ..lr_finder import JSON_FILE, PNG_FILE, range_test
from .report import print_scores
from .sources import (
    add_corpus_options,
    add_preset_options,
    add_reading_options,
    preset_lessons,
    preset_values,
    refuse_overwriting_inputs,
)
from .training_data import CorporaError, read_training_corpora, sources

logger = logging.getLogger("tagger")
TRAINING_OUTPUTS = (
    *("model", "refit", "members", "checkpoint.pt", "log.jsonl", "learning-curve.png", cards.TEST_SCORES),
    *(JSON_FILE, PNG_FILE),
)


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "train",
        help="train a BiLSTM-CRF on a corpus",
        description="Train a BiLSTM-CRF. The best model (by dev entity F1) is saved in OUTPUT/model, with its "
        "model card (README.md and meta.json: its data, config in short, test scores and known limits). Given several "
        "training corpora, the model has one encoder and a head (projection and CRF) per corpus, named after it; "
        "every epoch takes every batch of every corpus once, in an order the seed shuffles, and the best model "
        "and early stopping go by the mean of the corpora's dev F1.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    corpus = parser.add_mutually_exclusive_group(required=True)
    corpus.add_argument(
        "--train",
        type=Path,
        action="append",
        help="training corpus (format: see --format); repeat to train on several, each named after its folder",
    )
    corpus.add_argument(
        "--corpora",
        type=Path,
        metavar="FILE",
        help='the training corpora as a JSON list of {"name", "train", "dev", "test"} ("train" required; paths '
        "relative to FILE's folder; name: by default the train file's folder)",
    )
    add_corpus_options(parser, corpus, "train, dev and test", repeatable=True)
    parser.add_argument(
        "--dev",
        type=Path,
        action="append",
        help="dev corpus for early stopping, one per --train in the same order; default: 10%% of each train, "
        "by the seed",
    )
    parser.add_argument(
        "--test", type=Path, action="append", help="test corpus, one per --train, scored once with the best model"
    )
    parser.add_argument(
        "--silver",
        type=Path,
        help="silver training sentences (tagger silver: raw text a model tagged confidently), joined to the one "
        "training corpus; dev and test stay as they are (self-training)",
    )
    parser.add_argument(
        "--lessons",
        type=Path,
        help="a teacher's posteriors on raw text (tagger teach), learnt beside the one training corpus (knowledge "
        "distillation); dev and test stay as they are. Default: those --preset names for the --corpus, if any",
    )
    parser.add_argument("--output", required=True, type=Path, help="output directory")
    parser.add_argument("--config", type=Path, help="JSON config file (a model's config.json works too)")
    add_preset_options(parser)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a config value; lr=auto runs tagger lr-find first (OUTPUT/{JSON_FILE}, OUTPUT/{PNG_FILE}) "
        "and trains at its suggestion. tokenizer=biomedical cuts raw text into tokens as NCBI-disease and BC5CDR "
        "are cut (every punctuation mark a token: GSK-3beta is GSK - 3beta) instead of by spaCy's English rules "
        "(tokenizer=english, the default): the raw-text files read here (PubTator, SemEval XML, JSONL) and, as the "
        "model keeps the key, all text it tags later (predict, annotate, spaCy)",
    )
    parser.add_argument("--epochs", type=int, help="maximum epochs (config: epochs)")
    parser.add_argument("--seed", type=int, help="random seed (config: seed)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUTPUT/checkpoint.pt, with the same data and settings as the first run: a different "
        "--train or --dev, or a config key set otherwise, is refused; only epochs, patience and threads may change",
    )
    parser.add_argument(
        "--refit",
        action="store_true",
        help="then train a fresh model on train + dev for the best epoch count, saved in OUTPUT/refit/model "
        "(the train+dev protocol of published biomedical NER results); with the config's refit_epochs N, that "
        "model alone, for N epochs, without the early-stopping run",
    )
    parser.add_argument(
        "--vectors",
        type=Path,
        help="pretrained word vectors (config: vectors); the words of --train, --dev and --test found in them "
        "join the vocabulary, and word_dim becomes their dimension. The model does not need the file afterwards",
    )
    parser.add_argument(
        "--vectors-format",
        choices=VECTOR_FORMATS,
        help="format of --vectors (config: vectors_format, default auto: detected from the file)",
    )
    parser.add_argument(
        "--freeze-vectors",
        action="store_true",
        help="keep the pretrained vectors fixed; other words are still trained (config: freeze_vectors)",
    )
    parser.add_argument(
        "--vectors-keep",
        type=int,
        metavar="N",
        help="also keep the first N words of --vectors (the most frequent, in the usual files), so that text "
        "beyond --train, --dev and --test finds them; each costs a row in the model (config: vectors_keep)",
    )
    parser.add_argument(
        "--char-lm",
        type=Path,
        metavar="DIR",
        help="a character LM directory (tagger lm train): each token also gets the forward LM's state after its "
        "last character and the backward LM's before its first. The model keeps the LM's weights (config: char_lm)",
    )
    parser.add_argument(
        "--char-lm-finetune",
        action="store_true",
        help="train the character LM's weights with the tagger; by default they stay fixed (config: char_lm_finetune)",
    )
    parser.add_argument(
        "--init-from",
        type=Path,
        metavar="MODEL",
        help="start from a trained model (a directory, or a named model: tagger models list): its embeddings, "
        "character encoder and BiLSTM, and its "
        "architecture config keys; the new labels get a fresh projection and CRF in which the tags the model "
        "already has keep their weights (config: init_from)",
    )
    parser.add_argument(
        "--freeze",
        metavar="PARTS",
        help="with --init-from: keep these parts fixed, comma-separated from embeddings, chars, encoder "
        "(config: freeze)",
    )
    parser.add_argument(
        "--unfreeze-after",
        type=int,
        metavar="N",
        help="train the --freeze parts too from epoch N+1 (config: unfreeze_after; default 0: never)",
    )
    parser.add_argument(
        "--finetune-lr-scale",
        type=float,
        metavar="X",
        help="learning rate of the parts taken from --init-from, as a fraction of lr (config: finetune_lr_scale)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_reading_options(parser, "--train, --dev and --test")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import recipes
    from ..tagger import Tagger

    found = sources(args)
    refuse_overwriting_inputs(args, {"--output": args.output}, TRAINING_OUTPUTS, [p for s in found for p in s.paths])
    overrides = [f"epochs={args.epochs}"] if args.epochs is not None else []
    overrides += [f"seed={args.seed}"] if args.seed is not None else []
    overrides += [f"vectors={args.vectors.resolve()}"] if args.vectors else []
    overrides += [f"vectors_format={args.vectors_format}"] if args.vectors_format else []
    overrides += ["freeze_vectors=true"] if args.freeze_vectors else []
    overrides += [f"vectors_keep={args.vectors_keep}"] if args.vectors_keep is not None else []
    overrides += [f"char_lm={args.char_lm.resolve()}"] if args.char_lm else []
    overrides += ["char_lm_finetune=true"] if args.char_lm_finetune else []
    if args.init_from:  # a path, made absolute; else a named model, kept by name
        overrides.append(f"init_from={args.init_from.resolve() if args.init_from.exists() else args.init_from}")
    overrides += [f"freeze={args.freeze}"] if args.freeze is not None else []
    overrides += [f"unfreeze_after={args.unfreeze_after}"] if args.unfreeze_after is not None else []
    overrides += [f"finetune_lr_scale={args.finetune_lr_scale}"] if args.finetune_lr_scale is not None else []
    auto_lr = any(assignment.replace(" ", "") == "lr=auto" for assignment in args.set)
    args.set = [assignment for assignment in args.set if assignment.replace(" ", "") != "lr=auto"]
    config = read_config(args, overrides)
    gold, dev, test = read_training_corpora(args, found, config)
    silver = read_silver(gold, args.silver, config.tokenizer) if args.silver else None
    train = {name: corpus + silver if silver else corpus for name, corpus in gold.items()}
    args.lessons = args.lessons or preset_lessons(args)
    lessons = read_lessons(gold, args.lessons) if args.lessons else None
    test_texts = [s.tokens for corpus in test.values() for s in corpus]
    extras = [] if args.no_progress else [ProgressBar()]
    extras.append(EpochReport())
    texts = [s.tokens for corpus in dev.values() for s in corpus] + test_texts
    settings = None
    if args.resume:
        settings = settings_given(args, overrides, config)
        if auto_lr:
            settings.pop("lr", None)  # the first run's lr-find chose the checkpoint's lr
    elif auto_lr:
        tested = range_test(config, train, recipes.student_texts(texts, lessons))
        tested.save(args.output / JSON_FILE, args.output / PNG_FILE)
        logger.info("%s; training at it (curve in %s)", tested.describe(), args.output / PNG_FILE)
        config = replace(config, lr=tested.suggested_lr)
    sentences = sum(map(len, train.values())), sum(map(len, dev.values()))
    logger.info("training on %d sentences, dev %d; output in %s", *sentences, args.output)
    trained = recipes.run(config, train, dev, args.output, args.refit, extras, texts, test_texts, settings, lessons)
    data = {source.name: cards.data_facts(gold[source.name], dev[source.name], source.corpus) for source in found}
    for facts in data.values() if silver else ():
        facts["silver"] = {"source": silver.source, "sentences": len(silver)}
    for facts in data.values() if lessons else ():
        facts["lessons"] = {"source": str(args.lessons), "sentences": len(lessons)}
    several = len(train) > 1
    for model_dir, how in trained.models.items():
        if not model_dir.is_dir():  # a resumed run whose best model was saved elsewhere, or removed since
            logger.warning("no model in %s: no test scores or card for it", model_dir)
            continue
        tagger = Tagger.load(model_dir)
        scored = recipes.test_scores(tagger, test, several)
        mean = recipes.scores_file(scored, several)["mean"] if several and scored else None
        print_tests(scored, test, model_dir, mean)
        recipes.record(model_dir, tagger, data, how, test, scored, several)
    return 0


def read_silver(train: dict[str, Corpus], path: Path, tokenizer: str) -> Corpus:
    """The silver sentences of ``path`` (format by extension), to join ``train``'s one corpus."""
    from ..formats import read_corpus

    if len(train) > 1:
        raise CorporaError(f"--silver {path} joins one training corpus, and there are {len(train)}: train on one")
    silver = read_corpus(path, tokenizer=tokenizer).require_sentences("train on")
    ((name, gold),) = train.items()
    logger.info("%s: %d training sentences and %d silver ones from %s", name, len(gold), len(silver), path)
    return silver


def read_lessons(train: dict[str, Corpus], path: Path):
    """The lessons of ``path`` (tagger teach), to learn beside ``train``'s one corpus."""
    from ..distillation import Lessons

    if len(train) > 1:
        raise CorporaError(f"--lessons {path} teach one training corpus, and there are {len(train)}: train on one")
    lessons = Lessons.load(path)
    ((name, gold),) = train.items()
    logger.info("%s: %d training sentences and %d lessons from %s", name, len(gold), len(lessons), path)
    return lessons


def print_tests(scored: dict[str, dict], test: dict[str, Corpus], model_dir: Path, mean: dict | None) -> None:
    """Print the scores of each test corpus (by its head of the corpus' name, with several) and their ``mean``."""
    for name, scores in scored.items():
        print(f"Test ({test[name].source}) of {model_dir}{f', head {name}' if mean else ''}:")
        print_scores(scores)
    if mean:
        print(f"Mean over {len(scored)} test corpora: ", end="")
        print(f"P {mean['precision']:.4f} R {mean['recall']:.4f} F1 {mean['f1']:.4f}")


def read_config(args: argparse.Namespace, overrides: list[str]) -> TaggerConfig:
    """The defaults, then ``--preset``, ``--config``, ``--set`` and ``overrides``; sets torch's threads."""
    values = {**preset_values(args), **(file_values(args.config) if args.config else {})}
    config = TaggerConfig.from_dict(values, str(args.config) if args.config else None)
    config = config.with_overrides([*args.set, *overrides])
    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
    return config


def settings_given(args: argparse.Namespace, overrides: list[str], config: TaggerConfig) -> dict:
    """The config keys this command sets (in ``--config``, ``--set`` or an option), with their values in ``config``."""
    keys = {assignment.partition("=")[0].strip() for assignment in [*args.set, *overrides]}
    keys |= set(preset_values(args))
    if args.config:
        keys |= set(file_values(args.config))  # read_config has read it without error
    return {key: getattr(config, key) for key in keys}

"""``tagger train``: train a model, early-stopping on dev F1, and score it on test."""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path

import torch

from ..callbacks import Callback, ProgressBar, standard
from ..config import VECTOR_FORMATS, TaggerConfig, file_values
from ..corpus import Corpus
from ..evaluation import evaluate
from ..files import atomic_write
from ..lr_finder import JSON_FILE, PNG_FILE, range_test
from ..tagger import Tagger
from ..training import Trainer, refit
from ..transfer import build
from .report import print_scores
from .sources import (
    add_corpus_options,
    add_preset_options,
    add_reading_options,
    preset_values,
    read_splits,
    refuse_overwriting_inputs,
)

logger = logging.getLogger("tagger")
TRAINING_OUTPUTS = (
    *("model", "refit", "checkpoint.pt", "log.jsonl", "learning-curve.png", "test-scores.json"),
    *(JSON_FILE, PNG_FILE),
)


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "train",
        help="train a BiLSTM-CRF on a corpus",
        description="Train a BiLSTM-CRF. The best model (by dev entity F1) is saved in OUTPUT/model.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    corpus = parser.add_mutually_exclusive_group(required=True)
    corpus.add_argument("--train", type=Path, help="training corpus (format: see --format)")
    add_corpus_options(parser, corpus, "train, dev and test")
    parser.add_argument("--dev", type=Path, help="dev corpus for early stopping; default: 10%% of train, by the seed")
    parser.add_argument("--test", type=Path, help="test corpus, scored once with the best model")
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
        "(the train+dev protocol of published biomedical NER results)",
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
        help="start from a trained model directory: its embeddings, character encoder and BiLSTM, and its "
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
    refuse_overwriting_inputs(args, {"--output": args.output}, TRAINING_OUTPUTS)
    overrides = [f"epochs={args.epochs}"] if args.epochs is not None else []
    overrides += [f"seed={args.seed}"] if args.seed is not None else []
    overrides += [f"vectors={args.vectors.resolve()}"] if args.vectors else []
    overrides += [f"vectors_format={args.vectors_format}"] if args.vectors_format else []
    overrides += ["freeze_vectors=true"] if args.freeze_vectors else []
    overrides += [f"vectors_keep={args.vectors_keep}"] if args.vectors_keep is not None else []
    overrides += [f"char_lm={args.char_lm.resolve()}"] if args.char_lm else []
    overrides += ["char_lm_finetune=true"] if args.char_lm_finetune else []
    overrides += [f"init_from={args.init_from.resolve()}"] if args.init_from else []
    overrides += [f"freeze={args.freeze}"] if args.freeze is not None else []
    overrides += [f"unfreeze_after={args.unfreeze_after}"] if args.unfreeze_after is not None else []
    overrides += [f"finetune_lr_scale={args.finetune_lr_scale}"] if args.finetune_lr_scale is not None else []
    auto_lr = any(assignment.replace(" ", "") == "lr=auto" for assignment in args.set)
    args.set = [assignment for assignment in args.set if assignment.replace(" ", "") != "lr=auto"]
    config = read_config(args, overrides)
    train, dev, test = read_train_dev_test(args, config)
    test_texts = [s.tokens for s in test] if test is not None else []
    extras = [] if args.no_progress else [ProgressBar()]
    extras.append(EpochReport())
    if args.resume:
        settings = settings_given(args, overrides, config)
        if auto_lr:
            settings.pop("lr", None)  # the first run's lr-find chose the checkpoint's lr
        trainer = Trainer.resume(args.output, train, dev, [*standard(args.output), *extras], settings)
    else:
        texts = [s.tokens for s in dev] + test_texts
        if auto_lr:
            found = range_test(config, train, texts)
            found.save(args.output / JSON_FILE, args.output / PNG_FILE)
            logger.info("%s; training at it (curve in %s)", found.describe(), args.output / PNG_FILE)
            config = replace(config, lr=found.suggested_lr)
        trainer = Trainer(build(config, train, texts), train, dev, args.output, [*standard(args.output), *extras])
    logger.info("training on %d sentences, dev %d; output in %s", len(train), len(dev), args.output)
    result = trainer.fit()
    logger.info(
        "stopped: %s. Best dev F1 %.4f at epoch %d. Model: %s",
        result.stopped_because,
        result.best_dev_f1,
        result.best_epoch,
        trainer.model_dir,
    )
    model_dirs = [trainer.model_dir]
    if args.refit:
        logger.info("refitting on train + dev (%d sentences) for %d epochs", len(train) + len(dev), result.best_epoch)
        refit_dir = args.output / "refit"
        callbacks = [*standard(refit_dir), *extras]
        refitted = refit(trainer.config, train, dev, result.best_epoch, refit_dir, callbacks, args.resume, test_texts)
        logger.info("refitted model: %s", refitted.model_dir)
        model_dirs.append(refitted.model_dir)
    if test is not None:
        for model_dir in model_dirs:
            scores, _ = evaluate(Tagger.load(model_dir), test)
            with atomic_write(model_dir.parent / "test-scores.json") as out:
                json.dump(scores, out, indent=2)
            print(f"Test ({test.source}) of {model_dir}:")
            print_scores(scores)
    return 0


def read_config(args: argparse.Namespace, overrides: list[str]) -> TaggerConfig:
    """The defaults, then ``--preset``, ``--config``, ``--set`` and ``overrides``; sets torch's threads."""
    values = {**preset_values(args), **(file_values(args.config) if args.config else {})}
    config = TaggerConfig.from_dict(values, str(args.config) if args.config else None)
    config = config.with_overrides([*args.set, *overrides])
    if config.threads:
        torch.set_num_threads(config.threads)
    return config


def settings_given(args: argparse.Namespace, overrides: list[str], config: TaggerConfig) -> dict:
    """The config keys this command sets (in ``--config``, ``--set`` or an option), with their values in ``config``."""
    keys = {assignment.partition("=")[0].strip() for assignment in [*args.set, *overrides]}
    keys |= set(preset_values(args))
    if args.config:
        keys |= set(file_values(args.config))  # read_config has read it without error
    return {key: getattr(config, key) for key in keys}


def read_train_dev_test(args: argparse.Namespace, config: TaggerConfig) -> tuple[Corpus, Corpus, Corpus | None]:
    """``--train``, ``--dev`` and ``--test`` (where the command has it), or those splits of ``--corpus``; raw text
    cut by the rules ``config.tokenizer``.

    Without a dev split, ``dev_fraction`` of train is held out by the seed; test is ``None`` without one.
    """
    names = ("train", "dev", "test") if "test" in args else ("train", "dev")
    splits = read_splits(args, *names, tokenizer=config.tokenizer)
    train, dev, test = splits["train"], splits["dev"], splits.get("test")
    if dev is not None:
        return train, dev, test
    train, dev = train.split(config.dev_fraction, config.seed)
    logger.info(
        "%s: holding out %d of %d training sentences (%.0f%%, seed %d) as dev",
        f"{args.corpus} has no dev split" if args.corpus else "no --dev given",
        len(dev),
        len(train) + len(dev),
        100 * config.dev_fraction,
        config.seed,
    )
    return train, dev, test


class EpochReport(Callback):
    """One log line per epoch."""

    def on_epoch_end(self, trainer, record, improved) -> None:
        dev = "no dev"
        if record.dev_f1 is not None:
            dev = f"dev P {record.dev_precision:.4f} R {record.dev_recall:.4f} F1 {record.dev_f1:.4f}"
            dev += " *" if improved else ""
        logger.info(
            "epoch %3d  loss %.4f  %s  %.1fs (%.0f sent/s)  gradient norm %.3g (max %.3g), clipped %d of %d steps",
            record.epoch,
            record.loss,
            dev,
            record.seconds,
            record.sentences_per_second,
            record.grad_norm_mean,
            record.grad_norm_max,
            record.clipped_steps,
            record.steps,
        )

"""Train the default config on a named corpus and record accuracy, speed and memory.

    python scripts/benchmark.py --corpus ncbi-disease
    python scripts/benchmark.py --corpus bc5cdr --refit   # then retrain on train + dev, test that model
    python scripts/benchmark.py --render        # only rebuild benchmarks/README.md

Each run writes ``benchmarks/results/<corpus>-<timestamp>.json`` (test P/R/F1, seconds
per epoch, inference tokens/s at batch 1, 32 and 256, peak RSS, machine, versions and the
command) and re-renders ``benchmarks/README.md`` from every result file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import resource
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from importlib.metadata import version
from pathlib import Path

import torch

from tagger import Tagger, TaggerConfig, __version__, catalogue, recipes
from tagger.callbacks import EpochReport
from tagger.cards import commit
from tagger.corpus import Corpus
from tagger.distillation import Lessons
from tagger.evaluation import evaluate
from tagger.files import atomic_write
from tagger.formats import read_corpus
from tagger.plots import png_figure
from tagger.training import Corpora

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CORPORA = sorted(catalogue.entries())
DATA_DIR = ROOT.parent / "shared" / "corpora"  # a local mirror; corpora not in it come from the cache or are fetched
BATCH_SIZES = (1, 32, 256)
INFER_PASSES = 3  # timed passes of the inference benchmark; the fastest counts
BATCH_1_SENTENCES = 500  # batch 1 is timed on the first sentences only
ABLATION_MEANS = ("dev_f1", "epochs", "train_seconds_per_epoch", "pretrained_words")
STARTS = ("scratch", "source")  # of a transfer benchmark's trainings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=CORPORA, metavar="NAME", help="catalogue corpus to train and test on")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="local mirror of the catalogue's corpora")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a default config value"
    )
    parser.add_argument(
        "--refit",
        action="store_true",
        help="after early stopping on dev, train afresh on train + dev for the best epoch count and test that model",
    )
    parser.add_argument("--output", type=Path, help="keep the trained models here (model/, refit/model/)")
    parser.add_argument("--render", action="store_true", help="only re-render benchmarks/README.md")
    args = parser.parse_args()
    if not args.render:
        if not args.corpus:
            parser.error("--corpus is required unless --render is given")
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        config = TaggerConfig().with_overrides(args.set)
        result = run(args.corpus, args.data_dir, config, args.refit, args.output)
        print(f"wrote {write_result(result, RESULTS, args.corpus)}")
    render()


def run(corpus: str, data_dir: Path, config: TaggerConfig, refitting: bool, keep: Path | None = None) -> dict:
    """Train, test and time one model (two with ``refitting``), kept in ``keep`` if given; the result record."""
    return run_jointly([corpus], data_dir, config, refitting, keep)[corpus]


def run_jointly(
    corpora: Sequence[str],
    data_dir: Path,
    config: TaggerConfig,
    refitting: bool,
    keep: Path | None = None,
    silver: Corpus | None = None,
    lessons: Lessons | None = None,
) -> dict[str, dict]:
    """``run`` for one corpus or several trained together (a head each, named after its corpus, as ``tagger train
    --corpus A [--corpus B]`` and ``release_models.py`` train them): each corpus' result record, scored and timed with
    its own head. ``silver`` sentences (``tagger silver``) join each training corpus, as ``tagger train --silver``
    joins them; ``lessons`` (``tagger teach``) teach it beside them, as ``tagger train --lessons`` does."""
    if config.threads:
        torch.set_num_threads(config.threads)
    splits = {corpus: read_splits(corpus, data_dir, config) for corpus in corpora}
    train, dev, test = ({corpus: split[part] for corpus, split in splits.items()} for part in range(3))
    if silver is not None:
        train = {corpus: gold + silver for corpus, gold in train.items()}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        trained = train_recipe(config, train, dev, test, keep or Path(scratch), refitting, lessons)
        seconds = round(time.perf_counter() - started, 1)
        final, early = Tagger.load(trained.final), Tagger.load(trained.early)
    results = {}
    for corpus in corpora:
        result = {"corpus": corpus, **provenance()}
        result |= training_record(trained, train[corpus], early, test[corpus], corpus)
        result["protocol"] = "train, early stopping on dev"
        if members(trained)[0].at_once:
            result["protocol"] = f"train+dev for a set {result['best_epoch']} epochs (refit_epochs), no early stopping"
        if len(corpora) > 1:
            result["trained_with"] = list(corpora)
        if silver is not None:
            result["silver"] = {"source": silver.source, "sentences": len(silver)}
        if trained.final != trained.early:
            refits = members(trained)
            result |= {
                "protocol": f"train+dev refit for {result['best_epoch']} epochs, after early stopping on dev",
                "test_before_refit": {k: result["test"][k] for k in ("precision", "recall", "f1")},
                **test_scores(final, test[corpus], corpus),
                "refit_seconds_per_epoch": seconds_per_epoch([r for m in refits for r in m.refitted.history]),
            }
        speed = {str(size): inference_speed(final, test[corpus], size, corpus) for size in BATCH_SIZES}
        results[corpus] = result | {
            "train_seconds_total": seconds,
            "infer_tokens_per_second": speed,
            "infer_passes": INFER_PASSES,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
    return results


def read_splits(corpus: str, data_dir: Path, config: TaggerConfig) -> tuple[Corpus, Corpus, Corpus]:
    """Train, dev and test of a catalogue corpus; without a dev split, ``dev_fraction`` of train held out by the seed.

    Files come from ``data_dir``, else ``$TAGGER_DATA_DIR`` or the download cache (``catalogue.locate``).
    """
    entry = catalogue.entry(corpus)
    splits = {
        split: read_corpus(path, entry.format, tokenizer=config.tokenizer)
        for split, path in catalogue.locate(entry, data_dir=data_dir).items()
    }
    train, dev = recipes.with_dev(splits["train"], splits.get("dev"), config, f"{corpus} has no dev split")
    return train, dev, splits["test"]


def train_and_test(config: TaggerConfig, train: Corpus, dev: Corpus, test: Corpus, output: Path) -> dict:
    """Train with early stopping on ``dev`` (best model in ``output/model``), score it once on ``test``: the
    ``training_record`` and the training's seconds."""
    started = time.perf_counter()
    trained = train_recipe(config, train, dev, test, output)
    record = training_record(trained, train, Tagger.load(trained.early), test)
    return record | {"train_seconds_total": round(time.perf_counter() - started, 1)}


def train_recipe(
    config: TaggerConfig,
    train: Corpora,
    dev: Corpora,
    test: Corpora,
    output: Path,
    refitting: bool = False,
    lessons: Lessons | None = None,
) -> recipes.Trained | recipes.TrainedApart:
    """The recipe of ``tagger train`` into ``output``, with an epoch report; dev, test and ``lessons``' words with a
    vector join the vocabulary (with ``config.vectors``). Several corpora come as dicts of head names to corpora."""
    texts = [s.tokens for corpus in corpus_list(test) for s in corpus]
    dev_texts = [s.tokens for corpus in corpus_list(dev) for s in corpus]
    return recipes.run(
        config, train, dev, output, refitting, [EpochReport()], dev_texts + texts, texts, lessons=lessons
    )


def corpus_list(corpora: Corpora) -> list[Corpus]:
    return list(corpora.values()) if isinstance(corpora, Mapping) else [corpora]


def training_record(
    trained: recipes.Trained | recipes.TrainedApart, train: Corpus, early: Tagger, test: Corpus, head: str | None = None
) -> dict:
    """The early-stopped model's record (``early``, scored with its head ``head``): the config as trained
    (``word_dim`` as set by any vectors), sizes, test and dev scores, epochs and times; of an ensemble trained apart,
    its members' dev F1 averaged, their epochs joined by ``/`` (as ``3/5/4``)."""
    trained_members = members(trained)
    results = [member.result for member in trained_members]
    return {
        "config": early.config.to_dict(),
        "sentences": len(train),
        "pretrained_words": trained_members[0].trainer.tagger.pretrained,
        **test_scores(early, test, head),
        "dev_f1": None if trained_members[0].at_once else statistics.fmean(result.best_dev_f1 for result in results),
        "epochs": joined([len(result.history) for result in results]),
        "best_epoch": joined([result.best_epoch for result in results]),
        "stopped_because": "; ".join(dict.fromkeys(result.stopped_because for result in results)),
        "train_seconds_per_epoch": seconds_per_epoch([record for result in results for record in result.history]),
    }


def members(trained: recipes.Trained | recipes.TrainedApart) -> list[recipes.Trained]:
    """The recipes of a model's training: its own, or an ensemble's members'."""
    return trained.members if isinstance(trained, recipes.TrainedApart) else [trained]


def joined(counts: list[int]) -> int | str:
    """One count as it is; an ensemble's members' counts as ``3/5/4``."""
    return counts[0] if len(counts) == 1 else "/".join(map(str, counts))


def test_scores(tagger: Tagger, test: Corpus, head: str | None = None) -> dict:
    """``test`` (default mode, with the per-type table) and ``test_strict`` scores of ``tagger`` (its head ``head``)."""
    scores, _ = evaluate(tagger, test, head=head)
    strict, _ = evaluate(tagger, test, mode="strict", head=head)
    return {
        "test": {k: scores[k] for k in ("precision", "recall", "f1", "mode", "scheme", "per_type")},
        "test_strict": {k: strict[k] for k in ("precision", "recall", "f1")},
    }


def seconds_per_epoch(history: list) -> float:
    return round(sum(record.seconds for record in history) / len(history), 2)


def inference_speed(tagger: Tagger, corpus, batch_size: int, head: str | None = None) -> float:
    """Tokens per second of ``predict`` (confidences included) over the corpus' sentences, best of ``INFER_PASSES``
    (``best_rate``); batch 1 over the first ``BATCH_1_SENTENCES``."""
    sentences = [s.tokens for s in corpus]
    if batch_size == 1:
        sentences = sentences[:BATCH_1_SENTENCES]
    return best_rate(partial(cold_predict, tagger, sentences, batch_size, head=head), sentences, INFER_PASSES)


def cold_predict(tagger: Tagger, sentences: list[list[str]], batch_size: int, confidences: bool = True, head=None):
    """``tagger.predict`` after ``Tagger.forget``: each timed pass computes the features an earlier pass would have
    left remembered (a character LM's features of its sentences), as a first call does."""
    tagger.forget()
    return tagger.predict(sentences, batch_size, confidences, head)


def best_rate(run: Callable[[], object], sentences: list[list[str]], passes: int) -> int:
    """Tokens per second of ``run`` over ``sentences``: the best of ``passes`` timed runs after an untimed warm-up;
    the best pass is the one least disturbed by the rest of the machine."""
    run()
    seconds = []
    for _ in range(passes):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return round(sum(map(len, sentences)) / min(seconds))


def provenance() -> dict:
    """What every result records: the date (UTC), the command line, the code, the machine and the versions."""
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python", *map(shlex.quote, sys.argv)]),
        "commit": commit(ROOT),
        "machine": machine(),
        "versions": {name: version(name) for name in ("torch", "pytorch-crf", "spacy", "seqeval", "gensim")}
        | {"tagger": __version__, "python": platform.python_version()},
    }


def cpu_bf16() -> bool:
    """Whether this CPU has bfloat16 arithmetic (AMX or AVX-512 BF16), where a ``bf16`` copy can be fast: oneDNN's
    own answer, which torch only offers privately."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def write_result(result: dict, directory: Path, prefix: str) -> Path:
    """Write ``result`` (with its ``date``) to ``directory/<prefix>-<timestamp>.json``; return the path."""
    path = directory / f"{prefix}-{result['date'].replace(':', '').replace('-', '')}.json"
    with atomic_write(path) as out:
        json.dump(result, out, indent=2)
    return path


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "system": platform.platform(),
        "load_average": [round(load, 2) for load in os.getloadavg()],  # other work on the machine skews timings
    }


def render() -> None:
    """Rebuild ``benchmarks/README.md`` from every result file."""
    results = sorted(
        (json.loads(p.read_text()) for p in RESULTS.glob("*.json")), key=lambda r: (r["corpus"], r["date"])
    )
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python scripts/benchmark.py --render` from `results/*.json`; do not edit by hand.",
        "Test scores are seqeval entity-level micro averages on the test split (default mode, the corpus' scheme);",
        "strict mode in brackets. Inference speed is `Tagger.predict` with confidences, tokens/s by batch size,",
        "the best of 3 passes over the test split after a warm-up pass (†: a single pass, as older results timed).",
        "`refit`: after early stopping on dev, a fresh model trained on train + dev for the best epoch count",
        "(`--refit`; the protocol of the Wang et al. 2019 BiLSTM-CRF figures in ANCHORS); its test F1 before the",
        "refit in brackets; train total includes both trainings.",
        "",
        "| corpus | protocol | date (commit) | test P / R / F1 (strict F1) | dev F1 | epochs (best) | train s/epoch "
        "| train total | infer tok/s b1 / b32 / b256 | peak RSS | machine |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        t, speed = r["test"], r["infer_tokens_per_second"]
        protocol, seconds = "train", f"{r['train_seconds_per_epoch']:.1f}"
        if "test_before_refit" in r:
            protocol = f"refit ({r['test_before_refit']['f1']:.4f})"
            seconds += f" (refit {r['refit_seconds_per_epoch']:.1f})"
        lines.append(
            f"| {r['corpus']} | {protocol} | {dated(r)} | {t['precision']:.4f} / {t['recall']:.4f} / "
            f"**{t['f1']:.4f}** ({r['test_strict']['f1']:.4f}) | {r['dev_f1']:.4f} | "
            f"{r['epochs']} ({r['best_epoch']}) | {seconds} | {r['train_seconds_total'] / 60:.1f} min | "
            f"{speed['1']:,} / {speed['32']:,} / {speed['256']:,}{'' if 'infer_passes' in r else ' †'} | "
            f"{r['peak_rss_mb']:.0f} MB | "
            f"{r['machine']['cores']} cores, {r['machine']['torch_threads']} threads |"
        )
    lines += ["", "Commands:", ""] + sorted({f"- `{r['command']}`" for r in results}) + [""]
    lines += accuracy_tables() + speed_tables() + annotate_table() + ablation_table() + transfer_table()
    lines += optimiser_tables(RESULTS / "optimisers") + quantization_table()
    with atomic_write(ROOT / "benchmarks" / "README.md") as out:
        out.write("\n".join(lines))


def dated(result: dict) -> str:
    """A result's day, and the commit that produced it where it was recorded."""
    return result["date"][:10] + (f" ({result['commit']})" if result.get("commit") else "")


def accuracy_tables() -> list[str]:
    """The presets, and the ablation rows, over seeds, from ``scripts/benchmark_accuracy.py``."""
    results = sorted(results_in("accuracy"), key=lambda r: (r["corpus"], r["preset"]))
    if not results:
        return []
    lines = [
        "## Accuracy of the presets",
        "",
        "`python scripts/benchmark_accuracy.py`: each preset (`tagger train --preset NAME`, the corpus' domain) per",
        "seed, early stopping on dev, then (refit) a fresh model on train + dev for the best epoch count; the test",
        "split scored once. Test F1 is the mean ± standard deviation over the seeds. `raw text`: the same models on",
        "the original NCBI-disease release's raw test abstracts (our sentence splitter and the model's tokenizer,",
        "exact character spans). Inference: `predict` with confidences at batch 256, mean over the seeds' models;",
        "`load` is the machine's load average when the last seed was recorded (2 cores: above 2, other work shared",
        "them, and times are slower than the machine's).",
        "",
        "| corpus | preset | seeds | test F1 (per seed) | raw text F1 | protocol | infer tok/s | train total | load "
        "| date (commit) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    presets_first = sorted(results, key=lambda r: (r["preset"].startswith(("+", "no ")), r["corpus"], r["preset"]))
    for r in presets_first:
        raw = mean_and_spread(r["raw_text_test_f1"]) if "raw_text_test_f1" in r else "-"
        seeds = ", ".join(f"{f1:.4f}" for f1 in r["test_f1"])
        trained = r.get("member_seeds", r["seeds"])  # an ensemble of models trained apart: its members' seeds
        lines.append(
            f"| {r['corpus']} | {r['preset']} | {', '.join(map(_seeds, trained))} | "
            f"**{mean_and_spread(r['test_f1'])}** ({seeds}) | {raw} | {r['protocol']} | "
            f"{r['infer_tokens_per_second']:,.0f} | {r['train_seconds_total'] / 60:.0f} min | "
            f"{r['machine']['load_average'][0]:.1f} | {dated(r)} |"
        )
    lines += [
        "",
        "`fast` is the fast preset since 2026-12-06 (a character BiLSTM of 25 units a direction, batches of 64);",
        "`fast until 2026-12-06` is the one before (50 units, batches of 32), of which the ablation rows and the",
        "`fast char CNN ...` and `fast ensemble ...` rows are; `fast multi-corpus`, `fast weight average 0.99`,",
        "`fast fastText vectors` and `fast self-training` are of `fast` (each row's command says how it ran). The",
        "ablation: `no unlabelled text` and `+ char LM` are the fast preset until 2026-12-06 without its in-domain",
        "vectors and with the domain's character LM (`--ablation`); `fast until 2026-12-06` is + vectors at scale,",
        "`fast multi-corpus` + the other biomedical corpus (`--jointly`; compare it with `fast`), `accurate` + an",
        "ensemble of three; `fast ensemble of 3 apart` is an ensemble of",
        "three fast models trained apart, each with its own early stopping (`--combine 3`; seeds 1+2+3 are one",
        "ensemble); `char LM hidden 200` is the accurate preset until 2026-12-05 (one model of 200",
        "units a direction with the character LM). On the laptops, `accurate` is the accurate preset since",
        "2026-12-06 (five members sharing the shipped `reviews-128` LM); `accurate char LM 128` is the one before",
        "(three members sharing it), `accurate without char LM` the one before that (three members, no LM), and",
        "`accurate char LM` three members with the 256-unit LM, `accurate char LM 64` five members sharing an LM of",
        "64 units (trained as `reviews-128` was, with `--hidden 64`: 2.33 and 2.32 bits/char held out; not shipped),",
        "`accurate char hidden 25` the five members with character BiLSTMs of 25 units;",
        "`+ char LM ensemble of N apart`",
        "combines `+ char LM` models trained apart, which share their LM. `fast weight average 0.99` is the fast",
        "preset with `weight_average=0.99` (dev scored, and the model saved, with the weights' moving average);",
        "`fast fastText vectors` the fast preset with fastText vectors (subwords) trained on the same text as its",
        "word2vec ones; `fast self-training` the fast preset trained on train + 5,000 silver sentences, those the",
        "shipped `ncbi-disease-fast` tagged with every tag at probability 0.95 or more, with an entity, in the",
        "biomedical unlabelled text (`tagger silver --model ncbi-disease-fast --input",
        "../shared/unlabelled/biomedical-text.txt --max-sentences 5000`). `accurate char CNN batch 64` and",
        "`... ensemble of 5` are the accurate preset with a character CNN, batches of 64, and three or five members.",
        "`accurate rerun 2026-12-06` is the accurate preset trained again, unchanged, on the code of that day (the",
        "`accurate side by side` row is of the code of 2026-12-05).",
        "",
        "On NCBI-disease, `accurate` is the accurate preset since 2026-12-07: three fast models of two BiLSTM layers",
        "trained apart (`ensemble_apart`: seed N's members are seeds N, N + 1000 and N + 2000), each starting from",
        "the released `bc5cdr-fast` (`init_from`), whose one layer is their first (the second starts fresh); its",
        "records were trained as `accurate --set layers=2` (commit b720754), before the preset took `layers=2`,",
        "and their command is kept as it ran (seeds 2 and 3 ran beside three other trainings, hence the slow",
        "speed column; alone, in one process, the seed-1 ensemble predicted 16,664 tokens/s at batch 256 against",
        "the one-layer release's 36,886). `accurate one layer` is the preset of the night of 2026-12-06 (the",
        "same with one layer, the source's), `accurate side by side` the one before (three members of 50 character",
        "units, batches of 32, trained side by side). On BC5CDR, `accurate` is the accurate preset since 2026-12-07:",
        "three models of 200 units a direction reading the `biomedical-256` LM, trained apart (seed N's members are",
        "seeds N, N + 1000 and N + 2000); `accurate one model hidden 200 char LM 256` is one such model, with",
        "`... ensemble of 3 apart` three of them (seeds 1+2+3 and so on) measured before the preset took it;",
        "`accurate one model hidden 200 char LM 128` the same with the `biomedical-128` LM (a quarter of the LM's",
        "arithmetic, for the speed target; the seeds 1+1001+2001 are the members the preset's seed 1 would have);",
        "`accurate char LM 128` is the preset itself with that LM, its seeds trained as the preset (commit 597d432),",
        "then filed under this name when the preset went back to `biomedical-256` (under the floor); `... char LM",
        "128 full text` is one model with the `biomedical-128` of commit 9fcf9e0 (all of the text, one epoch; not",
        "kept: `tagger/lms/README.md`); `... char LM 128 projection 64` is one model with the `biomedical-128` LM",
        "(its command's LM directory held a copy of it) read through a learned projection to 64 features",
        "(`char_lm_projection`), a fifth of the members' products with the LM features; `accurate one model hidden",
        "200 char LM 128 ensemble of 5 apart` is five of its one-model runs (seeds 1+1001+2001+3001+4001: the",
        "members a five-member preset's seed 1 would have), at five members' predict time; `accurate one model",
        "hidden 100 char LM 128` is one model of 100 units a direction with that LM (five of them predict faster",
        "than three of 200 units), `... ensemble of 3 apart` three;",
        "`accurate self-training one model hidden 200 char LM 128 silver of 9 members` one model of 200 units",
        "with that LM trained on train + 5,000 silver sentences, those the nine members of `accurate char LM",
        "128`'s seeds (`tagger ensemble`) tagged with every tag at probability 0.95 or more, with an entity, in",
        "every third line of 40 characters or more of the biomedical text's lines 126,000-196,000 (OHSUMED",
        "abstracts, the closest to BC5CDR's; `tagger silver --model ENSEMBLE --input LINES --max-sentences 5000`;",
        "its dev F1 rose to 0.89 from 0.85, the teacher having been refit on train + dev, but not its test F1);",
        "`accurate distilled one model hidden 200 char LM 128 projection 64 lessons of 9 members` one model of",
        "`... projection 64` trained beside 5,000 lessons of that teacher on the same lines (`tagger teach --model",
        "ENSEMBLE --input LINES --max-sentences 5000`: every token's tag probabilities and the expected",
        "transitions, learnt by the CRF's cross-entropy against them), `... ensemble of 3 apart` three of them,",
        "and `bc5cdr fast distilled lessons of 9 members` the fast preset trained beside the same lessons;",
        "`accurate distilled 3 apart ... lessons of the released model 17 epochs at once` three `... projection 64`",
        "models trained apart as the preset's members (seed N: N, N + 1000, N + 2000) beside 5,000 lessons of the",
        "released `bc5cdr` model on the same lines, each on train + dev for 17 epochs at once (`refit_epochs`), its",
        "seeds trained as the preset (commit db22535) and filed under this name when the preset went back (under the",
        "floor); `... 10000 lessons ...` the same beside 10,000 lessons of that model on the same lines (`tagger",
        "teach --max-sentences 10000`), its seeds trained as the preset of commit 7513fa2, whose refit took the",
        "lessons' words into its vocabulary, and filed under this name when the preset went back (under the floor).",
        "BC5CDR's `fast` is the fast preset since the night of 2026-12-07: beside those lessons, on train + dev for",
        "29 epochs at once; `fast until 2026-12-07` the one before (as `fast` on the other corpora), its seeds",
        "trained as the preset and filed under this name when the preset took the lessons; `fast lesson words in",
        "the refit vocabulary` the preset trained with the code of 7513fa2 (its `-dirty`: summary files rewritten",
        "by runs that found their seeds recorded, no code), filed under this name when that change was taken back;",
        "`accurate side by side` the preset before (three members of 100 units side by side). `bc5cdr",
        "accurate fast members apart` is BC5CDR with NCBI-disease's members, not transferred. `fast from",
        "bc5cdr-fast` is the fast preset starting from `bc5cdr-fast`, `... ensemble of 3 apart` three of those",
        "combined, and `bc5cdr fast from ncbi-disease-fast` the other way.",
        "",
    ]
    return lines + ["Commands:", ""] + sorted({f"- `{r['command']}`" for r in results}) + [""]


def _seeds(seed: int | list[int]) -> str:
    return "+".join(map(str, seed)) if isinstance(seed, list) else str(seed)


def speed_tables() -> list[str]:
    """Rows for the results of ``scripts/benchmark_speed.py``: predict, the bare LSTM and spaCy in one run each."""
    results = results_in("speed")
    if not results:
        return []
    lines = [
        "## Speed",
        "",
        "`scripts/benchmark_speed.py`: one process, one run, the test split pre-tokenised, tokens/s (best of the",
        "passes after a warm-up). `predict` at batch 1 / 32 / 256 with confidences (without in brackets), after one",
        "training epoch; the bare LSTM is a bidirectional `nn.LSTM` of the fast preset's encoder size on random",
        "inputs, batched as `predict` batches 256 sentences and in plain sorted batches of 256; spaCy is `init config",
        "--optimize efficiency` NER trained one epoch, `nlp.pipe` over the same sentences as `Doc`s. The ratios hold",
        "within a run; from one CPU to another (the column CPU) they differ, so compare rows of one CPU.",
        "",
        "| date (commit) | corpus | CPU | threads | fast predict b1 / b32 / b256 "
        "| accurate predict b1 / b32 / b256 | bare LSTM (as predict / plain) | spaCy pipe b32 / b256 | fast / spaCy "
        "| fast / bare LSTM (as predict / plain) | accurate / spaCy | train epoch s: fast / accurate / spaCy "
        "| peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratios, bare, spacy = r["ratios"], r.get("bare_lstm", {}), r["spacy"]
        lines.append(
            f"| {dated(r)} | {r['corpus']}{''.join(f', {s}' for s in r.get('set', []))} | {_cpu(r)} | {r['threads']} | "
            f"{_rates(r.get('fast'))} | {_rates(r.get('accurate'))} | "
            f"{_bare_rates(bare)} | {spacy['pipe_b32']:,} / {spacy['pipe_b256']:,} | "
            f"{_ratio(ratios, 'fast_over_spacy', 'x')} | {_ratio(ratios, 'fast_over_bare_lstm_b256_as_predict')} / "
            f"{ratios.get('fast_over_bare_lstm_b256_plain', '-')} | {_ratio(ratios, 'accurate_over_spacy', 'x')} | "
            f"{_epoch(r.get('fast'))} / {_epoch(r.get('accurate'))} / {spacy['train_epoch_seconds']} | "
            f"{r['peak_rss_mb']:,.0f} MB |"
        )
    lines += _annotate_speed_rows([r for r in results if "annotate" in r])
    lines += _quantized_speed_rows([r for r in results if "fast_bf16_over_spacy" in r["ratios"]])
    return lines + ["", "Commands:", ""] + sorted({f"- `{r['command']}`" for r in results}) + [""]


def _cpu(result: dict) -> str:
    """The CPU a result was measured on, shortly: speed ratios against spaCy differ from one CPU to another."""
    return result.get("machine", {}).get("cpu", "-").replace("(R)", "").replace(" Processor", "")


def _bare_rates(bare: dict) -> str:
    """A run's bare LSTM rates (as predict / plain), or ``-`` where it ran without the fast preset."""
    if not bare:
        return "-"
    return f"{bare['b256_as_predict']:,} / {bare['b256_plain']:,} (hidden {bare['hidden']})"


def _ratio(ratios: dict, name: str, unit: str = "") -> str:
    """A ratio in bold, or ``-`` where the run did not measure it."""
    return f"**{ratios[name]}{unit}**" if name in ratios else "-"


def _quantized_speed_rows(results: list[dict]) -> list[str]:
    """The same runs' presets in bfloat16 (``tagger quantize --scheme bf16``), against spaCy and a bare LSTM in
    bfloat16."""
    if not results:
        return []
    lines = [
        "",
        "The presets' bf16 copies (`tagger quantize --scheme bf16`) in the same runs, `predict` at batch 256 with",
        "confidences, against spaCy above and the bare LSTM in bfloat16, batched as `predict` batches.",
        "",
        "| date (commit) | CPU bf16 | fast bf16 | accurate bf16 | bare LSTM bf16 | fast bf16 / spaCy "
        "| fast bf16 / bare LSTM bf16 | accurate bf16 / spaCy |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratios = r["ratios"]
        rate = {preset: r.get(preset, {}).get("predict", {}).get("b256_bf16") for preset in ("fast", "accurate")}
        lines.append(
            f"| {dated(r)} | {'yes' if r.get('cpu_bf16') else 'no'} | {rate['fast'] or 0:,} | "
            f"{rate['accurate'] or 0:,} | {r['bare_lstm'].get('b256_as_predict_bf16', 0):,} | "
            f"**{ratios.get('fast_bf16_over_spacy', '-')}x** | {ratios.get('fast_bf16_over_bare_lstm_bf16', '-')} | "
            f"**{ratios.get('accurate_bf16_over_spacy', '-')}x** |"
        )
    return lines


def _annotate_speed_rows(results: list[dict]) -> list[str]:
    """The same runs' ``tagger annotate`` with the fast model, against its ``predict`` at batch 256."""
    if not results:
        return []
    lines = [
        "",
        "`tagger annotate` in the same runs, end to end (process start, model loading, sentence splitting,",
        "tokenisation, tagging, JSONL written) with the fast model, against the fast `predict` at batch 256 above;",
        "peak memory of 1 process on the smaller and the larger corpus.",
        "",
        "| date (commit) | documents | tok/s: 1 / 2 processes | 1 process / fast predict | 2 / 1 processes "
        "| peak RSS, 1 process: smaller / larger corpus (growth) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        runs, ratios = r["annotate"], annotate_ratios(r)
        memory = runs.get("n1_memory")
        larger = ""
        if memory:
            growth = ratios["annotate_memory_growth"]
            larger = f" / {memory['peak_rss_mb']:,.0f} MB at {memory['documents']:,} ({growth}x)"
        lines.append(
            f"| {dated(r)} | {runs['n1']['documents']:,} | {runs['n1']['tokens_per_second']:,} / "
            f"{runs['n2']['tokens_per_second']:,} | **{ratios['annotate_over_fast_predict']}** | "
            f"{ratios['annotate_2_over_1_process']} | {runs['n1']['peak_rss_mb']:,.0f} MB{larger} |"
        )
    return lines


def annotate_ratios(result: dict) -> dict:
    """Annotate with 1 process over the fast preset's predict (batch 256, confidences on), 2 processes over 1,
    and the peak memory of the larger corpus over the smaller one's."""
    runs = result["annotate"]
    found = {
        "annotate_over_fast_predict": round(runs["n1"]["tokens_per_second"] / result["fast"]["predict"]["b256"], 2),
        "annotate_2_over_1_process": round(runs["n2"]["tokens_per_second"] / runs["n1"]["tokens_per_second"], 2),
    }
    if "n1_memory" in runs:
        found["annotate_memory_growth"] = round(runs["n1_memory"]["peak_rss_mb"] / runs["n1"]["peak_rss_mb"], 2)
    return found


def _rates(preset: dict | None) -> str:
    if preset is None:
        return "-"
    rates = preset["predict"]
    shown = " / ".join(f"{rates.get(f'b{b}', 0):,} ({rates.get(f'b{b}_no_confidences', 0):,})" for b in (1, 32, 256))
    if preset.get("char_lm"):
        share = preset.get("lm_share")
        return shown + (f" (char LM: {share:.0%} of the b256 time)" if share is not None else " (char LM)")
    members = preset["config"].get("ensemble", 1)
    return shown + (f" (ensemble of {members})" if members > 1 else "")


def _epoch(preset: dict | None) -> str:
    return "-" if preset is None else f"{preset['train_epoch_seconds']}"


def annotate_table() -> list[str]:
    """Rows for the ``tagger annotate`` results of ``scripts/benchmark_annotate.py``."""
    results = sorted(results_in("annotate"), key=lambda r: (r["date"][:10], engine(r)))
    if not results:
        return []
    lines = [
        "## Batch annotation",
        "",
        "`tagger annotate` end to end (model loading, sentence splitting, tokenisation, tagging, writing JSONL),",
        "timed from start to exit, with the peak resident memory of all its processes.",
        "",
        "| date (commit) | documents | tokens | engine | seconds | documents/s | tokens/s | peak RSS | model |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {dated(r)} | {r['documents']:,} ({r['failed']} failed) | {r['tokens']:,} | {engine(r)} | "
            f"{r['seconds']:.1f} | {r['documents_per_second']:,.1f} | **{r['tokens_per_second']:,}** | "
            f"{r['peak_rss_mb']:,.0f} MB | {r['model']} |"
        )
    lines += ["", "Corpus: " + results[-1]["corpus"] + ".", "", "Commands:", ""]
    return lines + sorted({f"- `{r['command']}`" for r in results}) + [""]


def engine(result: dict) -> str:
    """How an annotate result ran: ``local, N processes`` or ``ray, N workers`` (results from before engines: local)."""
    if result.get("engine") == "ray":
        return f"ray, {result['workers']} worker{'s' * (result['workers'] > 1)}"
    return f"local, {result['n_process']} process{'es' * (result['n_process'] > 1)}"


def results_in(folder: str) -> list[dict]:
    """Every result file in ``RESULTS/folder``, oldest first."""
    return sorted((json.loads(p.read_text()) for p in (RESULTS / folder).glob("*.json")), key=lambda r: r["date"])


def mean_and_spread(values: list[float]) -> str:
    """``mean ± sample standard deviation`` (the mean alone for one value)."""
    if len(values) < 2:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def ablation_table() -> list[str]:
    """Test F1 per corpus and variant over seeds, from ``scripts/benchmark_ablation.py``."""
    results = results_in("ablation")
    if not results:
        return []
    lines = [
        "## Ablation: character encoders and in-domain word vectors",
        "",
        "The default config with the variant's keys changed, one training per seed (early stopping on dev; a",
        "corpus without a dev split holds out 10% of train by the seed), test split scored once. F1 is the mean",
        "± standard deviation over seeds; the best mean per corpus is in bold. `+w2v`: 100-dimensional skip-gram",
        "vectors trained on `../shared/unlabelled/biomedical-sentences.txt` (1.7M tokens of biomedical text) with",
        "`tagger embeddings train`'s defaults, fine-tuned.",
        "",
        "| corpus | variant | seeds | test F1 | P | R | dev F1 | epochs | train s/epoch | words with a vector |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        groups.setdefault((r["corpus"], r["variant"]), []).append(r)
    best = {}
    for (corpus, _), runs in groups.items():
        best[corpus] = max(best.get(corpus, 0.0), statistics.mean(r["test"]["f1"] for r in runs))
    for (corpus, variant), runs in sorted(groups.items()):
        f1 = [r["test"]["f1"] for r in runs]
        shown = mean_and_spread(f1)
        shown = f"**{shown}**" if statistics.mean(f1) == best[corpus] else shown
        mean = {key: statistics.mean(r[key] for r in runs) for key in ABLATION_MEANS}
        mean |= {key: statistics.mean(r["test"][key] for r in runs) for key in ("precision", "recall")}
        lines.append(
            f"| {corpus} | {variant} | {', '.join(str(r['seed']) for r in runs)} | {shown} | "
            f"{mean['precision']:.4f} | {mean['recall']:.4f} | {mean['dev_f1']:.4f} | {mean['epochs']:.0f} | "
            f"{mean['train_seconds_per_epoch']:.1f} | {mean['pretrained_words']:,.0f} |"
        )
    plot_ablation(groups, ROOT / "benchmarks" / "ablation.png")
    lines += ["", "![Test F1 per variant, each seed a dot](ablation.png)"]
    threads = sorted({r["machine"]["torch_threads"] for r in results})
    lines += ["", f"Torch threads per training: {', '.join(map(str, threads))}.", ""]
    return lines + ["Commands:", ""] + sorted({f"- `{r['command']}`" for r in results}) + [""]


def quantization_table() -> list[str]:
    """Float against each quantised copy per released model, from ``scripts/benchmark_quantization.py``."""
    results = results_in("quantization")
    if not results:
        return []
    lines = [
        "## Quantisation",
        "",
        "Each released model and its copies in lower precision (`tagger quantize --scheme`: int8 dynamic quantisation,",
        "or bfloat16, of the LSTMs and linear layers) on its corpus' test split: test F1, the share of test tokens",
        "tagged the same, and `predict` with confidences at batch 256 (best pass after a warm-up, the two timed in",
        "turns in one process). bf16 is fast only on a CPU with bfloat16 arithmetic (the column CPU bf16). `load`:",
        "the machine's load average at the end (2 cores: above 2, other work shared them).",
        "",
        "| date (commit) | model | scheme | test F1 float / copy | same tags | predict tok/s float / copy "
        "| copy / float | CPU bf16 | threads | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        scheme = r.get("scheme", "int8")  # the first records were int8 only
        f1, rate = r["test"], r["predict_tokens_per_second"]
        lines.append(
            f"| {dated(r)} | {r['model']} | {scheme} | {f1['float']['f1']:.4f} / {f1[scheme]['f1']:.4f} | "
            f"{r['same_tags']:.2%} | {rate['float']:,} / {rate[scheme]:,} | **{r['speedup']:.2f}x** | "
            f"{'yes' if r.get('cpu_bf16') else 'no' if 'cpu_bf16' in r else '-'} | {r['threads']} | "
            f"{r['machine']['load_average'][0]:.1f} |"
        )
    return lines + ["", "Commands:", ""] + sorted({f"- `{r['command']}`" for r in results}) + [""]


def transfer_table() -> list[str]:
    """Scratch against ``--init-from`` per train fraction, from ``scripts/benchmark_transfer.py``."""
    results = results_in("transfer")
    if not results:
        return []
    lines = [
        "## Transfer learning",
        "",
        "A seeded subsample of the target's train split, trained from scratch and from a model trained on the",
        "source corpus (`tagger train --init-from`), early stopping on the full target dev split; test F1 is the",
        "mean ± standard deviation over seeds.",
        "",
        "| date (commit) | source → target | source test F1 | fraction (sentences) | scratch F1 | transfer F1 | gain "
        "| transfer keys |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for fraction, summary in r["summary"].items():
            runs = [run for run in r["runs"] if str(run["fraction"]) == fraction]
            f1 = {start: [run["test"]["f1"] for run in runs if run["start"] == start] for start in STARTS}
            lines.append(
                f"| {dated(r)} | {r['source_corpus']} → {r['target_corpus']} | "
                f"{r['source']['test']['f1']:.4f} | {float(fraction):.0%} ({runs[0]['sentences']:,}) | "
                f"{mean_and_spread(f1['scratch'])} | {mean_and_spread(f1['source'])} | "
                f"**{summary['gain']:+.4f}** | {', '.join(r['transfer_set']) or 'none'} |"
            )
    plot_transfer(results[-1], ROOT / "benchmarks" / "transfer.png")
    lines += ["", "![Test F1 against the share of train, from scratch and transferred (latest run)](transfer.png)"]
    return lines + ["", "Commands:", ""] + sorted({f"- `{r['command']}`" for r in results}) + [""]


def optimiser_tables(folder: Path) -> list[str]:
    """Test F1 per optimiser at its lr-find rate, and the best dev F1 of gp and tpe studies, from
    ``scripts/benchmark_optimisers.py``'s results in ``folder``."""
    results = sorted((json.loads(p.read_text()) for p in folder.glob("*.json")), key=lambda r: r["date"])
    runs = [r for r in results if r["kind"] == "optimiser"]
    studies = [r for r in results if r["kind"].startswith("search-")]
    lines = []
    if runs:
        lines += [
            "## Optimisers at their lr-find rate",
            "",
            "The preset's config (`default`: the default config) with each optimiser (torch's defaults for its other",
            "settings), its learning rate the suggestion of `tagger lr-find` (200 steps from 1e-6 to 1 on train,",
            "seeded) for each seed; early stopping on dev, test split scored once. F1 is the mean ± standard deviation",
            "over seeds; best mean per corpus and preset in bold.",
            "",
            "| corpus | preset | optimiser | seeds | lr-find lr (per seed) | test F1 | dev F1 | epochs | s/epoch |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        groups: dict[tuple[str, str, str], list[dict]] = {}
        for r in runs:
            groups.setdefault((r["corpus"], r.get("preset") or "default", r["optimizer"]), []).append(r)
        best = {}
        for (corpus, preset, _), group in groups.items():
            mean = statistics.mean(r["test"]["f1"] for r in group)
            best[corpus, preset] = max(best.get((corpus, preset), 0.0), mean)
        for (corpus, preset, optimiser), group in sorted(groups.items()):
            f1 = [r["test"]["f1"] for r in group]
            shown = mean_and_spread(f1)
            shown = f"**{shown}**" if statistics.mean(f1) == best[corpus, preset] else shown
            lrs = ", ".join(f"{r['lr_find']['suggested_lr']:.2g}" for r in group)
            lines.append(
                f"| {corpus} | {preset} | {optimiser} | {', '.join(str(r['seed']) for r in group)} | {lrs} | {shown} | "
                f"{statistics.mean(r['dev_f1'] for r in group):.4f} | "
                f"{statistics.mean(r['epochs'] for r in group):.0f} | "
                f"{statistics.mean(r['train_seconds_per_epoch'] for r in group):.1f} |"
            )
        lines += [""]
    if studies:
        lines += [
            "## Search: Gaussian process against TPE",
            "",
            "`tagger tune` over the default search space from the default config, one study per sampler (seeded by",
            "the config's seed; 10 random trials first in both); best dev F1 of the completed trials.",
            "",
            "| date (commit) | corpus | sampler | trials | epochs per trial | best dev F1 after 5 / 10 / all trials "
            "| best trial's values |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in studies:
            curve = r["best_so_far"]
            after = " / ".join(f"{curve[min(n, len(curve)) - 1]:.4f}" for n in (5, 10, len(curve)))
            params = r["best_params"].items()
            values = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params)
            lines.append(
                f"| {dated(r)} | {r['corpus']} | {r['sampler']} | {len(curve)} | {r['requested_config']['epochs']} | "
                f"{after} | {values} |"
            )
        lines += [""]
    if not lines:
        return []
    return lines + ["Commands:", ""] + sorted({f"- `{r['command']}`" for r in results}) + [""]


def plot_ablation(groups: dict[tuple[str, str], list[dict]], path: Path) -> None:
    """A panel per corpus: mean test F1 per variant with its spread, and each seed's F1."""
    corpora = sorted({corpus for corpus, _ in groups})
    with png_figure(path, 1, len(corpora), figsize=(5 * len(corpora), 3.5), dpi=100, squeeze=False) as (_, axes):
        for axis, corpus in zip(axes[0], corpora):
            variants = sorted(variant for name, variant in groups if name == corpus)
            f1 = [[r["test"]["f1"] for r in groups[corpus, variant]] for variant in variants]
            spread = [statistics.stdev(values) if len(values) > 1 else 0.0 for values in f1]
            axis.bar(variants, [statistics.mean(v) for v in f1], yerr=spread, color="tab:blue", alpha=0.6, capsize=4)
            for x, values in enumerate(f1):
                axis.scatter([x] * len(values), values, color="black", s=12, zorder=3)
            low = min(min(values) for values in f1)
            axis.set_ylim(low - 0.03, max(max(values) for values in f1) + 0.02)
            axis.set_title(corpus)
            axis.set_ylabel("test entity F1")
            axis.tick_params(axis="x", labelsize="small")


def plot_transfer(result: dict, path: Path) -> None:
    """Test F1 against the fraction of target train, from scratch and from the source model, with spreads."""
    fractions = sorted(result["summary"], key=float)
    with png_figure(path, figsize=(5, 3.5), dpi=100) as (_, axis):
        for start, label, colour in (("scratch", "from scratch", "tab:grey"), ("source", "transferred", "tab:red")):
            means = [result["summary"][f][start]["test_f1_mean"] for f in fractions]
            spreads = [result["summary"][f][start]["test_f1_std"] for f in fractions]
            xs = [100 * float(f) for f in fractions]
            axis.errorbar(xs, means, yerr=spreads, marker="o", capsize=4, color=colour, label=label)
        axis.set_xlabel(f"% of {result['target_corpus']} train")
        axis.set_ylabel("test entity F1")
        axis.set_title(f"{result['source_corpus']} → {result['target_corpus']}")
        axis.legend(fontsize="small")


if __name__ == "__main__":
    main()

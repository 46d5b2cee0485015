"""Accuracy of the shipped presets, over seeds, on the corpora the issue names; and the ablation behind them.

    python scripts/benchmark_accuracy.py                               # both presets, three corpora, seeds 1-3
    python scripts/benchmark_accuracy.py --corpus ncbi-disease --preset accurate --seeds 1
    python scripts/benchmark_accuracy.py --corpus ncbi-disease --ablation   # the rows of the ablation table
    python scripts/benchmark_accuracy.py --corpus bc5cdr --ablation "+ char LM"   # one of them
    python scripts/benchmark_accuracy.py --corpus ncbi-disease --preset fast --set hidden=100 --variant "hidden 100"
    python scripts/benchmark_accuracy.py --corpus ncbi-disease bc5cdr --preset fast --jointly   # one model, two heads
    python scripts/benchmark_accuracy.py --corpus ncbi-disease --preset fast --seeds 1 2 3 4 5 6 7 8 9 \\
        --combine 3 --keep runs/accuracy                               # and three ensembles of three, trained apart
    python scripts/benchmark_accuracy.py --corpus ncbi-disease --preset fast --set epochs=1 \\
        --results /tmp/accuracy                                        # a quick check of the script

Each training takes the preset's config for the corpus' domain (``tagger train --preset NAME
--corpus CORPUS``) with the seed, early-stops on the dev split (a corpus without one holds
out 10% of train by the seed), and with ``--refit`` (the default; the train+dev protocol of
the published figures in ANCHORS) then trains afresh on train + dev for the best epoch count.
The test split is scored once. NCBI-disease models are also scored on the raw text of the
original release (``ncbi-disease-pubtator/test.pubtator``: our sentence splitter and the
model's tokenizer, exact character spans, every mention type read as Disease).

One file per seed goes to ``RESULTS/seeds/``; after each seed, ``RESULTS/<corpus>-<name>.json``
gathers the seeds recorded with the same config and protocol (test F1 per seed, mean, spread,
inference speed at batch 256, training time). A seed already recorded is skipped, so an
interrupted run goes on where it stopped. ``--jointly`` trains the corpora together, one model with a head
per corpus (``tagger train --corpus A --corpus B``), and files each corpus' scores, by its own head, under
``PRESET multi-corpus``. ``--silver FILE`` joins the silver sentences of FILE (``tagger silver``: raw text a model
tagged confidently) to the training corpus, as ``tagger train --silver`` does (self-training), filed under
``PRESET self-training``. ``--lessons FILE`` trains beside a teacher's posteriors on raw text (``tagger teach``), as
``tagger train --lessons`` does (knowledge distillation), filed under ``PRESET distilled``; a preset that names
lessons for the corpus (``presets.lessons``) trains beside them, filed under its own name. ``--combine N`` also
files, for each N seeds in turn, the ensemble of their models (``tagger ensemble``: trained apart, each with its own
early stopping) under ``PRESET ensemble of N apart``, scored as a seed's model is. ``--ablation`` trains the rows
of the ablation that are no preset (``ABLATION``): the fast preset without its in-domain vectors, and with the
domain's character LM. ``python scripts/benchmark.py --render`` renders the tables into ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
from pathlib import Path

from benchmark import DATA_DIR, RESULTS, inference_speed, provenance, read_splits, render, run_jointly, test_scores

from tagger import Tagger, TaggerConfig, catalogue, presets
from tagger.config import ConfigError
from tagger.corpus import Corpus
from tagger.distillation import Lessons
from tagger.ensembles import combined
from tagger.evaluation import raw_text_scores
from tagger.files import atomic_write
from tagger.formats import read_corpus

ACCURACY = RESULTS / "accuracy"
CORPORA = ("ncbi-disease", "bc5cdr", "semeval14-laptop")
DISEASE = {
    "SpecificDisease": "Disease",
    "DiseaseClass": "Disease",
    "Modifier": "Disease",
    "CompositeMention": "Disease",
}
RAW_TEXT = {"ncbi-disease": ("ncbi-disease-pubtator/test.pubtator", DISEASE)}  # file, label map
# Rows of the ablation that are no preset: the fast preset without its vectors, and with the domain's shipped
# character LM. The other rows are presets: + vectors at scale is fast, + ensemble is accurate (and + multi-corpus
# is fast --jointly).
DOMAIN_LMS = {"biomedical": "biomedical-256", "reviews": "reviews-256"}
ABLATION = ("no unlabelled text", "+ char LM")
INFER_BATCH = "256"
JOINTLY = "multi-corpus"  # what --jointly adds to the name its results are filed under
SELF_TRAINING = "self-training"  # what --silver adds to it
DISTILLED = "distilled"  # what --lessons adds to it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", nargs="+", choices=CORPORA, default=list(CORPORA))
    parser.add_argument("--preset", nargs="+", choices=presets.names(), default=presets.names())
    parser.add_argument(
        "--ablation",
        nargs="*",
        choices=ABLATION,
        help="train the ablation rows (by default all of them) instead of the presets",
    )
    parser.add_argument(
        "--jointly", action="store_true", help="train the corpora together, one model with a head per corpus"
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--no-refit", dest="refit", action="store_false", help="test the early-stopped model")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    parser.add_argument(
        "--variant", help="file the results as PRESET VARIANT (a config changed by --set, e.g. 'hidden 100')"
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="local mirror of the catalogue's corpora")
    parser.add_argument("--results", type=Path, default=ACCURACY)
    parser.add_argument("--keep", type=Path, help="keep each training's output in KEEP/<corpus>-<name>-seed<N>")
    parser.add_argument(
        "--silver",
        type=Path,
        metavar="FILE",
        help=f"join FILE's silver sentences (tagger silver) to the training corpus; filed as PRESET {SELF_TRAINING}",
    )
    parser.add_argument(
        "--combine",
        type=int,
        metavar="N",
        help="also file the ensemble (tagger ensemble) of each N seeds' models in turn, trained apart (needs --keep)",
    )
    parser.add_argument(
        "--lessons",
        type=Path,
        metavar="FILE",
        help=f"train beside FILE's lessons (tagger teach: a teacher's posteriors); filed as PRESET {DISTILLED}",
    )
    args = parser.parse_args()
    if args.combine and (args.jointly or not args.keep or args.combine < 2 or len(args.seeds) % args.combine):
        parser.error("--combine N takes N >= 2 dividing the seeds' count, one corpus at a time, and --keep")
    if (args.silver or args.lessons) and (args.jointly or len(args.corpus) > 1):
        parser.error("--silver and --lessons join one corpus: give one --corpus, without --jointly")
    silver = read_corpus(args.silver) if args.silver else None
    lessons = Lessons.load(args.lessons) if args.lessons else None
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    groups = [args.corpus] if args.jointly else [[corpus] for corpus in args.corpus]
    for corpora in groups:
        for name, values in trainings(corpora, args.preset, args.ablation).items():
            added = [*([JOINTLY] if args.jointly else []), *([SELF_TRAINING] if silver else [])]
            added += [DISTILLED] if lessons else []
            taught = lessons or preset_lessons(name, corpora, args.ablation)
            name = " ".join([name, *added, *([args.variant] if args.variant else [])])
            for seed in args.seeds:
                config = TaggerConfig.from_dict(values).with_overrides([*args.set, f"seed={seed}"])
                records = seed_results(
                    args.results, corpora, name, config, args.refit, args.data_dir, args.keep, silver, taught
                )
                for corpus, record in records.items():
                    summary = summarise(args.results, corpus, name, record)
                    print(f"{corpus} {name} seed {seed}: test F1 {record['test']['f1']:.4f}; summary in {summary}")
            for start in range(0, len(args.seeds) if args.combine else 0, args.combine or 1):
                seeds = args.seeds[start : start + args.combine]
                record = ensemble_results(args.results, corpora[0], name, seeds, args.refit, args.data_dir, args.keep)
                summary = summarise(args.results, corpora[0], record["preset"], record)
                print(f"{corpora[0]} {record['preset']} {seeds}: test F1 {record['test']['f1']:.4f}; in {summary}")
    if args.results == ACCURACY:
        render()


def trainings(corpora: list[str], names: list[str], ablation: list[str] | None) -> dict[str, dict]:
    """The config values of each training to run on ``corpora`` (of one domain), by the name its results are filed
    under: the presets ``names``, or with ``ablation`` (a list) those rows of the ablation, all of them when empty."""
    domains = {catalogue.entry(corpus).domain for corpus in corpora}
    if len(domains) > 1:
        raise SystemExit(f"corpora of different domains ({', '.join(sorted(domains))}) share no preset resources")
    (domain,) = domains
    if ablation is None:
        corpus = corpora[0] if len(corpora) == 1 else None  # a corpus trained alone takes its own preset values
        return {name: presets.values(name, domain, corpus) for name in names}
    fast = presets.values("fast", domain)
    no_vectors = {key: value for key, value in fast.items() if key != "vectors"}
    with_lm = {**fast, "char_lm": str(presets.package_dir("lms") / DOMAIN_LMS[domain])}
    rows = dict(zip(ABLATION, (no_vectors, with_lm)))
    return {name: rows[name] for name in ablation or ABLATION}


def preset_lessons(name: str, corpora: list[str], ablation: list[str] | None) -> Lessons | None:
    """The lessons preset ``name`` trains its one corpus beside (``presets.lessons``), as ``tagger train --preset``
    takes them; none for the ablation's rows or corpora trained together."""
    path = presets.lessons(name, corpora[0]) if ablation is None and len(corpora) == 1 else None
    return Lessons.load(path) if path else None


def seed_results(
    results: Path,
    corpora: list[str],
    name: str,
    config: TaggerConfig,
    refit: bool,
    data_dir: Path,
    keep: Path | None,
    silver: Corpus | None = None,
    lessons: Lessons | None = None,
) -> dict[str, dict]:
    """Each corpus' record of one seed, ``corpora`` trained together (with ``silver`` sentences joined, or beside
    ``lessons``): read from
    ``results/seeds`` when all are there, else trained (its output in ``keep``, when given), tested and written
    there."""
    paths = {corpus: seed_file(results, corpus, name, config.seed) for corpus in corpora}
    recorded = {corpus: json.loads(path.read_text()) for corpus, path in paths.items() if path.is_file()}
    if all(
        corpus in recorded
        and normalised(recorded[corpus]["requested_config"]) == config.to_dict()
        and recorded[corpus]["refit"] == refit
        and recorded[corpus].get("silver", {}).get("source") == (silver and silver.source)
        and recorded[corpus].get("lessons", {}).get("fingerprint") == (lessons and lessons.fingerprint())
        for corpus in corpora
    ):
        logging.info("%s %s seed %d: already recorded in %s", "+".join(corpora), name, config.seed, results / "seeds")
        return recorded
    logging.info("%s %s seed %d: training", "+".join(corpora), name, config.seed)
    records = {}
    with tempfile.TemporaryDirectory() as scratch:
        output = keep / run_name(corpora, name, config.seed) if keep else Path(scratch)
        for corpus, result in run_jointly(corpora, data_dir, config, refit, output, silver, lessons).items():
            record = {"preset": name, **result, "requested_config": config.to_dict(), "refit": refit}
            if lessons is not None:
                record["lessons"] = {"sentences": len(lessons), "fingerprint": lessons.fingerprint()}
            if corpus in RAW_TEXT:
                model = Tagger.load(final_model(output, refit))
                record["raw_text_test"] = raw_text_test(model, corpus, data_dir, corpus)
            with atomic_write(paths[corpus]) as out:
                json.dump(record, out, indent=2)
            records[corpus] = record
    return records


def normalised(requested: dict) -> dict:
    """A record's requested config as it would be written today: a key added since counts at its default."""
    try:
        return TaggerConfig.from_dict(requested).to_dict()
    except ConfigError:  # a key since removed: as it was
        return requested


def seed_file(results: Path, corpus: str, name: str, seed: int | str) -> Path:
    """Where a seed's record of ``name`` on ``corpus`` is filed (an ensemble's: by its members' seeds)."""
    return results / "seeds" / f"{corpus}-{file_name(name)}-seed{seed}.json"


def run_name(corpora: list[str], name: str, seed: int) -> str:
    """The folder of a seed's training in ``--keep``."""
    return f"{'+'.join(corpora)}-{file_name(name)}-seed{seed}"


def final_model(output: Path, refit: bool) -> Path:
    """The model a training in ``output`` ends with: the refitted one, with ``refit``."""
    return output / ("refit/model" if refit else "model")


def raw_text_test(model: Tagger, corpus: str, data_dir: Path, head: str | None = None) -> dict:
    """``model``'s scores (by its head ``head``; a model of one head needs none) on the raw text of ``corpus``'
    original release (``RAW_TEXT``)."""
    file, label_map = RAW_TEXT[corpus]
    return raw_text_scores(model, data_dir / file, label_map, head=head)


def ensemble_results(
    results: Path, corpus: str, name: str, seeds: list[int], refit: bool, data_dir: Path, keep: Path
) -> dict:
    """The record of the ensemble (``ensembles.combined``) of the models that the seeds ``seeds`` of ``name``
    trained apart, kept in ``keep``; scored and timed as a seed's model is, filed under ``NAME ensemble of N
    apart`` by its members' seeds (``1+2+3``). Read from ``results/seeds`` when recorded from the same members."""
    combined_name = f"{name} ensemble of {len(seeds)} apart"
    path = seed_file(results, corpus, combined_name, "+".join(map(str, seeds)))
    members = [json.loads(seed_file(results, corpus, name, seed).read_text()) for seed in seeds]
    facts = [
        {"seed": seed, "date": member["date"], "test_f1": member["test"]["f1"]} for seed, member in zip(seeds, members)
    ]
    recorded = json.loads(path.read_text()) if path.is_file() else {}
    if recorded.get("members") == facts:
        return recorded
    directories = [final_model(keep / run_name([corpus], name, seed), refit) for seed in seeds]
    tagger = combined([Tagger.load(directory) for directory in directories], [str(d) for d in directories])
    config = TaggerConfig.from_dict(members[0]["requested_config"])
    _, _, test = read_splits(corpus, data_dir, config)
    record = {
        "corpus": corpus,
        "preset": combined_name,
        **provenance(),
        **test_scores(tagger, test),
        "requested_config": {**members[0]["requested_config"], "ensemble": len(seeds)},
        "refit": refit,
        "config": tagger.config.to_dict(),
        "members": facts,
        "best_epoch": "/".join(str(member["best_epoch"]) for member in members),
        "train_seconds_total": round(sum(member["train_seconds_total"] for member in members), 1),
        "infer_tokens_per_second": {INFER_BATCH: inference_speed(tagger, test, int(INFER_BATCH))},
    }
    if corpus in RAW_TEXT:
        record["raw_text_test"] = raw_text_test(tagger, corpus, data_dir)
    with atomic_write(path) as out:
        json.dump(record, out, indent=2)
    return record


def training(record: dict) -> tuple[str, bool]:
    """What a seed's record was trained with, its seed aside: the config and the protocol."""
    config = {key: value for key, value in normalised(record["requested_config"]).items() if key != "seed"}
    return json.dumps(config, sort_keys=True), record["refit"]


def summarise(results: Path, corpus: str, name: str, latest: dict) -> Path:
    """Write ``results/<corpus>-<name>.json`` from the seeds recorded with the training of ``latest``."""
    paths = (results / "seeds").glob(f"{corpus}-{file_name(name)}-seed*.json")
    seeds = [record for record in map(json.loads, map(Path.read_text, paths)) if training(record) == training(latest)]
    seeds.sort(key=trained_seeds)
    f1 = [record["test"]["f1"] for record in seeds]
    summary = {
        "corpus": corpus,
        "preset": name,
        "seeds": [record["requested_config"]["seed"] for record in seeds],
        "test_f1": f1,
        "test_f1_mean": statistics.mean(f1),
        "test_f1_std": statistics.stdev(f1) if len(f1) > 1 else 0.0,
        "infer_tokens_per_second": statistics.mean(r["infer_tokens_per_second"][INFER_BATCH] for r in seeds),
        "train_seconds_total": round(sum(record["train_seconds_total"] for record in seeds), 1),
        "protocol": protocol(seeds),
        **{key: latest[key] for key in ("date", "commit", "command", "machine", "versions", "config")},
    }
    if all("members" in record for record in seeds):
        summary["member_seeds"] = [trained_seeds(record) for record in seeds]
    if all("raw_text_test" in record for record in seeds):
        summary["raw_text_test_f1"] = [record["raw_text_test"]["f1"] for record in seeds]
    path = results / f"{corpus}-{file_name(name)}.json"
    with atomic_write(path) as out:
        json.dump(summary, out, indent=2)
    return path


def trained_seeds(record: dict) -> list[int]:
    """The seeds a record's model was trained with: an ensemble's members', else its own."""
    if "members" in record:
        return [member["seed"] for member in record["members"]]
    return [record["requested_config"]["seed"]]


def protocol(seeds: list[dict]) -> str:
    """How the seeds' models were trained, with each seed's epoch count."""
    epochs = ", ".join(str(record["best_epoch"]) for record in seeds)
    if seeds[0]["refit"] and seeds[0]["requested_config"].get("refit_epochs"):
        return f"train + dev for a set epoch count, no early stopping ({epochs})"
    if seeds[0]["refit"]:
        return f"early stopping on dev, then refit on train + dev for the best epoch count ({epochs})"
    return f"early stopping on dev (best epochs {epochs})"


def file_name(name: str) -> str:
    """``+ char LM`` as ``plus-char-lm``: a preset or ablation row as a file name."""
    return name.replace("+", "plus").replace(" ", "-").lower()


if __name__ == "__main__":
    main()

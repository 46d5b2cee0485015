"""What do character encoders and in-domain word vectors buy? Test F1 over seeds per variant.

    python scripts/benchmark_ablation.py                       # every corpus and variant, seeds 1-3
    python scripts/benchmark_ablation.py --corpus semeval14-laptop --variant char-cnn --seeds 1
    python scripts/benchmark_ablation.py --corpus ncbi-disease --seeds 1 --set epochs=1 --set hidden=16 \\
        --results /tmp/ablation                                # a quick check of the script

Each variant is the default config with a few keys changed (``VARIANTS``). For each corpus,
variant and seed, a model is trained with that seed, early-stopping on the dev split (for
a corpus without one, 10% of train held out by the seed, as ``tagger train`` does) and
scored once on the test split. The ``+w2v`` variants read skip-gram vectors trained on
``../shared/unlabelled/biomedical-sentences.txt``; without ``--vectors`` they are trained
first (``tagger embeddings train`` with its defaults, 100 dimensions) into ``vectors/``.
Every training writes one JSON file to ``benchmarks/results/ablation/``; a training whose
corpus, variant, seed and config already have a result is skipped, so an interrupted run
continues where it stopped. ``python scripts/benchmark.py --render`` tabulates them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
from pathlib import Path

from benchmark import CORPORA, DATA_DIR, provenance, read_splits, train_and_test, write_result

from tagger import TaggerConfig

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "ablation"
UNLABELLED = ROOT.parent / "shared" / "unlabelled" / "biomedical-sentences.txt"
ABLATED = ("ncbi-disease", "semeval14-laptop")
VARIANTS = {
    "char-lstm": [],  # the default config
    "char-cnn": ["char_encoder=cnn"],
    "char-lstm+w2v": ["vectors={vectors}"],
    "char-cnn+w2v": ["char_encoder=cnn", "vectors={vectors}"],
}
VECTOR_SETTINGS = {"algorithm": "word2vec", "dim": 100}  # the rest: tagger embeddings train's defaults


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", nargs="+", choices=CORPORA, metavar="NAME", default=ABLATED)
    parser.add_argument("--variant", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..SEEDS")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value of every training"
    )
    parser.add_argument("--vectors", type=Path, help="word vectors for the +w2v variants; default: trained here")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="local mirror of the catalogue's corpora")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    vectors = args.vectors
    if vectors is None and any("+w2v" in variant for variant in args.variant):
        vectors = in_domain_vectors(ROOT / "vectors" / "bio-w2v.bin")
    for corpus in args.corpus:
        for variant in args.variant:
            for seed in range(1, args.seeds + 1):
                overrides = [o.format(vectors=vectors and vectors.resolve()) for o in VARIANTS[variant]]
                config = TaggerConfig().with_overrides([*overrides, *args.set, f"seed={seed}"])
                if recorded(args.results, corpus, variant, config):
                    logging.info("%s %s seed %d: already recorded, skipped", corpus, variant, seed)
                    continue
                logging.info("%s %s seed %d: training", corpus, variant, seed)
                result = run(corpus, variant, config, args.data_dir)
                print(f"wrote {write_result(result, args.results, f'{corpus}-{variant}-seed{seed}')}")


def in_domain_vectors(path: Path) -> Path:
    """``path``, trained first from ``UNLABELLED`` with ``VECTOR_SETTINGS`` if it is not there."""
    if path.is_file():
        return path
    from tagger import vector_training

    logging.info("training %s vectors on %s into %s", VECTOR_SETTINGS["algorithm"], UNLABELLED, path)
    model = vector_training.train_vectors(UNLABELLED, **VECTOR_SETTINGS, threads=os.cpu_count() or 1)
    vector_training.save_vectors(model, path)
    return path


def run(corpus: str, variant: str, config: TaggerConfig, data_dir: Path) -> dict:
    """Train and test one model; the result record."""
    train, dev, test = read_splits(corpus, data_dir, config)
    with tempfile.TemporaryDirectory() as output:
        record = train_and_test(config, train, dev, test, Path(output))
    return {
        "corpus": corpus,
        "variant": variant,
        "seed": config.seed,
        **provenance(),
        "requested_config": config.to_dict(),
        **record,
        "vector_settings": VECTOR_SETTINGS if config.vectors else None,
    }


def recorded(results: Path, corpus: str, variant: str, config: TaggerConfig) -> bool:
    """Whether a result of ``corpus`` and ``variant`` with exactly ``config`` is in ``results``."""
    for path in results.glob(f"{corpus}-{variant}-seed{config.seed}-*.json"):
        if json.loads(path.read_text())["requested_config"] == config.to_dict():
            return True
    return False


if __name__ == "__main__":
    main()

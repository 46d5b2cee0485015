"""Does int8 dynamic quantisation pay? Released models, float and quantised, on their corpus' test split.

    python scripts/benchmark_quantization.py                            # the three fast models
    python scripts/benchmark_quantization.py --models ncbi-disease bc5cdr-fast --passes 5

For each named model: the float model and its int8 copy as ``tagger quantize`` writes it (saved, then loaded
again), the test F1 of each (seqeval, default mode, the corpus' scheme), how many test tokens get the same tag,
and ``predict``'s tokens/s at batch 256 with confidences: the best of ``--passes`` passes after a warm-up, the
two models timed in turns in one process. One JSON file per model goes to ``benchmarks/results/quantization/``
and ``benchmarks/README.md`` is re-rendered.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from functools import partial
from pathlib import Path

import torch
from benchmark import DATA_DIR, RESULTS, best_rate, cold_predict, provenance, read_splits, render, write_result

from tagger import Tagger
from tagger.evaluation import evaluate
from tagger.named_models import entry, resolve

QUANTIZATION = RESULTS / "quantization"
BATCH = 256


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    fast = ["ncbi-disease-fast", "bc5cdr-fast", "semeval14-laptop-fast"]
    parser.add_argument("--models", nargs="+", default=fast, metavar="NAME", help="named models (tagger models list)")
    parser.add_argument("--passes", type=int, default=3, help="timed passes per model and round")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="local mirror of the catalogue's corpora")
    parser.add_argument("--results", type=Path, default=QUANTIZATION)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    for name in args.models:
        result = compare(name, args)
        print(f"wrote {write_result(result, args.results, name)}")
    if args.results == QUANTIZATION:
        render()


def compare(name: str, args: argparse.Namespace) -> dict:
    """The float model ``name`` against its int8 copy: scores, tag agreement and speed, as a result record."""
    float_model = Tagger.load(name)
    with tempfile.TemporaryDirectory() as scratch:
        Tagger.load(name).quantize().save(scratch)
        int8_model = Tagger.load(scratch)
    corpus = entry(name).corpus
    test = read_splits(corpus, args.data_dir, float_model.config)[2]
    sentences = [s.tokens for s in test]
    models = {"float": float_model, "int8": int8_model}
    scores = {kind: evaluate(model, test)[0] for kind, model in models.items()}
    tags = {kind: [t for p in model.predict(sentences, BATCH) for t in p.tags] for kind, model in models.items()}
    rates: dict[str, int] = {}
    for _ in range(2):  # in turns, so that both see the same moments of a shared machine
        for kind, model in models.items():
            rate = best_rate(partial(cold_predict, model, sentences, BATCH), sentences, args.passes)
            rates[kind] = max(rates.get(kind, 0), rate)
    same = sum(a == b for a, b in zip(tags["float"], tags["int8"])) / len(tags["float"])
    logging.info(
        "%s: F1 %s, tokens/s %s, same tags %.4f", name, {k: round(v["f1"], 4) for k, v in scores.items()}, rates, same
    )
    return {
        "model": name,
        "corpus": corpus,
        "path": str(resolve(name)),
        **provenance(),
        "threads": args.threads,
        "passes": args.passes,
        "batch_size": BATCH,
        "test_tokens": len(tags["float"]),
        "test": {kind: {key: s[key] for key in ("precision", "recall", "f1")} for kind, s in scores.items()},
        "same_tags": round(same, 5),
        "predict_tokens_per_second": rates,
        "speedup": round(rates["int8"] / rates["float"], 3),
    }


if __name__ == "__main__":
    main()

"""Does lower precision pay? Released models, float and quantised (int8, bf16), on their corpus' test split.

    python scripts/benchmark_quantization.py                            # the three fast models, int8 and bf16
    python scripts/benchmark_quantization.py --models ncbi-disease bc5cdr-fast --schemes bf16 --passes 5

For each named model and scheme: the float model and its copy as ``tagger quantize --scheme SCHEME`` writes it
(saved, then loaded again), the test F1 of each (seqeval, default mode, the corpus' scheme), how many test tokens
get the same tag, and ``predict``'s tokens/s at batch 256 with confidences: the best of ``--passes`` passes after
a warm-up, the two models timed in turns in one process. One JSON file per model and scheme goes to
``benchmarks/results/quantization/``, with whether the CPU has bfloat16 arithmetic, and ``benchmarks/README.md``
is re-rendered.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from functools import partial
from pathlib import Path

import torch
from benchmark import (
    DATA_DIR,
    RESULTS,
    best_rate,
    cold_predict,
    cpu_bf16,
    provenance,
    read_splits,
    render,
    write_result,
)

from tagger import Tagger
from tagger.evaluation import evaluate
from tagger.named_models import entry, resolve
from tagger.quantization import QUANTIZATIONS

QUANTIZATION = RESULTS / "quantization"
BATCH = 256


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    fast = ["ncbi-disease-fast", "bc5cdr-fast", "semeval14-laptop-fast"]
    parser.add_argument("--models", nargs="+", default=fast, metavar="NAME", help="named models (tagger models list)")
    parser.add_argument("--schemes", nargs="+", choices=QUANTIZATIONS, default=list(QUANTIZATIONS))
    parser.add_argument("--passes", type=int, default=3, help="timed passes per model and round")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="local mirror of the catalogue's corpora")
    parser.add_argument("--results", type=Path, default=QUANTIZATION)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    for name in args.models:
        for scheme in args.schemes:
            result = compare(name, scheme, args)
            print(f"wrote {write_result(result, args.results, f'{name}-{scheme}')}")
    if args.results == QUANTIZATION:
        render()


def compare(name: str, scheme: str, args: argparse.Namespace) -> dict:
    """The float model ``name`` against its copy in ``scheme``: scores, tag agreement and speed, as a result
    record."""
    float_model = Tagger.load(name)
    with tempfile.TemporaryDirectory() as scratch:
        Tagger.load(name).quantize(scheme).save(scratch)
        quantised = Tagger.load(scratch)
    corpus = entry(name).corpus
    test = read_splits(corpus, args.data_dir, float_model.config)[2]
    sentences = [s.tokens for s in test]
    models = {"float": float_model, scheme: quantised}
    scores = {kind: evaluate(model, test)[0] for kind, model in models.items()}
    tags = {kind: [t for p in model.predict(sentences, BATCH) for t in p.tags] for kind, model in models.items()}
    rates: dict[str, int] = {}
    for _ in range(2):  # in turns, so that both see the same moments of a shared machine
        for kind, model in models.items():
            rate = best_rate(partial(cold_predict, model, sentences, BATCH), sentences, args.passes)
            rates[kind] = max(rates.get(kind, 0), rate)
    same = sum(a == b for a, b in zip(tags["float"], tags[scheme])) / len(tags["float"])
    logging.info(
        "%s: F1 %s, tokens/s %s, same tags %.4f", name, {k: round(v["f1"], 4) for k, v in scores.items()}, rates, same
    )
    return {
        "model": name,
        "scheme": scheme,
        "cpu_bf16": cpu_bf16(),
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
        "speedup": round(rates[scheme] / rates["float"], 3),
    }


if __name__ == "__main__":
    main()

"""Time prediction, training and annotation against the machine's limit and spaCy, in one process and one run.

    python scripts/benchmark_speed.py                       # NCBI-disease, both presets, 1 thread
    python scripts/benchmark_speed.py --presets fast --documents 0 --quick   # a quick look

On a corpus' test split, pre-tokenised, after one training epoch of each on its train split:
(a) ``Tagger.predict`` of each preset at batch 1, 32 and 256, with and without confidences (with a
character LM, also at 256 with the LM's features remembered from a pass before: the LM's share of the time); (b) a
bare bidirectional ``nn.LSTM`` of the fast preset's encoder size (random inputs of its input size) over
the same sentences, in the batches ``predict`` builds for a padded encoder (``MAX_PADDING``: its fastest
batches; ``predict`` pads more where it reads its encoder packed) and in plain sorted batches of 256: the
machine's limit for that model; (c) spaCy's NER of ``init config --optimize efficiency``, trained one
epoch on the same train split, ``nlp.pipe`` over the same sentences as ``Doc``s; (d) the seconds of
that one training epoch, ours and spaCy's; (e) ``tagger annotate`` end to end on ``--documents`` raw
documents with 1 and 2 processes (``benchmark_annotate.py``'s corpus and timing; the fastest of ``--passes``
runs), and once with 1 process on ``--memory-documents`` documents, to compare peak memory; (f) for each of
``--schemes``, each preset's copy in that precision (``tagger quantize``) at batch 256 with confidences, and
for bf16 the bare LSTM in bfloat16 too (whether the CPU has bfloat16 arithmetic is recorded). A rate is the
best of ``--passes`` timed passes after a warm-up pass. Every rate, the ratios to the bare LSTM and to
spaCy, and the peak memory go to one JSON file in ``benchmarks/results/speed/``, with the machine,
threads, versions and commit; ``scripts/benchmark.py --render`` puts them in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import tempfile
import time
from functools import partial
from pathlib import Path

import torch
from benchmark import (
    BATCH_1_SENTENCES,
    DATA_DIR,
    annotate_ratios,
    best_rate,
    cold_predict,
    cpu_bf16,
    members,
    provenance,
    read_splits,
    render,
    train_recipe,
    write_result,
)
from benchmark_annotate import build_corpus
from benchmark_annotate import run as run_annotate

from tagger import Tagger, TaggerConfig, catalogue, presets
from tagger.batching import length_batches
from tagger.corpus import Corpus
from tagger.quantization import QUANTIZATIONS

# the keys of each preset's config its record holds
RECORDED = ("hidden", "layers", "char_encoder", "char_hidden", "word_dim", "ensemble", "ensemble_apart", "init_from")
RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "speed"
BATCH_SIZES = (1, 32, 256)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="ncbi-disease", help="catalogue corpus (default: %(default)s)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="where the corpora lie")
    parser.add_argument("--presets", nargs="+", default=["fast", "accurate"], choices=presets.names())
    parser.add_argument("--threads", type=int, default=1, help="torch threads, set once (default: %(default)s)")
    parser.add_argument("--passes", type=int, default=3, help="timed passes per rate (default: %(default)s)")
    parser.add_argument("--documents", type=int, default=10_000, help="annotate corpus size; 0 skips (e)")
    parser.add_argument(
        "--memory-documents", type=int, default=40_000, help="a larger annotate corpus, for peak memory; 0 skips"
    )
    parser.add_argument("--quick", action="store_true", help="a fifth of the test split, no batch 1; not saved")
    parser.add_argument(
        "--schemes",
        nargs="*",
        choices=QUANTIZATIONS,
        default=["bf16"],
        help="also time each preset's copy in these precisions (tagger quantize), and the bare LSTM in bf16 "
        "(default: %(default)s; none: --schemes)",
    )
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = {"corpus": args.corpus, **provenance(), "threads": args.threads, "passes": args.passes, "set": args.set}
    result["cpu_bf16"] = cpu_bf16()
    domain = catalogue.entry(args.corpus).domain
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        models = {}
        for preset in args.presets:
            config = TaggerConfig(**presets.values(preset, domain, args.corpus)).with_overrides(
                [*args.set, f"threads={args.threads}", "epochs=1", f"seed={args.seed}"]
            )
            train, dev, test = read_splits(args.corpus, args.data_dir, config)
            sentences = [s.tokens for s in test]
            if args.quick:
                sentences = sentences[: len(sentences) // 5]
            models[preset], result[preset] = time_preset(config, train, dev, test, sentences, scratch / preset, args)
            share = result[preset].get("lm_share")
            shown = "" if share is None else f", LM share {share}"
            print(f"{preset}: {json.dumps(result[preset]['predict'])}{shown}")
        if "fast" in models:
            result["bare_lstm"] = time_bare_lstm(models["fast"], sentences, args.passes, "bf16" in args.schemes)
            print(f"bare LSTM: {json.dumps(result['bare_lstm'])}")
        result["spacy"] = time_spacy(train, sentences, args.passes)
        print(f"spaCy: {json.dumps(result['spacy'])}")
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        result["ratios"] = ratios(result)
        if args.documents and "fast" in models:
            result["annotate"] = time_annotate(scratch / "fast" / "model", args, scratch)
            result["ratios"] |= annotate_ratios(result)
    print(f"ratios: {json.dumps(result['ratios'])}")
    if not args.quick:  # a quick look is not a measurement of the corpus
        print(f"-> {write_result(result, RESULTS, f'speed-{args.corpus}')}")
        render()


def time_preset(
    config: TaggerConfig, train: Corpus, dev: Corpus, test: Corpus, sentences: list[list[str]], output: Path, args
) -> tuple[Tagger, dict]:
    """One training epoch of ``config`` on ``train`` as ``tagger train`` trains it (each member's, of an ensemble
    trained apart; from ``init_from``, where the preset starts from a model), then ``predict``'s rates on
    ``sentences``."""
    trained = train_recipe(config, train, dev, test, output)
    tagger = Tagger.load(trained.early)
    seconds = sum(member.result.history[0].seconds for member in members(trained))
    record = {
        "config": {key: getattr(config, key) for key in RECORDED},
        "char_lm": bool(config.char_lm),
        "train_epoch_seconds": round(seconds, 1),
        "train_tokens_per_second": round(sum(len(s) for s in train) / seconds),
        "predict": {},
    }
    for confidences in (True, False):
        for batch_size in BATCH_SIZES if not args.quick else BATCH_SIZES[1:]:
            chosen = sentences[:BATCH_1_SENTENCES] if batch_size == 1 else sentences
            rate = best_rate(partial(cold_predict, tagger, chosen, batch_size, confidences), chosen, args.passes)
            record["predict"][f"b{batch_size}{'' if confidences else '_no_confidences'}"] = rate
    if config.char_lm:  # the LM's share of predict's time: the rate with its features remembered from a pass before
        remembered = best_rate(partial(tagger.predict, sentences, 256, True), sentences, args.passes)
        record["lm_share"] = round(1 - record["predict"]["b256"] / remembered, 3)
    for scheme in args.schemes:  # the model as a copy of tagger quantize --scheme SCHEME loads
        quantised = Tagger.load(output / "model").quantize(scheme)
        run = partial(cold_predict, quantised, sentences, 256, True)
        record["predict"][f"b256_{scheme}"] = best_rate(run, sentences, args.passes)
    return tagger, record


def time_bare_lstm(tagger: Tagger, sentences: list[list[str]], passes: int, bf16: bool = False) -> dict:
    """A bidirectional ``nn.LSTM`` of ``tagger``'s encoder size, inference only, over random inputs of the sentences'
    lengths: batched as ``predict`` batches 256 for a padded encoder, and in plain length-sorted batches of 256;
    with ``bf16``, also in bfloat16 as ``predict`` batches."""
    layer = tagger.model.encoder.layers[0].left_to_right
    lstm = torch.nn.LSTM(layer.input_size, layer.hidden_size, batch_first=True, bidirectional=True).eval()
    lengths = [len(s) for s in sentences]
    ordered = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    plans = {
        "b256_as_predict": list(length_batches(lengths, 256)),
        "b256_plain": [ordered[i : i + 256] for i in range(0, len(ordered), 256)],
    }
    record = {"input_size": layer.input_size, "hidden": layer.hidden_size}
    for name, batches in plans.items():
        inputs = [torch.randn(len(batch), max(lengths[i] for i in batch), layer.input_size) for batch in batches]

        def run(inputs=inputs, lstm=lstm):
            with torch.inference_mode():
                for x in inputs:
                    lstm(x)

        record[name] = best_rate(run, sentences, passes)
        if bf16 and name == "b256_as_predict":
            low = partial(run, [x.to(torch.bfloat16) for x in inputs], copy.deepcopy(lstm).to(torch.bfloat16))
            record[f"{name}_bf16"] = best_rate(low, sentences, passes)
    return record


def time_spacy(train: Corpus, sentences: list[list[str]], passes: int) -> dict:
    """spaCy's efficiency NER: one epoch on ``train`` (spaCy's default batches of 1,000 words), then ``nlp.pipe``."""
    import spacy
    from spacy.cli.init_config import init_config
    from spacy.tokens import Doc
    from spacy.training import Example
    from spacy.training.batchers import minibatch_by_words

    nlp = spacy.util.load_model_from_config(
        init_config(lang="en", pipeline=["ner"], optimize="efficiency"), auto_fill=True
    )
    examples = [
        Example(Doc(nlp.vocab, words=s.tokens), Doc(nlp.vocab, words=s.tokens, ents=s.tags))
        for s in train.in_scheme("IOB2")
    ]
    optimizer = nlp.initialize(lambda: examples)
    started = time.perf_counter()
    for batch in minibatch_by_words(examples, size=1000):
        nlp.update(batch, sgd=optimizer, drop=0.1)
    epoch = time.perf_counter() - started
    record = {
        "config": "init config --lang en --pipeline ner --optimize efficiency",
        "train_epoch_seconds": round(epoch, 1),
        "train_tokens_per_second": round(sum(len(s) for s in train) / epoch),
    }
    for batch_size in (32, 256):
        docs = [[Doc(nlp.vocab, words=s) for s in sentences] for _ in range(passes + 1)]  # made before the clock runs
        record[f"pipe_b{batch_size}"] = best_rate(partial(_pipe, nlp, docs, batch_size), sentences, passes)
    return record


def _pipe(nlp, unused: list, batch_size: int) -> list:
    """``nlp.pipe`` over the next of the ``unused`` lists of fresh docs."""
    return list(nlp.pipe(unused.pop(), batch_size=batch_size))


def time_annotate(model: Path, args, scratch: Path) -> dict:
    """``tagger annotate`` with the fast model on ``--documents`` raw documents, 1 and 2 processes (the fastest of
    ``--passes`` runs each), and once on ``--memory-documents`` with 1 process."""
    plans = [("n1", args.documents, 1, args.passes), ("n2", args.documents, 2, args.passes)]
    if args.memory_documents:
        plans.append(("n1_memory", args.memory_documents, 1, 1))
    runs = {}
    for name, size, processes, passes in plans:
        corpus = scratch / f"documents-{size}.jsonl"
        if not corpus.exists():
            documents = build_corpus(args.data_dir, size, args.seed)
            corpus.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in documents), encoding="utf-8")
        outputs = [scratch / f"out-{name}-{number}.jsonl" for number in range(passes)]  # each run from the start
        timed = [run_annotate(model, corpus, output, "local", processes, args.threads) for output in outputs]
        run = min(timed, key=lambda run: run["seconds"])
        runs[name] = {key: run[key] for key in ("documents", "tokens", "seconds", "tokens_per_second", "peak_rss_mb")}
        print(f"annotate {name}: {json.dumps(runs[name])}")
    return runs


def ratios(result: dict) -> dict:
    """Each preset's predict (batch 256, confidences on) over spaCy's pipe at 256 and over the bare LSTM."""
    found = {}
    for preset in ("fast", "accurate"):
        if preset in result:
            ours = result[preset]["predict"]["b256"]
            found[f"{preset}_over_spacy"] = round(ours / result["spacy"]["pipe_b256"], 2)
            if "bare_lstm" in result:
                for plan in ("b256_as_predict", "b256_plain"):
                    found[f"{preset}_over_bare_lstm_{plan}"] = round(ours / result["bare_lstm"][plan], 2)
            for scheme in QUANTIZATIONS:
                copy = result[preset]["predict"].get(f"b256_{scheme}")
                if copy:
                    found[f"{preset}_{scheme}_over_spacy"] = round(copy / result["spacy"]["pipe_b256"], 2)
                    bare = result.get("bare_lstm", {}).get(f"b256_as_predict_{scheme}")
                    if bare:
                        found[f"{preset}_{scheme}_over_bare_lstm_{scheme}"] = round(copy / bare, 2)
    return found


if __name__ == "__main__":
    main()

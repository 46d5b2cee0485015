"""Time ``tagger annotate`` end to end on a corpus of raw documents; record throughput and memory.

    python scripts/benchmark_annotate.py --model runs/ncbi/model
    python scripts/benchmark_annotate.py --model runs/ncbi/model --limit 300 --n-process 1   # a quick check
    python scripts/benchmark_annotate.py --model runs/ncbi/model --engine ray --workers 1 2  # a local Ray

The corpus: the test-split sentences of ../shared/corpora (NCBI-disease and BC5CDR
detokenised, SemEval-14 laptop texts as they are) grouped into documents of consecutive
sentences (1-10 for abstracts, 1-3 for reviews, seeded) until there are ``--documents``
of them. Each ``--n-process`` value of the local engine, and each ``--workers`` value of
the Ray engine (a local Ray that the command starts, whose start is timed too), runs the
real command line in a subprocess, timed from start to exit (model loading, tokenisation
and writing included), with the peak resident memory of its whole process tree (Ray's
processes included) sampled every 0.1 s. One JSON file per run goes to
``benchmarks/results/annotate/`` (apart from the training results, whose renderer expects
their fields).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from benchmark import provenance

from tagger import Tagger, TaggerConfig
from tagger.files import atomic_write
from tagger.formats import read_corpus

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "annotate"
CORPUS = "test splits of ncbi-disease, bc5cdr and semeval14-laptop as documents"
SENTENCES_PER_DOCUMENT = {"ncbi-disease": (1, 10), "bc5cdr": (1, 10), "semeval14-laptop": (1, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="model directory; default: the default config, untrained")
    parser.add_argument(
        "--data-dir", type=Path, default=ROOT.parent / "shared" / "corpora", help="where the corpora lie"
    )
    parser.add_argument("--documents", type=int, default=10_000, help="documents in the corpus")
    parser.add_argument("--limit", type=int, help="annotate only the first LIMIT documents (a quick check)")
    parser.add_argument(
        "--engine",
        choices=["local", "ray"],
        nargs="+",
        default=["local"],
        help="engines to time (ray: pip install -e '.[ray]')",
    )
    parser.add_argument("--n-process", type=int, nargs="+", default=[1, 2], help="process counts to time (local)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="actor counts to time (ray)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads per process (0: annotate's default)")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    documents = build_corpus(args.data_dir, args.limit or args.documents, args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        corpus = scratch / "corpus.jsonl"
        corpus.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in documents), encoding="utf-8")
        model = args.model or untrained_default_model(args.data_dir, scratch / "model")
        runs = [("local", n) for n in args.n_process if "local" in args.engine]
        runs += [("ray", n) for n in args.workers if "ray" in args.engine]
        for engine, count in runs:
            result = run(model, corpus, scratch / f"out-{engine}-{count}.jsonl", engine, count, args.threads)
            result["model"] = str(args.model) if args.model else "default config, untrained (speed only)"
            kind = f"n{count}" if engine == "local" else f"ray-w{count}"
            name = f"annotate-{kind}-{result['date'].replace(':', '').replace('-', '')}.json"
            with atomic_write(RESULTS / name) as out:
                json.dump(result, out, indent=2)
            print(
                f"{engine} x{count}: {result['documents']:,} documents, {result['tokens']:,} tokens in "
                f"{result['seconds']:.1f} s: {result['documents_per_second']:,.1f} documents/s, "
                f"{result['tokens_per_second']:,.0f} tokens/s, peak RSS {result['peak_rss_mb']:,.0f} MB "
                f"-> {RESULTS / name}"
            )


def build_corpus(data_dir: Path, documents: int, seed: int) -> list[dict]:
    """``documents`` records ``{"id", "text"}`` of consecutive test sentences, sources mixed by their size."""
    sources = {
        name: [detokenise(s.tokens) for s in read_corpus(data_dir / name / "test.tsv")]
        for name in ("ncbi-disease", "bc5cdr")
    }
    xml = ElementTree.parse(data_dir / "semeval14-laptop" / "test.xml")
    sources["semeval14-laptop"] = [node.text for node in xml.iter("text") if node.text and node.text.strip()]
    rng = random.Random(seed)
    names = sorted(sources)
    positions = dict.fromkeys(names, 0)
    records = []
    for number in range(documents):
        name = rng.choices(names, weights=[len(sources[n]) for n in names])[0]
        pool, count = sources[name], rng.randint(*SENTENCES_PER_DOCUMENT[name])
        start = positions[name]
        positions[name] = (start + count) % len(pool)
        text = " ".join(pool[(start + i) % len(pool)] for i in range(count))
        records.append({"id": f"{name}-{number:05d}", "text": text})
    return records


def detokenise(tokens: list[str]) -> str:
    """Tokens joined as running text: no space before closing punctuation, around hyphens and slashes."""
    text = " ".join(tokens)
    text = re.sub(r" ([.,;:!?%)\]}])", r"\1", text)
    text = re.sub(r"([(\[{]) ", r"\1", text)
    text = re.sub(r" ([-/]) ", r"\1", text)
    return re.sub(r" (n't|'s|'re|'ve|'ll|'d)\b", r"\1", text)


def untrained_default_model(data_dir: Path, directory: Path) -> Path:
    """The default config with vocabularies from NCBI-disease train and random weights: the default model's speed."""
    Tagger.build(TaggerConfig(), read_corpus(data_dir / "ncbi-disease" / "train.tsv")).save(directory)
    return directory


def run(model: Path, corpus: Path, output: Path, engine: str, count: int, threads: int) -> dict:
    """Run ``tagger annotate`` once with ``count`` processes (local) or actors (ray); the result record."""
    command = [sys.executable, "-m", "tagger.cli.main", "annotate", "--model", str(model), str(corpus)]
    command += ["--output", str(output), "--engine", engine, "--n-process" if engine == "local" else "--workers"]
    command += [str(count), "--threads", str(threads), "--no-progress"]
    started = time.perf_counter()
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    peak = PeakMemory(process.pid)
    stderr = process.communicate()[1]
    seconds = time.perf_counter() - started
    peak.stop()
    if process.returncode != 0:
        raise SystemExit(f"annotate failed ({process.returncode}):\n{stderr}")
    counts = json.loads(Path(f"{output}.progress.json").read_text())["counts"]
    return {
        "corpus": CORPUS,
        **provenance(),
        "annotate_command": " ".join(map(shlex.quote, ["tagger", *command[3:]])),
        "documents": counts["documents"],
        "failed": counts["failed"],
        "tokens": counts["tokens"],
        "entities": counts["spans"],
        "seconds": round(seconds, 2),
        "documents_per_second": round(counts["documents"] / seconds, 1),
        "tokens_per_second": round(counts["tokens"] / seconds),
        "peak_rss_mb": round(peak.peak_kb / 1024, 1),
        "engine": engine,
        **({"n_process": count} if engine == "local" else {"workers": count}),
        "threads_per_process": threads or ("default" if engine == "local" else 1),
    }


class PeakMemory:
    """Samples the summed resident memory of a process and its descendants every 0.1 s."""

    def __init__(self, pid: int):
        self.pid, self.peak_kb, self.done = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join()

    def sample(self) -> None:
        while not self.done.wait(0.1):
            self.peak_kb = max(self.peak_kb, sum(rss_kb(pid) for pid in descendants(self.pid)))


def descendants(root: int) -> list[int]:
    """``root`` and every process under it, from the parent ids in /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else 0


if __name__ == "__main__":
    main()

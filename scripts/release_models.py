"""Train, test and release the named models of the models catalogue (``tagger/models/catalogue.json``).

    python scripts/release_models.py                          # every model, seed 1
    python scripts/release_models.py --only bc5cdr --only bc5cdr-fast --seed 1
    python scripts/release_models.py --only NAME --catalogue CAT.json --store DIR --set epochs=1   # a quick check
    python scripts/release_models.py --only ncbi-disease --keep runs/release --resume   # go on where it was cut

Each model is trained as ``tagger train --corpus CORPUS --preset PRESET --refit --seed SEED`` would train it:
its preset's config for the corpus' domain (beside the preset's lessons for the corpus, if it names any),
early stopping on the dev split (a corpus without one holds out ``dev_fraction`` of train by the seed), then a
fresh model on train + dev for the best epoch count (or, with ``refit_epochs``, that model alone). That model
is saved with its weights in the entry's ``weights_dtype`` (``Tagger.store_weights_in``), scored once on the
test split as saved, gets its card (``meta.json``, ``README.md``), is copied into ``STORE/NAME`` and its entry
in the catalogue gets the SHA-256 of every file, the size and the test scores.
The same seed, code and machine give the same models up to float rounding, which differs between runs of
the matrix products and grows over the epochs (two such BC5CDR trainings: their first epochs' losses within 1e-4,
test F1 0.8748 and 0.8744). ``--resume`` continues the runs kept in ``--keep``
(``tagger train --resume``: a cut run goes on from its last epoch, a finished one is only scored and stored).
A seed that ``benchmark_accuracy.py --keep`` trained with the same config (the preset's, with the same ``--set``)
is the same run: linked as ``KEEP/NAME``, ``--resume`` releases it without training again.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import torch
from benchmark import DATA_DIR, read_splits

from tagger import Tagger, TaggerConfig, cards, named_models, presets, recipes
from tagger.callbacks import EpochReport
from tagger.distillation import Lessons
from tagger.named_models import FILES, ModelEntry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", metavar="NAME", help="release only these models (repeatable)")
    parser.add_argument("--seed", type=int, default=1, help="the seed of every training")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="local mirror of the catalogue's corpora")
    parser.add_argument("--catalogue", type=Path, default=named_models.TABLE, help="the models catalogue to update")
    parser.add_argument("--store", type=Path, default=named_models.STORE, help="where released models are stored")
    parser.add_argument("--keep", type=Path, help="keep each training's run directory in KEEP/NAME")
    parser.add_argument("--resume", action="store_true", help="continue the runs kept in KEEP/NAME")
    args = parser.parse_args()
    if args.resume and not args.keep:
        parser.error("--resume continues the runs kept by --keep: give --keep")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    models = named_models.entries(args.catalogue)
    unknown = sorted(set(args.only or ()) - set(models))
    if unknown:
        parser.error(f"--only {', '.join(unknown)}: not in {args.catalogue} (it has {', '.join(models)})")
    chosen = {
        name: presets.values(models[name].preset, models[name].domain, models[name].corpus)
        for name in args.only or models
    }
    for name in sorted(chosen, key=lambda name: bool(chosen[name].get("init_from"))):  # sources before their users
        config = TaggerConfig.from_dict(chosen[name])
        config = config.with_overrides([*args.set, f"seed={args.seed}"])
        with tempfile.TemporaryDirectory() as scratch:
            work = args.keep / name if args.keep else Path(scratch)
            models[name] = release(models[name], config, args.data_dir, work, args.store, args.resume)
        named_models.save_table(models, args.catalogue)
        test = models[name].test
        print(
            f"{name}: test P {test['precision']:.4f} R {test['recall']:.4f} F1 {test['f1']:.4f}, "
            f"{models[name].size / 1e6:.1f} MB, in {args.store / name}"
        )


def release(
    model: ModelEntry, config: TaggerConfig, data_dir: Path, work: Path, store: Path, resume: bool = False
) -> ModelEntry:
    """Train ``model`` by ``config`` in ``work`` (or, with ``resume``, go on with the run there), score and card it,
    store it in ``store/NAME``; its new entry."""
    if config.threads:
        torch.set_num_threads(config.threads)
    train, dev, test = ({model.corpus: split} for split in read_splits(model.corpus, data_dir, config))
    texts = [s.tokens for s in test[model.corpus]]
    dev_texts = [s.tokens for s in dev[model.corpus]]
    taught = presets.lessons(model.preset, model.corpus)
    lessons = Lessons.load(taught) if taught else None
    settings = config.to_dict() if resume else None  # what the resumed run must share
    trained = recipes.run(config, train, dev, work, True, [EpochReport()], dev_texts + texts, texts, settings, lessons)
    released_dir = work / "release" / "model"
    Tagger.load(trained.final).store_weights_in(model.weights_dtype).save(released_dir)
    tagger = Tagger.load(released_dir)  # scored as it is stored
    scored = recipes.test_scores(tagger, test, several=False)
    data = {model.corpus: cards.data_facts(train[model.corpus], dev[model.corpus], model.corpus)}
    if lessons:
        data[model.corpus]["lessons"] = {"source": taught.name, "sentences": len(lessons)}
    recipes.record(released_dir, tagger, data, trained.models[trained.final], test, scored, several=False)
    stored = store_copy(released_dir, store / model.name)
    scores = scored[model.corpus]
    return named_models.released(
        model, stored, {"corpus": model.corpus, **{key: scores[key] for key in ("precision", "recall", "f1")}}
    )


def store_copy(model_dir: Path, target: Path) -> Path:
    """Copy the model's files (``FILES``) to ``target``, replacing what was there only once the copy is whole."""
    staging = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    staging.mkdir(parents=True)
    for file in FILES:
        shutil.copy2(model_dir / file, staging / file)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    return target


if __name__ == "__main__":
    main()

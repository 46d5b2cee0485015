"""Ready-trained models by name: what each is, where it lives, and the one function that turns a name into a
model directory.

The table is ``models/catalogue.json`` beside this module, one entry per name (``ncbi-disease``: the accurate
preset; ``ncbi-disease-fast``: the fast one). A model either is stored in the package (``models/NAME/``,
shipped as package data: a fresh install tags offline) or, when its entry has a ``url``, is downloaded from
``URL/FILE`` for each of its files into the cache (``$XDG_CACHE_HOME/tagger/models/NAME``), every file checked
against the SHA-256 the table records, the directory appearing only once whole. An entry may be listed before
its model is released: it is then not installed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path

from . import cards, catalogue
from .files import atomic_write, output_error

FILES = ("config.json", "vocab.json", "weights.safetensors", cards.META_FILE, cards.CARD_FILE)
WEIGHTS = "weights.safetensors"
TABLE = Path(str(resources.files(__package__).joinpath("models", "catalogue.json")))
STORE = TABLE.parent  # where the package keeps its stored models, one folder per name
logger = logging.getLogger(__name__)


class NamedModelError(catalogue.CatalogueError):
    """An unknown model name, or a named model that is not installed; the message says which and what to do."""


@dataclass(frozen=True)
class ModelEntry:
    """A named model: its corpus and preset, text domain, labels, licence, test scores on the corpus' test split
    (``corpus``, ``precision``, ``recall``, ``f1``; ``None`` before release), total size in bytes, the SHA-256 of
    each of its files by name (``weights.safetensors`` among them), ``url``: ``None`` for a model stored in
    the package, else the folder its files are downloaded from, and ``weights_dtype``: what its weights are
    stored in (``Tagger.store_weights_in``: ``bfloat16`` halves a model's size)."""

    name: str
    corpus: str
    preset: str
    domain: str
    labels: tuple[str, ...]
    licence: str
    description: str
    test: dict | None = None
    size: int | None = None
    files: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    weights_dtype: str = "float32"

    @property
    def directory(self) -> Path:
        """Where the model is, or would be once installed."""
        return STORE / self.name if self.url is None else cache_dir() / self.name

    @property
    def installed(self) -> bool:
        return bool(self.files) and all((self.directory / file).is_file() for file in self.files)

    @property
    def sha256(self) -> str | None:
        """The SHA-256 of its weights, once released."""
        return self.files.get(WEIGHTS)

    def to_dict(self) -> dict:
        """The entry as the table holds it (without its name, the table's key)."""
        entry = asdict(self)
        del entry["name"]
        return entry | {"labels": list(self.labels)}

    @classmethod
    def from_dict(cls, name: str, entry: dict, where: Path) -> "ModelEntry":
        """The entry ``name`` of the table ``where``."""
        try:
            return cls(name, **{**entry, "labels": tuple(entry["labels"])})
        except (KeyError, TypeError) as error:
            raise NamedModelError(f"{where}: entry {name!r} is not a model entry ({error})") from None


def entries(table: Path | None = None) -> dict[str, ModelEntry]:
    """Every named model of ``table`` (default: the package's), in the table's order."""
    path = table or TABLE
    listed = json.loads(path.read_text(encoding="utf-8"))
    return {name: ModelEntry.from_dict(name, entry, path) for name, entry in listed.items()}


def entry(name: str) -> ModelEntry:
    """The named model ``name``, or an error listing the names there are."""
    known = entries()
    if name not in known:
        raise NamedModelError(f"unknown model {name!r}; the named models are {', '.join(known)} (tagger models list)")
    return known[name]


def save_table(models: dict[str, ModelEntry], table: Path | None = None) -> None:
    """Write ``models`` as the table ``table`` (default: the package's), atomically."""
    with atomic_write(table or TABLE) as out:
        json.dump({name: model.to_dict() for name, model in models.items()}, out, indent=2, ensure_ascii=False)
        out.write("\n")


def cache_dir() -> Path:
    """Where downloaded models are kept: ``$XDG_CACHE_HOME/tagger/models``, by default ``~/.cache/tagger/models``."""
    return catalogue.cache_root() / "models"


def is_model(directory: Path) -> bool:
    return (directory / "config.json").is_file()


def resolve(model: str | Path, progress: bool = False) -> Path:
    """The model directory that ``model`` names: a path that exists wins (a run directory holding ``model/``
    gives that); else a named model, downloaded first when it is downloadable and not yet in the cache.

    A string without a path separator that is neither is an unknown name: ``NamedModelError`` listing the
    names. Other missing paths come back as they are, for ``Tagger.load`` to say what is missing.
    """
    path = Path(model)
    if path.exists():
        if not is_model(path) and is_model(path / "model"):
            logger.info("%s is a run directory: using its model, %s", path, path / "model")
            return path / "model"
        return path
    name = str(model)
    if os.sep in name or (os.altsep and os.altsep in name) or name.startswith("."):
        return path
    directory = download(entry(name), progress)
    logger.info("model %s: using %s", name, directory)
    return directory


def download(model: ModelEntry, progress: bool = True) -> Path:
    """The directory of ``model``, its files first fetched into the cache when it is downloadable and not there
    yet, each checked against its SHA-256; a model not released is a ``NamedModelError``.

    The files go to a folder beside the model's and that folder becomes the model's in one step, so a failed
    download (``catalogue.DownloadError``, with a hint when offline) leaves nothing behind.
    """
    if model.installed:
        return model.directory
    if model.url is None or not model.files:
        raise NamedModelError(
            f"model {model.name!r} is listed but not installed (no model in {model.directory}): this version does not "
            "ship it (scripts/release_models.py trains it); tagger models list shows the installed ones"
        )
    staging = model.directory.parent / f".{model.name}.{uuid.uuid4().hex}.tmp"
    offline = f"Fetch it where there is a network (tagger models download {model.name}), then copy {model.directory}"
    try:
        for file, sha256 in model.files.items():
            url = f"{model.url.rstrip('/')}/{file}"
            logger.info("model %s: downloading %s", model.name, url)
            catalogue.fetch(url, staging / file, sha256, progress, offline)
        shutil.rmtree(model.directory, ignore_errors=True)  # an incomplete copy
        os.replace(staging, model.directory)
    except OSError as error:
        raise output_error(model.directory, error) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return model.directory


def facts(model: ModelEntry) -> dict:
    """What ``tagger models info`` shows: the entry, where it is, and once installed its card's facts (labels,
    licence and test scores from ``meta.json``, the whole card under ``card``)."""
    shown = {"name": model.name, **model.to_dict(), "path": str(model.directory), "installed": model.installed}
    shown["location"] = "package" if model.url is None else "download"
    shown["sha256"] = model.sha256
    if model.installed:
        card = cards.read(model.directory)
        heads = card["heads"]
        shown["labels"] = sorted({label for head in heads for label in head["labels"]})
        licences = sorted({head["corpus"]["licence"] for head in heads if "corpus" in head})
        shown["licence"] = ", ".join(licences) or model.licence
        scored = [test for test in card["test"] if test.get("mode") == "default"]
        if scored:
            test = scored[-1]
            keys = ("source", "precision", "recall", "f1", "mode", "scheme", "per_type", "date")
            shown["test"] = {"corpus": model.corpus, **{key: test[key] for key in keys if key in test}}
        shown["card"] = card
    return shown


def released(model: ModelEntry, directory: Path, test: dict) -> ModelEntry:
    """``model`` as released from the model directory ``directory``: its files' SHA-256s and size, and ``test``."""
    files = {file: catalogue.sha256(directory / file) for file in FILES}
    size = sum((directory / file).stat().st_size for file in FILES)
    return replace(model, files=files, size=size, test=test)

"""Shipped training presets (``tagger train --preset NAME``): config values, with resources per text domain.

A preset is ``presets/NAME.json`` beside this module: a ``description``, the ``config`` values
every domain shares, ``domains``, the values that depend on the text (tokenizer, character
LM, word vectors) for each of ``DOMAINS``, and ``corpora``, values for one catalogue corpus (the
recipe measured best on it, such as a named model of another corpus to start from). Resources are named, not pathed: a
character LM is one of the LMs shipped in ``lms/``; word vectors are a file of the vectors cache
(``$XDG_CACHE_HOME/tagger/vectors``), built once by the command the preset states. A preset may also name, per
catalogue corpus, ``lessons`` to train beside (``tagger teach``: a teacher's posteriors on raw text), a file of the
lessons cache (``$XDG_CACHE_HOME/tagger/lessons``) built the same way.
"""

from __future__ import annotations

import json
import os
from functools import cache
from importlib import resources
from pathlib import Path

DOMAINS = ("biomedical", "reviews")
RESOURCE_KEYS = ("char_lm", "vectors")  # preset values that name a resource, resolved to a path


class PresetError(ValueError):
    """An unknown preset or domain, or a resource of a preset that is not there; the message says which."""


def package_dir(name: str) -> Path:
    return Path(str(resources.files(__package__).joinpath(name)))


def names() -> list[str]:
    """The shipped presets, by name."""
    return sorted(path.stem for path in package_dir("presets").glob("*.json"))


@cache
def _read(name: str) -> dict:
    if name not in names():
        raise PresetError(f"unknown preset {name!r}; the presets are {', '.join(names())}")
    return json.loads((package_dir("presets") / f"{name}.json").read_text(encoding="utf-8"))


def describe(name: str) -> str:
    """The preset's one-line description."""
    return _read(name)["description"]


def values(name: str, domain: str | None, corpus: str | None = None) -> dict:
    """The config values of preset ``name`` for text of ``domain`` (and, when training on the catalogue corpus
    ``corpus``, that corpus' values), resources resolved to paths.

    A preset whose values differ by domain needs one; a missing resource is a ``PresetError``
    that says how to get it; but for word vectors where the values start from a trained model (``init_from``):
    that model's own are read (``transfer.ARCHITECTURE``), so the preset's need not be built.
    """
    preset = _read(name)
    per_domain = preset.get("domains", {})
    if domain is None and per_domain:
        raise PresetError(
            f"preset {name!r} takes a character LM and vectors trained on text of the domain: "
            f"choose one with --domain ({', '.join(DOMAINS)})"
        )
    if domain is not None and domain not in DOMAINS:
        raise PresetError(f"unknown domain {domain!r}; the domains are {', '.join(DOMAINS)}")
    chosen = {**preset["config"], **per_domain.get(domain, {}), **preset.get("corpora", {}).get(corpus, {})}
    for key in RESOURCE_KEYS:
        if chosen.get(key):
            needed = key != "vectors" or not chosen.get("init_from")
            chosen[key] = str(_resource(key, chosen[key], preset.get("build", {}).get(chosen[key]), needed))
    return chosen


def lessons(name: str, corpus: str | None) -> Path | None:
    """The lessons file preset ``name`` trains catalogue corpus ``corpus`` beside; ``None`` where it names none. One
    that is not built yet is a ``PresetError`` that says how to build it."""
    preset = _read(name)
    resource = preset.get("lessons", {}).get(corpus)
    if resource is None:
        return None
    path = cache_dir("lessons") / resource
    if not path.is_file():
        build = preset["build"][resource].format(out=path)
        raise PresetError(f"lessons {resource!r} not found at {path}; build them once with: {build}")
    return path


def _resource(key: str, resource: str, build: str | None, needed: bool = True) -> Path:
    """The path of a preset's resource; one ``needed`` that is not there is a ``PresetError``."""
    if key == "char_lm":
        path = package_dir("lms") / resource
        if not path.is_dir():
            raise PresetError(f"character LM {resource!r} is not among those shipped in {path.parent}")
        return path
    path = cache_dir("vectors") / resource
    if needed and not path.is_file():
        how = f"; build them once with: {build.format(out=path)}" if build else ""
        raise PresetError(f"word vectors {resource!r} not found at {path}{how}")
    return path


def cache_dir(kind: str) -> Path:
    """Where presets find their built resources of ``kind`` (vectors, lessons): ``$XDG_CACHE_HOME/tagger/KIND``, by
    default ``~/.cache/tagger/KIND``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tagger" / kind

"""``--head``: which heads of a model tag, for the commands that tag with one."""

from __future__ import annotations

import argparse

from ..heads import ALL


def add_head_option(parser: argparse.ArgumentParser) -> None:
    """``--head NAME``, repeatable; unset, every head (the choice reaches ``Tagger.predict`` as a list or ``None``)."""
    parser.add_argument(
        "--head",
        action="append",
        metavar="NAME",
        help="the head of the model that tags (a model trained on several corpora has one per corpus, named after "
        "it); repeat for several, whose entities are merged: where two overlap, the more probable stays. "
        f"Default, or {ALL}: every head",
    )

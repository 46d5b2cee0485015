"""Options that replaced positional arguments: ``--model`` and ``--output`` everywhere. The old positional still
works, hidden from the help, with a warning."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger("tagger")
SUFFIX = "_positional"  # the namespace holds the old positional NAME as NAME_positional until ``resolve``


class OptionError(ValueError):
    """A required option that is not given (nor its old positional), or given both ways with different values."""


def add_path_option(parser: argparse.ArgumentParser, name: str, help: str) -> None:
    """``--NAME PATH``, required, and the positional ``NAME`` it replaced (deprecated, not in the help)."""
    parser.add_argument(f"--{name}", type=Path, default=argparse.SUPPRESS, help=f"{help} (required)")
    parser.add_argument(f"{name}{SUFFIX}", nargs="?", type=Path, metavar=name.upper(), help=argparse.SUPPRESS)


def resolve(args: argparse.Namespace) -> None:
    """Give each option of ``add_path_option`` the value of its old positional where only that was given;
    ``OptionError`` where neither was, or both with different paths."""
    for key in [key for key in vars(args) if key.endswith(SUFFIX)]:
        name, positional = key.removesuffix(SUFFIX), vars(args).pop(key)
        option = getattr(args, name, None)
        if option is None and positional is None:
            raise OptionError(f"the following arguments are required: --{name}")
        if positional is not None:
            if option is not None and option != positional:
                raise OptionError(f"--{name} {option} and the positional {positional}: give only --{name}")
            logger.warning("the positional %s is deprecated: give --%s %s", name.upper(), name, positional)
        setattr(args, name, option if positional is None else positional)

"""A package's public names, imported from their modules on first use (PEP 562), so that importing the package
stays light: the command line's help must not wait for torch."""

from __future__ import annotations

from importlib import import_module
from typing import Callable


def lazy_exports(
    package: str, exports: dict[str, tuple[str, ...]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` for ``exports``: {module, relative: its public names}."""
    modules = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> object:
        if name not in modules:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f".{modules[name]}", package), name)

    def __dir__() -> list[str]:
        return sorted({*vars(import_module(package)), *modules})

    return __getattr__, __dir__

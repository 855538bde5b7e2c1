"""Public names imported on first use (PEP 562), for the packages that offer them.

``import lemtrada_asp`` (and so every ``python -m lemtrada_asp`` run) and any import of
one engine module run their package's ``__init__`` first; a command should load only
the modules it runs, so the packages name their API here and import it when it is used.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

__all__ = ["lazy_exports"]


def lazy_exports(package: str, namespace: dict[str, Any], defined_in: dict[str, str]) -> tuple[Callable, Callable]:
    """A package's ``__getattr__`` and ``__dir__`` for names defined in the modules given (relative to it)."""

    def __getattr__(name: str) -> Any:
        if name not in defined_in:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(defined_in[name], package), name)
        namespace[name] = value  # found directly from now on
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *namespace.get("__all__", ())})

    return __getattr__, __dir__

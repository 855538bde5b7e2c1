"""clingo decides, Python remembers: the decision cache and the layers it rests on.

    derive      what a KB's decision depends on, derived from its rules (clingo.ast)
    selection   of a list input, the facts a data table ties to each leaf
    parts       the parts above the leaves, proven on the ground program per value of the hooks
    stored      the derivation and the proven parts kept on disk per KB version, loaded, never trusted
    memory      the cache itself: answers from memory what the layers have seen, clingo the rest

README.md (beside this file) states what each layer proves and why the bytes stay the same.
Public names are imported on first use: importing the package costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .memory import DecisionCache, cache_for, verify

__all__ = ["DecisionCache", "cache_for", "verify"]

_DEFINED_IN = dict.fromkeys(__all__, ".memory")

__getattr__, __dir__ = lazy_exports(__name__, globals(), _DEFINED_IN)

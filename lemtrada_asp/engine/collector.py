"""The cyclic garbage collector, set for a process that decides batches.

A decided case allocates a few hundred small containers (facts, keys, the
record). At CPython's default threshold, a generation-0 pass every 700 net
allocations, the collector ran every few cases, and its older-generation passes
walk everything alive, the decision cache included: a quarter of the CPU time of
a warm 10,000-case run, measured with ``gc.callbacks``. Reference counting frees
nearly all of what a case allocates, so those passes find little; one pass per
GEN0 allocations brings their share under a tenth, and the garbage a pass can
leave waiting to a few MB.

Only processes this package starts call it: the command line, its worker
processes and the benchmark. The library never does on import: a program that
embeds the engine keeps its own collector settings (and may call this itself).
"""

from __future__ import annotations

import gc

__all__ = ["GEN0", "set_for_batches"]

GEN0 = 50_000  # allocations between generation-0 passes (CPython's default: 700)


def set_for_batches() -> None:
    """Raise the generation-0 threshold to GEN0 (a higher one already set is kept)."""
    first, *older = gc.get_threshold()
    if first and first < GEN0:  # 0: the collector is off, and stays off
        gc.set_threshold(GEN0, *older)

"""A progress bar on standard error for long batches, and nothing otherwise.

Shown only when standard error is a terminal and the batch has passed a few
hundred cases, so single decisions, pipes and CI logs stay clean. tqdm is
imported only then, so a one-case run does not pay for it.
"""

from __future__ import annotations

import sys
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

SHOW_AFTER = 500  # cases


def with_progress(results: Iterable[T], enabled: bool | None = None) -> Iterator[T]:
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield from results
        return
    bar = None
    try:
        for count, result in enumerate(results, start=1):
            if bar is None and count > SHOW_AFTER:
                from tqdm import tqdm

                bar = tqdm(initial=count - 1, unit=" cases", file=sys.stderr, dynamic_ncols=True, mininterval=0.25)
            if bar is not None:
                bar.update()
            yield result
    finally:
        if bar is not None:
            bar.close()

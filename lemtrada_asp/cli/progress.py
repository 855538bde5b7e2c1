"""A progress bar on standard error for long batches, and nothing otherwise.

Shown only when standard error is a terminal and the batch has passed a few
hundred cases, so single decisions, pipes and CI logs stay clean. tqdm is
imported only then, so a one-case run does not pay for it.

When the input's size can be known beforehand (files and directories, not standard
input), the bar shows the total, the percentage done and the time left: a person
waiting on a million cases wants to know whether to get coffee or go home.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterable, Iterator, Sequence, TypeVar

__all__ = ["SHOW_AFTER", "input_size", "with_progress"]

T = TypeVar("T")

SHOW_AFTER = 500  # cases


def input_size(paths: Sequence[str]) -> int | None:
    """How many inputs the paths hold (a JSON Lines line, a case file), or None when unknowable.

    Counted as the batch will read them (engine/loading.py: directories walked for case
    files, *.expected.* skipped, blank JSON Lines lines skipped); standard input, or a path
    that cannot be read, gives None: the bar then shows a count and a rate only.
    """
    from ..engine.loading import is_case_file  # noqa: PLC0415

    total = 0
    try:
        for name in paths:
            if name == "-":
                return None
            path = Path(name)
            if path.is_dir():
                files = [p for p in path.rglob("*") if p.is_file() and is_case_file(p)]
            else:
                files = [path]
            for file in files:
                if file.suffix.lower() == ".jsonl":
                    with file.open("rb") as stream:
                        total += sum(1 for line in stream if line.strip())
                else:
                    total += 1
    except OSError:
        return None
    return total


def with_progress(
    results: Iterable[T], enabled: bool | None = None, paths: Sequence[str] | None = None, total: int | None = None
) -> Iterator[T]:
    """Yield results unchanged; on a terminal, past SHOW_AFTER of them, with a bar on stderr.

    paths: the command's inputs, counted (only when a bar may be shown) for the total.
    """
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

                if total is None and paths is not None:  # counted only once a bar is due
                    total = input_size(paths)
                bar = tqdm(
                    initial=count - 1, total=total, unit=" cases", file=sys.stderr, dynamic_ncols=True,
                    mininterval=0.25,
                )
            if bar is not None:
                bar.update()
            yield result
    finally:
        if bar is not None:
            bar.close()

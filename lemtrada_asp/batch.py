"""Decide a stream of case records and yield plain results, in input order.

This is the one path every command (decide, test, diff, ...) takes from files to
decisions. Results are plain data (dicts and strings, no clingo symbols), so the
same code can run in worker processes and send its results back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator

from .engine import CHUNK, Engine
from .kbase import KnowledgeBase
from .loading import Record, iter_records, parse_record, reject_duplicate_ids


@dataclass
class Result:
    """One input case's outcome: a decision (JSON form) or an input error."""

    source: str
    decision: dict | None = None
    statuses: dict[str, str] | None = None  # every evaluated node's status, on request
    error: dict | None = None  # InputError.as_json()
    error_text: str | None = None  # the same, as a line for a person

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Options:
    """What each result should carry besides the decision."""

    statuses: bool = False


def decide_paths(
    paths: Iterable[str],
    kb_dir: str | Path | None = None,
    *,
    options: Options = Options(),
    chunk: int = CHUNK,
    stdin: IO[bytes] | None = None,
) -> Iterator[Result]:
    """Decide every case in paths (files, directories, JSON Lines, '-') in order."""
    engine = Engine(KnowledgeBase(kb_dir))  # a broken KB raises here, before any input is read
    return decide_records(engine, iter_records(paths, stdin), options=options, chunk=chunk)


def decide_records(
    engine: Engine, records: Iterable[Record], *, options: Options = Options(), chunk: int = CHUNK
) -> Iterator[Result]:
    pending: list = []
    items = reject_duplicate_ids(map(parse_record, records))
    for item in items:
        pending.append(item)
        if len(pending) >= chunk:
            yield from _decide_chunk(engine, pending, options)
            pending = []
    yield from _decide_chunk(engine, pending, options)


def _decide_chunk(engine: Engine, items: list, options: Options) -> list[Result]:
    cases = [(i.source, i.case) for i in items if i.case is not None]
    decided = iter(engine.decide(cases, details=options.statuses))
    results = []
    for item in items:
        if item.case is None:
            results.append(Result(item.source, error=item.error.as_json(), error_text=item.error.describe()))
            continue
        decision = next(decided)
        results.append(
            Result(
                item.source,
                decision=decision.as_json(),
                statuses=dict(decision.outcome.status) if options.statuses else None,
            )
        )
    return results

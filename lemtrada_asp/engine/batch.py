"""Decide a stream of case records and yield plain results, in input order.

This is the one path every command (decide, test, diff, ...) takes from files to
decisions. Reading stays in this process and is streamed; records go to the
engine in chunks (one ground program each, see engine.py), and with jobs > 1 the
chunks go to worker processes, at most a few chunks ahead of the output, so
memory stays flat however long the input. Results are plain data (dicts and
strings, no clingo symbols) because they cross process boundaries.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from functools import cached_property
from itertools import islice
from pathlib import Path
from typing import IO, Iterable, Iterator

from .engine import CHUNK, Engine
from .errors import InputError, Problem
from .knowledge import KnowledgeBase
from .loading import Record, iter_records, parse_record
from .record import Decision

__all__ = ["Options", "Result", "decide_chunk", "decide_paths", "decide_records", "default_jobs"]


@dataclass
class Result:
    """One input case's outcome: a decision record or an input error."""

    source: str
    record: Decision | None = None
    error: dict | None = None  # InputError.as_json()
    error_text: str | None = None  # the same, as a line for a person

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def exception(self) -> InputError:
        """The input error as the exception it was (rebuilt: results cross processes as data)."""
        assert self.error is not None
        problems = [Problem(p["field"], p["message"]) for p in self.error["problems"]]
        return InputError(self.source, problems, self.error.get("case_id"))

    @cached_property
    def decision(self) -> dict | None:
        """The record in the decision format (JSON form)."""
        return self.record.to_json() if self.record is not None else None

    @property
    def statuses(self) -> dict[str, str] | None:
        """Every evaluated node's status (records decided with details)."""
        return self.record.statuses() if self.record is not None and self.record.tree is not None else None

    @classmethod
    def failure(cls, error: InputError) -> "Result":
        return cls(error.source, error=error.as_json(), error_text=error.describe())


@dataclass(frozen=True)
class Options:
    """What each result should carry besides the decision."""

    details: bool = False  # the whole evaluated tree (explain, letters, coverage, diff)
    corrections: bool = False  # minimal corrections of denied and pended cases (corrections.py)


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def decide_paths(
    paths: Iterable[str],
    engine: Engine | str | Path | None = None,
    *,
    options: Options = Options(),
    chunk: int = CHUNK,
    jobs: int = 1,
    stdin: IO[bytes] | None = None,
    records: Iterable[Record] | None = None,
) -> Iterator[Result]:
    """Decide every case in paths (files, directories, JSON Lines, '-'), or the records given, in order.

    engine is a loaded Engine, or a KB directory to load one from (None: the shipped KB).
    """
    if not isinstance(engine, Engine):
        engine = Engine(KnowledgeBase(engine))  # a broken KB raises here, before any input is read
    chunks = _chunked(iter(records) if records is not None else iter_records(paths, stdin), chunk)
    if jobs > 1:
        results = _decide_in_workers(chunks, engine, options, jobs)
    else:
        results = (r for records in chunks for r in decide_chunk(engine, records, options))
    return reject_duplicate_ids(results)


def decide_records(
    engine: Engine, records: Iterable[Record], *, options: Options = Options(), chunk: int = CHUNK
) -> Iterator[Result]:
    """Decide records in this process (the engine is reused across chunks)."""
    results = (r for part in _chunked(iter(records), chunk) for r in decide_chunk(engine, part, options))
    return reject_duplicate_ids(results)


def decide_chunk(engine: Engine, records: list[Record], options: Options) -> list[Result]:
    """Parse, validate and decide one chunk; every record gets exactly one result."""
    validate = engine.case_model.validate
    items = [parse_record(r, validate) for r in records]
    cases = [(i.source, i.case) for i in items if i.case is not None]
    decisions = engine.decide(cases, details=options.details, corrections=options.corrections)
    decided = iter(decisions)
    results = []
    for item in items:
        if item.case is None:
            results.append(Result.failure(item.error))
            continue
        decision = next(decided)
        results.append(Result(item.source, record=decision))
    return results


SOURCES_KEPT = 100_000  # ids whose first source is remembered for the message


def reject_duplicate_ids(results: Iterable[Result]) -> Iterator[Result]:
    """A second case with an id already seen in this run is an input error, not a second decision.

    Every id must be remembered, so memory grows with the run; to keep that small,
    where an id was first seen is kept only for the first 100,000 ids.
    """
    first_seen: dict[str, str] = {}
    seen: set[str] = set()
    for result in results:
        if result.ok:
            case_id = result.record.case_id
            earlier = first_seen.get(case_id)
            if earlier is None and case_id in seen:
                earlier = "an earlier case of this run"
            if earlier is None:
                if len(first_seen) < SOURCES_KEPT:
                    first_seen[case_id] = result.source
                else:
                    seen.add(case_id)
            else:
                problem = Problem("id", f"duplicate case id {case_id!r}, first used at {earlier}")
                result = Result.failure(InputError(result.source, [problem], case_id))
        yield result


def _chunked(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    while batch := list(islice(records, size)):
        yield batch


# --- worker processes --------------------------------------------------------------

_worker_engine: Engine | None = None
_worker_options = Options()


def _start_worker(kb_dir: str, options: Options) -> None:
    # clingo's Control cannot be pickled: each worker loads the KB itself, once.
    global _worker_engine, _worker_options
    _worker_engine = Engine(KnowledgeBase(kb_dir))
    _worker_options = options


def _work(records: list[Record]) -> list[Result]:
    assert _worker_engine is not None
    return decide_chunk(_worker_engine, records, _worker_options)


def _decide_in_workers(chunks: Iterator[list[Record]], engine: Engine, options: Options, jobs: int) -> Iterator[Result]:
    first = next(chunks, None)
    second = next(chunks, None)
    if second is None:  # one chunk: starting workers would cost more than it saves
        yield from decide_chunk(engine, first or [], options)
        return
    # Imported here: a one-case run should not pay ~20 ms for process pools.
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    ahead = 2 * jobs  # chunks in flight: enough to keep workers busy, few enough to bound memory
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=get_context("spawn"), initializer=_start_worker, initargs=(str(engine.kb.directory), options)
    ) as pool:
        pending: deque = deque(pool.submit(_work, c) for c in (first, second))
        for records in chunks:
            pending.append(pool.submit(_work, records))
            if len(pending) >= ahead:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()

"""The unit every executor runs: one chunk of records, parsed, validated and decided into Results.

batch.py streams files into chunks and runs this here or in worker processes;
executors.py runs the same on shards, Dask or PySpark. Both import it from here,
so neither imports the other for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

from .engine import Engine
from .errors import InputError, Problem, ReadError
from .loading import Record, parse_record
from .record import Decision

__all__ = ["Options", "Result", "decide_chunk"]


# json.dumps(x, ensure_ascii=False) with one encoder made once (json.dumps makes one per call
# when given an option): the same text, ~1.7 us a case less.
_LINE = json.JSONEncoder(ensure_ascii=False)


@dataclass
class Result:
    """One input case's outcome: a decision record or an input error.

    A result decided in a worker process under ``Options(lines=True)`` crosses back
    as text: ``text`` is its decision's JSON line, ``case_id`` and ``in_force`` what
    a writer needs besides, and ``record`` is None (pickling a record and its case
    cost ~190 µs a case; the line costs the worker ~17 µs, and the writer nothing).
    """

    source: str
    record: Decision | None = None
    error: dict | None = None  # InputError.as_json()
    error_text: str | None = None  # the same, as a line for a person
    text: str | None = None  # the decision as its JSON line, when it came back as text
    decided_id: str | None = None  # the case id of a decision that came back as text
    in_force: bool | None = None  # whether the KB is in force on the case's request date (Engine.in_force)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def case_id(self) -> str | None:
        if self.record is not None:
            return self.record.case_id
        return self.decided_id if self.error is None else self.error.get("case_id")

    @property
    def exception(self) -> InputError:
        """The input error as the exception it was (rebuilt: results cross processes as data)."""
        assert self.error is not None
        problems = [Problem(p["field"], p["message"]) for p in self.error["problems"]]
        kind = ReadError if self.error.get("error") == ReadError.kind else InputError
        return kind(self.source, problems, self.error.get("case_id"))

    @property
    def exit_status(self) -> int:
        """0 decided; 2 invalid input; 4 the input could not be read (I/O)."""
        if self.error is None:
            return 0
        return ReadError.exit_status if self.error.get("error") == ReadError.kind else InputError.exit_status

    @cached_property
    def decision(self) -> dict | None:
        """The record in the decision format (JSON form)."""
        if self.record is not None:
            return self.record.to_json()
        return json.loads(self.text) if self.text is not None else None

    @property
    def line(self) -> str:
        """The decision, or the error, as one JSON line (what ``decide --format json`` writes)."""
        if self.text is not None:
            return self.text
        return _LINE.encode(self.decision if self.error is None else self.error)

    @property
    def statuses(self) -> dict[str, str] | None:
        """Every evaluated node's status (records decided with details)."""
        return self.record.statuses() if self.record is not None and self.record.tree is not None else None

    @classmethod
    def failure(cls, error: InputError) -> "Result":
        return cls(error.source, error=error.as_json(), error_text=error.describe())

    def as_line(self, engine: Engine) -> "Result":
        """This result as it crosses back from a worker under Options(lines=True): text, not a record."""
        if self.record is None:
            return self
        return Result(self.source, text=self.line, decided_id=self.record.case_id,
                      in_force=engine.in_force(self.record.case))


@dataclass(frozen=True)
class Options:
    """What each result should carry besides the decision."""

    details: bool = False  # the whole evaluated tree (explain, letters, coverage, diff)
    corrections: bool = False  # minimal corrections of denied and pended cases (corrections.py)
    cache: bool = True  # answer repeated parts from memory (cache/); False: clingo for every case
    lines: bool = False  # results from worker processes come back as JSON lines (Result.text), not records


def decide_chunk(engine: Engine, records: list[Record], options: Options) -> list[Result]:
    """Parse, validate and decide one chunk; every record gets exactly one result."""
    validate = engine.case_model.validate
    items = [parse_record(r, validate) for r in records]
    cases = [(i.source, i.case) for i in items if i.case is not None]
    decisions = _decider(engine, options)(cases, details=options.details, corrections=options.corrections)
    decided = iter(decisions)
    results = []
    for item in items:
        if item.case is None:
            results.append(Result.failure(item.error))
            continue
        decision = next(decided)
        results.append(Result(item.source, record=decision))
    return results


def start_cache(engine: Engine) -> None:
    """A batch of several chunks is under way: the cache answers from the next chunk on, the first included."""
    engine._chunks_decided = max(1, getattr(engine, "_chunks_decided", 0))  # type: ignore[attr-defined]


def _decider(engine: Engine, options: Options):
    """The cache from an engine's second chunk on: a run of one chunk never pays to derive it."""
    if not options.cache:
        return engine.decide
    seen = getattr(engine, "_chunks_decided", 0)
    engine._chunks_decided = seen + 1  # type: ignore[attr-defined]
    if seen == 0:
        return engine.decide
    from .cache import cache_for

    return cache_for(engine).decide

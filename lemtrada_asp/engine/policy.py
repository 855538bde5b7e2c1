"""The embedding API: load a policy once, then decide cases with it.

In the spirit of OPA's ``PrepareForEval``: ``Policy.load`` reads the manifest, loads
and grounds the KB's catalogue and imports its case model once, so every decision
after that only builds facts, grounds them with the rules and reads atoms back.
The package's docstring (lemtrada_asp/__init__.py) has a runnable example.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from .batch import Options, Result, decide_paths, decide_records, default_jobs
from .catalogue import Catalogue
from .engine import Engine
from .errors import InputError, Problem
from .knowledge import KnowledgeBase
from .loading import Record, iter_records
from .record import Decision

__all__ = ["Policy"]


class Policy:
    """A loaded policy: its KB, its catalogue, its case model, one engine."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def load(cls, kb_dir: str | Path | None = None, overlays: Iterable[str | Path] = ()) -> "Policy":
        """The KB in kb_dir (default: the one shipped with the package), with any overlays on it
        (engine/overlay.py); a broken KB raises KnowledgeBaseError."""
        return cls(Engine(KnowledgeBase(kb_dir, tuple(overlays))))

    @property
    def kb(self) -> KnowledgeBase:
        return self.engine.kb

    @property
    def catalogue(self) -> Catalogue:
        return self.engine.catalogue

    @property
    def version(self) -> str:
        return self.engine.version

    @property
    def effective_date(self) -> date | None:
        """The date this KB is in force from (policy.toml ``effective``; None: not declared)."""
        return self.kb.manifest.effective

    def in_force(self, case: Any) -> bool:
        """Whether this KB is in force on the case's request date (criteria.md, "Policy in force").

        case: a validated case of this policy's case model, a Decision (its case), or a batch
        Result (a decision that came back as its line carries the answer). A
        request dated before the effective date is still decided by ``decide``, never
        silently: the CLI counts such cases on standard error, the service refuses them
        unless it runs with policy versions. True when the KB declares no effective date.
        """
        if isinstance(case, Result) and case.record is None:  # a decision that came back as its line
            return case.in_force is not False
        if isinstance(case, Result):
            case = case.record
        return self.engine.in_force(getattr(case, "case", case) if isinstance(case, Decision) else case)

    def validate(self, data: Any, source: str = "<case>") -> Any:
        """A case of this policy's case model from parsed data; InputError names every bad field."""
        return self.engine.case_model.validate(data, source)

    def decide(self, case: Any, *, corrections: bool = False, details: bool = False, source: str | None = None) -> Decision:
        """Decide one case: a dict in the policy's case format, a path to a case file, or a validated case.

        An invalid case raises InputError; a path holding more or fewer than one case too.
        """
        results = list(self._results([case], corrections=corrections, details=details, source=source))
        if len(results) != 1:
            what = "no case" if not results else f"{len(results)} cases"
            where = source or str(case)
            raise InputError(where, [Problem("", f"expected exactly one case, found {what}: give one case file (the decide command takes many)")])
        [result] = results
        if result.record is None:
            raise result.exception
        return result.record

    def decide_many(
        self, cases: Iterable[Any], *, jobs: int = 1, corrections: bool = False, details: bool = False
    ) -> Iterator[Decision | InputError]:
        """Decide many cases (dicts, paths, validated cases), in input order, a chunk per ground program.

        An invalid case yields its InputError in its place: one bad case never stops or
        hides the others. With jobs > 1, chunks of paths are decided in worker processes.
        """
        for result in self._results(cases, corrections=corrections, details=details, jobs=jobs):
            yield result.record if result.record is not None else result.exception

    def decide_paths(
        self, paths: Iterable[str], *, jobs: int | None = None, corrections: bool = False, details: bool = False,
        stdin: IO[bytes] | None = None, run: Any = None, cache: bool = True, lines: bool = False,
    ):
        """Every case in paths (files, directories, JSON Lines, '-'), as batch Results: the CLI's path.

        run (executors.Run): a shard of the input, and/or the Dask executor. lines: results
        decided in worker processes come back as their JSON line (``Result.line``, with
        ``Result.case_id`` and ``Result.in_force``) and no record, for a writer of JSON lines.
        """
        options = Options(details=details, corrections=corrections, cache=cache, lines=lines)
        return decide_paths(paths, self.engine, options=options, jobs=jobs or default_jobs(), stdin=stdin, run=run)

    def _results(self, cases: Iterable[Any], *, corrections: bool, details: bool, jobs: int = 1, source: str | None = None):
        options = Options(details=details, corrections=corrections)
        records = (r for n, case in enumerate(cases, 1) for r in _records(case, source or f"<case {n}>"))
        if jobs > 1:
            return decide_paths((), self.engine, options=options, jobs=jobs, records=records)
        return decide_records(self.engine, records, options=options)


def _records(case: Any, source: str) -> Iterator[Record]:
    if isinstance(case, (str, Path)):
        yield from iter_records([str(case)])
    elif isinstance(case, dict):
        yield Record(source, data=case)
    else:
        yield Record(source, case=case)

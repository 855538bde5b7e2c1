"""Policy versions: several knowledge bases, each in force from its effective date.

A versions directory holds one subdirectory per version: a KB (policy.toml) or an
overlay whose overlay.toml names its ``base`` (often the version before it). Each
declares when it is in force (``effective``, a date) and which revision it is
(``revised``, as the policy writes it). A case is judged under the version in force
on its request date (the case model's ``request_date``), or on one date given for
all cases (``as_of``). A case dated before the first version is an input error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from itertools import islice
from pathlib import Path
from typing import IO, Iterable, Iterator

from .batch import Options, Result, reject_duplicate_ids
from .engine import CHUNK, Engine
from .errors import InputError, KnowledgeBaseError, Problem
from .knowledge import MANIFEST, KnowledgeBase
from .loading import iter_records, parse_record
from .overlay import OVERLAY_MANIFEST

__all__ = ["Version", "Versions"]


@dataclass(frozen=True)
class Version:
    name: str  # the subdirectory
    kb: KnowledgeBase
    revised: str
    effective: date

    def as_json(self) -> dict:
        return {"name": self.name, "revised": self.revised, "effective": self.effective.isoformat()}


class Versions:
    """The versions of a versions directory, oldest first."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise KnowledgeBaseError(f"versions directory not found: {self.directory} is not a directory")
        found = []
        for sub in sorted(p for p in self.directory.iterdir() if p.is_dir()):
            if not ((sub / MANIFEST).is_file() or (sub / OVERLAY_MANIFEST).is_file()):
                continue
            kb = KnowledgeBase(sub)
            if kb.manifest.effective is None:
                raise KnowledgeBaseError(f"{sub}: a policy version must declare its effective date (effective = YYYY-MM-DD)")
            found.append(Version(sub.name, kb, kb.manifest.revised, kb.manifest.effective))
        if not found:
            raise KnowledgeBaseError(f"{self.directory}: no policy version in it (subdirectories with {MANIFEST} or {OVERLAY_MANIFEST})")
        found.sort(key=lambda v: v.effective)
        for earlier, later in zip(found, found[1:]):
            if earlier.effective == later.effective:
                raise KnowledgeBaseError(f"{self.directory}: versions {earlier.name} and {later.name} are both effective {later.effective}")
        self.versions: tuple[Version, ...] = tuple(found)
        self._engines: dict[str, Engine] = {}

    def in_force(self, day: date) -> Version | None:
        """The latest version effective on or before day (None: day is before the first)."""
        current = None
        for version in self.versions:
            if version.effective <= day:
                current = version
        return current

    def engine(self, version: Version) -> Engine:
        if version.name not in self._engines:
            self._engines[version.name] = Engine(version.kb)
        return self._engines[version.name]

    def decide_paths(
        self, paths: Iterable[str], *, as_of: date | None = None, options: Options = Options(),
        stdin: IO[bytes] | None = None, chunk: int = CHUNK,
    ) -> Iterator[Result]:
        """Every case in paths, in order, decided under the version in force (its decision names it)."""
        newest = self.engine(self.versions[-1])  # the case model of the newest version reads every case
        model = newest.case_model
        request_date = getattr(model, "request_date", None)
        if as_of is None and request_date is None:
            raise KnowledgeBaseError("the case model gives no request date (request_date); pick a version with --as-of")
        first = self.versions[0]
        if as_of is not None and self.in_force(as_of) is None:
            raise InputError("--as-of", [Problem("", f"{as_of} is before the first policy version ({first.name}, effective {first.effective})")])
        records = iter_records(paths, stdin)

        def results() -> Iterator[Result]:
            while part := list(islice(records, chunk)):
                items = [parse_record(r, model.validate) for r in part]
                out: list[Result | None] = [None] * len(items)
                groups: dict[str, list[int]] = {}
                chosen: dict[str, Version] = {}
                for n, item in enumerate(items):
                    if item.case is None:
                        out[n] = Result.failure(item.error)
                        continue
                    day = as_of or request_date(item.case)
                    version = self.in_force(day)
                    if version is None:
                        problem = Problem("request.date", f"{day} is before the first policy version in force "
                                                          f"({first.name}, revised {first.revised}, effective {first.effective})")
                        out[n] = Result.failure(InputError(item.source, [problem], model.case_id(item.case)))
                        continue
                    groups.setdefault(version.name, []).append(n)
                    chosen[version.name] = version
                for name, members in groups.items():
                    version = chosen[name]
                    decided = self.engine(version).decide(
                        [(items[n].source, items[n].case) for n in members], details=options.details, corrections=options.corrections
                    )
                    for n, decision in zip(members, decided):
                        out[n] = Result(items[n].source, record=replace(decision, policy_version=tuple(version.as_json().items())))
                yield from out  # type: ignore[misc]

        return reject_duplicate_ids(results())

"""Compare two knowledge bases on a corpus: which cases decide differently, and why.

Both KBs decide the same input as two streams, zipped case by case, so a corpus
of any length is compared in flat memory. What is compared is what a test
expectation can say (lemtrada_asp/suite.py): decision, pend reason, failed and
missing ids, authorised mg. "Why" is every criterion whose status differs,
including one that only one KB evaluates.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator

from ..engine.batch import Options, Result, decide_paths
from ..engine.catalogue import criterion_sort_key
from ..engine.engine import Engine
from ..engine.errors import InputError, Problem
from ..engine.knowledge import KnowledgeBase
from ..render.text import outcome_label
from .suite import KEYS, observed

NOT_EVALUATED = "not evaluated"


@dataclass
class Change:
    source: str
    case_id: str
    base: dict  # suite.observed() under the base KB
    kb: dict  # ... under the edited KB
    changed: list[str]  # the keys that differ, in KEYS order
    statuses: dict[str, tuple[str, str]]  # criterion -> (base status, edited status), differing only

    @property
    def transition(self) -> tuple[str, str]:
        return outcome_label(self.base), outcome_label(self.kb)

    def as_json(self) -> dict:
        return {
            "case_id": self.case_id,
            "source": self.source,
            "changed": self.changed,
            "base": self.base,
            "kb": self.kb,
            "statuses": {k: {"base": a, "kb": b} for k, (a, b) in self.statuses.items()},
        }


@dataclass
class Summary:
    compared: int = 0
    changed: int = 0
    invalid: int = 0
    transitions: Counter = field(default_factory=Counter)

    def as_json(self) -> dict:
        return {
            "compared": self.compared,
            "changed": self.changed,
            "unchanged": self.compared - self.changed,
            "invalid": self.invalid,
            "transitions": [{"from": a, "to": b, "count": n} for (a, b), n in self.transitions.most_common()],
        }


def compare(base: Result, edited: Result) -> Change | None:
    """The change between one case's two results, or None when they agree."""
    a, b = _outcome(base), _outcome(edited)
    changed = [key for key in KEYS if a[key] != b[key]]
    if not changed:
        return None
    statuses = {}
    before, after = base.statuses or {}, edited.statuses or {}
    for ident in sorted(set(before) | set(after), key=criterion_sort_key):
        pair = (before.get(ident, NOT_EVALUATED), after.get(ident, NOT_EVALUATED))
        if pair[0] != pair[1]:
            statuses[ident] = pair
    return Change(base.source, base.decision["case_id"], a, b, changed, statuses)


def _normal(outcome: dict) -> dict:
    return {**outcome, "failed": sorted(outcome["failed"]), "missing": sorted(outcome["missing"])}


WINDOW = 200  # cases compared before the changed ones among them are decided again with details


def compare_paths(
    paths: Iterable[str], base_dir: str | Path | None, kb_dir: str | Path | None, *, jobs: int = 1, run=None,
    every_status: bool = False,
) -> Iterator[tuple[Result, Change | None]]:
    """Per input case, in order: the base result and its change (None if unchanged or invalid).

    Only a changed case needs its criteria's statuses (the "why"), and building the
    whole tree is most of deciding with details, so both streams decide without
    it; the changed cases of each window are then decided again, together, with
    details, and their results carry the tree. With every_status, every base
    result carries it (the impact analysis locates unchanged cases too).

    Each KB reads the input itself, so standard input ('-') cannot be compared.
    """
    paths = list(paths)
    if "-" in paths:
        raise InputError("-", [Problem("", "diff reads its input once per knowledge base, so it cannot read standard input; give files")])
    engines = Engine(KnowledgeBase(base_dir)), Engine(KnowledgeBase(kb_dir))  # a broken KB raises before any input is read
    streams = [
        decide_paths(paths, engine, options=Options(details=every_status and side == 0), jobs=jobs, run=run)
        for side, engine in enumerate(engines)
    ]
    again = (1,) if every_status else (0, 1)  # the sides whose changed cases still need their tree
    pairs = zip(*streams)
    while window := list(islice(pairs, WINDOW)):
        for base, edited in window:
            if base.source != edited.source:  # pragma: no cover - both read the same files in the same order
                raise RuntimeError(f"the two knowledge bases' results went out of step at {base.source} / {edited.source}")
        window = _with_details(window, engines, again)
        for base, edited in window:
            yield base, (compare(base, edited) if base.ok and edited.ok else None)


def _with_details(
    window: list[tuple[Result, Result]], engines: tuple[Engine, Engine], sides: tuple[int, ...]
) -> list[tuple[Result, Result]]:
    """The window with each changed pair's given sides decided again with details (one program per KB)."""
    changed = [i for i, (a, b) in enumerate(window) if a.ok and b.ok and _outcome(a) != _outcome(b)]
    if not changed:
        return window
    window = [list(pair) for pair in window]
    for side in sides:
        detailed = engines[side].decide([(window[i][side].source, window[i][side].record.case) for i in changed], details=True)
        for i, record in zip(changed, detailed):
            window[i][side] = Result(window[i][side].source, record=record)
    return [(a, b) for a, b in window]


def _outcome(result: Result) -> dict:
    return _normal(observed(result.decision))
